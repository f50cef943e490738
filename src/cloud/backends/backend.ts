/**
 * The small storage interface every cloud backend implements (restic style):
 * whole-object put/get/head/list/delete under string keys, nothing more.
 * Everything that gives the keys meaning — the bucket layout, manifests,
 * deduplication, integrity checks, progress, concurrency — lives once above
 * it, in `CloudData` and its helpers.
 *
 * Keys are relative to the configured bucket prefix: a backend opened with
 * prefix `team/` stores key `objects/sha256/ab/ab..` as `team/objects/...`
 * and lists it back without the prefix.
 *
 * Errors: a backend throws only `Minus80Error`s, already classified
 * (`CREDENTIALS`, `UNREACHABLE`, `BUCKET`, `NOT_FOUND`, `FILE_EXISTS`,
 * `CLOUD`), with `data.transient === true` when retrying may help. No
 * message ever holds a secret.
 *
 * @example
 *   const b: Backend = new FolderBackend({ root: "/shared/m80", bucket: "lab", prefix: "" });
 *   await b.ensureBucket();
 *   await b.put("raw/fastq/R1.fastq", () => fs.createReadStream("R1.fastq"), { size: 1234, metadata: { sha256 } });
 *   for await (const o of b.list("raw/")) console.log(o.key, o.size);
 */
import type { Readable } from "node:stream";
import { Minus80Error, type ErrorCode, type ErrorData } from "../../errors.js";

/**
 * A local file sent as an object: bytes `[0, size)` of `file`. Unlike a
 * stream, any byte range of it can be read, in parallel and again, so a
 * backend may upload it as parallel parts read straight from the file
 * (no buffering) and retry a single part.
 *
 * @example backend.put(key, { file: "R1.fastq", stamp }, { size })
 */
export interface FileBody {
  file: string;
  /** when given, the bytes sent must hash to this, else the upload fails with INTEGRITY (and is not completed) */
  sha256?: string;
  /**
   * when given, the file must still have this size, mtime and ctime when the
   * upload completes, else it fails with INTEGRITY (the file changed while
   * being sent; cheaper than hashing it again)
   */
  stamp?: FileBodyStamp;
}

export interface FileBodyStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * What `put` sends. A `Buffer`, a factory or a `FileBody` can be sent again
 * (the retry layer reopens the source); a bare `Readable` can be sent only once.
 */
export type PutBody = Buffer | Readable | (() => Readable) | FileBody;

/** True for the `{ file }` kind of body. */
export function isFileBody(body: PutBody): body is FileBody {
  return typeof body === "object" && body !== null && !Buffer.isBuffer(body) && typeof (body as { file?: unknown }).file === "string" && typeof (body as { pipe?: unknown }).pipe !== "function";
}

