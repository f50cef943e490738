/**
 * Parallel ranged download of one large object into a local file: the
 * object is read as `hint.partSize` ranges, `hint.inFlight` at once, each
 * written at its offset as it arrives. Its sha256 is computed once, in
 * order, by a worker thread that reads the file (from the page cache)
 * behind the writes, as far as it is complete from its start: the main
 * thread only moves bytes, no chunk is held for the hash, and the hash
 * runs on another core. A range that breaks is resumed where it stopped
 * by the retry layer (same object version: If-Match), so only the missing
 * bytes are fetched again.
 *
 * Where the backend has `readRange` (S3 over http://), each range is read
 * into reused buffers and copied into write buffers this download reuses
 * from part to part: no new buffer per socket read, so no garbage to
 * collect (a 1 GiB pull, by hand: 2.9-3.4 CPU-s against 5.2-7.4 through
 * `get`; BENCHMARKS.md).
 * Writes to the file go one at a time (FILE_WRITES_IN_FLIGHT).
 *
 * Memory bound: `hint.inFlight` ranges' socket buffers and up to
 * WRITES_PER_RANGE + 1 write buffers each, per download; at most
 * LARGE_DOWNLOADS_IN_FLIGHT downloads at once.
 * With `flush`, the file is synced every SYNC_EVERY bytes while it is
 * written, so the final fsync has little left to do.
 *
 * @example
 *   const got = await rangedDownload(backend, key, tmp, { size, etag, sha256, hint: backend.rangedReads! });
 */
import fsp from "node:fs/promises";
import type { Readable } from "node:stream";
import { IntegrityError, throwIfCancelled } from "../../errors.js";
import { hashPool } from "../../freezer/hashPool.js";
import { mismatchError, type HashResult } from "../../integrity/hashingStream.js";
import { Limiter } from "../../limits.js";
import type { Backend, PartsHint } from "../backends/backend.js";

/** Parallel downloads in flight at once per process (each runs `hint.inFlight` ranges). */
export const LARGE_DOWNLOADS_IN_FLIGHT = 2;
/** Bytes gathered per positional write. */
const WRITE_BATCH = 1024 * 1024;
/**
 * Positional writes in flight to the file at once, over all its ranges.
 * Parallel writes to one file wait on its inode lock, spinning: on ext4,
 * 4 at once spent 6 % of a 1 GiB pull's CPU in rwsem_spin_on_owner.
 */
const FILE_WRITES_IN_FLIGHT = 1;
/** Writes one range may have pending before its reading pauses (readRange path). */
const WRITES_PER_RANGE = 2;
/** With `flush`, a background fdatasync starts each time this many more bytes were written. */
export const SYNC_EVERY = 64 * 1024 * 1024;

export interface RangedDownloadOptions {
  /** the object's size (from its HEAD): every range must come from an object of this size */
  size: number;
  /** the version to read (HEAD's ETag): every range is read If-Match it */
  etag?: string;
  /** when given, a different sha256 fails with INTEGRITY */
  sha256?: string;
  hint: PartsHint;
  /** mode of the file created */
  mode?: number;
  /** fsync the file before returning */
  flush?: boolean;
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}

/** True when `backend` prefers ranged reads for an object of `size` bytes. */
export function wantsRangedRead(backend: Backend, size: number): PartsHint | undefined {
  const hint = backend.rangedReads;
  return hint && size >= hint.threshold && size > hint.partSize ? hint : undefined;
}

const largeDownloads = new Limiter(LARGE_DOWNLOADS_IN_FLIGHT);

/**
 * Downloads `key` into `file` (created or truncated) and returns its sha256
 * and size. Throws INTEGRITY when the bytes are not what `opts` promises;
 * the caller removes `file` on any failure.
 */
export function rangedDownload(backend: Backend, key: string, file: string, opts: RangedDownloadOptions): Promise<HashResult> {
  return largeDownloads.run(() => download(backend, key, file, opts));
}

function changedError(key: string, actual: number, expected: number): IntegrityError {
  return new IntegrityError(`object ${key} changed while it was being downloaded (${actual} bytes, expected ${expected})`, { key, expectedSize: expected, actualSize: actual });
}

function tooLongError(key: string, start: number, end: number): IntegrityError {
  return new IntegrityError(`object ${key} sent more bytes than asked for (range ${start}-${end})`, { key });
}

