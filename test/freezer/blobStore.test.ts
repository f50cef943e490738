import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Minus80Error } from "../../src/errors.js";
import { Freezer } from "../../src/freezer/freezer.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

let t: TempEnv;
let freezer: Freezer;
beforeEach(() => {
  t = makeTempEnv();
  freezer = Freezer.open();
});
afterEach(() => t.cleanup());

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
/** Every file under the store root, temporary ones included. */
const storeFiles = () => (fs.existsSync(freezer.blobs.root) ? (fs.readdirSync(freezer.blobs.root, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(freezer.blobs.root, f)).isFile()) : []);

describe("blob store: objects held in memory (files read out of a pack)", () => {
  it("addBytes stores the bytes read-only under their sha256, and sizeOf and has see them", async () => {
    const data = Buffer.from("ACGT".repeat(1000));
    freezer.blobs.addBytes({ sha256: sha(data), size: data.length }, data);
    const p = freezer.blobs.pathOf(sha(data));
    expect(fs.readFileSync(p).equals(data)).toBe(true);
    expect(fs.statSync(p).mode & 0o222).toBe(0);
    expect(freezer.blobs.sizeOf(sha(data))).toBe(data.length);
    expect(await freezer.blobs.has(sha(data))).toBe(true);
    expect(freezer.blobs.sizeOf("0".repeat(64))).toBeUndefined();
    expect(storeFiles()).toEqual([path.join(sha(data).slice(0, 2), sha(data))]);
  });

  it("addBytes refuses bytes that do not hash to the sha256 asked for, naming it, and stores nothing", () => {
    const data = Buffer.from("ACGT");
    const wrong = sha(Buffer.from("TTTT"));
    let err: Minus80Error | undefined;
    try {
      freezer.blobs.addBytes({ sha256: wrong, size: 4 }, data);
    } catch (e) {
      err = e as Minus80Error;
    }
    expect(err?.code).toBe("INTEGRITY");
    expect(err?.message).toContain(wrong);
    expect(storeFiles()).toEqual([]);
  });
});

describe("thaw of small files", () => {
  it("writes each working-copy file writable by its owner, byte for byte", async () => {
    const ds = freezer.dataset("Test", "small");
    fs.mkdirSync(path.join(ds.thawedDir, "a"), { recursive: true });
    for (let i = 0; i < 20; i++) fs.writeFileSync(path.join(ds.thawedDir, "a", `f${i}.txt`), `file ${i}\n`.repeat(i + 1));
    ds.ensureCreated();
    await ds.freeze("v1");
    fs.rmSync(ds.thawedDir, { recursive: true });
    await ds.thaw("v1", { force: true });
    for (let i = 0; i < 20; i++) {
      const p = path.join(ds.thawedDir, "a", `f${i}.txt`);
      expect(fs.readFileSync(p, "utf8")).toBe(`file ${i}\n`.repeat(i + 1));
      expect(fs.statSync(p).mode & 0o200).toBe(0o200);
    }
  });
});
