/**
 * A dataset's MANIFEST.json (datasetManifest.ts): a read right after this
 * object's own write reuses what it wrote; any other version of the file
 * is read from disk.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ManifestFile } from "../../src/freezer/datasetManifest.js";
import { buildTagManifest } from "../../src/freezer/manifest.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

let t: TempEnv;
let file: string;
beforeEach(() => {
  t = makeTempEnv();
  file = path.join(t.root, "MANIFEST.json");
});
afterEach(() => t.cleanup());

const sha = (c: string) => c.repeat(64);
const tagOf = (tag: string, c: string) => buildTagManifest({ dtype: "Cohort", name: "RNA", tag, parent: null, files: { "a.txt": { sha256: sha(c), size: 1 } } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("ManifestFile", () => {
  it("reuses the tags it just wrote instead of parsing the file again", async () => {
    const mf = new ManifestFile(file, "Cohort", "RNA");
    const m = mf.read();
    const v1 = tagOf("v1", "a");
    m.tags.v1 = v1;
    await mf.write(m);
    expect(mf.read().tags.v1).toBe(v1); // the very object: nothing parsed
    expect(new ManifestFile(file, "Cohort", "RNA").read().tags.v1).toEqual(v1); // and the file holds it
  });

  it("reads the file again once another writer has replaced it", async () => {
    const mine = new ManifestFile(file, "Cohort", "RNA");
    const m = mine.read();
    m.tags.v1 = tagOf("v1", "a");
    await mine.write(m);
    const other = new ManifestFile(file, "Cohort", "RNA");
    const theirs = other.read();
    theirs.tags.v2 = tagOf("v2", "b");
    theirs.head = "v2";
    await other.write(theirs);
    const seen = mine.read();
    expect(Object.keys(seen.tags).sort()).toEqual(["v1", "v2"]);
    expect(seen.head).toBe("v2");
  });

  it("reads the file again after it was rewritten in place with as many bytes", async () => {
    const mf = new ManifestFile(file, "Cohort", "RNA");
    const m = mf.read();
    m.tags.v1 = tagOf("v1", "a");
    await mf.write(m);
    await sleep(20); // past the file system's timestamp granularity
    const text = fs.readFileSync(file, "utf8");
    fs.writeFileSync(file, text.replace('"head": null', '"head":"v1" '));
    expect(fs.statSync(file).size).toBe(Buffer.byteLength(text));
    expect(mf.read().head).toBe("v1");
  });

  it("hands each reader its own record of tags: changing one does not change the next read", async () => {
    const mf = new ManifestFile(file, "Cohort", "RNA");
    const m = mf.read();
    m.tags.v1 = tagOf("v1", "a");
    await mf.write(m);
    const first = mf.read();
    first.tags.v9 = tagOf("v9", "c");
    first.head = "v9";
    const second = mf.read();
    expect(Object.keys(second.tags)).toEqual(["v1"]);
    expect(second.head).toBeNull();
  });
});
