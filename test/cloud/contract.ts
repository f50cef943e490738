/**
 * The cloud contract (restic's test.Suite style): one set of tests that
 * every storage target must pass — the folder backend, an embedded s3rver,
 * and any S3 endpoint from the environment (Ceph RGW in CI). Each
 * `<target>.test.ts` calls `cloudContract` with its target.
 *
 * Each test runs in a fresh temporary HOME, config and base directory, with
 * a unique prefix (or bucket) of its own.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { expectCode } from "../helpers/assertions.js";
import { gcBeforeManifest } from "../helpers/gcBeside.js";
import { CloudData, type CloudOpenOptions } from "../../src/cloud/cloudData.js";
import { LIST_PAGE_KEYS } from "../../src/cloud/remoteObjects.js";
import { manifestKey, objectKey, rawKey } from "../../src/cloud/layout.js";
import { Minus80Error } from "../../src/errors.js";
import { computeTotal, serializeTagManifest, type TagManifest } from "../../src/freezer/manifest.js";
import type { ProgressEvent } from "../../src/progress.js";
import { runCliAsync } from "../helpers/cliAsync.js";
import { closedPort, configYaml, type CloudTarget, type TargetSettings } from "../helpers/s3servers.js";
import { useTargetSession } from "../helpers/targetSession.js";
import { packContract } from "./packContract.js";
import { partialAndDryRunContract } from "./partialContract.js";

/** Quick retries, so a failing test fails fast. */
const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 50 };
const DTYPE = "Cohort";
const MiB = 1024 * 1024;

const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

