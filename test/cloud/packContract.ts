/**
 * The cloud contract, continued: packs (bucket layout version 2). Called
 * from `cloudContract` (contract.ts), so it runs on every storage target:
 * small files packed (few requests, few objects), dedup across tags and
 * datasets through packs, a one-file change, pulls (whole and partial)
 * byte-exact, a damaged pack naming its damaged files (pull and verify),
 * gc keeping referenced packs and deleting unreferenced ones, gc beside a
 * push reusing an old pack, version-1 buckets still read, and a reader of
 * version 1 only refusing a version-2 bucket clearly.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CloudData } from "../../src/cloud/cloudData.js";
import { manifestKey, MARKER_KEY, packIndexKey, packKey } from "../../src/cloud/layout.js";
import { checkMarker } from "../../src/cloud/marker.js";
import { PACK_MIN_FILES } from "../../src/cloud/packs/format.js";
import { Minus80Error } from "../../src/errors.js";
import { parseTagManifest, type TagManifest } from "../../src/freezer/manifest.js";
import { expectCode } from "../helpers/assertions.js";
import { gcBeforeManifest } from "../helpers/gcBeside.js";
import type { ContractTools } from "./partialContract.js";

const DTYPE = "Cohort";
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** `n` small files of 1–16 KiB under `dir/`, random bytes. */
function smallFiles(n: number, dir = "s"): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i < n; i++) out[`${dir}/f${String(i).padStart(4, "0")}.bin`] = randomBytes(1024 + ((i * 977) % (15 * 1024)));
  return out;
}

/** Waits out a Last-Modified rounded up to the next second (Swift), so that "older than a grace of 0" holds. */
const settle = () => new Promise((r) => setTimeout(r, 1100));

/** Every key under the test's prefix. */
async function keysOf(cloud: CloudData): Promise<string[]> {
  const out: string[] = [];
  for await (const o of cloud.backend.list("")) out.push(o.key);
  return out.sort();
}

