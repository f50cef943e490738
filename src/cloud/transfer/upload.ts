/**
 * Sending a local file as one object, the way that suits its size and the
 * backend: a small file read whole and sent in one request; a larger one
 * streamed from the file in one request; a large one as parallel
 * multipart parts where the backend prefers that (`multipart.ts`). In
 * every case the bytes are checked as they are read (`integrity/`): the
 * promised sha256, the size, and (with a stamp) that the file did not
 * change; a mismatch fails the request before it completes.
 *
 * @example
 *   await uploadFile(backend, objectKey(sha), { file: blobPath, sha256: sha }, { size, onBytes: (n) => meter.set(key, n) });
 */
import { Readable } from "node:stream";
import { checkedFileRange, readCheckedFile, type CheckedFile } from "../../integrity/checkedFile.js";
import type { Backend } from "../backends/backend.js";
import { multipartUpload } from "./multipart.js";

/** Files up to this size are read whole (one read, no stream machinery) rather than streamed. */
export const SMALL_FILE_BODY = 256 * 1024;

export interface UploadOptions {
  /** the file's size: exactly this many bytes are sent */
  size: number;
  metadata?: Record<string, string>;
  /** create only: fail with FILE_EXISTS if the key exists (see PutOptions) */
  ifNoneMatch?: boolean;
  /**
   * one request whatever the size (for objects far below any single-PUT limit, such as packs):
   * the sha256 is then checked in order as the bytes stream, where parallel parts would
   * hold later parts' bytes until the hash reaches them
   */
  singleRequest?: boolean;
  /** the bytes of this object sent so far */
  onBytes?: (loaded: number) => void;
  signal?: AbortSignal;
}

export async function uploadFile(backend: Backend, key: string, src: CheckedFile, opts: UploadOptions): Promise<void> {
  const { size, signal } = opts;
  const hint = backend.multipartWrites;
  if (hint && size >= hint.threshold && !opts.singleRequest) return multipartUpload(backend, key, src, { ...opts, hint });
  const put = { size, metadata: opts.metadata, ifNoneMatch: opts.ifNoneMatch, signal };
  if (size <= SMALL_FILE_BODY) {
    const data = await readCheckedFile(src, key, size);
    // A one-chunk stream, not the Buffer: the S3 SDK signs a Buffer by hashing it once more.
    await backend.put(key, () => Readable.from([data], { objectMode: false }), put);
    opts.onBytes?.(size);
    return;
  }
  await backend.put(
    key,
    () => {
      opts.onBytes?.(0); // a retry sends the file again from its start
      return checkedFileRange(src, key, 0, size, { whole: true, onChunk: (offset, chunk) => opts.onBytes?.(offset + chunk.length) });
    },
    put,
  );
}
