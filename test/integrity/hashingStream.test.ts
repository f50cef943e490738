/** The integrity module: one hashing stream, one mismatch error, checked file reads. */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkedFileRange, readCheckedFile, readInto } from "../../src/integrity/checkedFile.js";
import { stampOf } from "../../src/integrity/fileStamp.js";
import { HashingStream } from "../../src/integrity/hashingStream.js";
import { expectCode } from "../helpers/assertions.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

let env: TempEnv;
beforeEach(() => (env = makeTempEnv()));
afterEach(() => env.cleanup());

describe("HashingStream", () => {
  it("passes the bytes through and reports their sha256 and size", async () => {
    const data = randomBytes(300_000);
    const h = new HashingStream({ source: "x" });
    const out: Buffer[] = [];
    await pipeline(Readable.from([data.subarray(0, 1000), data.subarray(1000)]), h, new Writable({ write: (c, _e, cb) => (out.push(c as Buffer), cb()) }));
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(h.result()).toEqual({ sha256: sha256(data), size: data.length });
  });

  it("fails with INTEGRITY naming the source on another sha256, too many bytes or too few", async () => {
    const data = Buffer.from("hello");
    for (const expect_ of [{ sha256: "0".repeat(64), size: 5 }, { size: 4 }, { size: 6 }]) {
      const err = await expectCode(pipeline(Readable.from([data]), new HashingStream({ source: "objects/ab", expect: expect_ }), sink()), "INTEGRITY");
      expect(err.message).toContain("objects/ab");
    }
  });

  it("runs the last check before the end passes, and fails the stream with its error", async () => {
    const h = new HashingStream({ source: "x", beforeEnd: async () => Promise.reject(new Error("changed")) });
    await expect(pipeline(Readable.from([Buffer.from("a")]), h, sink())).rejects.toThrow("changed");
  });
});

describe("checked file reads", () => {
  it("a range is its bytes; the whole file checks its sha256 and stamp", async () => {
    const file = path.join(env.root, "f");
    const data = randomBytes(50_000);
    fs.writeFileSync(file, data);
    const chunks: Buffer[] = [];
    await pipeline(checkedFileRange({ file }, "k", 100, 200), new Writable({ write: (c, _e, cb) => (chunks.push(c as Buffer), cb()) }));
    expect(Buffer.concat(chunks).equals(data.subarray(100, 200))).toBe(true);
    await pipeline(checkedFileRange({ file, sha256: sha256(data), stamp: stampOf(fs.statSync(file)) }, "k", 0, data.length, { whole: true }), sink());
    await expectCode(pipeline(checkedFileRange({ file, sha256: sha256(Buffer.from("no")) }, "k", 0, data.length, { whole: true }), sink()), "INTEGRITY");
    await expectCode(pipeline(checkedFileRange({ file }, "k", 0, data.length + 10), sink()), "INTEGRITY");
  });

  it("a small file read whole is refused when its size, sha256 or stamp is not what was promised", async () => {
    const file = path.join(env.root, "s");
    const data = randomBytes(4096);
    fs.writeFileSync(file, data);
    const st = fs.statSync(file);
    expect((await readCheckedFile({ file, sha256: sha256(data) }, "k", data.length)).equals(data)).toBe(true);
    await expectCode(readCheckedFile({ file, sha256: "0".repeat(64) }, "k", data.length), "INTEGRITY");
    await expectCode(readCheckedFile({ file }, "k", data.length + 1), "INTEGRITY");
    await expectCode(readCheckedFile({ file, stamp: { ...stampOf(st), mtimeMs: st.mtimeMs - 1000 } }, "k", data.length), "INTEGRITY");
  });

  it("a small file read into a caller's buffer lands in it, and a file that grew or shrank is still refused", async () => {
    const file = path.join(env.root, "s");
    const data = randomBytes(4096);
    fs.writeFileSync(file, data);
    const scratch = Buffer.alloc(10_000);
    const got = await readCheckedFile({ file, sha256: sha256(data) }, "k", data.length, scratch.subarray(100));
    expect(got.equals(data)).toBe(true);
    expect(scratch.subarray(100, 100 + data.length).equals(data)).toBe(true); // no copy: a view of the buffer
    await expectCode(readCheckedFile({ file }, "k", data.length - 1, scratch), "INTEGRITY"); // the file is larger than promised
    await expectCode(readCheckedFile({ file }, "k", data.length + 1, scratch), "INTEGRITY"); // smaller
    // A buffer without room for one byte more than the promised size is not used: the file is read whole.
    expect((await readCheckedFile({ file, sha256: sha256(data) }, "k", data.length, Buffer.alloc(data.length))).equals(data)).toBe(true);
    expect(readInto(file, Buffer.alloc(10)).equals(data.subarray(0, 10))).toBe(true);
  });
});
