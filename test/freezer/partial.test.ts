/**
 * A partial working copy at the freezer level: a tag imported with `only`
 * and thawed with `only` records `partial` in MANIFEST.json; the files it
 * lacks are not deleted ones, a freeze keeps them from the tag, a full
 * thaw fails saying the copy is partial, and a full import and thaw
 * complete it and clear the mark.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashFile } from "../../src/freezer/files.js";
import { Freezer } from "../../src/freezer/freezer.js";
import type { FetchObject } from "../../src/freezer/importTag.js";
import type { TagManifest } from "../../src/freezer/manifest.js";
import { expectCode } from "../helpers/assertions.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { snapshotTree } from "../helpers/tree.js";

let t: TempEnv;
let source: Freezer;
let local: Freezer;
let v1: TagManifest;
const FILES = { "db.sqlite": "tables", "reads/S1/R1.fq": "s1 read one", "reads/S2/R1.fq": "s2 read one", "reads/S2/R2.fq": "s2 read two" };
const ONLY = new Set(["db.sqlite", "reads/S1/R1.fq"]);
const ABSENT = ["reads/S2/R1.fq", "reads/S2/R2.fq"];

/** Copies objects out of the source freezer, as a pull downloads them. */
const fromSource: FetchObject = async (entry, tmp) => {
  await fsp.copyFile(source.blobs.pathOf(entry.sha256), tmp);
  return hashFile(tmp);
};

beforeEach(async () => {
  t = makeTempEnv();
  source = new Freezer(path.join(t.root, "source"));
  local = new Freezer(path.join(t.root, "local"));
  const ds = source.dataset("Cohort", "RNA");
  ds.ensureCreated();
  for (const [rel, text] of Object.entries(FILES)) {
    fs.mkdirSync(path.dirname(path.join(ds.thawedDir, rel)), { recursive: true });
    fs.writeFileSync(path.join(ds.thawedDir, rel), text);
  }
  v1 = await ds.freeze("v1");
});
afterEach(() => t.cleanup());

/** Imports v1 fetching only ONLY, and thaws those files. */
async function partialCopy() {
  const ds = local.dataset("Cohort", "RNA");
  const counts = await ds.importTag(v1, fromSource, { concurrency: 4, only: ONLY });
  await ds.thaw("v1", { only: ONLY });
  return { ds, counts };
}

describe("a partial working copy", () => {
  it("holds and stores only the chosen files, and MANIFEST.json records the tag and the absent paths", async () => {
    const { ds, counts } = await partialCopy();
    expect(counts).toMatchObject({ fetched: 2, present: 0 });
    expect(fs.readdirSync(path.join(ds.thawedDir, "reads"))).toEqual(["S1"]);
    const stored = await local.blobs.list();
    expect(stored.sort()).toEqual([v1.files["db.sqlite"]!.sha256, v1.files["reads/S1/R1.fq"]!.sha256].sort());
    const json = JSON.parse(fs.readFileSync(ds.manifestPath, "utf8"));
    expect(json.partial).toEqual({ tag: "v1", absent: ABSENT });
    expect(json.tags.v1.files).toEqual(v1.files); // the tag is recorded whole
  });

  it("does not count the files it lacks as deleted; a file it holds and loses is", async () => {
    const { ds } = await partialCopy();
    expect(await ds.fileChanges()).toEqual({ new: [], changed: [], deleted: [] });
    await ds.refuseUnsaved("v1"); // no UNSAVED_CHANGES
    fs.rmSync(path.join(ds.thawedDir, "reads/S1/R1.fq"));
    expect((await ds.fileChanges()).deleted).toEqual(["reads/S1/R1.fq"]);
  });

  it("a freeze keeps the absent files' entries from the tag (same sha256), and the new tag is partial in turn", async () => {
    const { ds } = await partialCopy();
    fs.writeFileSync(path.join(ds.thawedDir, "notes.txt"), "new");
    const v2 = await ds.freeze("v2");
    for (const p of ABSENT) expect(v2.files[p]).toEqual(v1.files[p]);
    expect(Object.keys(v2.files).sort()).toEqual([...Object.keys(FILES), "notes.txt"].sort());
    expect(ds.readManifest().partial).toEqual({ tag: "v2", absent: ABSENT });
    expect(await ds.fileChanges()).toEqual({ new: [], changed: [], deleted: [] });
  });

  it("a full thaw of a tag whose objects are not all local fails with INTEGRITY saying it was pulled partially, changing nothing", async () => {
    const { ds } = await partialCopy();
    const before = snapshotTree(local.basedir);
    const e = await expectCode(ds.thaw("v1", { force: true }), "INTEGRITY");
    expect(e.message).toMatch(/pulled partially/);
    expect(e.data).toMatchObject({ partial: true, missing: ABSENT, hint: expect.stringContaining("without filters") });
    expect(snapshotTree(local.basedir)).toEqual(before);
  });

  it("a full import and thaw complete the copy and clear the mark (MANIFEST.json as a full copy writes it)", async () => {
    const { ds } = await partialCopy();
    const counts = await ds.importTag(v1, fromSource, { concurrency: 4 });
    expect(counts).toMatchObject({ fetched: 2, present: 2 });
    await ds.thaw("v1");
    expect(fs.readFileSync(path.join(ds.thawedDir, "reads/S2/R2.fq"), "utf8")).toBe(FILES["reads/S2/R2.fq"]);
    expect("partial" in JSON.parse(fs.readFileSync(ds.manifestPath, "utf8"))).toBe(false);
    expect(ds.readManifest().partial).toBeUndefined();
  });

  it("a read-only change check and a freeze preview write nothing", async () => {
    const { ds } = await partialCopy();
    fs.rmSync(path.join(ds.dir, "statcache.json"), { force: true });
    const before = snapshotTree(local.basedir);
    expect((await ds.fileChanges(undefined, { readOnly: true })).deleted).toEqual([]);
    const preview = await ds.previewFreeze("latest");
    expect(preview.total).toBe(v1.total);
    expect(snapshotTree(local.basedir)).toEqual(before);
  });

  it("a partial import that fails or is cancelled midway leaves the freezer as it was", async () => {
    const ds = local.dataset("Cohort", "RNA");
    const before = snapshotTree(local.basedir);
    let calls = 0;
    const failing: FetchObject = async (entry, tmp, onBytes) => {
      if (++calls === 2) throw new Error("connection lost");
      return fromSource(entry, tmp, onBytes);
    };
    await expect(ds.importTag(v1, failing, { concurrency: 1, only: ONLY })).rejects.toThrow("connection lost");
    const abort = new AbortController();
    const cancelling: FetchObject = async (entry, tmp, onBytes) => (abort.abort(), fromSource(entry, tmp, onBytes));
    await expectCode(ds.importTag(v1, cancelling, { concurrency: 1, only: ONLY, signal: abort.signal }), "CANCELLED");
    expect(await local.blobs.list()).toEqual([]);
    expect(ds.exists()).toBe(false);
    expect(Object.keys(snapshotTree(local.basedir)).filter((k) => !k.endsWith("/"))).toEqual(Object.keys(before).filter((k) => !k.endsWith("/")));
  });

  it("a malformed partial record is INTEGRITY naming the manifest", async () => {
    const { ds } = await partialCopy();
    const json = JSON.parse(fs.readFileSync(ds.manifestPath, "utf8"));
    json.partial = { tag: "v9", absent: [] };
    fs.writeFileSync(ds.manifestPath, JSON.stringify(json));
    expect(() => ds.readManifest()).toThrow(/field partial/);
  });
});
