/**
 * Stream helpers used above the backends: a pass-through that hashes and
 * counts what flows, and fails the stream itself (so an upload is aborted
 * before it completes) when the bytes are not what was promised.
 *
 * @example
 *   const check = new HashingStream({ expect: { sha256, size }, source: "local object ab12.." });
 *   await backend.put(key, () => fs.createReadStream(file).pipe(new HashingStream({ expect, source })), { size });
 */
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import { pipeline, Transform, type TransformCallback } from "node:stream";
import { IntegrityError } from "../errors.js";
import { READ_CHUNK, type HashResult } from "../freezer/files.js";

export interface HashingOptions {
  /** when given, a different size or sha256 fails the stream with INTEGRITY */
  expect?: { sha256?: string; size: number };
  /** what the bytes are, for the error message (a key or a file path) */
  source: string;
  /** called with the length of each chunk that passes */
  onBytes?: (n: number) => void;
}

export class HashingStream extends Transform {
  private readonly hash: Hash = createHash("sha256");
  private count = 0;
  private digest: string | undefined;

  constructor(private readonly opts: HashingOptions) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.count += chunk.length;
    const expect = this.opts.expect;
    if (expect && this.count > expect.size) {
      cb(new IntegrityError(`${this.opts.source} is larger than expected (${expect.size} bytes)`, { key: this.opts.source, expected: expect.size }));
      return;
    }
    this.hash.update(chunk);
    this.opts.onBytes?.(chunk.length);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    this.digest = this.hash.digest("hex");
    const expect = this.opts.expect;
    if (expect && (this.count !== expect.size || (expect.sha256 !== undefined && this.digest !== expect.sha256))) {
      // Failing here, before the last byte is consumed downstream, makes a
      // multipart upload abort instead of completing with the wrong content.
      cb(
        new IntegrityError(
          `${this.opts.source} is not what was expected: ${expect.sha256 ? `sha256 ${expect.sha256}, ` : ""}${expect.size} bytes; got sha256 ${this.digest}, ${this.count} bytes`,
          { key: this.opts.source, expected: expect.sha256 ?? null, actual: this.digest, expectedSize: expect.size, actualSize: this.count },
        ),
      );
      return;
    }
    cb();
  }

  /** The hash and size of everything that passed (after the stream ended). */
  result(): HashResult {
    if (this.digest === undefined) throw new Error("HashingStream.result() called before the stream ended");
    return { sha256: this.digest, size: this.count };
  }
}

/**
 * A file's bytes, checked against `expect` as they are read: the returned
 * stream fails with INTEGRITY (or the read error) instead of ending when
 * the file is not what was hashed earlier.
 *
 * @example backend.put(key, () => verifiedFileStream(file, { sha256, size }), { size })
 */
export function verifiedFileStream(file: string, expect: { sha256?: string; size: number }, source = file, onBytes?: (n: number) => void): HashingStream {
  const check = new HashingStream({ expect, source, onBytes });
  // pipeline (not pipe) so a read error destroys the checker and reaches the consumer.
  pipeline(fs.createReadStream(file, { highWaterMark: READ_CHUNK }), check, () => undefined);
  return check;
}
