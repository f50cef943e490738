/**
 * The small storage interface every cloud backend implements (restic
 * style): objects under string keys — put, get (whole or a byte range),
 * head, list, delete, touch — and the verbs of a multipart upload. Nothing
 * more. Everything that gives the keys meaning (the bucket layout,
 * manifests, dedup, integrity checks, progress, parallel transfers) lives
 * once above it; retries are a wrapper of it (`../retry.ts`).
 *
 * A backend moves bytes and classifies errors:
 * - it throws only `Minus80Error`s (`OBJECT_NOT_FOUND`, `UPLOAD_NOT_FOUND`,
 *   `FILE_EXISTS`, `CREDENTIALS`, `UNREACHABLE`, `BUCKET`, `CLOUD`,
 *   `CANCELLED`), with `data.transient === true` when retrying may help,
 *   and never a secret in a message;
 * - it honours `signal` on every call: an aborted call ends with CANCELLED.
 *
 * Keys are relative to the configured bucket prefix: a backend opened with
 * prefix `team/` stores key `objects/sha256/ab/ab..` as `team/objects/...`
 * and lists it back without the prefix.
 *
 * @example
 *   const b: Backend = new FolderBackend({ root: "/shared/m80", bucket: "lab", prefix: "" });
 *   await b.ensureBucket();
 *   await b.put("raw/fastq/R1.fastq", () => fs.createReadStream("R1.fastq"), { size: 1234, metadata: { sha256 } });
 *   for await (const o of b.list("raw/")) console.log(o.key, o.size);
 */
import type { Readable } from "node:stream";

/**
 * What `put` and `uploadPart` send: a Buffer, or a factory opening the
 * bytes afresh each time it is called (so a retry can send them again).
 */
export type PutBody = Buffer | (() => Readable);

export interface RequestOptions {
  /** aborting it ends the call with CANCELLED */
  signal?: AbortSignal;
}

export interface PutOptions extends RequestOptions {
  /** exact number of bytes the body yields */
  size: number;
  /** user metadata (`x-amz-meta-<name>`); names lower case */
  metadata?: Record<string, string>;
  /** the Content-Type a web server answers with (S3; default from the key: JSON or bytes), e.g. "text/html; charset=utf-8" for the catalog page */
  contentType?: string;
  /**
   * Create only: fail with `FILE_EXISTS` if the key exists. Enforced
   * atomically where the server supports `If-None-Match: *` (AWS, Ceph RGW,
   * MinIO, the folder backend); ignored by servers that do not (s3rver),
   * which is why callers also read back what they wrote.
   */
  ifNoneMatch?: boolean;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

export interface HeadResult {
  size: number;
  lastModified: Date;
  /** user metadata, names lower case */
  metadata: Record<string, string>;
  /** opaque version token, used to resume a read of the same version */
  etag?: string;
}

export interface GetOptions extends RequestOptions {
  /** start reading at this byte (resuming an interrupted read) */
  offset?: number;
  /** stop reading before this byte (a ranged read of `[offset, end)`); default: the end of the object */
  end?: number;
  /** fail (not transient) if the object is no longer this version */
  ifMatch?: string;
}

/** A ranged read into a sink (see `Backend.readRange`). */
export interface RangeReadOptions extends RequestOptions {
  offset: number;
  /** stop before this byte */
  end: number;
  /** fail (not transient) if the object is no longer this version */
  ifMatch?: string;
}

/**
 * Receives a ranged read's bytes in order. `bytes` is valid only until the
 * call returns (the reader reads into it again): copy what you keep. A
 * returned promise pauses the read until it settles; a throw or a rejection
 * ends the read with that error.
 */
export type RangeSink = (bytes: Buffer) => void | Promise<void>;

export interface GetResult extends HeadResult {
  /** the bytes from `offset` to `end` (or the end); `size` is the whole object's */
  body: Readable;
}

export interface ListOptions extends RequestOptions {
  /** list only keys after this one (resuming an interrupted listing) */
  startAfter?: string;
}

/** A multipart upload in progress (for the folder backend: its folder of parts). */
export interface PendingUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface StartUploadOptions extends RequestOptions {
  metadata?: Record<string, string>;
}

export interface CompleteUploadOptions extends RequestOptions {
  /** create only, as `PutOptions.ifNoneMatch` */
  ifNoneMatch?: boolean;
}

/** How a backend prefers large objects to be moved: in parallel parts. */
export interface PartsHint {
  /** bytes per part */
  partSize: number;
  /** parts of one object in flight at once */
  inFlight: number;
  /** objects at least this large are worth moving in parts */
  threshold: number;
}

/** A presigned GET (see `Backend.presignGet`). */
export interface PresignOptions extends RequestOptions {
  /** the signature's time: URLs signed with the same `signedAt` and `expiresInSeconds` expire together */
  signedAt: Date;
  /** 1 to 604,800 (7 days, the most SigV4 allows) */
  expiresInSeconds: number;
}

export interface Backend {
  /** where the data goes, safe to print (never a secret), e.g. `s3 http://127.0.0.1:7480 bucket minus80` */
  readonly location: string;
  /** set when large objects are faster read as parallel ranges (`get` with `offset` and `end`) */
  readonly rangedReads?: PartsHint;
  /** set when large objects are faster written as parallel multipart parts */
  readonly multipartWrites?: PartsHint;

