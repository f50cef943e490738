/**
 * Parallel ranged download of one large object into a local file: the
 * object is read as `hint.partSize` ranges, `hint.inFlight` at once, each
 * written at its offset; its sha256 is computed once, in order, from the
 * bytes as they arrive (no second read of the file). A range that breaks
 * is resumed where it stopped by the retry layer (same object version:
 * If-Match), so only the missing bytes are fetched again.
 *
 * Memory bound: a range starts only when it is fewer than `inFlight` ranges
 * ahead of the hash frontier, so at most `(inFlight - 1) x partSize` bytes
 * are held for the hash per download (S3 defaults: 7 x 8 MiB = 56 MiB), and
 * at most LARGE_DOWNLOADS_IN_FLIGHT downloads run at once (112 MiB).
 *
 * @example
 *   const got = await rangedDownload(backend, key, tmp, { size, etag, sha256, hint: backend.rangedReads! });
 */
import fsp from "node:fs/promises";
import type { Readable } from "node:stream";
import { IntegrityError } from "../errors.js";
import type { HashResult } from "../freezer/files.js";
import type { Backend, RangedReadHint } from "./backends/backend.js";
import { OrderedHasher } from "./backends/fileBody.js";

/** Parallel downloads in flight at once per process (each runs `hint.inFlight` ranges). */
export const LARGE_DOWNLOADS_IN_FLIGHT = 2;
/** Bytes gathered per positional write. */
const WRITE_BATCH = 1024 * 1024;

export interface RangedDownloadOptions {
  /** the object's size (from its HEAD): every range must come from an object of this size */
  size: number;
  /** the version to read (HEAD's ETag): every range is read If-Match it */
  etag?: string;
  /** when given, a different sha256 fails with INTEGRITY */
  sha256?: string;
  hint: RangedReadHint;
  /** mode of the file created */
  mode?: number;
  /** fsync the file before returning */
  flush?: boolean;
  onBytes?: (n: number) => void;
}

/** True when `backend` prefers ranged reads for an object of `size` bytes. */
export function wantsRangedRead(backend: Backend, size: number): RangedReadHint | undefined {
  const hint = backend.rangedReads;
  return hint && size >= hint.threshold && size > hint.partSize ? hint : undefined;
}

let active = 0;
const waiting: Array<() => void> = [];
async function slot<T>(fn: () => Promise<T>): Promise<T> {
  if (active >= LARGE_DOWNLOADS_IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve));
  active++;
  try {
    return await fn();
  } finally {
    active--;
    waiting.shift()?.();
  }
}

/**
 * Downloads `key` into `file` (created or truncated) and returns its sha256
 * and size. Throws INTEGRITY when the bytes are not what `opts` promises;
 * the caller removes `file` on any failure.
 */
export function rangedDownload(backend: Backend, key: string, file: string, opts: RangedDownloadOptions): Promise<HashResult> {
  return slot(() => download(backend, key, file, opts));
}

async function download(backend: Backend, key: string, file: string, opts: RangedDownloadOptions): Promise<HashResult> {
  const { size, hint } = opts;
  const partSize = hint.partSize;
  const hasher = new OrderedHasher(size, partSize);
  const parts = hasher.parts;
  const fh = await fsp.open(file, "w", opts.mode ?? 0o644);
  const bodies = new Set<Readable>();
  let failure: unknown;
  let next = 0;

  const fetchPart = async (i: number): Promise<void> => {
    const start = i * partSize;
    const end = Math.min(size, start + partSize);
    const r = await backend.get(key, { offset: start, end, ...(opts.etag ? { ifMatch: opts.etag } : {}) });
    if (r.size !== size) {
      r.body.destroy();
      throw new IntegrityError(`object ${key} changed while it was being downloaded (${r.size} bytes, expected ${size})`, { key, expectedSize: size, actualSize: r.size });
    }
    bodies.add(r.body);
    let pos = start;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batchBytes === 0) return;
      const at = pos - batchBytes;
      const bufs = batch;
      batch = [];
      batchBytes = 0;
      await fh.writev(bufs, at);
    };
    try {
      for await (const chunk of r.body as AsyncIterable<Buffer>) {
        if (failure !== undefined) throw failure;
        if (pos + chunk.length > end) throw new IntegrityError(`object ${key} sent more bytes than asked for (range ${start}-${end})`, { key });
        hasher.feed(i, pos, chunk);
        batch.push(chunk);
        batchBytes += chunk.length;
        pos += chunk.length;
        opts.onBytes?.(chunk.length);
        if (batchBytes >= WRITE_BATCH) await flush();
      }
      await flush();
    } finally {
      bodies.delete(r.body);
      r.body.destroy();
    }
    if (pos !== end) {
      throw new IntegrityError(`object ${key} is truncated: the read of bytes ${start}-${end} ended at ${pos}`, { key, expectedSize: size });
    }
    hasher.endPart(i);
  };

  const worker = async (): Promise<void> => {
    while (failure === undefined && next < parts) {
      const i = next++;
      await hasher.whenFrontier(i - hint.inFlight + 1);
      if (failure !== undefined) return;
      try {
        await fetchPart(i);
      } catch (err) {
        failure ??= err;
        hasher.cancel();
        for (const b of bodies) b.destroy();
      }
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(hint.inFlight, parts) }, worker));
    if (failure !== undefined) throw failure;
    if (opts.flush) await fh.sync();
  } finally {
    await fh.close();
  }
  const digest = hasher.digest();
  if (digest === undefined) throw new IntegrityError(`object ${key} is incomplete (${hasher.hashed} of ${size} bytes)`, { key, expectedSize: size });
  if (opts.sha256 !== undefined && digest !== opts.sha256) {
    throw new IntegrityError(`object ${key} is not what was expected: sha256 ${opts.sha256}, ${size} bytes; got sha256 ${digest}, ${size} bytes`, {
      key,
      expected: opts.sha256,
      actual: digest,
      expectedSize: size,
      actualSize: size,
    });
  }
  return { sha256: digest, size };
}
