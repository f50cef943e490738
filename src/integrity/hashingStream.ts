/**
 * The one hash-checking stream: a pass-through that hashes and counts what
 * flows and, when told what to expect, fails the stream itself with
 * INTEGRITY before its end is passed on — so an upload carrying it is never
 * completed, and a download through it is never renamed into place.
 *
 * @example
 *   const check = new HashingStream({ source: "objects/sha256/ab/ab12..", expect: { sha256, size } });
 *   await pipeline(body, check, fs.createWriteStream(tmp));
 *   check.result()   // { sha256, size }
 */
import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { IntegrityError } from "../errors.js";

export interface HashResult {
  sha256: string;
  size: number;
}

export interface Expected {
  /** when given, other bytes fail the stream */
  sha256?: string;
  size: number;
}

export interface HashingOptions {
  /** what the bytes are, for messages: a bucket key or a file path */
  source: string;
  /** when given, a different size (or sha256) fails the stream with INTEGRITY */
  expect?: Expected;
  /** compute the sha256 (default true; false when only the length is checked) */
  hash?: boolean;
  /** each chunk that passes, with its offset from the stream's start */
  onChunk?: (offset: number, chunk: Buffer) => void;
  /** a last check before the end passes (e.g. the source file is unchanged); a rejection fails the stream */
  beforeEnd?: () => Promise<void>;
}

/**
 * The one "not what was expected" error. `actual.sha256` undefined: the
 * bytes were not all read (or not hashed), so only the size is known.
 *
 * @example throw mismatchError("objects/sha256/ab/ab12..", { sha256, size }, { sha256: got, size: n })
 */
export function mismatchError(source: string, expected: Expected, actual: { sha256?: string; size: number }, data: Record<string, unknown> = {}): IntegrityError {
  const want = `${expected.sha256 ? `sha256 ${expected.sha256}, ` : ""}${expected.size} bytes`;
  const got = `${actual.sha256 ? `sha256 ${actual.sha256}, ` : ""}${actual.size} bytes`;
  return new IntegrityError(`${source} is not what was expected: ${want}; got ${got}`, {
    key: source,
    expected: expected.sha256 ?? null,
    actual: actual.sha256 ?? null,
    expectedSize: expected.size,
    actualSize: actual.size,
    ...data,
  });
}

/**
 * Checks bytes held in memory against `expected` (size, then sha256):
 * INTEGRITY naming `source` when they differ.
 *
 * @example checkBytes(data, { sha256, size }, `file ${sha256} of pack ${key}`)
 */
export function checkBytes(data: Uint8Array, expected: Required<Expected>, source: string): void {
  const got = { sha256: createHash("sha256").update(data).digest("hex"), size: data.length };
  if (got.sha256 !== expected.sha256 || got.size !== expected.size) throw mismatchError(source, expected, got);
}

export class HashingStream extends Transform {
  private readonly hash: Hash | undefined;
  private count = 0;
  private digest: string | undefined;

  constructor(private readonly opts: HashingOptions) {
    super();
    this.hash = opts.hash === false ? undefined : createHash("sha256");
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    const expect = this.opts.expect;
    if (expect && this.count + chunk.length > expect.size) {
      cb(mismatchError(this.opts.source, expect, { size: this.count + chunk.length }));
      return;
    }
    this.hash?.update(chunk);
    this.opts.onChunk?.(this.count, chunk);
    this.count += chunk.length;
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.digest = this.hash?.digest("hex");
    const expect = this.opts.expect;
    if (expect && (this.count !== expect.size || (expect.sha256 !== undefined && this.digest !== expect.sha256))) {
      cb(mismatchError(this.opts.source, expect, { sha256: this.digest, size: this.count }));
      return;
    }
    if (!this.opts.beforeEnd) return cb();
    this.opts.beforeEnd().then(
      () => cb(),
      (err: Error) => cb(err),
    );
  }

  /** The sha256 and size of everything that passed (once the stream has ended). */
  result(): HashResult {
    if (this.digest === undefined) throw new Error("HashingStream.result() called before the stream ended, or without hashing");
    return { sha256: this.digest, size: this.count };
  }
}