  /** Makes sure the bucket exists, creating it when missing. */
  ensureBucket(opts?: RequestOptions): Promise<{ created: boolean }>;
  /** One object in one request. */
  put(key: string, body: PutBody, opts: PutOptions): Promise<void>;
  /** OBJECT_NOT_FOUND when the key does not exist. */
  get(key: string, opts?: GetOptions): Promise<GetResult>;
  /**
   * Reads bytes `[offset, end)` of `key` into `sink`, reusing one buffer per
   * connection instead of a new one per socket read (a large download costs
   * far less CPU). Resolves with the whole object's size once the last byte
   * was taken; errors as `get`. Present where the backend has such a path
   * (S3 over http://); callers use `get` otherwise.
   */
  readRange?(key: string, opts: RangeReadOptions, sink: RangeSink): Promise<{ size: number }>;
  /** OBJECT_NOT_FOUND when the key does not exist. */
  head(key: string, opts?: RequestOptions): Promise<HeadResult>;
  /** Every key starting with `prefix`, in ascending key order, fetched page by page. */
  list(prefix: string, opts?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Deleting a missing key is not an error. */
  delete(key: string, opts?: RequestOptions): Promise<void>;
  deleteMany(keys: readonly string[], opts?: RequestOptions): Promise<void>;
  /**
   * Refreshes the object's last-modified time without changing its bytes
   * (so gc's grace period protects an object a push is about to reuse).
   * Returns the new last-modified time when the server reports one; a time
   * that did not move means the server ignored the refresh.
   */
  touch(key: string, opts?: RequestOptions): Promise<Date | undefined>;

  /** Starts a multipart upload of `key`; nothing is visible under `key` until it completes. */
  startUpload(key: string, opts?: StartUploadOptions): Promise<PendingUpload>;
  /** Sends part `partNumber` (from 1) of `size` bytes; returns its ETag. UPLOAD_NOT_FOUND when the upload is gone. */
  uploadPart(upload: PendingUpload, partNumber: number, body: PutBody, size: number, opts?: RequestOptions): Promise<string>;
  /** Joins the parts (their ETags, in order) into the object. UPLOAD_NOT_FOUND when the upload is gone. */
  completeUpload(upload: PendingUpload, etags: readonly string[], opts?: CompleteUploadOptions): Promise<void>;
  /** Discards an upload and its parts; an upload already gone is not an error. */
  abortUpload(upload: PendingUpload, opts?: RequestOptions): Promise<void>;
  /** Unfinished uploads under `prefix` (servers without the API yield nothing). */
  listUploads(prefix: string, opts?: RequestOptions): AsyncIterable<PendingUpload>;

  /**
   * A URL anyone may GET `key` with, without keys, until it expires
   * (S3: a SigV4 presigned URL). Absent where the storage cannot make one
   * (the folder backend).
   */
  presignGet?(key: string, opts: PresignOptions): Promise<string>;

  /** Releases sockets and timers. */
  close(): void;
}
