/**
 * Receiving one object into a local file, checked: the bytes must be the
 * version being read and what the caller expects of it (its size, and its
 * sha256 when known), else INTEGRITY and the caller removes the file. A
 * large object whose version is known (a HEAD answer with an ETag) is read
 * as parallel ranges of that version (`rangedGet.ts`); others in one
 * streamed GET through the hashing stream.
 *
 * @example
 *   const got = await downloadObject(backend, key, tmp, { expect: () => ({ sha256, size }), mode: 0o444 });
 */
import fsp from "node:fs/promises";
import { pipeline } from "node:stream/promises";
import { HashingStream, mismatchError, type Expected, type HashResult } from "../../integrity/hashingStream.js";
import type { Backend, HeadResult } from "../backends/backend.js";
import { rangedDownload, wantsRangedRead } from "./rangedGet.js";

export interface DownloadOptions {
  /** what the bytes must be, given the version being read (a HEAD or GET answer) */
  expect: (version: HeadResult) => Expected;
  /** the version to read, when known: a large one is then read as parallel ranges */
  head?: HeadResult;
  /** mode of the file created */
  mode?: number;
  /** fsync the file before returning */
  flush?: boolean;
  onBytes?: (n: number) => void;
  signal?: AbortSignal;
}

export async function downloadObject(backend: Backend, key: string, file: string, opts: DownloadOptions): Promise<HashResult & { expected: Expected }> {
  const { head, signal } = opts;
  const source = `object ${key}`;
  const hint = head?.etag ? wantsRangedRead(backend, head.size) : undefined;
  if (head && hint) {
    const expected = opts.expect(head);
    if (expected.size !== head.size) throw mismatchError(source, expected, { size: head.size });
    const got = await rangedDownload(backend, key, file, {
      size: head.size,
      ...(head.etag ? { etag: head.etag } : {}),
      ...(expected.sha256 ? { sha256: expected.sha256 } : {}),
      hint,
      ...(opts.mode !== undefined ? { mode: opts.mode } : {}),
      ...(opts.flush ? { flush: true } : {}),
      ...(opts.onBytes ? { onBytes: opts.onBytes } : {}),
      ...(signal ? { signal } : {}),
    });
    return { ...got, expected };
  }
  const r = await backend.get(key, { signal });
  // The write starts only after an await: a connection that breaks before then must not be an
  // unhandled 'error' event (a crash); the pipeline still receives the error from the destroyed stream.
  r.body.on("error", () => undefined);
  const expected = opts.expect(r);
  if (r.size !== expected.size) {
    r.body.destroy();
    throw mismatchError(source, expected, { size: r.size });
  }
  const check = new HashingStream({ source, expect: expected, ...(opts.onBytes ? { onChunk: (_o, chunk) => opts.onBytes!(chunk.length) } : {}) });
  // Opened before the bytes flow, so that when this fails the caller's removal of `file`
  // cannot race a late open (which would leave an empty file behind). The stream closes it.
  const fh = await fsp.open(file, "w", opts.mode ?? 0o644);
  await pipeline(r.body, check, fh.createWriteStream({ flush: opts.flush ?? false }), ...(signal ? [{ signal }] : []));
  return { ...check.result(), expected };
}
