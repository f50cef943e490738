/**
 * Raw files: plain objects at `raw/<dtype>/<file name>` carrying their
 * sha256 as user metadata (`x-amz-meta-sha256`), so `aws s3 cp` or rclone
 * fetch them as they are, and minus80 verifies them.
 *
 * - put: hash the file, skip if the same content is there, refuse different
 *   content unless forced, then send it as byte ranges of the file (parallel
 *   multipart parts when large, nothing buffered); a file changed since it
 *   was hashed is caught by its stamp (size, mtime, ctime) before the upload
 *   completes, so the file is hashed once, not twice.
 * - get: download to a temporary file beside the output (parallel ranged
 *   reads when large, hashed in order as they arrive), verify (sha256 when
 *   the object carries one, else at least the size), then rename; refuse to
 *   replace a different existing file unless forced.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { InvalidArgumentError, Minus80Error } from "../errors.js";
import { hashFile, tempPathFor } from "../freezer/files.js";
import { hashPool } from "../freezer/hashPool.js";
import { checkDtype, checkRawName } from "../names.js";
import type { ProgressListener } from "../progress.js";
import type { HeadResult } from "./backends/backend.js";
import { ensureMarker, type CloudContext } from "./datasets.js";
import { rawKey } from "./layout.js";
import { TransferMeter } from "./progress.js";
import { rangedDownload, wantsRangedRead } from "./rangedGet.js";
import { HashingStream } from "./streams.js";

/** The user metadata name holding a raw object's sha256. */
export const SHA256_METADATA = "sha256";
const SHA256_RE = /^[0-9a-f]{64}$/;

export interface RawPutResult {
  uploaded: number;
  bytes: number;
  skipped: number;
  key: string;
  sha256: string;
}

export interface RawGetResult {
  downloaded: number;
  bytes: number;
  skipped: number;
  key: string;
  /** where the file is */
  path: string;
  sha256: string;
  /** what was checked: the sha256 the object carries, or (object without one) only its size */
  verified: "sha256" | "size";
}

/** The sha256 an object's metadata claims, if well formed. */
function claimedSha256(h: Pick<HeadResult, "metadata">): string | undefined {
  const v = h.metadata[SHA256_METADATA]?.toLowerCase();
  return v && SHA256_RE.test(v) ? v : undefined;
}

function rawLabel(dtype: string, file: string): string {
  return `raw file ${dtype}/${file}`;
}

/**
 * Uploads `file` as `raw/<dtype>/<base name>`.
 *
 * @example await putRaw(ctx, "data/R1.fastq", "fastq", { force: false })
 */
export async function putRaw(ctx: CloudContext, file: string, dtype: string, opts: { force?: boolean; onProgress?: ProgressListener } = {}): Promise<RawPutResult> {
  checkDtype(dtype);
  const abs = path.resolve(file);
  const base = checkRawName(path.basename(abs));
  const st = await fsp.stat(abs).catch(() => null);
  if (!st) throw new Minus80Error("NOT_FOUND", `file ${file} does not exist`, { path: file });
  if (!st.isFile()) throw new InvalidArgumentError(`${file} is not a regular file`, { path: file });
  const key = rawKey(dtype, base);
  const { backend } = ctx;

  const hashMeter = new TransferMeter("checksum", st.size, opts.onProgress);
  // On a worker thread, 1 MiB reads: about twice as fast as a stream hashed on this thread.
  const local = await hashPool().hash(abs, (n) => hashMeter.add(abs, n));
  hashMeter.done();
  if (local.size !== st.size) throw new Minus80Error("INTEGRITY", `file ${file} changed while it was being hashed; push it again when it is no longer being written`, { path: file });

  const existing = await backend.head(key).catch((err: unknown) => {
    if (backend.isNotFound(err)) return undefined;
    throw err;
  });
  const same = (h: HeadResult) => claimedSha256(h) === local.sha256 && h.size === local.size;
  if (existing && same(existing)) return { uploaded: 0, bytes: 0, skipped: 1, key, sha256: local.sha256 };
  if (existing && !opts.force) throw rawExists(dtype, base, key, existing);

  await ensureMarker(backend);
  const meter = new TransferMeter("upload", local.size, opts.onProgress);
  try {
    // Sent as byte ranges of the file, in parallel where the backend can. It was
    // hashed just now: a change since shows in its stamp (size, mtime, ctime),
    // checked before the upload completes, so it is not read and hashed twice.
    await backend.put(key, { file: abs, stamp: { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs } }, {
      size: local.size,
      metadata: { [SHA256_METADATA]: local.sha256 },
      ifNoneMatch: !existing, // a concurrent first writer of the same name is detected, not overwritten
      onProgress: (n) => meter.set(key, n),
    });
  } catch (err) {
    if (!(err instanceof Minus80Error && err.code === "FILE_EXISTS")) throw err;
    const now = await backend.head(key);
    if (same(now)) return { uploaded: 0, bytes: 0, skipped: 1, key, sha256: local.sha256 }; // ours, or identical
    throw rawExists(dtype, base, key, now);
  }
  meter.done();
  return { uploaded: 1, bytes: local.size, skipped: 0, key, sha256: local.sha256 };
}

