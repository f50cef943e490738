/**
 * Helpers for sending and receiving an object as byte ranges in parallel
 * while its sha256 is still computed once, in order:
 *
 * - `OrderedHasher`: parts arrive in any order; the part at the hash
 *   frontier is hashed as its bytes flow, later parts' bytes are held until
 *   the frontier reaches them. Memory is bounded by the caller, who starts
 *   part `i` only once `i < frontier + window` (`whenFrontier`): at most
 *   `(window - 1) x partSize` bytes are ever held.
 * - `fileBodyStream`: a `FileBody` (or a byte range of it) as a stream,
 *   failing with INTEGRITY (so a request carrying it is never completed)
 *   when the file is shorter than promised, hashes differently or changed.
 *
 * @example
 *   const h = new OrderedHasher(size, partSize);
 *   h.feed(part, offset, chunk); ...; h.endPart(part); ...; h.digest()
 */
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import { pipeline, Transform, type Readable, type TransformCallback } from "node:stream";
import { IntegrityError } from "../../errors.js";
import type { FileBody, FileBodyStamp } from "./backend.js";

/** Bytes per read from a local file. */
export const FILE_READ_CHUNK = 1024 * 1024;
/** File bodies up to this size are read whole (`readSmallFileBody`) rather than streamed. */
export const SMALL_FILE_BODY = 256 * 1024;

interface Stash {
  offset: number;
  chunk: Buffer;
}

export class OrderedHasher {
  private readonly hash: Hash = createHash("sha256");
  /** bytes hashed so far: always `[0, pos)` */
  private pos = 0;
  /** the first part not completely hashed */
  private frontier = 0;
  private readonly done: boolean[];
  private readonly stash: Stash[][];
  private waiters: Array<{ part: number; resolve: () => void }> = [];
  /** bytes held for parts beyond the frontier now, and at most */
  held = 0;
  maxHeld = 0;

  constructor(
    readonly size: number,
    readonly partSize: number,
  ) {
    const parts = Math.max(1, Math.ceil(size / partSize));
    this.done = new Array<boolean>(parts).fill(false);
    this.stash = Array.from({ length: parts }, () => []);
  }

  get parts(): number {
    return this.done.length;
  }

  /** Bytes `[offset, offset + chunk.length)` of `part` (in order within the part). */
  feed(part: number, offset: number, chunk: Buffer): void {
    if (part < this.frontier) return;
    if (part > this.frontier) {
      this.stash[part]!.push({ offset, chunk });
      this.held += chunk.length;
      if (this.held > this.maxHeld) this.maxHeld = this.held;
      return;
    }
    this.consume(offset, chunk);
  }

  /** `part` is being read again from its start (a retry): drop what it held. */
  restartPart(part: number): void {
    if (part <= this.frontier) return; // the frontier skips the bytes it already hashed
    for (const s of this.stash[part]!) this.held -= s.chunk.length;
    this.stash[part] = [];
  }

  /** Every byte of `part` has been fed. */
  endPart(part: number): void {
    this.done[part] = true;
    while (this.frontier < this.done.length && this.done[this.frontier]) {
      this.frontier++;
      if (this.frontier < this.done.length) {
        const held = this.stash[this.frontier]!;
        this.stash[this.frontier] = [];
        for (const s of held) {
          this.held -= s.chunk.length;
          this.consume(s.offset, s.chunk);
        }
      }
    }
    const ready = this.waiters.filter((w) => w.part <= this.frontier);
    this.waiters = this.waiters.filter((w) => w.part > this.frontier);
    for (const w of ready) w.resolve();
  }

  /** Resolves once every part before `part` is hashed (so starting `part + window - 1` keeps memory bounded). */
  whenFrontier(part: number): Promise<void> {
    if (part <= this.frontier) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ part, resolve }));
  }

  /** Releases anyone waiting (the transfer failed). */
  cancel(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
    for (let i = 0; i < this.stash.length; i++) this.stash[i] = [];
    this.held = 0;
  }

  /** The bytes hashed in order, so far. */
  get hashed(): number {
    return this.pos;
  }

  /** The sha256 of `[0, size)`; undefined unless every byte was hashed. */
  digest(): string | undefined {
    return this.pos === this.size ? this.hash.digest("hex") : undefined;
  }

  private consume(offset: number, chunk: Buffer): void {
    if (offset > this.pos) throw new Error(`OrderedHasher: gap at byte ${this.pos} (next chunk at ${offset})`);
    const skip = this.pos - offset;
    if (skip >= chunk.length) return;
    this.hash.update(skip > 0 ? chunk.subarray(skip) : chunk);
    this.pos = offset + chunk.length;
  }
}