async function download(backend: Backend, key: string, file: string, opts: RangedDownloadOptions): Promise<HashResult> {
  const { size, hint } = opts;
  const partSize = hint.partSize;
  const parts = Math.max(1, Math.ceil(size / partSize));
  const fh = await fsp.open(file, "w", opts.mode ?? 0o644);
  const hash = hashPool().follow(file);
  const complete = new Array<boolean>(parts).fill(false);
  /** parts `[0, frontier)` are written: the hash may read them */
  let frontier = 0;
  const bodies = new Set<Readable>();
  let failure: unknown;
  let next = 0;
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  const fileWrites = new Limiter(FILE_WRITES_IN_FLIGHT);
  /** write buffers free for the next part (readRange path) */
  const spare: Buffer[] = [];
  // The first failure stops the other parts' reads at once.
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;

  const written = (n: number) => {
    if (!opts.flush) return;
    unsynced += n;
    if (unsynced < SYNC_EVERY || syncing) return;
    unsynced = 0;
    // Start writeback now rather than all at the end; a failure shows in the final fsync.
    syncing = fh.datasync().then(
      () => (syncing = undefined),
      () => (syncing = undefined),
    );
  };

  /** Reads `[start, end)` through `backend.get`'s stream; returns where the bytes ended. */
  const viaStream = async (start: number, end: number): Promise<number> => {
    const r = await backend.get(key, { offset: start, end, ...(opts.etag ? { ifMatch: opts.etag } : {}), signal });
    if (r.size !== size) {
      r.body.destroy();
      throw changedError(key, r.size, size);
    }
    bodies.add(r.body);
    let pos = start;
    let batch: Buffer[] = [];
    let batchBytes = 0;
    const flush = async () => {
      if (batchBytes === 0) return;
      const at = pos - batchBytes;
      const bufs = batch;
      const n = batchBytes;
      batch = [];
      batchBytes = 0;
      await fileWrites.run(() => fh.writev(bufs, at));
      written(n);
    };
    try {
      for await (const chunk of r.body as AsyncIterable<Buffer>) {
        if (failure !== undefined) throw failure;
        if (pos + chunk.length > end) throw tooLongError(key, start, end);
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
    return pos;
  };

  /**
   * Reads `[start, end)` through `backend.readRange`: the bytes are copied
   * into WRITE_BATCH buffers (reused by every part of this download) and
   * each full one is written at its offset; with WRITES_PER_RANGE writes
   * pending, reading pauses. Returns where the bytes ended.
   */
  const viaSink = async (start: number, end: number): Promise<number> => {
    let pos = start;
    let batch = spare.pop() ?? Buffer.allocUnsafeSlow(WRITE_BATCH);
    let fill = 0;
    const writes = new Set<Promise<void>>();
    let writeError: unknown;
    const write = () => {
      const b = batch;
      const n = fill;
      const at = pos - fill;
      batch = spare.pop() ?? Buffer.allocUnsafeSlow(WRITE_BATCH);
      fill = 0;
      const w: Promise<void> = fileWrites.run(() => fh.write(b, 0, n, at)).then(
        () => {
          writes.delete(w);
          spare.push(b);
          written(n);
        },
        (err: unknown) => {
          writes.delete(w);
          writeError ??= err;
        },
      );
      writes.add(w);
    };
    const sink = (bytes: Buffer): void | Promise<void> => {
      if (failure !== undefined) throw failure;
      if (writeError !== undefined) throw writeError;
      if (pos + bytes.length > end) throw tooLongError(key, start, end);
      for (let i = 0; i < bytes.length; ) {
        const n = bytes.copy(batch, fill, i);
        fill += n;
        i += n;
        pos += n;
        if (fill === batch.length) write();
      }
      opts.onBytes?.(bytes.length);
      if (writes.size >= WRITES_PER_RANGE) return Promise.race(writes);
    };
    try {
      const got = await backend.readRange!(key, { offset: start, end, ...(opts.etag ? { ifMatch: opts.etag } : {}), signal }, sink);
      if (got.size !== size) throw changedError(key, got.size, size);
      if (fill > 0) write();
    } finally {
      // No write may land after the file is closed, whatever failed.
      await Promise.all(writes);
      spare.push(batch);
    }
    if (writeError !== undefined) throw writeError;
    return pos;
  };

  const fetchPart = async (i: number): Promise<void> => {
    const start = i * partSize;
    const end = Math.min(size, start + partSize);
    throwIfCancelled(opts.signal);
    const pos = backend.readRange ? await viaSink(start, end) : await viaStream(start, end);
    if (pos !== end) {
      throw new IntegrityError(`object ${key} is truncated: the read of bytes ${start}-${end} ended at ${pos}`, { key, expectedSize: size });
    }
    complete[i] = true;
    while (frontier < parts && complete[frontier]) frontier++;
    hash.advance(Math.min(size, frontier * partSize));
  };

  const worker = async (): Promise<void> => {
    while (failure === undefined && next < parts) {
      const i = next++;
      try {
        await fetchPart(i);
      } catch (err) {
        failure ??= err;
        stop.abort();
        for (const b of bodies) b.destroy();
      }
    }
  };

  let got: { sha256: string; size: number };
  try {
    await Promise.all(Array.from({ length: Math.min(hint.inFlight, parts) }, worker));
    if (failure !== undefined) throw failure;
    got = await hash.finish(size);
    if (opts.flush) await fh.sync();
  } catch (err) {
    hash.cancel();
    throw err;
  } finally {
    await syncing;
    await fh.close();
  }
  if (got.size !== size || (opts.sha256 !== undefined && got.sha256 !== opts.sha256)) {
    throw mismatchError(`object ${key}`, { ...(opts.sha256 ? { sha256: opts.sha256 } : {}), size }, got);
  }
  return { sha256: got.sha256, size };
}
