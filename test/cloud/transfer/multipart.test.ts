/**
 * multipart.ts over the folder backend's multipart verbs (small parts, so
 * the tests are quick), with a wrapper that counts and breaks calls: parts
 * in parallel joined in order, a failed part retried alone, every failure
 * (a part, the hash, a changed file, cancellation) aborting the upload so
 * that no parts and no object are left.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Backend, PartsHint, PendingUpload, PutBody, RequestOptions } from "../../../src/cloud/backends/backend.js";
import { FolderBackend } from "../../../src/cloud/backends/folder/folderBackend.js";
import { RetryingBackend } from "../../../src/cloud/retry.js";
import { MAX_PARTS, multipartUpload, partSizeFor } from "../../../src/cloud/transfer/multipart.js";
import { CloudError } from "../../../src/errors.js";
import { stampOf } from "../../../src/integrity/fileStamp.js";
import { expectCode } from "../../helpers/assertions.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";

const KiB = 1024;
const HINT: PartsHint = { partSize: 64 * KiB, inFlight: 3, threshold: 64 * KiB };
const FAST = { baseDelayMs: 1, maxDelayMs: 2, maxAttempts: 3 };
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The folder backend, with uploadPart counted and, when told, failing or slowed. */
class PartsProbe extends FolderBackend {
  calls: number[] = [];
  /** part number -> failures left (transient) */
  failing = new Map<number, number>();
  /** part numbers that always fail, not transient */
  broken = new Set<number>();
  /** parts in flight now, and at most */
  inFlight = 0;
  maxInFlight = 0;
  onPart?: (n: number) => void;
  override async uploadPart(u: PendingUpload, n: number, body: PutBody, size: number, opts: RequestOptions = {}): Promise<string> {
    this.calls.push(n);
    this.onPart?.(n);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      await new Promise((r) => setTimeout(r, 5));
      if (this.broken.has(n)) throw new CloudError(`injected: part ${n} refused`, { transient: false });
      const left = this.failing.get(n) ?? 0;
      if (left > 0) {
        this.failing.set(n, left - 1);
        if (typeof body === "function") (body() as Readable).destroy();
        throw new CloudError(`injected: 503 on part ${n}`, { transient: true, provider: "SlowDown" });
      }
      return await super.uploadPart(u, n, body, size, opts);
    } finally {
      this.inFlight--;
    }
  }
}

let env: TempEnv;
let probe: PartsProbe;
let backend: Backend;
beforeEach(async () => {
  env = makeTempEnv();
  probe = new PartsProbe({ root: path.join(env.root, "remote"), bucket: "mp", prefix: "" });
  backend = new RetryingBackend(probe, FAST);
  await backend.ensureBucket();
});
afterEach(() => env.cleanup());

function file(size: number): { file: string; content: Buffer } {
  const f = path.join(env.root, `f-${size}.bin`);
  const content = randomBytes(size);
  fs.writeFileSync(f, content);
  return { file: f, content };
}

async function uploadsLeft(): Promise<string[]> {
  const out: string[] = [];
  for await (const u of backend.listUploads("")) out.push(u.key);
  return out;
}

