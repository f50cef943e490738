/**
 * The cloud contract, continued: partial pulls (`include`, and for a
 * Cohort `accessions` / `where`) and the dry runs of push and pull. Called
 * from `cloudContract` (contract.ts), so it runs on every storage target.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { copiesAreFree, SPACE_MARGIN_BYTES } from "../../src/disk/space.js";
import type { CloudData, CloudOpenOptions } from "../../src/cloud/cloudData.js";
import type { TargetSettings } from "../helpers/s3servers.js";
import { manifestKey, objectKey, packKey } from "../../src/cloud/layout.js";
import { parseTagManifest, type TagManifest } from "../../src/freezer/manifest.js";
import { Accession } from "../../src/types/accession.js";
import { Cohort } from "../../src/types/cohort.js";
import { expectCode } from "../helpers/assertions.js";
import type { TargetSession } from "../helpers/targetSession.js";
import { snapshotTree } from "../helpers/tree.js";

export interface ContractTools {
  session: TargetSession;
  open(machine?: string, extra?: Partial<CloudOpenOptions> & Partial<TargetSettings>): Promise<CloudData>;
  frozen(cloud: CloudData, name: string, files: Record<string, string | Buffer>, tag?: string): Promise<TagManifest | undefined>;
}

/** Every key under the test's prefix, with its size. */
async function bucketKeys(cloud: CloudData): Promise<string[]> {
  const out: string[] = [];
  for await (const o of cloud.backend.list("")) out.push(`${o.key} ${o.size}`);
  return out.sort();
}

