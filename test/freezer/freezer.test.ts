import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Minus80Error } from "../../src/errors.js";
import { Freezer } from "../../src/freezer/freezer.js";
import { parseTagManifest, serializeTagManifest } from "../../src/freezer/manifest.js";
import type { ProgressEvent } from "../../src/progress.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

let t: TempEnv;
let freezer: Freezer;
beforeEach(() => {
  t = makeTempEnv();
  freezer = Freezer.open();
});
afterEach(() => t.cleanup());

function write(ds: { thawedDir: string }, rel: string, content: string | Buffer) {
  const p = path.join(ds.thawedDir, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
}
function read(ds: { thawedDir: string }, rel: string): string {
  return fs.readFileSync(path.join(ds.thawedDir, rel), "utf8");
}
async function rejection(p: Promise<unknown>): Promise<Minus80Error> {
  try {
    await p;
  } catch (e) {
    return e as Minus80Error;
  }
  throw new Error("expected a rejection");
}
function objectBytes(): number {
  let n = 0;
  for (const sha of fs.readdirSync(path.join(t.basedir, "objects", "sha256"), { recursive: true }) as string[]) {
    const p = path.join(t.basedir, "objects", "sha256", sha);
    if (fs.statSync(p).isFile()) n += fs.statSync(p).size;
  }
  return n;
}

describe("freeze and thaw", () => {
  it("freeze records every file with its sha256 and size, the total, created time and parent", async () => {
    const ds = freezer.dataset("Table", "one");
    ds.ensureCreated();
    write(ds, "a.txt", "alpha");
    write(ds, "sub/b.txt", "beta");
    const v1 = await ds.freeze("v1");
    expect(v1.files).toEqual({
      "a.txt": { sha256: "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8", size: 5 },
      "sub/b.txt": { sha256: createHash("sha256").update("beta").digest("hex"), size: 4 },
    });
    expect(v1.parent).toBeNull();
    expect(Date.parse(v1.created)).toBeGreaterThan(Date.now() - 60_000);
    write(ds, "a.txt", "alpha2");
    const v2 = await ds.freeze("v2");
    expect(v2.parent).toBe("v1");
    expect(v2.total).not.toBe(v1.total);
    expect(ds.tags().map((x) => x.tag)).toEqual(["v1", "v2"]);
    // the stored manifest survives a strict re-validation
    expect(parseTagManifest(serializeTagManifest(v2), "v2", { dtype: "Table", name: "one", tag: "v2" }).total).toBe(v2.total);
  });

  it("stores a content once across tags and datasets", async () => {
    const big = Buffer.alloc(200_000, 7);
    const a = freezer.dataset("Table", "a");
    const b = freezer.dataset("Table", "b");
    a.ensureCreated();
    b.ensureCreated();
    write(a, "big.bin", big);
    write(b, "copy.bin", big);
    await a.freeze("v1");
    await a.freeze("v2");
    await b.freeze("v1");
    expect(objectBytes()).toBe(big.length);
  });

  it("refuses to freeze a tag twice", async () => {
    const ds = freezer.dataset("Table", "one");
    ds.ensureCreated();
    write(ds, "a.txt", "x");
    await ds.freeze("v1");
    write(ds, "a.txt", "y");
    const e = await rejection(ds.freeze("v1"));
    expect(e.code).toBe("TAG_EXISTS");
    expect(ds.tag("v1").files["a.txt"]!.size).toBe(1);
    expect(read(ds, "a.txt")).toBe("y");
  });

  it("thaw refuses over unsaved changes, listing new, changed and deleted files, and --force restores the tag byte for byte", async () => {
    const ds = freezer.dataset("Table", "one");
    ds.ensureCreated();
    write(ds, "keep.txt", "keep");
    write(ds, "edit.txt", "original");
    write(ds, "gone.txt", "gone");
    await ds.freeze("v1");
    write(ds, "edit.txt", "edited");
    write(ds, "new.txt", "new");
    fs.rmSync(path.join(ds.thawedDir, "gone.txt"));
    expect(await ds.fileChanges()).toEqual({ new: ["new.txt"], changed: ["edit.txt"], deleted: ["gone.txt"] });
    const e = await rejection(ds.thaw("v1"));
    expect(e.code).toBe("UNSAVED_CHANGES");
    expect(e.message).toContain("edit.txt");
    expect(e.message).toContain("new.txt");
    expect(e.message).toContain("gone.txt");
    expect(read(ds, "edit.txt")).toBe("edited"); // nothing changed by the refusal
    await ds.thaw("v1", { force: true });
    expect(read(ds, "edit.txt")).toBe("original");
    expect(read(ds, "gone.txt")).toBe("gone");
    expect(fs.existsSync(path.join(ds.thawedDir, "new.txt"))).toBe(false);
    expect(await ds.fileChanges()).toEqual({ new: [], changed: [], deleted: [] });
  });

  it("a thaw of many small files gives the event loop turns: a cancel from a timer stops it, and the working copy stays as it was", async () => {
    const ds = freezer.dataset("Table", "many");
    ds.ensureCreated();
    for (let i = 0; i < 2000; i++) write(ds, `d${i % 10}/f${i}.txt`, `v1 ${i}`);
    await ds.freeze("v1");
    for (let i = 0; i < 2000; i++) write(ds, `d${i % 10}/f${i}.txt`, `v2 ${i}`);
    await ds.freeze("v2");
    const ac = new AbortController();
    let copied = 0;
    const onProgress = (e: ProgressEvent) => {
      if (e.phase !== "thaw") return;
      copied = e.loaded;
      if (copied === 300) setImmediate(() => ac.abort()); // runs only when the thaw lets the event loop turn
    };
    const e = await rejection(ds.thaw("v1", { signal: ac.signal, onProgress }));
    expect(e.code).toBe("CANCELLED");
    expect(copied).toBeLessThan(2000);
    expect(read(ds, "d3/f3.txt")).toBe("v2 3");
    expect(ds.readManifest().head).toBe("v2");
  });

  it("thaw of a clean working copy switches between tags without force", async () => {
    const ds = freezer.dataset("Table", "one");
    ds.ensureCreated();
    write(ds, "a.txt", "1");
    await ds.freeze("v1");
    write(ds, "a.txt", "2");
    await ds.freeze("v2");
    await ds.thaw("v1");
    expect(read(ds, "a.txt")).toBe("1");
    expect(ds.readManifest().head).toBe("v1");
    expect((await rejection(ds.thaw("v9"))).code).toBe("TAG_NOT_FOUND");
  });

  it("thaw of a tag whose object is missing from the store is INTEGRITY and leaves the working copy as it was", async () => {
    const ds = freezer.dataset("Table", "holes");
    ds.ensureCreated();
    write(ds, "deep/er/a.txt", "1");
    write(ds, "b.txt", "b");
    const v1 = await ds.freeze("v1");
    write(ds, "deep/er/a.txt", "2");
    await ds.freeze("v2");
    const lost = freezer.blobs.pathOf(v1.files["deep/er/a.txt"]!.sha256);
    fs.chmodSync(path.dirname(lost), 0o755);
    fs.rmSync(lost, { force: true });
    const err = await rejection(ds.thaw("v1"));
    expect(err.code).toBe("INTEGRITY");
    expect(err.message).toContain("deep/er/a.txt");
    expect(read(ds, "deep/er/a.txt")).toBe("2");
    expect(ds.readManifest().head).toBe("v2");
    expect(fs.readdirSync(ds.dir).filter((n) => n.startsWith(".thawed"))).toEqual([]);
  });

  it("a file edited within the stat cache's window is still seen as changed", async () => {
    const ds = freezer.dataset("Table", "one");
    ds.ensureCreated();
    write(ds, "a.txt", "aaaa");
    await ds.freeze("v1");
    const p = path.join(ds.thawedDir, "a.txt");
    const st = fs.statSync(p);
    fs.writeFileSync(p, "bbbb"); // same size
    fs.utimesSync(p, st.atime, st.mtime); // and same mtime: only the inode/hash can tell
    expect((await ds.fileChanges()).changed).toEqual(["a.txt"]);
  });
});

describe("datasets, exists and delete", () => {
  it("lists datasets with glob patterns and tells whether one exists", async () => {
    for (const [d, n] of [["Cohort", "alpha"], ["Cohort", "beta"], ["Table", "alpha"]] as const) freezer.dataset(d, n).ensureCreated();
    expect(freezer.datasets()).toHaveLength(3);
    expect(freezer.datasets("Cohort")).toEqual([{ dtype: "Cohort", name: "alpha" }, { dtype: "Cohort", name: "beta" }]);
    expect(freezer.datasets(undefined, "al*")).toEqual([{ dtype: "Cohort", name: "alpha" }, { dtype: "Table", name: "alpha" }]);
    expect(freezer.exists("Cohort", "beta")).toBe(true);
    expect(freezer.exists("Cohort", "gamma")).toBe(false);
    expect(() => freezer.datasets("../etc")).toThrow(/invalid dtype pattern/);
  });

  it("delete returns how many datasets it removed and leaves no orphaned bytes", async () => {
    const a = freezer.dataset("Table", "a");
    const b = freezer.dataset("Table", "b");
    a.ensureCreated();
    b.ensureCreated();
    write(a, "shared.txt", "shared content");
    write(a, "only-a.txt", "only in a");
    write(b, "shared.txt", "shared content");
    await a.freeze("v1");
    await b.freeze("v1");
    expect(await freezer.delete("Table", "a")).toBe(1);
    expect(freezer.exists("Table", "a")).toBe(false);
    expect(objectBytes()).toBe("shared content".length);
    await b.thaw("v1");
    expect(read(b, "shared.txt")).toBe("shared content");
    expect(await freezer.delete("Table", "*")).toBe(1);
    expect(objectBytes()).toBe(0);
    expect(await freezer.delete("Table", "*")).toBe(0);
  });
});

describe("concurrency", () => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const freezerModule = path.resolve(here, "../../dist/src/freezer/freezer.js");

  function freezeInChild(tag: string, content: string): Promise<{ code: number; stderr: string }> {
    const script = `
      import fs from "node:fs";
      import path from "node:path";
      const { Freezer } = await import(${JSON.stringify(freezerModule)});
      const ds = Freezer.open().dataset("Table", "shared");
      ds.ensureCreated();
      try {
        await ds.freeze(${JSON.stringify(tag)});
        process.exit(0);
      } catch (e) { process.stderr.write(String(e.code)); process.exit(3); }`;
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { env: { ...process.env, CONTENT: content } });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (code) => resolve({ code: code ?? -1, stderr }));
    });
  }

  it("two processes freezing the same dataset at once both land their tags without corrupting the manifest", async () => {
    const ds = freezer.dataset("Table", "shared");
    ds.ensureCreated();
    for (let i = 0; i < 200; i++) write(ds, `f${i}.txt`, `file ${i}`.repeat(100));
    const tags = ["p1", "p2", "p3", "p4"];
    const results = await Promise.all(tags.map((tag) => freezeInChild(tag, tag)));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);
    const m = ds.readManifest();
    expect(Object.keys(m.tags).sort()).toEqual(tags);
    for (const tag of tags) expect(Object.keys(m.tags[tag]!.files)).toHaveLength(200);
  });

  it("two processes freezing the same new tag: exactly one wins, the other gets TAG_EXISTS", async () => {
    const ds = freezer.dataset("Table", "shared");
    ds.ensureCreated();
    write(ds, "a.txt", "a");
    const results = await Promise.all([freezeInChild("same", "x"), freezeInChild("same", "y")]);
    expect(results.map((r) => r.code).sort()).toEqual([0, 3]);
    expect(results.find((r) => r.code === 3)!.stderr).toContain("TAG_EXISTS");
    expect(ds.tags().map((x) => x.tag)).toEqual(["same"]);
  });

  it("a stale lock left by a killed process is recovered", async () => {
    const ds = freezer.dataset("Table", "shared");
    ds.ensureCreated();
    write(ds, "a.txt", "a");
    const lock = path.join(ds.dir, ".lock");
    fs.mkdirSync(lock);
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lock, old, old);
    await ds.freeze("v1");
    expect(ds.hasTag("v1")).toBe(true);
    expect(fs.existsSync(lock)).toBe(false);
  });
});
