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
import type { CatalogOutcome } from "./push.js";
import fsp from "node:fs/promises";
import path from "node:path";
import { withLocalFaults } from "../disk/faults.js";
import { assertSpace, spaceNeeded } from "../disk/space.js";
import { FileExistsError, FileNotFoundError, hasCode, IntegrityError, InvalidArgumentError, RawFileNotFoundError } from "../errors.js";
import { hashFile, tempPathFor } from "../freezer/files.js";
import { hashPool } from "../freezer/hashPool.js";
import { stampOf } from "../integrity/fileStamp.js";
import { checkDtype, checkRawName } from "../names.js";
import { TransferMeter, type ProgressListener } from "../progress.js";
import type { HeadResult } from "./backends/backend.js";
import { rawKey } from "./layout.js";
import { writeCreateOnly } from "./createOnly.js";
import { ensureMarker } from "./marker.js";
import { headOrUndefined, type CloudContext, type OperationOptions } from "./remote.js";
import { downloadObject } from "./transfer/download.js";
import { uploadFile } from "./transfer/upload.js";

/** The user metadata name holding a raw object's sha256. */
export const SHA256_METADATA = "sha256";
const SHA256_RE = /^[0-9a-f]{64}$/;

export interface RawPutResult {
  uploaded: number;
  bytes: number;
  skipped: number;
  key: string;
  sha256: string;
  /** with `cloud.catalog_on_push` (push.ts) */
  catalog?: CatalogOutcome;
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

export interface RawPushOptions extends OperationOptions {
  /** replace a different file of the same name */
  force?: boolean;
  onProgress?: ProgressListener;
}

export interface RawPullOptions extends OperationOptions {
  /** where to write (default: the file name in the current directory; a directory gets the file inside it) */
  output?: string;
  /** replace a different local file */
  force?: boolean;
  onProgress?: ProgressListener;
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
 * @example await pushRaw(ctx, "fastq", "data/R1.fastq", { force: false })
 */
export async function pushRaw(ctx: CloudContext, dtype: string, file: string, opts: RawPushOptions = {}): Promise<RawPutResult> {
  checkDtype(dtype);
  const abs = path.resolve(file);
  const base = checkRawName(path.basename(abs));
  const st = await fsp.stat(abs).catch(() => null);
  if (!st) throw new FileNotFoundError(`file ${file} does not exist`, { path: file });
  if (!st.isFile()) throw new InvalidArgumentError(`${file} is not a regular file`, { path: file });
  const key = rawKey(dtype, base);
  const { backend } = ctx;
  const { signal } = opts;

  const hashMeter = new TransferMeter("checksum", st.size, opts.onProgress);
  // On a worker thread, 1 MiB reads: about twice as fast as a stream hashed on this thread.
  const local = await hashPool().hash(abs, (n) => hashMeter.add(abs, n), signal);
  hashMeter.done();
  if (local.size !== st.size) throw new IntegrityError(`file ${file} changed while it was being hashed; push it again when it is no longer being written`, { path: file });

  const existing = await headOrUndefined(backend, key, signal);
  const same = (h: HeadResult) => claimedSha256(h) === local.sha256 && h.size === local.size;
  if (existing && same(existing)) return { uploaded: 0, bytes: 0, skipped: 1, key, sha256: local.sha256 };
  if (existing && !opts.force) throw rawExists(dtype, base, key, existing);

  await ensureMarker(ctx, signal);
  const meter = new TransferMeter("upload", local.size, opts.onProgress);
  // Sent as byte ranges of the file, in parallel where the backend can. It was
  // hashed just now: a change since shows in its stamp (size, mtime, ctime),
  // checked before the upload completes, so it is not read and hashed twice.
  const send = (ifNoneMatch: boolean) =>
    uploadFile(backend, key, { file: abs, stamp: stampOf(st) }, {
      size: local.size,
      metadata: { [SHA256_METADATA]: local.sha256 },
      ifNoneMatch,
      onBytes: (n) => meter.set(key, n),
      signal,
    });
  try {
    // A concurrent first writer of the same name is detected, not overwritten; a forced replace is a plain write.
    if (existing) await send(false);
    else if ((await writeCreateOnly(ctx, key, send, signal)) === "read-back") {
      const now = await backend.head(key, { signal });
      if (!same(now)) throw rawExists(dtype, base, key, now); // another writer's landed after ours
    }
  } catch (err) {
    if (!hasCode(err, "FILE_EXISTS")) throw err;
    const now = await backend.head(key, { signal });
    if (same(now)) return { uploaded: 0, bytes: 0, skipped: 1, key, sha256: local.sha256 }; // ours, or identical
    throw rawExists(dtype, base, key, now);
  }
  meter.done();
  return { uploaded: 1, bytes: local.size, skipped: 0, key, sha256: local.sha256 };
}

function rawExists(dtype: string, file: string, key: string, there: HeadResult): FileExistsError {
  const sha = claimedSha256(there);
  return new FileExistsError(
    `${rawLabel(dtype, file)} already exists in the cloud with different content (${there.size} bytes, ${sha ? `sha256 ${sha.slice(0, 12)}` : "no sha256 recorded"})`,
    { key, remoteSha256: sha ?? null, remoteSize: there.size },
  );
}

/**
 * Downloads `raw/<dtype>/<name>` to `output` (default: `name` in the
 * current directory; an existing directory gets the file inside it).
 *
 * @example await pullRaw(ctx, "fastq", "R1.fastq", { output: "data/" })
 */
export async function pullRaw(ctx: CloudContext, dtype: string, name: string, opts: RawPullOptions = {}): Promise<RawGetResult> {
  checkDtype(dtype);
  checkRawName(name);
  const key = rawKey(dtype, name);
  const { backend } = ctx;
  const { signal } = opts;
  let out = path.resolve(opts.output ?? name);
  const outStat = await fsp.stat(out).catch(() => null);
  if (outStat?.isDirectory()) out = path.join(out, name);

  const head = await headOrUndefined(backend, key, signal);
  if (!head) throw new RawFileNotFoundError(`${rawLabel(dtype, name)} does not exist in the cloud`, { key });
  const claimed = claimedSha256(head);

  // Decide about an existing file before downloading, wherever that is possible.
  const existing = await fsp.lstat(out).catch(() => null);
  let existingSha: string | undefined;
  if (existing) {
    if (!existing.isFile()) throw new FileExistsError(`${out} exists and is not a regular file`, { path: out, key });
    existingSha = (await hashFile(out)).sha256;
    if (claimed && existingSha === claimed && existing.size === head.size) {
      return { downloaded: 0, bytes: 0, skipped: 1, key, path: out, sha256: claimed, verified: "sha256" };
    }
    if (!opts.force && (claimed || existing.size !== head.size)) throw localExists(out, key);
  }

  const dir = path.dirname(out);
  const faults = { dir, op: `pull ${rawLabel(dtype, name)} to ${out}`, setting: "--output (or run in another directory)" };
  return withLocalFaults(faults, async () => {
    assertSpace(await spaceNeeded(dir, [head.size]), faults);
    await fsp.mkdir(dir, { recursive: true });
    return fetchRawTo(backend, key, out, head, existing ? { existingSha, force: !!opts.force } : undefined, opts);
  });
}

/** Downloads into a temporary file beside `out`, checked, then renamed over it. */
async function fetchRawTo(
  backend: CloudContext["backend"],
  key: string,
  out: string,
  head: HeadResult,
  existing: { existingSha: string | undefined; force: boolean } | undefined,
  opts: RawPullOptions,
): Promise<RawGetResult> {
  const { signal } = opts;
  const tmp = tempPathFor(out);
  try {
    // The sha256 of the version actually read: the HEAD's for parallel ranges of it, else the GET's.
    const meter = new TransferMeter("download", head.size, opts.onProgress);
    const got = await downloadObject(backend, key, tmp, {
      head,
      expect: (version) => ({ size: version.size, ...(claimedSha256(version) ? { sha256: claimedSha256(version)! } : {}) }),
      flush: true,
      mode: 0o644,
      onBytes: (n) => meter.add(key, n),
      signal,
    });
    meter.done();
    const expectSha = got.expected.sha256;
    if (existing && !existing.force) {
      // Same size, no recorded sha256: the bytes had to be fetched to compare.
      if (got.sha256 !== existing.existingSha) throw localExists(out, key);
      return { downloaded: 0, bytes: 0, skipped: 1, key, path: out, sha256: got.sha256, verified: "size" };
    }
    await fsp.rename(tmp, out);
    return { downloaded: 1, bytes: got.size, skipped: 0, key, path: out, sha256: got.sha256, verified: expectSha ? "sha256" : "size" };
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

function localExists(out: string, key: string): FileExistsError {
  return new FileExistsError(`${out} already exists with different content than ${key}`, { path: out, key });
}