export function partialAndDryRunContract({ session, open, frozen }: ContractTools): void {
  /** A Cohort of two accessions with attached reads (S1: leaf, S2: root), frozen as v1 and pushed. */
  async function pushedCohort(a: CloudData): Promise<TagManifest> {
    const src = path.join(session.env.root, "reads-src");
    fs.mkdirSync(src, { recursive: true });
    const file = (n: string) => (fs.writeFileSync(path.join(src, n), `@${n}\nACGT\n+\nIIII\n`), path.join(src, n));
    const c = new Cohort("RNA", { freezer: a.freezer });
    await c.importAccessions(
      [
        new Accession("S1", { files: [file("S1_R1.fastq"), file("S1_R2.fastq")], metadata: { tissue: "leaf" }, aliases: ["first"] }),
        new Accession("S2", { files: [file("S2_R1.fastq"), file("S2_R2.fastq")], metadata: { tissue: "root" } }),
      ],
      { attach: true },
    );
    const v1 = await c.freeze("v1");
    c.close();
    await a.push("Cohort", "RNA", { tag: "v1" });
    return v1;
  }

  /** `backend` wrapped so that each GET's key and byte range is recorded. */
  function recordingGets(backend: CloudData["backend"]) {
    const gets: Array<{ key: string; start: number; end: number }> = [];
    const b = Object.create(backend) as typeof backend;
    b.get = (key, o) => (gets.push({ key, start: o?.offset ?? 0, end: o?.end ?? Infinity }), backend.get(key, o));
    return { gets, backend: b };
  }

  const readsOf = (m: TagManifest, s: string) => Object.keys(m.files).filter((p) => p.startsWith(`reads/${s}/`));

  describe("partial pulls", () => {
    it("--accessions (by name or alias) fetches only their reads plus the Cohort's tables; nothing of the other is stored", async () => {
      const a = await open("a");
      const v1 = await pushedCohort(a);
      const b = await open("b");
      const r = await b.pull("Cohort", "RNA", { tag: "v1", accessions: ["first"] });
      expect(r).toMatchObject({ partial: true, accessions: ["S1"], downloaded: 3, files: 3 });
      const ds = b.freezer.dataset("Cohort", "RNA");
      expect(fs.readdirSync(path.join(ds.thawedDir, "reads"))).toEqual(["S1"]);
      const stored = new Set(await b.freezer.blobs.list());
      for (const p of readsOf(v1, "S2")) expect(stored.has(v1.files[p]!.sha256)).toBe(false);
      expect(ds.readManifest().partial).toEqual({ tag: "v1", absent: readsOf(v1, "S2") });
      const c = new Cohort("RNA", { freezer: b.freezer });
      expect(c.get("S1").files.every((f) => fs.existsSync(f))).toBe(true);
      c.close();
    });

    it("--accessions reads the Cohort's database once: the copy the selection read is the one stored", async () => {
      const a = await open("a");
      await pushedCohort(a);
      const r = await a.backend.get(manifestKey("Cohort", "RNA", "v1"));
      const chunks: Buffer[] = [];
      for await (const c of r.body as AsyncIterable<Buffer>) chunks.push(c);
      const remote = parseTagManifest(Buffer.concat(chunks).toString("utf8"), "RNA", { dtype: "Cohort", name: "RNA", tag: "v1" });
      const db = remote.files["db.sqlite"]!;
      const { gets, backend } = recordingGets(a.backend);
      const b = await open("b", { backend });
      expect(await b.pull("Cohort", "RNA", { tag: "v1", accessions: ["S1"] })).toMatchObject({ partial: true, downloaded: 3 });
      // The GETs that carried the database's bytes: a range of its pack that covers them, or its own object.
      const carriedDb = gets.filter((g) =>
        db.pack !== undefined ? g.key === packKey(db.pack) && g.start < db.offset! + db.size && g.end > db.offset! : g.key === objectKey(db.sha256),
      );
      expect(carriedDb).toHaveLength(1);
      expect(new Set(await b.freezer.blobs.list()).has(db.sha256)).toBe(true);
      expect(fs.readFileSync(path.join(b.freezer.dataset("Cohort", "RNA").thawedDir, "db.sqlite")).length).toBe(db.size);
    });

    it("--where picks by metadata; a freeze of the partial copy keeps every file of the tag, and it pushes without the absent objects", async () => {
      const a = await open("a");
      const v1 = await pushedCohort(a);
      const b = await open("b");
      expect(await b.pull("Cohort", "RNA", { tag: "v1", where: { tissue: "root" } })).toMatchObject({ accessions: ["S2"], partial: true });
      const ds = b.freezer.dataset("Cohort", "RNA");
      fs.writeFileSync(path.join(ds.thawedDir, "notes.txt"), "added in the partial copy");
      const v2 = await ds.freeze("v2");
      for (const p of Object.keys(v1.files)) expect(v2.files[p], p).toEqual(v1.files[p]);
      expect(await b.push("Cohort", "RNA", { tag: "v2" })).toMatchObject({ uploaded: 1, tags: ["v2"] });
      // elsewhere, v2 pulls whole
      const c = await open("c");
      await c.pull("Cohort", "RNA", { tag: "v2" });
      expect(fs.readFileSync(path.join(c.freezer.dataset("Cohort", "RNA").thawedDir, readsOf(v1, "S1")[0]!), "utf8")).toMatch(/^@S1_R1/);
    });

    it("--include globs select files of any dataset; a later full pull completes the copy and clears the mark", async () => {
      const a = await open("a");
      await frozen(a, "Plain", { "keep/a.txt": "a", "keep/b.txt": "b", "skip/c.txt": "c" }, "v1");
      await a.push("Cohort", "Plain", { tag: "v1" });
      const b = await open("b");
      expect(await b.pull("Cohort", "Plain", { tag: "v1", include: ["keep/**"] })).toMatchObject({ downloaded: 2, partial: true });
      const ds = b.freezer.dataset("Cohort", "Plain");
      expect(fs.existsSync(path.join(ds.thawedDir, "skip"))).toBe(false);
      await expectCode(ds.thaw("v1", { force: true }), "INTEGRITY");
      expect(await b.pull("Cohort", "Plain", { tag: "v1" })).toMatchObject({ downloaded: 1, skipped: 2, partial: false });
      expect(fs.readFileSync(path.join(ds.thawedDir, "skip/c.txt"), "utf8")).toBe("c");
      expect(ds.readManifest().partial).toBeUndefined();
    });

    it("bad selections are INVALID_ARGUMENT naming the value and the rule, and change nothing locally", async () => {
      const a = await open("a");
      await pushedCohort(a);
      await frozen(a, "Plain", { "a.txt": "a" }, "v1");
      await a.push("Cohort", "Plain", { tag: "v1" });
      const b = await open("b");
      const before = snapshotTree(b.freezer.basedir);
      const unknown = await expectCode(b.pull("Cohort", "RNA", { tag: "v1", accessions: ["S1", "S9"] }), "INVALID_ARGUMENT");
      expect(unknown.message).toMatch(/"S9".*--accessions names accessions/);
      expect((await expectCode(b.pull("Cohort", "Plain", { tag: "v1", include: ["nope/**"] }), "INVALID_ARGUMENT")).message).toMatch(/"nope\/\*\*" matches no file/);
      expect((await expectCode(b.pull("Other", "RNA", { accessions: ["S1"] }), "INVALID_ARGUMENT")).message).toMatch(/apply to the dtype Cohort only/);
      expect(snapshotTree(b.freezer.basedir)).toEqual(before);
    });

    it("a tag frozen after a partial pull whose absent objects the bucket lost cannot be pushed: INTEGRITY naming the file", async () => {
      const a = await open("a");
      const v1 = await pushedCohort(a);
      const b = await open("b");
      await b.pull("Cohort", "RNA", { tag: "v1", accessions: ["S1"] });
      await b.freezer.dataset("Cohort", "RNA").freeze("v2");
      await a.backend.delete(manifestKey("Cohort", "RNA", "v1"));
      await a.backend.delete(objectKey(v1.files[readsOf(v1, "S2")[0]!]!.sha256));
      const e = await expectCode(b.push("Cohort", "RNA", { tag: "v2" }), "INTEGRITY");
      expect(e.message).toContain(readsOf(v1, "S2")[0]);
      expect(await b.listDatasets()).toEqual({}); // no manifest was written
    });
  });

  describe("dry runs", () => {
    it("push --dry-run (one tag, and the working state) says what the push sends, and writes nothing locally or remotely", async () => {
      const a = await open("a");
      await frozen(a, "Dry", { "a.txt": "alpha", "b.txt": "beta" }, "v1");
      await a.push("Cohort", "Dry", { tag: "v1" });
      await frozen(a, "Dry", { "c.txt": "gamma" }, "v2");
      await frozen(a, "Dry", { "d.txt": "delta, not frozen" });
      const local = snapshotTree(a.freezer.basedir);
      const remote = await bucketKeys(a);
      const one = await a.push("Cohort", "Dry", { tag: "v2", dryRun: true });
      expect(one).toMatchObject({ dryRun: true, slug: "Cohort.Dry", objects: { upload: 1, bytes: 5, present: 2 }, tags: [{ tag: "v2", status: "new", base: "v1", files: 3 }] });
      expect(one.requests.puts).toBe(2); // the object and the manifest
      const all = await a.push("Cohort", "Dry", { dryRun: true });
      expect(all.tags.map((t) => [t.tag, t.status])).toEqual([["v2", "new"], ["latest", "new"]]);
      expect(all.objects).toMatchObject({ upload: 2, bytes: 5 + "delta, not frozen".length });
      expect(snapshotTree(a.freezer.basedir)).toEqual(local);
      expect(await bucketKeys(a)).toEqual(remote);
      const real = await a.push("Cohort", "Dry");
      expect(real).toMatchObject({ uploaded: all.objects.upload, bytes: all.objects.bytes, tags: ["v2", "latest"] });
      expect((await a.push("Cohort", "Dry", { tag: "v1", dryRun: true })).tags[0]).toMatchObject({ status: "unchanged", objects: { upload: 0 } });
    });

    it("pull --dry-run (whole and partial) says what the pull fetches and whether the disk has room, and writes nothing", async () => {
      const a = await open("a");
      const v1 = await pushedCohort(a);
      const b = await open("b");
      const local = snapshotTree(b.freezer.basedir);
      const remote = await bucketKeys(a);
      const whole = await b.pull("Cohort", "RNA", { tag: "v1", dryRun: true });
      const size = Object.values(v1.files).reduce((n, e) => n + e.size, 0);
      expect(whole).toMatchObject({ dryRun: true, partial: false, objects: { fetch: 5, bytes: size, local: 0 }, files: { thawed: 5, bytes: size, inTag: 5 } });
      // The objects and the working copy, each file rounded up to whole blocks, plus the margin (disk/space.ts).
      expect(whole.disk).toMatchObject({ dir: b.freezer.basedir, enough: true });
      const copies = (await copiesAreFree(b.freezer.basedir)) ? 1 : 2; // a reflinking file system thaws for free
      expect(whole.disk.needed).toBeGreaterThanOrEqual(copies * size + SPACE_MARGIN_BYTES);
      expect(whole.disk.needed).toBeLessThanOrEqual(copies * size + SPACE_MARGIN_BYTES + copies * 5 * 65536);
      expect(whole.disk.free).toBeGreaterThan(0);
      expect(whole.requests.gets).toBeGreaterThanOrEqual(6); // the manifest and each object
      const part = await b.pull("Cohort", "RNA", { tag: "v1", where: { tissue: "leaf" }, dryRun: true });
      expect(part).toMatchObject({ partial: true, accessions: ["S1"], objects: { fetch: 3 }, files: { thawed: 3 } });
      expect(snapshotTree(b.freezer.basedir)).toEqual(local);
      expect(await bucketKeys(a)).toEqual(remote);
      const real = await b.pull("Cohort", "RNA", { tag: "v1", where: { tissue: "leaf" } });
      expect(real).toMatchObject({ downloaded: part.objects.fetch, bytes: part.objects.bytes, files: part.files.thawed });
    });
  });
}
