/**
 * The retry layer, against a real backend (the folder backend) with faults
 * injected in front of it: transient failures are retried with back-off,
 * interrupted reads resume where they stopped, interrupted listings resume
 * after the last key, and permanent failures are not retried.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Backend, GetOptions, GetResult, ListOptions, ObjectInfo, PendingUpload, PutBody, PutOptions, RangeReadOptions, RangeSink } from "../../src/cloud/backends/backend.js";
import { FolderBackend } from "../../src/cloud/backends/folder/folderBackend.js";
import { CloudData } from "../../src/cloud/cloudData.js";
import { backoffDelay, DEFAULT_RETRY_POLICY, RetryingBackend } from "../../src/cloud/retry.js";
import { CloudError, UnreachableError, type Minus80Error } from "../../src/errors.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const FAST = { baseDelayMs: 1, maxDelayMs: 5 };
const transient = (key?: string) => new CloudError(`injected 503 SlowDown${key ? ` on ${key}` : ""}`, { provider: "SlowDown", status: 503, transient: true, key });

/** Fails the next `n` calls of each kind with a transient error; can break a read after some bytes. */
class Flaky implements Backend {
  failPuts = 0;
  failGets = 0;
  failLists = 0;
  /** the next reads break (transiently) after this many bytes, once each */
  breakReadsAfter: number[] = [];
  /** items a broken listing yields before it fails */
  listBreakAfter = 2;
  calls = { put: 0, get: 0, list: 0 };
  constructor(readonly inner: Backend) {}
  get location() {
    return `flaky ${this.inner.location}`;
  }
  ensureBucket() {
    return this.inner.ensureBucket();
  }
  async put(key: string, body: PutBody, opts: PutOptions) {
    this.calls.put++;
    if (this.failPuts > 0) {
      this.failPuts--;
      if (typeof body === "function") body().destroy(); // opened, then the connection broke
      throw transient(key);
    }
    return this.inner.put(key, body, opts);
  }
  async get(key: string, opts?: GetOptions): Promise<GetResult> {
    this.calls.get++;
    if (this.failGets > 0) {
      this.failGets--;
      throw transient(key);
    }
    const r = await this.inner.get(key, opts);
    const limit = this.breakReadsAfter.shift();
    if (limit === undefined) return r;
    let seen = 0;
    const breaker = new Transform({
      transform(chunk: Buffer, _e, cb) {
        if (seen + chunk.length > limit) {
          this.push(chunk.subarray(0, limit - seen));
          seen = limit;
          cb(new UnreachableError("injected: the connection was lost (ECONNRESET)", { network: "ECONNRESET", transient: true, key }));
          return;
        }
        seen += chunk.length;
        cb(null, chunk);
      },
    });
    r.body.pipe(breaker);
    r.body.on("error", (e) => breaker.destroy(e));
    breaker.on("close", () => r.body.destroy()); // a real broken connection takes its socket with it
    return { ...r, body: breaker };
  }
  head(key: string) {
    return this.inner.head(key);
  }
  async *list(prefix: string, opts?: ListOptions): AsyncIterable<ObjectInfo> {
    this.calls.list++;
    let n = 0;
    for await (const o of this.inner.list(prefix, opts)) {
      if (this.failLists > 0 && n === this.listBreakAfter) {
        this.failLists--;
        throw transient(prefix);
      }
      n++;
      yield o;
    }
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  deleteMany(keys: readonly string[]) {
    return this.inner.deleteMany(keys);
  }
  touch(key: string) {
    return this.inner.touch(key);
  }
  listUploads(prefix: string) {
    return this.inner.listUploads(prefix);
  }
  abortUpload(u: Parameters<Backend["abortUpload"]>[0]) {
    return this.inner.abortUpload(u);
  }
  startUpload(key: string) {
    return this.inner.startUpload(key);
  }
  uploadPart(u: PendingUpload, n: number, body: PutBody, size: number) {
    return this.inner.uploadPart(u, n, body, size);
  }
  completeUpload(u: PendingUpload, etags: readonly string[]) {
    return this.inner.completeUpload(u, etags);
  }
  close() {}
}

/** A Flaky backend with `readRange` (over the inner `get`, in 10,000-byte pieces), recording the offset of each read. */
class FlakyRanges extends Flaky {
  rangeOffsets: number[] = [];
  /** the next range reads break (transiently) after this many bytes, once each */
  breakRangesAfter: number[] = [];
  failRangesPermanently = false;
  async readRange(key: string, opts: RangeReadOptions, sink: RangeSink): Promise<{ size: number }> {
    this.rangeOffsets.push(opts.offset);
    if (this.failRangesPermanently) throw new CloudError("injected 403", { status: 403, transient: false, key });
    const r = await this.inner.get(key, { offset: opts.offset, end: opts.end });
    const bytes = await readAll(r.body);
    const limit = this.breakRangesAfter.shift() ?? Infinity;
    for (let at = 0; at < bytes.length; at += 10_000) {
      const piece = bytes.subarray(at, Math.min(at + 10_000, bytes.length, limit));
      if (piece.length > 0) await sink(piece);
      if (at + 10_000 >= limit) throw new UnreachableError("injected: the connection was lost (ECONNRESET)", { network: "ECONNRESET", transient: true, key });
    }
    return { size: r.size };
  }
}

let env: TempEnv;
let flaky: Flaky;
let backend: RetryingBackend;
beforeEach(async () => {
  env = makeTempEnv();
  flaky = new Flaky(new FolderBackend({ root: path.join(env.root, "store"), bucket: "retry-test", prefix: "" }));
  backend = new RetryingBackend(flaky, FAST);
  await backend.ensureBucket();
});
afterEach(() => env.cleanup());

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("RetryingBackend", () => {
  it("retries a transient put by reopening the source, and counts the retries", async () => {
    const file = path.join(env.root, "f.bin");
    const content = randomBytes(100_000);
    fs.writeFileSync(file, content);
    let opened = 0;
    flaky.failPuts = 2;
    await backend.put("k", () => (opened++, fs.createReadStream(file)), { size: content.length });
    expect(opened).toBe(3);
    expect(backend.stats).toMatchObject({ retries: 2, gaveUp: 0, byCause: { SlowDown: 2 } });
    expect((await readAll((await backend.get("k")).body)).equals(content)).toBe(true);
  });

  it("gives up after the attempt budget with the last error", async () => {
    flaky.failPuts = 100;
    const err = (await backend.put("k", Buffer.from("x"), { size: 1 }).catch((e: unknown) => e)) as Minus80Error;
    expect(err.code).toBe("CLOUD");
    expect(flaky.calls.put).toBe(DEFAULT_RETRY_POLICY.maxAttempts);
    expect(backend.stats.gaveUp).toBe(1);
  });

  it("never retries a permanent error", async () => {
    const err = (await backend.get("missing").catch((e: unknown) => e)) as Minus80Error;
    expect(err.code).toBe("OBJECT_NOT_FOUND");
    expect(flaky.calls.get).toBe(1);
    expect(backend.stats.retries).toBe(0);
  });

  it("resumes an interrupted read at the next byte (several times) and delivers the exact bytes", async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17);
    await backend.put("big", content, { size: content.length });
    flaky.breakReadsAfter = [1000, 500_000, 70_000];
    const r = await backend.get("big");
    expect((await readAll(r.body)).equals(content)).toBe(true); // (toEqual on megabytes is slow)
    expect(flaky.calls.get).toBe(4);
    expect(backend.stats.retries).toBe(3);
  });