async function read(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of (await backend.get(key)).body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("multipartUpload", () => {
  it("sends the parts in parallel (at most inFlight at once) and the object is the file, byte for byte", async () => {
    const { file: f, content } = file(7 * 64 * KiB + 123);
    const seen: number[] = [];
    await multipartUpload(backend, "obj", { file: f, sha256: sha256(content) }, { size: content.length, hint: HINT, onBytes: (n) => seen.push(n) });
    expect((await read("obj")).equals(content)).toBe(true);
    expect([...probe.calls].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(probe.maxInFlight).toBeGreaterThan(1);
    expect(probe.maxInFlight).toBeLessThanOrEqual(HINT.inFlight);
    expect(seen.at(-1)).toBe(content.length);
    expect(await uploadsLeft()).toEqual([]);
  });

  it("a part failing transiently is retried on its own: the other parts are sent once", async () => {
    const { file: f, content } = file(4 * 64 * KiB);
    probe.failing.set(3, 2);
    await multipartUpload(backend, "obj", { file: f, sha256: sha256(content) }, { size: content.length, hint: HINT });
    expect(probe.calls.filter((n) => n === 3)).toHaveLength(3);
    expect(probe.calls.filter((n) => n !== 3)).toHaveLength(3);
    expect((await read("obj")).equals(content)).toBe(true);
  });

  it("a part that keeps failing aborts the upload: the error is the part's, no object, no parts left", async () => {
    const { file: f, content } = file(5 * 64 * KiB);
    probe.broken.add(2);
    const err = await expectCode(multipartUpload(backend, "obj", { file: f }, { size: content.length, hint: HINT }), "CLOUD");
    expect(err.message).toContain("part 2 refused");
    await expectCode(backend.head("obj"), "OBJECT_NOT_FOUND");
    expect(await uploadsLeft()).toEqual([]);
  });

  it("bytes that do not hash as promised, or a file changed while sent, are INTEGRITY and the upload is aborted", async () => {
    const { file: f, content } = file(3 * 64 * KiB + 5);
    await expectCode(multipartUpload(backend, "a", { file: f, sha256: "0".repeat(64) }, { size: content.length, hint: HINT }), "INTEGRITY");
    const st = fs.statSync(f);
    const stale = { ...stampOf(st), mtimeMs: st.mtimeMs - 1000 };
    await expectCode(multipartUpload(backend, "b", { file: f, stamp: stale }, { size: content.length, hint: HINT }), "INTEGRITY");
    // Changed during the upload: the stamp is checked again before completion.
    probe.onPart = (n) => {
      if (n === 2) fs.appendFileSync(f, "x");
    };
    await expectCode(multipartUpload(backend, "c", { file: f, stamp: stampOf(st) }, { size: content.length, hint: HINT }), "INTEGRITY");
    for (const k of ["a", "b", "c"]) await expectCode(backend.head(k), "OBJECT_NOT_FOUND");
    expect(await uploadsLeft()).toEqual([]);
  });

  it("cancelled mid-way, it waits for the parts in flight, aborts the upload and ends with CANCELLED", async () => {
    const { file: f, content } = file(12 * 64 * KiB);
    const ctl = new AbortController();
    probe.onPart = (n) => {
      if (n === 4) ctl.abort();
    };
    await expectCode(multipartUpload(backend, "obj", { file: f }, { size: content.length, hint: HINT, signal: ctl.signal }), "CANCELLED");
    expect(probe.inFlight).toBe(0);
    expect(probe.calls.length).toBeLessThan(12);
    await expectCode(backend.head("obj"), "OBJECT_NOT_FOUND");
    expect(await uploadsLeft()).toEqual([]);
  });

  it("create-only: an existing key is FILE_EXISTS before any part is sent", async () => {
    const { file: f, content } = file(2 * 64 * KiB);
    await backend.put("obj", Buffer.from("there"), { size: 5 });
    await expectCode(multipartUpload(backend, "obj", { file: f }, { size: content.length, hint: HINT, ifNoneMatch: true }), "FILE_EXISTS");
    expect(probe.calls).toEqual([]);
  });
});

describe("partSizeFor", () => {
  it("keeps the hinted part size until the parts would exceed MAX_PARTS, then grows in whole MiB", () => {
    const MiB = 1024 * KiB;
    expect(partSizeFor(1000 * MiB, 16 * MiB)).toBe(16 * MiB);
    const huge = 400 * 1024 * MiB; // 400 GiB
    const grown = partSizeFor(huge, 16 * MiB);
    expect(grown % MiB).toBe(0);
    expect(Math.ceil(huge / grown)).toBeLessThanOrEqual(MAX_PARTS);
    expect(grown).toBeGreaterThan(16 * MiB);
  });
});
