/** OrderedHasher: one sha256, in order, over parts that arrive in any order. */
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { OrderedHasher } from "../../../src/cloud/transfer/orderedHasher.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

describe("OrderedHasher", () => {
  it("hashes parts fed out of order (and a restarted part) as the bytes in order, holding only parts ahead of the frontier", () => {
    const data = randomBytes(10 * 1000 + 7);
    const h = new OrderedHasher(data.length, 1000);
    const feedPart = (i: number, chunk = 300) => {
      for (let o = i * 1000; o < Math.min(data.length, (i + 1) * 1000); o += chunk) h.feed(i, o, data.subarray(o, Math.min(o + chunk, (i + 1) * 1000, data.length)));
    };
    for (const i of [3, 1, 2]) feedPart(i);
    expect(h.held).toBe(3000);
    h.restartPart(2); // a retry reads part 2 again
    expect(h.held).toBe(2000);
    feedPart(2, 128);
    feedPart(0, 700);
    h.endPart(1);
    h.endPart(3);
    h.endPart(2);
    expect(h.hashed).toBe(1000); // part 0 not ended yet
    h.endPart(0);
    expect(h.hashed).toBe(4000);
    expect(h.held).toBe(0);
    for (let i = 4; i < h.parts; i++) {
      feedPart(i);
      h.endPart(i);
    }
    expect(h.digest()).toBe(sha256(data));
    expect(h.maxHeld).toBeLessThanOrEqual(3000);
  });
});