  it("resumes an interrupted readRange after the last byte the sink took, and never retries a permanent error", async () => {
    const ranged = new FlakyRanges(flaky.inner);
    const retrying = new RetryingBackend(ranged, FAST);
    const content = randomBytes(300_000);
    await retrying.put("r.bin", content, { size: content.length });
    ranged.breakRangesAfter = [50_000, 1, 120_000];
    const parts: Buffer[] = [];
    const got = await retrying.readRange!("r.bin", { offset: 100, end: 299_000 }, (b) => void parts.push(Buffer.from(b)));
    expect(got.size).toBe(content.length);
    expect(Buffer.concat(parts).equals(content.subarray(100, 299_000))).toBe(true);
    expect(ranged.rangeOffsets).toEqual([100, 50_100, 50_101, 170_101]);
    expect(retrying.stats.retries).toBe(3);
    ranged.failRangesPermanently = true;
    ranged.rangeOffsets = [];
    await expect(retrying.readRange!("r.bin", { offset: 0, end: 10 }, () => undefined)).rejects.toThrow("injected 403");
    expect(ranged.rangeOffsets).toEqual([0]);
    expect(new RetryingBackend(flaky).readRange, "no readRange where the inner backend has none").toBeUndefined();
  });

  it("resumes an interrupted listing after the last key, without duplicates", async () => {
    for (let i = 0; i < 7; i++) await backend.put(`l/${i}`, Buffer.from("x"), { size: 1 });
    flaky.failLists = 2;
    const keys: string[] = [];
    for await (const o of backend.list("l/")) keys.push(o.key);
    expect(keys).toEqual(["l/0", "l/1", "l/2", "l/3", "l/4", "l/5", "l/6"]);
    expect(backend.stats.retries).toBe(2);
  });