/** True when the file no longer has the stamp it was hashed under. */
export async function stampChanged(file: string, stamp: FileBodyStamp): Promise<boolean> {
  const st = await fsp.stat(file).catch(() => null);
  return !st || st.size !== stamp.size || st.mtimeMs !== stamp.mtimeMs || st.ctimeMs !== stamp.ctimeMs;
}

/** The file's bytes did not hash to the sha256 it was sent under (`actual` undefined: not all were read). */
export function hashMismatchError(body: FileBody, key: string, actual: string | undefined): IntegrityError {
  return new IntegrityError(`${body.file} is not what was expected while uploading ${key}: sha256 ${body.sha256}, got ${actual ?? "an incomplete read"}`, {
    path: body.file,
    key,
    expected: body.sha256,
    actual: actual ?? null,
  });
}

export function changedError(file: string, key: string): IntegrityError {
  return new IntegrityError(`${file} changed while it was being uploaded as ${key}; upload it again when it is no longer being written`, { path: file, key });
}

/**
 * A small file body read whole, checked like `fileBodyStream` checks a
 * whole file: INTEGRITY when it is not `size` bytes, does not hash to its
 * `sha256`, or no longer has its stamp. Read synchronously: for files this
 * small (page cache, one read) that costs less than the four thread-pool
 * round trips of an async open/stat/read/close, which on a busy machine
 * was the largest part of a many-small-files push's client CPU.
 */
export async function readSmallFileBody(body: FileBody, key: string, size: number): Promise<Buffer> {
  const data = fs.readFileSync(body.file);
  if (data.length !== size) {
    throw new IntegrityError(`${body.file} is ${data.length} bytes, not ${size}, while uploading ${key}: it changed after it was hashed`, { path: body.file, key });
  }
  if (body.sha256 !== undefined) {
    const digest = createHash("sha256").update(data).digest("hex");
    if (digest !== body.sha256) throw hashMismatchError(body, key, digest);
  }
  if (body.stamp && (await stampChanged(body.file, body.stamp))) throw changedError(body.file, key);
  return data;
}

/**
 * The bytes `[start, end)` of a file, checked as they pass: fewer bytes than
 * that fail the stream with INTEGRITY; for the whole file (`opts.whole`) a `sha256` or `stamp` mismatch fails it too, before the last
 * byte is consumed, so an upload carrying it is never completed.
 */
export function fileBodyStream(
  body: FileBody,
  key: string,
  start: number,
  end: number,
  opts: { whole?: boolean; onChunk?: (offset: number, chunk: Buffer) => void } = {},
): Readable {
  const { whole = false, onChunk } = opts;
  const hash = whole && body.sha256 ? createHash("sha256") : undefined;
  let pos = start;
  const check = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      if (pos + chunk.length > end) chunk = chunk.subarray(0, end - pos);
      hash?.update(chunk);
      onChunk?.(pos, chunk);
      pos += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (pos !== end) {
        cb(new IntegrityError(`${body.file} is shorter than expected while uploading ${key} (${pos} of ${end} bytes): it changed after it was hashed`, { path: body.file, key }));
        return;
      }
      const digest = hash?.digest("hex");
      if (hash && digest !== body.sha256) {
        cb(hashMismatchError(body, key, digest));
        return;
      }
      if (!whole || !body.stamp) return cb();
      stampChanged(body.file, body.stamp).then(
        (changed) => cb(changed ? changedError(body.file, key) : null),
        (err: Error) => cb(err),
      );
    },
  });
  if (end <= start) {
    check.end();
    return check;
  }
  // pipeline (not pipe) so a read error destroys the checker and reaches the consumer.
  pipeline(fs.createReadStream(body.file, { start, end: end - 1, highWaterMark: FILE_READ_CHUNK }), check, () => undefined);
  return check;
}