/** Every file under `dir` -> sha256, leaving out caches that a read may refresh. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, rel);
    if (path.basename(p) === "statcache.json") continue; // the hash cache of the working copy
    const st = fs.lstatSync(p);
    if (st.isFile()) out[rel] = sha256(fs.readFileSync(p));
  }
  return out;
}


export function cloudContract(label: string, start: () => Promise<CloudTarget>): void {
  describe(`cloud contract on ${label}`, () => {
    const session = useTargetSession(start);

    /** A CloudData on this test's prefix, with its own base directory (a second "machine" by name). */
    async function open(machine = "a", extra: Partial<CloudOpenOptions> & Partial<TargetSettings> = {}): Promise<CloudData> {
      const c = await CloudData.open({ configFile: session.env.configFile, basedir: path.join(session.env.root, `freezer-${machine}`), ...session.settings, retry: FAST_RETRY, ...extra });
      session.opened.push(c);
      return c;
    }

    /** Creates (or edits) a dataset's working copy and freezes it as `tag`. */
    async function frozen(cloud: CloudData, name: string, files: Record<string, string | Buffer>, tag?: string): Promise<TagManifest | undefined> {
      const ds = cloud.freezer.dataset(DTYPE, name);
      ds.ensureCreated();
      for (const [rel, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(ds.thawedDir, rel)), { recursive: true });
        fs.writeFileSync(path.join(ds.thawedDir, rel), content);
      }
      return tag === undefined ? undefined : ds.freeze(tag);
    }

    const thawed = (cloud: CloudData, name: string, rel: string) => fs.readFileSync(path.join(cloud.freezer.dataset(DTYPE, name).thawedDir, rel));

    describe("datasets", () => {
      it("lists {} when empty, then { Cohort: [names] } filtered by exact dtype and name prefix", async () => {
        const cloud = await open();
        expect(await cloud.list()).toEqual({});
        await frozen(cloud, "TestCohort", { "a.txt": "a" }, "v1");
        await frozen(cloud, "Other", { "b.txt": "b" }, "v1");
        await cloud.put("TestCohort", DTYPE, { tag: "v1" });
        await cloud.put("Other", DTYPE, { tag: "v1" });
        expect(await cloud.list()).toEqual({ Cohort: ["Other", "TestCohort"] });
        expect(await cloud.list({ name: "Test" })).toEqual({ Cohort: ["TestCohort"] });
        expect(await cloud.list({ dtype: "Cohor" })).toEqual({});
        expect(await cloud.list({ raw: true })).toEqual({});
        const tags = await cloud.list({ tags: true });
        expect(tags.Cohort!.TestCohort).toEqual([expect.objectContaining({ tag: "v1", files: 1, size: 1, checksum: expect.stringMatching(/^[0-9a-f]{12}$/) })]);
        await expectCode(cloud.list({ dtype: "bad/dtype" }), "INVALID_NAME");
      });

      it("re-pushing an unchanged tag uploads no object; changing one file uploads one object plus the manifest", async () => {
        const cloud = await open();
        await frozen(cloud, "TestCohort", { "a.txt": "alpha", "b.txt": "beta", "sub/c.bin": randomBytes(4096) }, "v1");
        const first = await cloud.put("TestCohort", DTYPE, { tag: "v1" });
        expect(first).toMatchObject({ uploaded: 3, manifests: 1, tags: ["v1"] });
        const again = await cloud.put("TestCohort", DTYPE, { tag: "v1" });
        expect(again).toMatchObject({ uploaded: 0, bytes: 0, manifests: 0, unchanged: ["v1"] });
        await frozen(cloud, "TestCohort", { "b.txt": "beta, edited" }, "v2");
        const second = await cloud.put("TestCohort", DTYPE, { tag: "v2" });
        expect(second).toMatchObject({ uploaded: 1, bytes: "beta, edited".length, skipped: 2, manifests: 1, tags: ["v2"] });
      });

      /** `backend` wrapped so that HEADs and LISTs of objects are counted. */
      function countingRequests(backend: CloudData["backend"]) {
        const calls = { head: 0, objectHeads: 0, list: 0 };
        const counting = Object.create(backend) as typeof backend;
        counting.head = (key) => (calls.head++, key.startsWith("objects/") && calls.objectHeads++, backend.head(key));
        counting.list = (prefix, o) => (prefix.startsWith("objects/") && calls.list++, backend.list(prefix, o));
        return { calls, counting };
      }

      it("a large tag is checked by listing, not one HEAD per object: one LIST while the bucket holds less than a page, else one per shard", async () => {
        const a = await open("a");
        const files: Record<string, string> = {};
        for (let i = 0; i < 600; i++) files[`f/${i}.txt`] = `file ${i}`;
        await frozen(a, "Many", files, "v1");
        const first = countingRequests(a.backend);
        const b = await open("a", { backend: first.counting });
        expect(await b.put("Many", DTYPE, { tag: "v1" })).toMatchObject({ uploaded: 600, manifests: 1 });
        expect(first.calls.objectHeads).toBe(0);
        expect(first.calls.list).toBe(1); // 600 objects: one page says it all

        // More objects in the bucket than one page: the shards are listed.
        const filler = Buffer.from("x");
        const fillerKeys = Array.from({ length: LIST_PAGE_KEYS }, (_, i) => objectKey(sha256(`filler ${i}`)));
        for (let i = 0; i < fillerKeys.length; i += 50) {
          await Promise.all(fillerKeys.slice(i, i + 50).map((k) => a.backend.put(k, filler, { size: 1 })));
        }
        const more: Record<string, string> = {};
        for (let i = 0; i < 600; i++) more[`g/${i}.txt`] = `other file ${i}`;
        await frozen(a, "More", { ...more, "f/1.txt": "file 1" }, "v1"); // one object already there
        const second = countingRequests(a.backend);
        const c = await open("a", { backend: second.counting });
        expect(await c.put("More", DTYPE, { tag: "v1" })).toMatchObject({ uploaded: 600, skipped: 1, manifests: 1 });
        expect(second.calls.objectHeads).toBe(0);
        expect(second.calls.list).toBeGreaterThan(1);
        expect(second.calls.list).toBeLessThanOrEqual(257);
      }, 120_000);

      it("a new tag whose parent is in the bucket checks only its changed objects", async () => {
        const a = await open("a");
        const files: Record<string, string> = {};
        for (let i = 0; i < 600; i++) files[`f/${i}.txt`] = `file ${i}`;
        await frozen(a, "Many", files, "v1");
        expect(await a.put("Many", DTYPE, { tag: "v1" })).toMatchObject({ uploaded: 600, manifests: 1 });
        await frozen(a, "Many", { "f/7.txt": "changed", "f/new.txt": "file 3" }, "v2"); // one new content, one copy
        const { calls, counting } = countingRequests(a.backend);
        const b = await open("a", { backend: counting });
        expect(await b.put("Many", DTYPE, { tag: "v2" })).toMatchObject({ uploaded: 1, skipped: 599, manifests: 1 });
        expect(calls.list).toBe(0);
        expect(calls.objectHeads).toBe(1); // the changed file only
        const c = await open("c");
        await c.get("Many", DTYPE, { tag: "v2" });
        expect(thawed(c, "Many", "f/7.txt").toString()).toBe("changed");
        expect(thawed(c, "Many", "f/new.txt").toString()).toBe("file 3");
      });

      it("a parent tag removed (and its objects collected) while a new tag is pushed: the push re-sends them", async () => {
        const a = await open("a");
        await frozen(a, "Moving", { "kept.txt": "kept bytes", "edited.txt": "old" }, "v1");
        await a.put("Moving", DTYPE, { tag: "v1" });
        await frozen(a, "Moving", { "edited.txt": "new" }, "v2");
        const inner = a.backend;
        const keptKey = objectKey(sha256("kept bytes"));
        const hooked = Object.create(inner) as typeof inner;
        let raced = false;
        hooked.put = async (key, body, opts) => {
          if (key.startsWith("datasets/") && !raced) {
            // Just before the manifest is written: another machine removes v1 and a gc deletes its object.
            raced = true;
            await a.remove("Moving", DTYPE, { tag: "v1" });
            await inner.delete(keptKey);
          }
          return inner.put(key, body, opts);
        };
        const pusher = await open("a", { backend: hooked });
        const r = await pusher.put("Moving", DTYPE, { tag: "v2" });
        expect(raced).toBe(true);
        expect(r).toMatchObject({ manifests: 1, uploaded: 2 }); // edited.txt, then kept.txt again
        const c = await open("c");
        await c.get("Moving", DTYPE, { tag: "v2" });
        expect(thawed(c, "Moving", "kept.txt").toString()).toBe("kept bytes");
      });

      it("a tag pushed with other contents is TAG_CONFLICT and the bucket keeps the first", async () => {
        const a = await open("a");
        const b = await open("b");
        await frozen(a, "TestCohort", { "x.txt": "from a" }, "v1");
        await frozen(b, "TestCohort", { "x.txt": "from b" }, "v1");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        const err = await expectCode(b.put("TestCohort", DTYPE, { tag: "v1" }), "TAG_CONFLICT");
        expect(err.message).toContain("Cohort.TestCohort:v1");
        const c = await open("c");
        await c.get("TestCohort", DTYPE, { tag: "v1" });
        expect(thawed(c, "TestCohort", "x.txt").toString()).toBe("from a");
      });

      it("put without a tag pushes every local tag the bucket lacks and the working state as latest", async () => {
        const cloud = await open();
        await frozen(cloud, "TestCohort", { "a.txt": "one" }, "v1");
        await frozen(cloud, "TestCohort", { "a.txt": "two" }, "v2");
        await frozen(cloud, "TestCohort", { "a.txt": "three (unsaved)" });
        const r = await cloud.put("TestCohort", DTYPE);
        expect(r.tags).toEqual(["v1", "v2", "latest"]);
        expect((await cloud.listTags()).Cohort!.TestCohort!.map((t) => t.tag).sort()).toEqual(["latest", "v1", "v2"]);
        const again = await cloud.put("TestCohort", DTYPE);
        expect(again).toMatchObject({ uploaded: 0, manifests: 0, unchanged: ["latest"] });
        const other = await open("b");
        await other.get("TestCohort", DTYPE);
        expect(thawed(other, "TestCohort", "a.txt").toString()).toBe("three (unsaved)");
      });

      it("get creates a missing dataset, fetches only missing objects, and refuses over unsaved changes unless forced", async () => {
        const a = await open("a");
        await frozen(a, "TestCohort", { "a.txt": "v1 a", "b.txt": "shared" }, "v1");
        await frozen(a, "TestCohort", { "a.txt": "v2 a" }, "v2");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        await a.put("TestCohort", DTYPE, { tag: "v2" });

        const b = await open("b");
        const events: ProgressEvent[] = [];
        const got = await b.get("TestCohort", DTYPE, { tag: "v1", onProgress: (e) => events.push(e) });
        expect(got).toMatchObject({ downloaded: 2, skipped: 0, tag: "v1" });
        expect(events.filter((e) => e.phase === "download").at(-1)).toMatchObject({ loaded: got.bytes, total: got.bytes });
        expect(thawed(b, "TestCohort", "a.txt").toString()).toBe("v1 a");
        const second = await b.get("TestCohort", DTYPE, { tag: "v2" });
        expect(second).toMatchObject({ downloaded: 1, skipped: 1 });

        fs.writeFileSync(path.join(b.freezer.dataset(DTYPE, "TestCohort").thawedDir, "a.txt"), "local edit");
        const before = treeDigest(b.freezer.basedir);
        await expectCode(b.get("TestCohort", DTYPE, { tag: "v1" }), "UNSAVED_CHANGES");
        expect(treeDigest(b.freezer.basedir)).toEqual(before);
        await b.get("TestCohort", DTYPE, { tag: "v1", force: true });
        expect(thawed(b, "TestCohort", "a.txt").toString()).toBe("v1 a");

        await expectCode(b.get("TestCohort", DTYPE, { tag: "v9" }), "TAG_NOT_FOUND");
        await expectCode(b.get("Nobody", DTYPE), "DATASET_NOT_FOUND");
        await expectCode(b.get("TestCohort", DTYPE, { tag: "../v1" }), "INVALID_NAME");
        await expectCode(a.put("Nobody", DTYPE, { tag: "v1" }), "DATASET_NOT_FOUND");
        await expectCode(a.put("TestCohort", DTYPE, { tag: "v9" }), "TAG_NOT_FOUND");
      });

      it("a corrupted or truncated object makes get fail with INTEGRITY and leaves the local freezer unchanged", async () => {
        const a = await open("a");
        await frozen(a, "TestCohort", { "good.txt": "fine", "bad.bin": randomBytes(10_000) }, "v1");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        await frozen(a, "TestCohort", { "bad.bin": randomBytes(10_000) }, "v2");
        await a.put("TestCohort", DTYPE, { tag: "v2" });
        const v2sha = a.freezer.dataset(DTYPE, "TestCohort").tag("v2").files["bad.bin"]!.sha256;
        const original = fs.readFileSync(a.freezer.blobs.pathOf(v2sha));

        const b = await open("b");
        await b.get("TestCohort", DTYPE, { tag: "v1" });
        // A flipped byte (same size), then a truncated object.
        const flipped = Buffer.from(original);
        flipped[5000] = flipped[5000]! ^ 0xff;
        for (const damaged of [flipped, original.subarray(0, 9000)]) {
          await a.backend.put(objectKey(v2sha), damaged, { size: damaged.length });
          const before = treeDigest(b.freezer.basedir);
          const err = await expectCode(b.get("TestCohort", DTYPE, { tag: "v2" }), "INTEGRITY");
          expect(err.message).toContain(objectKey(v2sha));
          expect(treeDigest(b.freezer.basedir)).toEqual(before);
          expect(b.freezer.dataset(DTYPE, "TestCohort").hasTag("v2")).toBe(false);
        }
        // A freezer that never had the dataset does not get an empty one.
        const c = await open("c");
        const fresh = treeDigest(c.freezer.basedir);
        await expectCode(c.get("TestCohort", DTYPE, { tag: "v2" }), "INTEGRITY");
        expect(treeDigest(c.freezer.basedir)).toEqual(fresh);
        expect(c.freezer.datasets()).toEqual([]);
      });

      it("a manifest naming ../x or an absolute path is refused and nothing is written outside the dataset", async () => {
        const a = await open("a");
        await frozen(a, "TestCohort", { "ok.txt": "payload" }, "v1");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        const entry = a.freezer.dataset(DTYPE, "TestCohort").tag("v1").files["ok.txt"]!;
        const b = await open("b");
        for (const [tag, evil] of [
          ["dotdot", "../x"],
          ["deep", "a/../../../x"],
          ["absolute", "/tmp/minus80-evil-x"],
          ["backslash", "..\\x"],
        ] as const) {
          const files = { [evil]: entry };
          const m = { format: "minus80-tag", version: 1, dtype: DTYPE, name: "TestCohort", tag, created: new Date().toISOString(), parent: null, files, total: computeTotal(files) };
          const body = Buffer.from(serializeTagManifest(m as TagManifest));
          await a.backend.put(manifestKey(DTYPE, "TestCohort", tag), body, { size: body.length });
          const before = treeDigest(session.env.root);
          const err = await expectCode(b.get("TestCohort", DTYPE, { tag }), "INTEGRITY");
          expect(err.message).toContain(JSON.stringify(evil));
          expect(treeDigest(session.env.root)).toEqual(before);
          expect(fs.existsSync("/tmp/minus80-evil-x")).toBe(false);
        }
        // Listings skip what cannot be fetched rather than failing.
        expect((await b.listTags()).Cohort!.TestCohort!.map((t) => t.tag)).toEqual(["v1"]);
      });

      it("a damaged manifest (not JSON, lying total) is INTEGRITY", async () => {
        const a = await open();
        const junk = Buffer.from("{ not json");
        await a.backend.put(manifestKey(DTYPE, "Junk", "v1"), junk, { size: junk.length });
        await expectCode(a.get("Junk", DTYPE, { tag: "v1" }), "INTEGRITY");
        const files = { "a.txt": { sha256: "0".repeat(64), size: 1 } };
        const lie = Buffer.from(JSON.stringify({ dtype: DTYPE, name: "Junk", tag: "v2", created: "x", parent: null, files, total: "f".repeat(64) }));
        await a.backend.put(manifestKey(DTYPE, "Junk", "v2"), lie, { size: lie.length });
        await expectCode(a.get("Junk", DTYPE, { tag: "v2" }), "INTEGRITY");
      });

      it("keys that do not follow the layout are ignored by list and gc", async () => {
        const a = await open();
        const one = Buffer.from("1");
        for (const key of ["datasets/Cohort/Bad.Name/v1.json", "datasets/Cohort/X/v1.txt", "datasets/Cohort/X/deep/v1.json", "raw/fastq/sub/file", "raw/bad dtype/file", "objects/sha256/zz/nothash", "elsewhere.txt"]) {
          await a.backend.put(key, one, { size: 1 });
        }
        expect(await a.list()).toEqual({});
        expect(await a.list({ raw: true })).toEqual({});
        const r = await a.gc({ dryRun: false });
        expect(r.deleted).toBe(0);
        const left: string[] = [];
        for await (const o of a.backend.list("")) left.push(o.key);
        expect(left).toContain("objects/sha256/zz/nothash");
        expect(left).toContain("elsewhere.txt");
      });

      it("remove deletes one tag or all of them; the errors name what is missing", async () => {
        const a = await open();
        await frozen(a, "TestCohort", { "a.txt": "1" }, "v1");
        await frozen(a, "TestCohort", { "a.txt": "2" }, "v2");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        await a.put("TestCohort", DTYPE, { tag: "v2" });
        expect(await a.remove("TestCohort", DTYPE, { tag: "v1" })).toEqual({ removed: 1 });
        expect((await a.listTags()).Cohort!.TestCohort!.map((t) => t.tag)).toEqual(["v2"]);
        await expectCode(a.remove("TestCohort", DTYPE, { tag: "v1" }), "TAG_NOT_FOUND");
        expect(await a.remove("TestCohort", DTYPE)).toEqual({ removed: 1 });
        expect(await a.list()).toEqual({});
        await expectCode(a.remove("TestCohort", DTYPE), "DATASET_NOT_FOUND");
        await expectCode(a.remove("x.fastq", "fastq", { raw: true }), "RAW_FILE_NOT_FOUND");
      });

      it("gc keeps referenced and recent objects, deletes the rest (dry run first), and aborts stale uploads", async () => {
        const a = await open();
        await frozen(a, "TestCohort", { "keep.txt": "kept", "drop.txt": "dropped" }, "v1");
        await frozen(a, "TestCohort", { "drop.txt": "replaced" }, "v2");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        await a.put("TestCohort", DTYPE, { tag: "v2" });
        await a.remove("TestCohort", DTYPE, { tag: "v1" });
        // Default grace (24 h): everything is recent, nothing goes.
        expect(await a.gc()).toMatchObject({ deleted: 0, young: 1, referenced: 2 });
        if (session.target.listsUploads) await session.target.abandonUpload(session.settings, "objects/sha256/ab/abandoned");
        const now = await open("a", { gcGraceMs: 0 });
        const dry = await now.gc({ dryRun: true });
        expect(dry).toMatchObject({ dryRun: true, deleted: 1, bytes: "dropped".length, referenced: 2, uploadsAborted: session.target.listsUploads ? 1 : 0 });
        expect((await now.gc({ dryRun: true })).deleted).toBe(1);
        const real = await now.gc();
        expect(real).toMatchObject({ dryRun: false, deleted: 1, referenced: 2, uploadsAborted: session.target.listsUploads ? 1 : 0 });
        expect(await now.gc()).toMatchObject({ deleted: 0, uploadsAborted: 0 });
        const b = await open("b");
        await b.get("TestCohort", DTYPE, { tag: "v2" });
        expect(thawed(b, "TestCohort", "drop.txt").toString()).toBe("replaced");
      });

      it("gc running while a push commits never deletes an object the new tag reuses (the push refreshes it)", async () => {
        // An unreferenced object (its tag removed), older than the grace period, that a new tag reuses.
        const graceMs = 2000;
        const a = await open("a", { gcGraceMs: graceMs });
        await frozen(a, "First", { "a.txt": "reused bytes" }, "v1");
        await a.put("First", DTYPE, { tag: "v1" });
        await a.remove("First", DTYPE);
        await new Promise((r) => setTimeout(r, graceMs + 1500)); // S3 times have 1 s resolution
        const gcer = await open("g", { gcGraceMs: graceMs });
        // A push whose manifest write waits until a gc has run in between.
        const hook = gcBeforeManifest(a.backend, gcer);
        const pusher = await open("a", { backend: hook.backend, gcGraceMs: graceMs });
        await frozen(pusher, "Second", { "a.txt": "reused bytes" }, "v1");
        const r = await pusher.put("Second", DTYPE, { tag: "v1" });
        expect(r.manifests).toBe(1); // (s3rver ignores the refresh: there the object is sent again instead)
        expect(hook.result()).toMatchObject({ deleted: 0, young: 1 });
        const b = await open("b");
        await b.get("Second", DTYPE, { tag: "v1" });
        expect(thawed(b, "Second", "a.txt").toString()).toBe("reused bytes");
      });

      it("nuke deletes everything minus80 stored under the prefix", async () => {
        const a = await open();
        await frozen(a, "TestCohort", { "a.txt": "1" }, "v1");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        const f = path.join(session.env.root, "r.fastq");
        fs.writeFileSync(f, "@r\nACGT\n+\nIIII\n");
        await a.put(f, "fastq", { raw: true });
        const r = await a.nuke();
        expect(r.deleted).toBe(5); // object, manifest, raw file, index, marker
        expect(await a.list()).toEqual({});
        expect(await a.list({ raw: true })).toEqual({});
        const left: string[] = [];
        for await (const o of a.backend.list("")) left.push(o.key);
        expect(left).toEqual([]);
      });

      it("creates the bucket when it is missing and writes the layout marker", async () => {
        session.settings = session.target.freshBucket();
        const a = await open();
        expect(await a.list()).toEqual({});
        await frozen(a, "TestCohort", { "a.txt": "1" }, "v1");
        await a.put("TestCohort", DTYPE, { tag: "v1" });
        const marker = await a.backend.get("minus80.json");
        const chunks: Buffer[] = [];
        for await (const c of marker.body) chunks.push(c as Buffer);
        expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ format: "minus80", version: 1 });
      });

      it("finds out once per bucket whether the server enforces create-only writes, remembers it, and says so in the push's result", async () => {
        const a = await open();
        await frozen(a, "Probe", { "x.txt": "x" }, "v1");
        const r = await a.push(DTYPE, "Probe", { tag: "v1" });
        const expected = session.target.name === "s3rver" || !session.target.conditionalWrites ? "read-back" : "conditional";
        expect(r.commit).toBe(expected);
        const cache = JSON.parse(fs.readFileSync(path.join(a.freezer.basedir, "cache", "servers.json"), "utf8")) as Record<string, { createProtocol: string }>;
        expect(cache[a.location]?.createProtocol).toBe(expected);
        // No probe key is left behind, and a second client on the same freezer does not probe again.
        const keys: string[] = [];
        for await (const o of a.backend.list("")) keys.push(o.key);
        expect(keys.filter((k) => k.startsWith("minus80-probe-"))).toEqual([]);
        let probes = 0;
        const counting = Object.create(a.backend) as typeof a.backend;
        counting.put = (key, body, o) => (key.startsWith("minus80-probe-") && probes++, a.backend.put(key, body, o));
        const again = await open("a", { backend: counting });
        await frozen(again, "Probe", { "y.txt": "y" }, "v2");
        expect((await again.push(DTYPE, "Probe", { tag: "v2" })).commit).toBe(expected);
        expect(probes).toBe(0);
      });

      it("two writers of one new tag: exactly one wins, the other gets TAG_CONFLICT (If-None-Match, or the read-back where the server lacks it)", async (ctx) => {
        // s3rver writes a PUT in place (a reader can see half of it): only the atomic shim of test/reliability makes it usable for races.
        if (session.target.name === "s3rver") return ctx.skip();
        const a = await open("a");
        const b = await open("b");
        await frozen(a, "Race", { "x.txt": "a".repeat(1000) }, "v1");
        await frozen(b, "Race", { "x.txt": "b".repeat(1000) }, "v1");
        const results = await Promise.allSettled([a.put("Race", DTYPE, { tag: "v1" }), b.put("Race", DTYPE, { tag: "v1" })]);
        const won = results.filter((r) => r.status === "fulfilled");
        const lost = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
        expect(won).toHaveLength(1);
        expect(lost).toHaveLength(1);
        expect((lost[0]!.reason as Minus80Error).code).toBe("TAG_CONFLICT");
      });
    });

    describe("raw files", () => {
      it("a 50 MiB raw file round-trips byte-identical (multipart), with its sha256 in the metadata", async () => {
        const a = await open();
        const file = path.join(session.env.root, "big.fastq");
        const content = randomBytes(50 * MiB);
        fs.writeFileSync(file, content);
        const events: ProgressEvent[] = [];
        const put = await a.put(file, "fastq", { raw: true, onProgress: (e) => events.push(e) });
        expect(put).toMatchObject({ uploaded: 1, bytes: 50 * MiB, key: "raw/fastq/big.fastq", sha256: sha256(content) });
        expect(events.filter((e) => e.phase === "upload").at(-1)).toMatchObject({ loaded: 50 * MiB, total: 50 * MiB });
        expect((await a.backend.head(rawKey("fastq", "big.fastq"))).metadata.sha256).toBe(sha256(content));
        const out = path.join(session.env.root, "out", "big.fastq");
        const got = await a.get("big.fastq", "fastq", { raw: true, output: out });
        expect(got).toMatchObject({ downloaded: 1, bytes: 50 * MiB, verified: "sha256" });
        expect(sha256(fs.readFileSync(out))).toBe(sha256(content));
        expect(fs.readdirSync(path.dirname(out))).toEqual(["big.fastq"]); // no temporary file left
      });

      it("same content is skipped, different content refused without force; pulls do not clobber local files", async () => {
        const a = await open();
        const file = path.join(session.env.root, "R1.fastq");
        fs.writeFileSync(file, "@r1\nACGT\n+\nIIII\n");
        expect(await a.put(file, "fastq", { raw: true })).toMatchObject({ uploaded: 1 });
        expect(await a.put(file, "fastq", { raw: true })).toMatchObject({ uploaded: 0, skipped: 1 });
        fs.writeFileSync(file, "@r1\nTTTT\n+\nIIII\n");
        const err = await expectCode(a.put(file, "fastq", { raw: true }), "FILE_EXISTS");
        expect(err.message).toContain("fastq/R1.fastq");
        expect(await a.put(file, "fastq", { raw: true, force: true })).toMatchObject({ uploaded: 1 });

        const out = path.join(session.env.root, "dl");
        fs.mkdirSync(out);
        const got = await a.get("R1.fastq", "fastq", { raw: true, output: out }); // a directory: the file goes inside
        expect(got).toMatchObject({ downloaded: 1, path: path.join(out, "R1.fastq") });
        expect(await a.get("R1.fastq", "fastq", { raw: true, output: out })).toMatchObject({ downloaded: 0, skipped: 1 });
        fs.writeFileSync(path.join(out, "R1.fastq"), "mine, do not touch");
        await expectCode(a.get("R1.fastq", "fastq", { raw: true, output: out }), "FILE_EXISTS");
        expect(fs.readFileSync(path.join(out, "R1.fastq"), "utf8")).toBe("mine, do not touch");
        await a.get("R1.fastq", "fastq", { raw: true, output: out, force: true });
        expect(fs.readFileSync(path.join(out, "R1.fastq"), "utf8")).toBe("@r1\nTTTT\n+\nIIII\n");

        expect(await a.list({ raw: true })).toEqual({ fastq: ["R1.fastq"] });
        expect(await a.list({ raw: true, name: "R2" })).toEqual({});
        expect((await a.list({ raw: true, tags: true })).fastq![0]).toMatchObject({ name: "R1.fastq", size: 16, sha256: sha256("@r1\nTTTT\n+\nIIII\n") });
        expect(await a.remove("R1.fastq", "fastq", { raw: true })).toEqual({ removed: 1 });
        expect(await a.list({ raw: true })).toEqual({});
        await expectCode(a.get("R1.fastq", "fastq", { raw: true, output: out }), "RAW_FILE_NOT_FOUND");
      });

      it("an object without sha256 metadata (another tool's upload) is listed and pulled, size-checked, its sha256 reported", async () => {
        const a = await open();
        const body = Buffer.from("uploaded by someone else\n");
        await a.backend.put(rawKey("fastq", "foreign.fastq"), body, { size: body.length });
        expect(await a.list({ raw: true })).toEqual({ fastq: ["foreign.fastq"] });
        const out = path.join(session.env.root, "foreign.fastq");
        const got = await a.get("foreign.fastq", "fastq", { raw: true, output: out });
        expect(got).toMatchObject({ downloaded: 1, verified: "size", sha256: sha256(body) });
        expect(fs.readFileSync(out)).toEqual(body);
      });

      it("refuses bad names before touching anything", async () => {
        const a = await open();
        await expectCode(a.put(path.join(session.env.root, "nope.fastq"), "fastq", { raw: true }), "FILE_NOT_FOUND");
        await expectCode(a.put(session.env.root, "bad/dtype", { raw: true }), "INVALID_NAME");
        await expectCode(a.get("../etc/passwd", "fastq", { raw: true }), "INVALID_NAME");
        await expectCode(a.get("..", "fastq", { raw: true }), "INVALID_NAME");
        expect(await a.list({ raw: true })).toEqual({});
      });
    });

    describe("errors", () => {
      it("a wrong secret key is CREDENTIALS (CLI exit 1) and no key appears in the output", async (ctx) => {
        // s3rver never checks secrets: this claim rests on Ceph / the env endpoint.
        if (!session.target.checksSecrets) return ctx.skip();
        const wrong = `wrongSecret${randomBytes(8).toString("hex")}`;
        const err = await expectCode(open("a", { secretKey: wrong }), "CREDENTIALS");
        expect(err.message).not.toContain(wrong);
        expect(JSON.stringify(err.data)).not.toContain(wrong);
        const cfg = path.join(session.env.root, "wrong.conf");
        fs.writeFileSync(cfg, configYaml({ ...session.settings, secretKey: wrong }, path.join(session.env.root, "cli")), { mode: 0o600 });
        const r = await runCliAsync(["cloud", "ls"], { env: { ...session.env.env, MINUS80_CONFIG: cfg } });
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/credentials/i);
        for (const secret of [wrong, session.settings.secretKey!, session.settings.accessKey!]) {
          expect(r.stdout + r.stderr).not.toContain(secret);
        }
      });

      it("a closed port is UNREACHABLE (CLI exit 1)", async (ctx) => {
        if (session.target.kind !== "s3") return ctx.skip(); // a folder has no port
        const endpoint = `http://127.0.0.1:${await closedPort()}`;
        const started = Date.now();
        const err = await expectCode(open("a", { endpoint }), "UNREACHABLE");
        expect(Date.now() - started).toBeLessThan(10_000);
        expect(err.message).toContain(endpoint);
        const cfg = path.join(session.env.root, "closed.conf");
        fs.writeFileSync(cfg, configYaml({ ...session.settings, endpoint }, path.join(session.env.root, "cli")), { mode: 0o600 });
        const r = await runCliAsync(["cloud", "ls"], { env: { ...session.env.env, MINUS80_CONFIG: cfg } });
        expect(r.status).toBe(1);
        expect(r.stderr).toContain(`cannot reach ${endpoint}`);
      });
    });

    partialAndDryRunContract({ session, open, frozen });
    packContract({ session, open, frozen });

    describe("CLI", () => {
      function cli(...args: string[]) {
        const cfg = path.join(session.env.root, "cli.conf");
        if (!fs.existsSync(cfg)) fs.writeFileSync(cfg, configYaml(session.settings, path.join(session.env.root, "freezer-a")), { mode: 0o600 });
        return runCliAsync(args, { env: { ...session.env.env, MINUS80_CONFIG: cfg, MINUS80_BASEDIR: path.join(session.env.root, "freezer-a") }, cwd: session.env.root });
      }

      it("cloud ls/push/pull/remove/gc/nuke as docs/contract.md describes, with the original's human format", async () => {
        expect(await cli("cloud", "ls")).toMatchObject({ status: 0, stdout: "Nothing here yet!\n" });
        const a = await open("a");
        await frozen(a, "TestCohort", { "a.txt": "1" }, "v1");

        const push = await cli("cloud", "push", "Cohort", "TestCohort", "--tag", "v1", "--quiet");
        expect(push.status, push.stderr).toBe(0);
        expect(push.stdout).toContain("1 file uploaded");
        expect((await cli("cloud", "push", "Cohort", "TestCohort", "--tag", "v1")).stdout).toContain("0 files uploaded");
        expect(await cli("cloud", "ls")).toMatchObject({ status: 0, stdout: "-----Cohort------\nTestCohort\n" });
        expect(JSON.parse((await cli("cloud", "ls", "--json")).stdout)).toEqual({ Cohort: ["TestCohort"] });
        expect((await cli("cloud", "ls", "--tags")).stdout).toMatch(/^-----Cohort------\nTestCohort\n {4}v1 /);

        fs.writeFileSync(path.join(session.env.root, "R1.fastq"), "@r\nACGT\n+\nIIII\n");
        expect((await cli("cloud", "push", "fastq", "R1.fastq", "--raw")).status).toBe(0);
        expect(await cli("cloud", "ls", "--raw")).toMatchObject({ status: 0, stdout: "######   Raw Data:   ######\n-----fastq------\nR1.fastq\n" });
        const pull = await cli("cloud", "pull", "fastq", "R1.fastq", "--raw", "--output", "copy.fastq");
        expect(pull.status, pull.stderr).toBe(0);
        expect(fs.readFileSync(path.join(session.env.root, "copy.fastq"), "utf8")).toBe("@r\nACGT\n+\nIIII\n");
        // Progress bars only on a terminal: the captured stderr stays empty.
        expect(await cli("cloud", "pull", "Cohort", "TestCohort", "--tag", "v1")).toMatchObject({ status: 0, stderr: "" });

        expect(await cli("cloud", "pull", "Cohort", "TestCohort", "--tag", "v9")).toMatchObject({ status: 1 });
        expect(await cli("cloud", "push", "Cohort", "Bad.Name")).toMatchObject({ status: 2 });
        expect(await cli("cloud", "push", "Cohort")).toMatchObject({ status: 2 });
        expect(await cli("cloud", "nuke")).toMatchObject({ status: 2 });
        expect((await cli("cloud", "remove", "Cohort", "TestCohort", "--tag", "v1")).status).toBe(0);
        expect(JSON.parse((await cli("cloud", "gc", "--dry-run", "--json")).stdout)).toMatchObject({ dryRun: true, deleted: 0, young: 1 });
        const repack = await cli("cloud", "gc", "--dry-run", "--repack");
        expect(repack.stdout).toMatch(/^Would delete 0 unreferenced objects .*; repack: 0 packs would be repacked, 0 B freed by a gc once they are older than the grace period\n$/);
        expect((await cli("cloud", "nuke", "--yes")).status).toBe(0);
        expect((await cli("cloud", "ls", "--raw")).stdout).toBe("Nothing here yet!\n");
      });
    });
  });
}