async function readBytes(cloud: CloudData, key: string): Promise<Buffer> {
  const r = await cloud.backend.get(key);
  const chunks: Buffer[] = [];
  for await (const c of r.body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function readText(cloud: CloudData, key: string): Promise<string> {
  return (await readBytes(cloud, key)).toString("utf8");
}

async function remoteManifest(cloud: CloudData, name: string, tag: string): Promise<TagManifest> {
  return parseTagManifest(await readText(cloud, manifestKey(DTYPE, name, tag)), name, { dtype: DTYPE, name, tag });
}

/** `backend` wrapped so that its requests are counted by verb. */
function counted(backend: CloudData["backend"]) {
  const calls = { put: 0, get: 0, head: 0, list: 0, putKeys: [] as string[] };
  const b = Object.create(backend) as typeof backend;
  b.put = (key, body, o) => (calls.put++, calls.putKeys.push(key), backend.put(key, body, o));
  b.get = (key, o) => (calls.get++, backend.get(key, o));
  b.head = (key, o) => (calls.head++, backend.head(key, o));
  b.list = (prefix, o) => (calls.list++, backend.list(prefix, o));
  return { calls, backend: b };
}

export function packContract({ session, open, frozen }: ContractTools): void {
  const thawedTree = (cloud: CloudData, name: string) => {
    const dir = cloud.freezer.dataset(DTYPE, name).thawedDir;
    const out: Record<string, string> = {};
    for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
      const p = path.join(dir, rel);
      if (fs.lstatSync(p).isFile() && path.basename(p) !== "statcache.json") out[rel] = sha256(fs.readFileSync(p));
    }
    return out;
  };
  const digest = (files: Record<string, Buffer | string>) => Object.fromEntries(Object.entries(files).map(([p, c]) => [p, sha256(c)]));

  describe("packs (layout version 2)", () => {
    it("a push packs its small files: one pack and its index instead of an object per file, manifest version 2, marker version 2; large files stay objects", async () => {
      const files: Record<string, Buffer> = { ...smallFiles(300), "big.bin": randomBytes(1024 * 1024 + 5) };
      const a = await open("a");
      await frozen(a, "Packed", files, "v1");
      const { calls, backend } = counted(a.backend);
      const p = await open("a", { backend });
      const r = await p.push(DTYPE, "Packed", { tag: "v1" });
      expect(r).toMatchObject({ uploaded: 301, packs: 1, manifests: 1, tags: ["v1"] });
      // pack + index + big object + manifest, and the bucket's first writes: marker, create-only probe, index.json
      expect(calls.putKeys.filter((k) => !/^(minus80\.json|index\.json)$/.test(k) && !k.includes("probe")), calls.putKeys.join(" ")).toHaveLength(4);
      const keys = await keysOf(a);
      expect(keys.filter((k) => k.startsWith("objects/"))).toHaveLength(1);
      expect(keys.filter((k) => k.startsWith("packs/sha256/"))).toHaveLength(1);
      expect(keys.filter((k) => k.startsWith("packs/index/"))).toHaveLength(1);
      const m = await remoteManifest(a, "Packed", "v1");
      expect(m.version).toBe(2);
      const packed = Object.entries(m.files).filter(([, e]) => e.pack !== undefined);
      expect(packed).toHaveLength(300);
      expect(m.files["big.bin"]!.pack).toBeUndefined();
      expect(JSON.parse(await readText(a, MARKER_KEY))).toEqual({ format: "minus80", version: 2 });
      // The local tag keeps no pack locations.
      expect(Object.values(a.freezer.dataset(DTYPE, "Packed").tag("v1").files).every((e) => e.pack === undefined)).toBe(true);
      // A file can be read by anyone with one ranged GET of its pack.
      const [p0, e0] = packed[7]!;
      const got = await a.backend.get(packKey(e0.pack!), { offset: e0.offset!, end: e0.offset! + e0.size });
      const chunks: Buffer[] = [];
      for await (const c of got.body as AsyncIterable<Buffer>) chunks.push(c);
      expect(sha256(Buffer.concat(chunks))).toBe(sha256(files[p0]!));
    });

    it("a pack larger than the writer's buffer is its files back to back, in manifest order, and its key is the sha256 of its bytes", async () => {
      const files = smallFiles(700); // about 5.8 MiB: the 4 MiB write buffer fills and is written out mid-pack
      const a = await open("a");
      await frozen(a, "Packed", files, "v1");
      expect(await a.push(DTYPE, "Packed", { tag: "v1" })).toMatchObject({ uploaded: 700, packs: 1 });
      const m = await remoteManifest(a, "Packed", "v1");
      const entries = Object.entries(m.files);
      const pack = await readBytes(a, packKey(entries[0]![1].pack!));
      expect(sha256(pack)).toBe(entries[0]![1].pack);
      let offset = 0;
      for (const [p, e] of entries) {
        expect(e.offset, p).toBe(offset);
        expect(pack.subarray(e.offset!, e.offset! + e.size).equals(files[p]!), p).toBe(true);
        offset += e.size;
      }
      expect(pack.length).toBe(offset);
    });

    it("pull from packs is byte-exact in few requests, whole and partial (--include), into an empty freezer", async () => {
      const files = { ...smallFiles(200, "x"), ...smallFiles(200, "y") };
      const a = await open("a");
      await frozen(a, "Packed", files, "v1");
      await a.push(DTYPE, "Packed", { tag: "v1" });
      const { calls, backend } = counted(a.backend);
      const b = await open("b", { backend });
      const r = await b.pull(DTYPE, "Packed", { tag: "v1" });
      expect(r).toMatchObject({ downloaded: 400, files: 400 });
      expect(thawedTree(b, "Packed")).toEqual(digest(files));
      expect(calls.get).toBeLessThanOrEqual(4); // manifest + the pack in one or two ranges
      const c = await open("c");
      const part = await c.pull(DTYPE, "Packed", { tag: "v1", include: ["y/f000*"] });
      expect(part).toMatchObject({ partial: true, downloaded: 10 });
      for (const [p, d] of Object.entries(thawedTree(c, "Packed"))) expect(d).toBe(digest(files)[p]);
      // A later full pull completes the copy from the same pack.
      expect(await c.pull(DTYPE, "Packed", { tag: "v1" })).toMatchObject({ downloaded: 390 });
      expect(thawedTree(c, "Packed")).toEqual(digest(files));
    });

    it("dedup across tags and datasets: a file already in a pack is not stored again; a one-file change adds that file and the manifest only", async () => {
      const files = smallFiles(100);
      const a = await open("a");
      await frozen(a, "First", files, "v1");
      await a.push(DTYPE, "First", { tag: "v1" });
      const before = await keysOf(a);
      // Another dataset with the same files and one more.
      await frozen(a, "Second", { ...files, "new.txt": "only here" }, "v1");
      const r2 = await a.push(DTYPE, "Second", { tag: "v1" });
      expect(r2).toMatchObject({ uploaded: 1, packs: 0, skipped: 100 });
      const grown = (await keysOf(a)).filter((k) => !before.includes(k) && k !== "index.json");
      expect(grown.sort()).toEqual([expect.stringMatching(/^datasets\/Cohort\/Second\/v1\.json$/), expect.stringMatching(/^objects\/sha256\//)].sort());
      const m2 = await remoteManifest(a, "Second", "v1");
      const m1 = await remoteManifest(a, "First", "v1");
      expect(m2.files["s/f0003.bin"]).toEqual(m1.files["s/f0003.bin"]);
      // A one-file change of First: that file and the manifest.
      const keys2 = await keysOf(a);
      await frozen(a, "First", { "s/f0042.bin": randomBytes(3000) }, "v2");
      const r3 = await a.push(DTYPE, "First", { tag: "v2" });
      expect(r3).toMatchObject({ uploaded: 1, packs: 0, skipped: 99 });
      const added = (await keysOf(a)).filter((k) => !keys2.includes(k));
      expect(added).toHaveLength(2);
      // Both pull byte-exact on another machine.
      const b = await open("b");
      await b.pull(DTYPE, "Second", { tag: "v1" });
      expect(thawedTree(b, "Second")).toEqual(digest({ ...files, "new.txt": "only here" }));
      await b.pull(DTYPE, "First", { tag: "v2" });
      expect(thawedTree(b, "First")["s/f0042.bin"]).not.toBe(digest(files)["s/f0042.bin"]);
    });

    it(`fewer than ${PACK_MIN_FILES} new small files stay single objects (the bucket stays version 1)`, async () => {
      const a = await open("a");
      await frozen(a, "Few", smallFiles(PACK_MIN_FILES - 1), "v1");
      expect(await a.push(DTYPE, "Few", { tag: "v1" })).toMatchObject({ uploaded: PACK_MIN_FILES - 1, packs: 0 });
      expect((await remoteManifest(a, "Few", "v1")).version).toBe(1);
      expect(JSON.parse(await readText(a, MARKER_KEY))).toEqual({ format: "minus80", version: 1 });
    });

    it("a damaged pack: pull is INTEGRITY naming the damaged files and leaves the freezer unchanged; verify names them too", async () => {
      const files = smallFiles(40);
      const a = await open("a");
      await frozen(a, "Packed", files, "v1");
      await a.push(DTYPE, "Packed", { tag: "v1" });
      const m = await remoteManifest(a, "Packed", "v1");
      const victim = m.files["s/f0005.bin"]!;
      const key = packKey(victim.pack!);
      const pack = (await a.backend.head(key)).size;
      const damaged = await readBytes(a, key);
      expect(damaged.length).toBe(pack);
      damaged[victim.offset! + 10] ^= 0xff;
      damaged[m.files["s/f0031.bin"]!.offset!] ^= 0xff;
      await a.backend.put(key, damaged, { size: damaged.length });
      const b = await open("b");
      const err = await expectCode(b.pull(DTYPE, "Packed", { tag: "v1" }), "INTEGRITY");
      expect(err.message).toContain(key);
      expect(err.message).toContain("s/f0005.bin");
      expect(err.message).toContain("s/f0031.bin");
      expect(err.message).not.toContain("s/f0006.bin");
      expect(err.data.paths).toEqual(["s/f0005.bin", "s/f0031.bin"]);
      expect(await b.freezer.blobs.list()).toEqual([]);
      expect(b.freezer.dataset(DTYPE, "Packed").exists()).toBe(false);
      const report = await a.verify({ dtype: DTYPE, name: "Packed" });
      expect(report.ok).toBe(false);
      expect(report.problems.map((p) => p.message).join("\n")).toMatch(/s\/f0005\.bin[\s\S]*s\/f0031\.bin/);
      expect(report.problems.every((p) => p.key === key && p.kind === "damaged")).toBe(true);
      expect(report.problems).toHaveLength(2);
    });

    it("verify reads each pack once and checks every file in it; a missing pack is reported naming its files", async () => {
      const a = await open("a");
      await frozen(a, "Packed", smallFiles(30), "v1");
      await a.push(DTYPE, "Packed", { tag: "v1" });
      expect(await a.verify({})).toMatchObject({ ok: true, packs: 1, packedFiles: 30 });
      const pack = (await remoteManifest(a, "Packed", "v1")).files["s/f0000.bin"]!.pack!;
      await a.backend.delete(packKey(pack));
      const r = await a.verify({});
      expect(r.problems).toEqual([expect.objectContaining({ kind: "missing", key: packKey(pack), tags: ["Cohort.Packed:v1"] })]);
      // Another machine's pull fails naming the pack and its files; nothing is stored.
      const b = await open("b");
      const err = await expectCode(b.pull(DTYPE, "Packed", { tag: "v1" }), "INTEGRITY");
      expect(err.message).toContain(`pack ${packKey(pack)} is missing`);
      expect(err.message).toContain("s/f0000.bin");
      expect(await b.freezer.blobs.list()).toEqual([]);
    });

    it("gc keeps a pack while any manifest references any file in it (and its index), and deletes an unreferenced one with its index", async () => {
      const a = await open("a");
      await frozen(a, "Packed", smallFiles(50), "v1");
      await a.push(DTYPE, "Packed", { tag: "v1" });
      await frozen(a, "Packed", { "s/f0001.bin": "changed" }, "v2");
      await a.push(DTYPE, "Packed", { tag: "v2" });
      const pack = (await remoteManifest(a, "Packed", "v1")).files["s/f0000.bin"]!.pack!;
      const now = await open("a", { gcGraceMs: 0 });
      await a.remove("Packed", DTYPE, { tag: "v1" });
      // v2 still references 49 files of the pack: kept, with its index.
      expect(await now.gc()).toMatchObject({ packsDeleted: 0, packsReferenced: 1 });
      expect(await keysOf(a)).toEqual(expect.arrayContaining([packKey(pack), packIndexKey(pack)]));
      const b = await open("b");
      await b.pull(DTYPE, "Packed", { tag: "v2" });
      await a.remove("Packed", DTYPE);
      expect(await now.gc({ dryRun: true })).toMatchObject({ packsDeleted: 1 });
      expect(await now.gc()).toMatchObject({ packsDeleted: 1, packsReferenced: 0 });
      expect((await keysOf(a)).filter((k) => k.startsWith("packs/"))).toEqual([]);
      // With the default grace, an unreferenced young pack stays.
      await frozen(a, "Young", smallFiles(20), "v1");
      await a.push(DTYPE, "Young", { tag: "v1" });
      await a.remove("Young", DTYPE);
      expect(await a.gc()).toMatchObject({ packsDeleted: 0, packsYoung: 1 });
    });

    it("gc --repack moves the live files of a mostly dead pack to a new pack and rewrites the manifests; a later gc frees the old pack; every tag pulls byte-exact", async () => {
      const files = smallFiles(60);
      const kept = Object.fromEntries(Object.entries(files).slice(0, 5));
      const a = await open("a");
      await frozen(a, "Big", files, "v1");
      await a.push(DTYPE, "Big", { tag: "v1" });
      await frozen(a, "Small", kept, "v1");
      await a.push(DTYPE, "Small", { tag: "v1" });
      const before = await remoteManifest(a, "Small", "v1");
      const old = before.files["s/f0000.bin"]!.pack!;
      expect(Object.values(before.files).every((e) => e.pack === old)).toBe(true); // found in Big's pack, not sent again
      await a.remove("Big", DTYPE);
      await settle(); // Swift reports Last-Modified rounded up to the next second
      // A young pack is never repacked (a push may be reusing it).
      expect(await a.gc({ repack: true, dryRun: true })).toMatchObject({ packsRepacked: 0 });
      const now = await open("a", { gcGraceMs: 0 });
      const keys = await keysOf(a);
      const dry = await now.gc({ repack: true, dryRun: true });
      expect(dry).toMatchObject({ packsRepacked: 1, packsWritten: 0, manifestsRewritten: 0 });
      expect(dry.repackFreeable).toBeGreaterThan(50 * 1024);
      expect(await keysOf(a)).toEqual(keys);

      const r = await now.gc({ repack: true });
      expect(r).toMatchObject({ packsRepacked: 1, packsWritten: 1, manifestsRewritten: 1, packsDeleted: 0 });
      const after = await remoteManifest(a, "Small", "v1");
      const fresh = after.files["s/f0000.bin"]!.pack!;
      expect(fresh).not.toBe(old);
      expect(after.total).toBe(before.total);
      for (const [p, e] of Object.entries(after.files)) expect({ sha256: e.sha256, size: e.size, pack: e.pack }).toEqual({ sha256: before.files[p]!.sha256, size: before.files[p]!.size, pack: fresh });
      // The old pack stays until a later gc (a pull that read the old manifest can finish); its index is gone, so no push reuses it.
      expect(await keysOf(a)).toEqual(expect.arrayContaining([packKey(old), packKey(fresh), packIndexKey(fresh)]));
      expect(await keysOf(a)).not.toContain(packIndexKey(old));
      const b = await open("b");
      await b.pull(DTYPE, "Small", { tag: "v1" });
      expect(thawedTree(b, "Small")).toEqual(digest(kept));

      await settle(); // the old pack was refreshed by the repack
      expect(await now.gc()).toMatchObject({ packsDeleted: 1, packsReferenced: 1 });
      expect((await keysOf(a)).filter((k) => k.startsWith("packs/")).sort()).toEqual([packIndexKey(fresh), packKey(fresh)].sort());
      expect(await now.gc({ repack: true })).toMatchObject({ packsRepacked: 0 }); // the new pack is all live
      expect((await now.verify()).ok).toBe(true);
      const c = await open("c");
      await c.pull(DTYPE, "Small", { tag: "v1" });
      expect(thawedTree(c, "Small")).toEqual(digest(kept));
    });

    it("gc --repack of a damaged pack is INTEGRITY naming it, and leaves every manifest as it was", async () => {
      const files = smallFiles(40);
      const a = await open("a");
      await frozen(a, "Big", files, "v1");
      await a.push(DTYPE, "Big", { tag: "v1" });
      await frozen(a, "Small", Object.fromEntries(Object.entries(files).slice(0, 3)), "v1");
      await a.push(DTYPE, "Small", { tag: "v1" });
      const before = await readText(a, manifestKey(DTYPE, "Small", "v1"));
      const pack = (await remoteManifest(a, "Small", "v1")).files["s/f0000.bin"]!.pack!;
      await a.remove("Big", DTYPE);
      const body = await readBytes(a, packKey(pack));
      body[10] ^= 0xff; // inside the first file, which Small keeps
      await a.backend.put(packKey(pack), body, { size: body.length });
      await settle(); // Swift reports Last-Modified rounded up to the next second
      const now = await open("a", { gcGraceMs: 0 });
      expect(await now.gc({ repack: true, dryRun: true })).toMatchObject({ packsRepacked: 1 });
      const err = await expectCode(now.gc({ repack: true }), "INTEGRITY");
      expect(err.message).toContain(packKey(pack));
      expect(await readText(a, manifestKey(DTYPE, "Small", "v1"))).toBe(before);
    });

    it("gc running while a push commits never deletes an old unreferenced pack the new tag reuses", async () => {
      const graceMs = 2000;
      const files = smallFiles(20);
      const a = await open("a", { gcGraceMs: graceMs });
      await frozen(a, "First", files, "v1");
      await a.push(DTYPE, "First", { tag: "v1" });
      await a.remove("First", DTYPE);
      await new Promise((r) => setTimeout(r, graceMs + 1500)); // S3 times have 1 s resolution
      const gcer = await open("g", { gcGraceMs: graceMs });
      const hook = gcBeforeManifest(a.backend, gcer);
      const pusher = await open("a", { backend: hook.backend, gcGraceMs: graceMs });
      await frozen(pusher, "Second", files, "v1");
      const r = await pusher.push(DTYPE, "Second", { tag: "v1" });
      expect(r.manifests).toBe(1);
      // The pack was refreshed (kept by gc), or, where the server ignores refreshes (s3rver), packed again.
      expect(hook.result()!.packsDeleted + hook.result()!.packsYoung).toBeGreaterThanOrEqual(1);
      const b = await open("b");
      await b.pull(DTYPE, "Second", { tag: "v1" });
      expect(thawedTree(b, "Second")).toEqual(digest(files));
      expect((await a.verify({})).ok).toBe(true);
    });

    it("a base tag removed and its pack collected while a push commits: the tag is withdrawn (INTEGRITY), never left naming a missing pack; pushed again it is complete", async () => {
      const files = smallFiles(20);
      const a = await open("a", { gcGraceMs: 0 });
      await frozen(a, "First", files, "v1");
      await a.push(DTYPE, "First", { tag: "v1" });
      await frozen(a, "First", { "s/f0003.bin": "changed" }, "v2");
      const gcer = await open("g", { gcGraceMs: 0 });
      const inner = a.backend;
      let raced = false;
      const hooked = Object.create(inner) as typeof inner;
      hooked.put = async (key, body, o) => {
        if (key === manifestKey(DTYPE, "First", "v2") && !raced) {
          raced = true;
          await gcer.remove("First", DTYPE, { tag: "v1" });
          expect(await gcer.gc()).toMatchObject({ packsDeleted: 1 });
        }
        return inner.put(key, body, o);
      };
      const pusher = await open("a", { backend: hooked, gcGraceMs: 0 });
      const err = await expectCode(pusher.push(DTYPE, "First", { tag: "v2" }), "INTEGRITY");
      expect(err.message).toMatch(/withdrawn/);
      expect(await keysOf(a)).not.toContain(manifestKey(DTYPE, "First", "v2"));
      // (With no grace at all, s3rver, which ignores refreshes, sees each pass's pack packed again.)
      const again = await pusher.push(DTYPE, "First", { tag: "v2" });
      expect(again.tags).toEqual(["v2"]);
      expect(again.packs).toBeGreaterThanOrEqual(1);
      const b = await open("b");
      await b.pull(DTYPE, "First", { tag: "v2" });
      expect(thawedTree(b, "First")).toEqual(digest({ ...files, "s/f0003.bin": "changed" }));
    });

    it("a version-1 bucket stays readable and moves to version 2 on its first pack; a reader of version 1 only refuses it clearly", async () => {
      const a = await open("a");
      await frozen(a, "Old", { "a.txt": "one", "b.txt": "two" }, "v1");
      await a.push(DTYPE, "Old", { tag: "v1" });
      expect(JSON.parse(await readText(a, MARKER_KEY)).version).toBe(1);
      await checkMarker(a.backend, undefined, [1]); // a minus80 from before packs reads it
      await frozen(a, "New", smallFiles(20), "v1");
      await a.push(DTYPE, "New", { tag: "v1" });
      expect(JSON.parse(await readText(a, MARKER_KEY)).version).toBe(2);
      const b = await open("b");
      await b.pull(DTYPE, "Old", { tag: "v1" });
      expect(thawedTree(b, "Old")).toEqual(digest({ "a.txt": "one", "b.txt": "two" }));
      const refused = await expectCode(checkMarker(a.backend, undefined, [1]), "BUCKET");
      expect(refused.message).toMatch(/layout version 2, written by a newer minus80; this minus80 reads layout version 1 only: upgrade minus80/);
      // A bucket from a minus80 newer still is refused by this one, before anything is read.
      const body = Buffer.from(JSON.stringify({ format: "minus80", version: 3 }) + "\n");
      await a.backend.put(MARKER_KEY, body, { size: body.length });
      const err = await open("c").then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Minus80Error);
      expect((err as Minus80Error).code).toBe("BUCKET");
      expect((err as Error).message).toMatch(/layout version 3.*reads layout versions 1 and 2 only: upgrade minus80/);
      await a.backend.put(MARKER_KEY, Buffer.from('{"format":"minus80","version":2}\n'), { size: 33 });
      void session;
    });
  });
}
