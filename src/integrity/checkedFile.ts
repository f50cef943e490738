/**
 * Reading a local file to send it, checked as it is read: the bytes
 * `[start, end)` must all be there, and for the whole file, when the caller
 * says so, hash to the promised sha256 and come from an unchanged file.
 * Any mismatch fails the read with INTEGRITY before its end, so a request
 * carrying it is never completed.
 *
 * @example
 *   backend.put(key, () => checkedFileRange({ file, sha256 }, key, 0, size), { size })
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import { pipeline, type Readable } from "node:stream";
import { checkUnchanged, type FileStamp } from "./fileStamp.js";
import { HashingStream, mismatchError } from "./hashingStream.js";

/** Bytes per read from a local file: large reads keep sha256 near disk speed. */
export const FILE_READ_CHUNK = 1024 * 1024;

/** A local file to send, and what it must still be when sent. */
export interface CheckedFile {
  file: string;
  /** when given, the whole file must hash to this */
  sha256?: string;
  /** when given, the file must still have this stamp when the last byte is read */
  stamp?: FileStamp;
}

/**
 * The bytes `[start, end)` of `src.file`, checked: too few fail the stream;
 * for the whole file (`start === 0 && end === size`, `whole`), a sha256 or
 * stamp mismatch fails it too.
 */
export function checkedFileRange(
  src: CheckedFile,
  key: string,
  start: number,
  end: number,
  opts: { whole?: boolean; onChunk?: (offset: number, chunk: Buffer) => void } = {},
): Readable {
  const whole = opts.whole ?? false;
  const check = new HashingStream({
    source: `${src.file} (sent as ${key})`,
    expect: { size: end - start, ...(whole && src.sha256 ? { sha256: src.sha256 } : {}) },
    hash: whole && src.sha256 !== undefined,
    ...(opts.onChunk ? { onChunk: (offset: number, chunk: Buffer) => opts.onChunk!(start + offset, chunk) } : {}),
    ...(whole && src.stamp ? { beforeEnd: () => checkUnchanged(src.file, src.stamp!, `while it was being sent as ${key}`, { key }) } : {}),
  });
  if (end <= start) {
    check.end();
    return check;
  }
  // pipeline (not pipe) so a read error destroys the checker and reaches the consumer.
  pipeline(fs.createReadStream(src.file, { start, end: end - 1, highWaterMark: FILE_READ_CHUNK }), check, () => undefined);
  return check;
}

/**
 * A small file read whole, checked like `checkedFileRange` checks a whole
 * file. Read synchronously: for files this small (page cache, one read)
 * that costs less than the thread-pool round trips of an async
 * open/stat/read/close, which on a busy machine was the largest part of a
 * many-small-files push's client CPU.
 *
 * With `into` (room for at least `size + 1` bytes, so a file that grew is
 * seen), the bytes are read into it and a view of it is returned: no
 * allocation per file, which for many small files kept the C heap from
 * growing with freed buffers (BENCHMARKS.md, F push RSS).
 *
 * @example const data = await readCheckedFile({ file, sha256 }, key, size, scratch.subarray(used))
 */
export async function readCheckedFile(src: CheckedFile, key: string, size: number, into?: Buffer): Promise<Buffer> {
  const data = into && into.length > size ? readInto(src.file, into.subarray(0, size + 1)) : fs.readFileSync(src.file);
  const source = `${src.file} (sent as ${key})`;
  if (data.length !== size) throw mismatchError(source, { size }, { size: data.length }, { path: src.file });
  if (src.sha256 !== undefined) {
    const got = createHash("sha256").update(data).digest("hex");
    if (got !== src.sha256) throw mismatchError(source, { sha256: src.sha256, size }, { sha256: got, size }, { path: src.file });
  }
  if (src.stamp) await checkUnchanged(src.file, src.stamp, `while it was being sent as ${key}`, { key });
  return data;
}

/** Reads `file` into `buf` until its end or `buf` is full; the part read. @example readInto(file, Buffer.allocUnsafe(size + 1)) */
export function readInto(file: string, buf: Buffer): Buffer {
  const fd = fs.openSync(file, "r");
  try {
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got) got = fs.readSync(fd, buf, n, buf.length - n, null);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}
