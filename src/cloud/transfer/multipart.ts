/**
 * A local file sent as a multipart upload, the mirror of `rangedGet.ts`:
 * `hint.inFlight` parts at once, each streamed from its byte range of the
 * file (never buffered whole) through the backend's multipart verbs, each
 * retried on its own by the retry wrapper. With `src.sha256` the bytes are
 * hashed once, in order, as they are sent (memory: at most `inFlight - 1`
 * parts held for the hash); the upload is completed only if the hash and
 * the file's stamp still match. On any failure, cancellation included,
 * the parts in flight are waited for and the upload is aborted: no parts
 * are left in the bucket.
 *
 * @example
 *   await multipartUpload(backend, "raw/fastq/big.fastq", { file, stamp }, { size, hint: backend.multipartWrites!, metadata });
 */
import { FileExistsError, hasCode, throwIfCancelled } from "../../errors.js";
import { checkedFileRange, type CheckedFile } from "../../integrity/checkedFile.js";
import { checkUnchanged } from "../../integrity/fileStamp.js";
import { mismatchError } from "../../integrity/hashingStream.js";
import { Limiter } from "../../limits.js";
import type { Backend, PartsHint, PendingUpload } from "../backends/backend.js";
import { isObjectNotFound, isTransient } from "../backends/errors.js";
import { OrderedHasher } from "./orderedHasher.js";

const MiB = 1024 * 1024;
/** S3's limit on parts per upload; the part size grows for larger files. */
export const MAX_PARTS = 10_000;
/** Multipart uploads in flight at once per process, so memory stays bounded whatever the concurrency. */
export const LARGE_UPLOADS_IN_FLIGHT = 2;
/** A completion retried after its first try landed finds the upload gone; an object this recent is taken as that try's. */
const LANDED_COMPLETION_MS = 15 * 60_000;

const largeUploads = new Limiter(LARGE_UPLOADS_IN_FLIGHT);

export interface MultipartOptions {
  size: number;
  hint: PartsHint;
  metadata?: Record<string, string>;
  /** create only: fail with FILE_EXISTS if the key exists */
  ifNoneMatch?: boolean;
  /** the bytes of this object sent so far (a retried part starts again from its beginning) */
  onBytes?: (loaded: number) => void;
  signal?: AbortSignal;
}

/** Part size for `size` bytes: `partSize`, grown (in whole MiB) so the parts never exceed MAX_PARTS. */
export function partSizeFor(size: number, partSize: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  return needed <= partSize ? partSize : Math.ceil(needed / MiB) * MiB;
}

export function multipartUpload(backend: Backend, key: string, src: CheckedFile, opts: MultipartOptions): Promise<void> {
  return largeUploads.run(() => upload(backend, key, src, opts));
}

async function upload(backend: Backend, key: string, src: CheckedFile, opts: MultipartOptions): Promise<void> {
  const { size, signal } = opts;
  const partSize = partSizeFor(size, opts.hint.partSize);
  const parts = Math.ceil(size / partSize);
  const hasher = src.sha256 ? new OrderedHasher(size, partSize) : undefined;
  const progress = partProgress(parts, opts.onBytes);

  throwIfCancelled(signal);
  if (src.stamp) await checkUnchanged(src.file, src.stamp, `before it was sent as ${key}`, { key });
  if (opts.ifNoneMatch) {
    // Create-only: If-None-Match goes on the completion, which some servers
    // ignore (Ceph 16 does); checking first narrows the race to the upload's duration.
    const there = await backend.head(key, { signal }).catch((err: unknown) => {
      if (isObjectNotFound(err)) return undefined;
      throw err;
    });
    if (there) throw new FileExistsError(`${key} already exists in ${backend.location}`, { key, transient: false });
  }
  const pending = await backend.startUpload(key, { metadata: opts.metadata, signal });

  const etags = new Array<string>(parts);
  let failure: unknown;
  let next = 0;
  const openPart = (i: number) => () => {
    const start = i * partSize;
    hasher?.restartPart(i); // a retry reads the part again from its start
    progress(i, 0);
    return checkedFileRange(src, key, start, Math.min(size, start + partSize), {
      onChunk: (offset, chunk) => {
        hasher?.feed(i, offset, chunk);
        progress(i, offset + chunk.length - start);
      },
    });
  };
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < parts) {
      const i = next++;
      // Bounded memory: a part starts only when the hash frontier is close enough.
      if (hasher) await hasher.whenFrontier(i - opts.hint.inFlight + 1);
      if (failure !== undefined) return;
      try {
        throwIfCancelled(signal);
        etags[i] = await backend.uploadPart(pending, i + 1, openPart(i), Math.min(size, (i + 1) * partSize) - i * partSize, { signal });
        hasher?.endPart(i);
      } catch (err) {
        failure ??= err;
        hasher?.cancel();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.hint.inFlight, parts) }, worker));

  try {
    if (failure !== undefined) throw failure;
    if (hasher) {
      const digest = hasher.digest();
      if (digest !== src.sha256) throw mismatchError(`${src.file} (sent as ${key})`, { sha256: src.sha256, size }, { ...(digest ? { sha256: digest } : {}), size: hasher.hashed }, { path: src.file });
    }
    if (src.stamp) await checkUnchanged(src.file, src.stamp, `while it was being sent as ${key}`, { key });
    await complete(backend, pending, etags, size, opts);
  } catch (err) {
    // Not with the caller's signal: a cancelled upload must still be aborted. Else gc aborts it later.
    await backend.abortUpload(pending).catch(() => undefined);
    throw err;
  }
}

/** Completes the upload; a completion whose first try landed (the upload is gone, the object there) is a success. */
async function complete(backend: Backend, pending: PendingUpload, etags: string[], size: number, opts: MultipartOptions): Promise<void> {
  try {
    await backend.completeUpload(pending, etags, { ifNoneMatch: opts.ifNoneMatch, signal: opts.signal });
  } catch (err) {
    if (!hasCode(err, "UPLOAD_NOT_FOUND")) throw err;
    // A HEAD that itself fails transiently must not turn a landed upload into a failure
    // the caller cannot retry: rethrow it as it is.
    const h = await backend.head(pending.key).catch((headErr: unknown) => {
      if (isTransient(headErr)) throw headErr;
      return undefined;
    });
    if (h && h.size === size && Date.now() - h.lastModified.getTime() < LANDED_COMPLETION_MS) return;
    throw err;
  }
}

/** Sums the parts' running byte counts into the object's. */
function partProgress(parts: number, onBytes?: (loaded: number) => void): (part: number, loaded: number) => void {
  const loaded = new Array<number>(parts).fill(0);
  let total = 0;
  return (part, n) => {
    total += n - loaded[part]!;
    loaded[part] = n;
    onBytes?.(total);
  };
}