  it("backs off exponentially with full jitter, capped", () => {
    const policy = { ...DEFAULT_RETRY_POLICY, random: () => 0.999999 };
    expect(backoffDelay(1, policy)).toBe(DEFAULT_RETRY_POLICY.baseDelayMs - 1);
    expect(backoffDelay(3, policy)).toBe(4 * DEFAULT_RETRY_POLICY.baseDelayMs - 1);
    expect(backoffDelay(30, policy)).toBe(DEFAULT_RETRY_POLICY.maxDelayMs - 1);
    expect(backoffDelay(3, { ...policy, random: () => 0 })).toBe(0);
  });
});

describe("CloudData over a flaky connection", () => {
  it("push and pull complete through transient failures, byte-identical", async () => {
    const cloud = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "a"), backend, concurrency: 4 });
    const ds = cloud.freezer.dataset("Cohort", "Flaky");
    ds.ensureCreated();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 6; i++) {
      files[`f${i}.bin`] = randomBytes(200_000 + i);
      fs.writeFileSync(path.join(ds.thawedDir, `f${i}.bin`), files[`f${i}.bin`]!);
    }
    await ds.freeze("v1");
    flaky.failPuts = 4;
    expect(await cloud.put("Flaky", "Cohort", { tag: "v1" })).toMatchObject({ uploaded: 6, manifests: 1 });

    const other = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "b"), backend, concurrency: 4 });
    flaky.failGets = 3;
    flaky.breakReadsAfter = [10, 150_000];
    await other.get("Flaky", "Cohort", { tag: "v1" });
    for (const [name, content] of Object.entries(files)) {
      expect(fs.readFileSync(path.join(other.freezer.dataset("Cohort", "Flaky").thawedDir, name)).equals(content)).toBe(true);
    }
    // 4 failed puts + 3 failed gets + the broken manifest read (the second break hits its resumed read, too small to break)
    expect(backend.stats.retries).toBe(8);
    expect(backend.stats.gaveUp).toBe(0);
  });
});

describe("HashingStream-verified uploads", () => {
  it("a local object damaged on disk is refused (INTEGRITY) instead of uploaded under its hash", async () => {
    const cloud = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "a"), backend });
    const ds = cloud.freezer.dataset("Cohort", "Rot");
    ds.ensureCreated();
    fs.writeFileSync(path.join(ds.thawedDir, "x.bin"), randomBytes(50_000));
    const m = await ds.freeze("v1");
    const blob = cloud.freezer.blobs.pathOf(m.files["x.bin"]!.sha256);
    fs.chmodSync(blob, 0o644);
    fs.writeFileSync(blob, randomBytes(50_000)); // bit rot in the local store
    const err = (await cloud.put("Rot", "Cohort", { tag: "v1" }).catch((e: unknown) => e)) as Minus80Error;
    expect(err.code).toBe("INTEGRITY");
    expect(await cloud.list()).toEqual({});
    const left: string[] = [];
    for await (const o of backend.list("objects/")) left.push(o.key);
    expect(left).toEqual([]);
  });
});

