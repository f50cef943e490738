import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HashPool } from "../../src/freezer/hashPool.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
});
afterEach(() => t.cleanup());

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("HashPool.follow", () => {
  it("hashes a file written out of order as the writer publishes its complete prefix", async () => {
    const pool = new HashPool(2);
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const file = path.join(t.root, "growing.bin");
    const fd = fs.openSync(file, "w");
    const h = pool.follow(file);
    const part = 1024 * 1024;
    // Parts land 2, 0, 3, 1: the complete prefix grows only when the gap closes.
    const order = [2, 0, 3, 1];
    const done = new Set<number>();
    let frontier = 0;
    for (const i of order) {
      const chunk = data.subarray(i * part, Math.min(data.length, (i + 1) * part));
      fs.writeSync(fd, chunk, 0, chunk.length, i * part);
      done.add(i);
      while (done.has(frontier)) frontier++;
      h.advance(Math.min(data.length, frontier * part));
    }
    fs.closeSync(fd);
    expect(await h.finish(data.length)).toEqual({ sha256: sha256(data), size: data.length });
  });

  it("a file shorter than the writer claims fails the hash; a cancelled hash frees its worker for the next job", async () => {
    const pool = new HashPool(1);
    const file = path.join(t.root, "short.bin");
    fs.writeFileSync(file, Buffer.alloc(1000, 7));
    await expect(pool.follow(file).finish(2000)).rejects.toThrow(/ended at byte 1000/);

    const cancelled = pool.follow(file);
    cancelled.advance(500);
    cancelled.cancel();
    // One worker only: this job runs once the cancelled one has let it go.
    expect(await pool.hash(file)).toEqual({ sha256: sha256(fs.readFileSync(file)), size: 1000 });
  });
});

describe("HashPool.hash", () => {
  it("reports the bytes hashed as it goes, adding up to the file's size", async () => {
    const pool = new HashPool(1);
    const data = randomBytes(40 * 1024 * 1024 + 5);
    const file = path.join(t.root, "big.bin");
    fs.writeFileSync(file, data);
    const seen: number[] = [];
    expect(await pool.hash(file, (n) => seen.push(n))).toEqual({ sha256: sha256(data), size: data.length });
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.reduce((a, b) => a + b, 0)).toBe(data.length);
  });
});