export interface PutOptions {
  /** exact number of bytes the body yields */
  size: number;
  /** user metadata (`x-amz-meta-<name>`); names lower case */
  metadata?: Record<string, string>;
  /**
   * Create only: fail with `FILE_EXISTS` if the key exists. Enforced
   * atomically where the server supports `If-None-Match: *` (AWS, Ceph RGW,
   * MinIO, the folder backend); silently ignored by servers that do not
   * (s3rver), which is why callers also read back what they wrote.
   */
  ifNoneMatch?: boolean;
  /** bytes of this object sent so far */
  onProgress?: (loaded: number) => void;
  /**
   * Runs one request of a multi-request upload (start, one part, complete),
   * retrying it as the caller's policy says. Set by `RetryingBackend` for
   * `FileBody` puts, so a failed part is sent again instead of the whole file.
   */
  retryStep?: <T>(op: string, fn: () => Promise<T>) => Promise<T>;
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

export interface GetOptions {
  /** start reading at this byte (resuming an interrupted read) */
  offset?: number;
  /** stop reading before this byte (a ranged read of `[offset, end)`); default: the end of the object */
  end?: number;
  /** fail (not transient) if the object is no longer this version */
  ifMatch?: string;
}

export interface GetResult extends HeadResult {
  /** the bytes from `offset` to `end` (or the end); `size` is the whole object's */
  body: Readable;
}

/** An unfinished multipart upload (or, for the folder backend, a stale temporary file). */
export interface PendingUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface ListOptions {
  /** list only keys after this one (resuming an interrupted listing) */
  startAfter?: string;
}

/** How a backend prefers large objects to be read: as parallel ranged reads. */
export interface RangedReadHint {
  /** bytes per ranged read */
  partSize: number;
  /** ranged reads of one object in flight at once */
  inFlight: number;
  /** objects at least this large are worth reading in parallel ranges */
  threshold: number;
}

export interface Backend {
  /** where the data goes, safe to print (never a secret), e.g. `s3 http://127.0.0.1:7480 bucket minus80` */
  readonly location: string;
  /** set when large objects are faster read as parallel ranges (`get` with `offset` and `end`) */
  readonly rangedReads?: RangedReadHint;
  /** Makes sure the bucket exists, creating it when missing. */
  ensureBucket(): Promise<{ created: boolean }>;
  put(key: string, body: PutBody, opts: PutOptions): Promise<void>;
  /** NOT_FOUND when the key does not exist. */
  get(key: string, opts?: GetOptions): Promise<GetResult>;
  /** NOT_FOUND when the key does not exist. */
  head(key: string): Promise<HeadResult>;
  /** Every key starting with `prefix`, in ascending key order, fetched page by page. */
  list(prefix: string, opts?: ListOptions): AsyncIterable<ObjectInfo>;
  /** Deleting a missing key is not an error. */
  delete(key: string): Promise<void>;
  deleteMany(keys: readonly string[]): Promise<void>;
  /**
   * Refreshes the object's last-modified time without changing its bytes
   * (so `gc`'s grace period protects an object a push is about to reuse).
   * Returns the new last-modified time when the server reports one; a time
   * that did not move means the server ignored the refresh.
   */
  touch(key: string): Promise<Date | undefined>;
  /** Unfinished uploads under `prefix` (servers without the API yield nothing). */
  listUploads(prefix: string): AsyncIterable<PendingUpload>;
  abortUpload(upload: PendingUpload): Promise<void>;
  isNotFound(err: unknown): boolean;
  /** Releases sockets and timers. */
  close(): void;
}

/** The extra fields of a backend error's `data`. */
export interface BackendErrorData extends ErrorData {
  /** retrying the same request may succeed (5xx, throttling, reset or stalled connections) */
  transient?: boolean;
  /** the provider's own error code, e.g. `SignatureDoesNotMatch` */
  provider?: string;
  status?: number;
  key?: string;
}

/** Builds a classified backend error. */
export function backendError(code: ErrorCode, message: string, data: BackendErrorData): Minus80Error {
  return new Minus80Error(code, message, data);
}

/** True when `err` is a classified error that may succeed if retried. */
export function isTransient(err: unknown): boolean {
  return err instanceof Minus80Error && err.data.transient === true;
}

/** True for a `NOT_FOUND` backend error. */
export function isNotFoundError(err: unknown): boolean {
  return err instanceof Minus80Error && err.code === "NOT_FOUND";
}

/** Node network error codes: refused or unknown host (do not retry) vs. lost connection (retry). */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "ERR_INVALID_URL"]);
export const CONNECTION_LOST_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EAI_AGAIN",
  "ESOCKETTIMEDOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
]);

/**
 * Finds a Node network error code on `err`, its `cause` or (Node's
 * happy-eyeballs connect) its `AggregateError.errors`.
 */
export function networkCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown; name?: unknown };
  if (typeof e.code === "string" && (UNREACHABLE_CODES.has(e.code) || CONNECTION_LOST_CODES.has(e.code))) return e.code;
  if (e.name === "TimeoutError") return "ETIMEDOUT";
  if (typeof e.message === "string") {
    if (e.message === "socket hang up" || e.message === "aborted") return "ECONNRESET";
    if (/socket timed out|timed out after/i.test(e.message)) return "ETIMEDOUT";
  }
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const c = networkCode(inner, depth + 1);
      if (c) return c;
    }
  }
  return networkCode(e.cause, depth + 1);
}

/**
 * Classifies a Node network failure while talking to `where`, or returns
 * undefined when `err` is not one.
 */
export function networkError(err: unknown, where: string, key?: string): Minus80Error | undefined {
  const code = networkCode(err);
  if (!code) return undefined;
  if (UNREACHABLE_CODES.has(code)) {
    const why = code === "ENOTFOUND" ? "the host name is unknown" : code === "ECONNREFUSED" ? "the connection was refused" : "the host cannot be reached";
    return backendError("UNREACHABLE", `cannot reach ${where}: ${why} (${code})`, { network: code, transient: false, ...(key ? { key } : {}) });
  }
  const why = code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT" ? "the connection stalled and timed out" : "the connection was lost";
  return backendError("UNREACHABLE", `${why} while talking to ${where}${key ? ` (key ${key})` : ""} (${code})`, {
    network: code,
    transient: true,
    ...(key ? { key } : {}),
  });
}

/** Removes every occurrence of the given secrets from `text`. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("***");
  return out;
}