function rawExists(dtype: string, file: string, key: string, there: HeadResult): Minus80Error {
  const sha = claimedSha256(there);
  return new Minus80Error(
    "FILE_EXISTS",
    `${rawLabel(dtype, file)} already exists in the cloud with different content (${there.size} bytes, ${sha ? `sha256 ${sha.slice(0, 12)}` : "no sha256 recorded"})`,
    { key, remoteSha256: sha ?? null, remoteSize: there.size },
  );
}

/**
 * Downloads `raw/<dtype>/<name>` to `output` (default: `name` in the
 * current directory; an existing directory gets the file inside it).
 *
 * @example await getRaw(ctx, "R1.fastq", "fastq", { output: "data/" })
 */
export async function getRaw(
  ctx: CloudContext,
  name: string,
  dtype: string,
  opts: { output?: string; force?: boolean; onProgress?: ProgressListener } = {},
): Promise<RawGetResult> {
  checkDtype(dtype);
  checkRawName(name);
  const key = rawKey(dtype, name);
  const { backend } = ctx;
  let out = path.resolve(opts.output ?? name);
  const outStat = await fsp.stat(out).catch(() => null);
  if (outStat?.isDirectory()) out = path.join(out, name);

  const head = await backend.head(key).catch((err: unknown) => {
    if (backend.isNotFound(err)) throw new Minus80Error("NOT_FOUND", `${rawLabel(dtype, name)} does not exist in the cloud`, { key });
    throw err;
  });
  const claimed = claimedSha256(head);

  // Decide about an existing file before downloading, wherever that is possible.
  const existing = await fsp.lstat(out).catch(() => null);
  let existingSha: string | undefined;
  if (existing) {
    if (!existing.isFile()) throw new Minus80Error("FILE_EXISTS", `${out} exists and is not a regular file`, { path: out, key });
    existingSha = (await hashFile(out)).sha256;
    if (claimed && existingSha === claimed && existing.size === head.size) {
      return { downloaded: 0, bytes: 0, skipped: 1, key, path: out, sha256: claimed, verified: "sha256" };
    }
    if (!opts.force && (claimed || existing.size !== head.size)) throw localExists(out, key);
  }

  await fsp.mkdir(path.dirname(out), { recursive: true });
  const tmp = tempPathFor(out);
  try {
    let got: { sha256: string; size: number };
    let expectSha: string | undefined;
    const hint = head.etag ? wantsRangedRead(backend, head.size) : undefined;
    if (hint) {
      // Parallel ranged reads of the version HEAD described (If-Match its ETag).
      expectSha = claimed;
      const meter = new TransferMeter("download", head.size, opts.onProgress);
      got = await rangedDownload(backend, key, tmp, { size: head.size, etag: head.etag, sha256: expectSha, hint, flush: true, mode: 0o644, onBytes: (n) => meter.add(key, n) });
      meter.done();
    } else {
      const r = await backend.get(key);
      expectSha = claimedSha256(r); // the version actually being read
      const meter = new TransferMeter("download", r.size, opts.onProgress);
      const check = new HashingStream({ expect: { sha256: expectSha, size: r.size }, source: key, onBytes: (n) => meter.add(key, n) });
      await pipeline(r.body, check, fs.createWriteStream(tmp, { flush: true, mode: 0o644 }));
      meter.done();
      got = check.result();
    }
    if (existing && !opts.force) {
      // Same size, no recorded sha256: the bytes had to be fetched to compare.
      if (got.sha256 !== existingSha) throw localExists(out, key);
      return { downloaded: 0, bytes: 0, skipped: 1, key, path: out, sha256: got.sha256, verified: "size" };
    }
    await fsp.rename(tmp, out);
    return { downloaded: 1, bytes: got.size, skipped: 0, key, path: out, sha256: got.sha256, verified: expectSha ? "sha256" : "size" };
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

function localExists(out: string, key: string): Minus80Error {
  return new Minus80Error("FILE_EXISTS", `${out} already exists with different content than ${key}`, { path: out, key });
}
