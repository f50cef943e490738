/**
 * The S3 backend: AWS S3 or any S3-compatible endpoint (Ceph RGW, MinIO,
 * s3rver, ...) through `@aws-sdk/client-s3`, with `@aws-sdk/lib-storage`'s
 * `Upload` for streamed, memory-bounded multipart uploads.
 *
 * - Keys come from the config; without them the standard AWS credential
 *   chain (AWS_* variables, shared credentials and profile files) is used.
 * - Retries are NOT done here (the SDK's are off): `RetryingBackend` retries
 *   whole operations, reopening the source, so there is one retry policy.
 * - For non-AWS endpoints the SDK's default checksum trailers are turned off
 *   (`WHEN_REQUIRED`): Ceph 16, Swift and s3rver reject or mangle
 *   aws-chunked uploads. minus80 checks sha256 itself on every transfer.
 *
 * @example
 *   const s3 = new S3Backend({ endpoint: "http://127.0.0.1:7480", bucket: "minus80", prefix: "", region: "us-east-1", pathStyle: true });
 *   await s3.ensureBucket();
 */
import http from "node:http";
import https from "node:https";
import { PassThrough, type Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  S3Client,
  type BucketLocationConstraint,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Minus80Error } from "../../errors.js";
import {
  backendError,
  isNotFoundError,
  networkError,
  redact,
  type Backend,
  type GetOptions,
  type GetResult,
  type HeadResult,
  type ListOptions,
  type ObjectInfo,
  type PendingUpload,
  type PutBody,
  type PutOptions,
} from "./backend.js";

const MiB = 1024 * 1024;
/** Multipart part size; bodies up to this size go in one PutObject. */
export const PART_SIZE = 8 * MiB;
/** S3's limit on parts per upload; the part size grows for larger files. */
export const MAX_PARTS = 10_000;
/** Parts of one upload in flight at once (memory: QUEUE_SIZE x part size per upload). */
export const QUEUE_SIZE = 4;
/** Multipart uploads in flight at once, so memory stays bounded whatever the concurrency. */
export const LARGE_UPLOADS_IN_FLIGHT = 2;
/** Giving up on a TCP/TLS connect. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** A connection silent this long (stalled server or network) fails with UNREACHABLE. */
export const IDLE_TIMEOUT_MS = 60_000;
/** Sockets kept per agent, at least this many (more when the concurrency is higher). */
export const MIN_SOCKETS = 32;
/** DeleteObjects takes at most this many keys. */
export const DELETE_BATCH = 1000;

export interface S3BackendOptions {
  endpoint: string;
  bucket: string;
  /** `""` or `a/b/` */
  prefix: string;
  region: string;
  pathStyle: boolean;
  accessKey?: string;
  secretKey?: string;
  /** transfers the caller runs at once (sizes the socket pool) */
  concurrency?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/** Provider error codes that mean the credentials were refused. */
const CREDENTIAL_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "AccessDenied",
  "InvalidToken",
  "ExpiredToken",
  "TokenRefreshRequired",
  "InvalidClientTokenId",
  "CredentialsProviderError",
  "Forbidden",
]);
/** Provider error codes about the bucket itself. */
const BUCKET_CODES = new Set([
  "NoSuchBucket",
  "BucketAlreadyExists",
  "InvalidBucketName",
  "IllegalLocationConstraintException",
  "InvalidLocationConstraint",
  "PermanentRedirect",
  "AuthorizationHeaderMalformed",
  "InvalidBucketState",
]);
const NOT_FOUND_CODES = new Set(["NoSuchKey", "NotFound", "NoSuchUpload"]);
const THROTTLE_CODES = new Set(["SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests", "RequestThrottled", "RequestTimeout", "InternalError", "ServiceUnavailable"]);
const NOT_IMPLEMENTED_CODES = new Set(["NotImplemented", "MethodNotAllowed"]);

/** True for the AWS endpoints, where the SDK's default checksums are fine. */
export function isAwsEndpoint(endpoint: string): boolean {
  try {
    return /(^|\.)amazonaws\.com(\.cn)?$/i.test(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/** The endpoint without any user:password part, for messages. */
function safeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(invalid endpoint)";
  }
}

export class S3Backend implements Backend {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly endpoint: string;
  private readonly secrets: string[];
  private readonly largeSlots = new Semaphore(LARGE_UPLOADS_IN_FLIGHT);

  constructor(private readonly opts: S3BackendOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix;
    this.endpoint = safeEndpoint(opts.endpoint);
    this.location = `s3 ${this.endpoint} bucket ${opts.bucket}${opts.prefix ? ` prefix ${opts.prefix}` : ""}`;
    this.secrets = [opts.secretKey, opts.accessKey].filter((s): s is string => !!s);
    const maxSockets = Math.max(MIN_SOCKETS, (opts.concurrency ?? 16) * 2);
    const agentOpts = { keepAlive: true, maxSockets };
    const checksums = isAwsEndpoint(opts.endpoint) ? "WHEN_SUPPORTED" : "WHEN_REQUIRED";
    const config: S3ClientConfig = {
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.pathStyle,
      maxAttempts: 1,
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
      requestHandler: new NodeHttpHandler({
        httpAgent: new http.Agent(agentOpts),
        httpsAgent: new https.Agent(agentOpts),
        connectionTimeout: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
        socketTimeout: opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
      }),
    };
    // minus80 supports Node 20; the SDK's "Node 22 needed from 2027" notice would only clutter every command's stderr.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    if (opts.accessKey && opts.secretKey) {
      config.credentials = { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey };
    }
    this.client = new S3Client(config);
  }

  async ensureBucket(): Promise<{ created: boolean }> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return { created: false };
    } catch (err) {
      if (statusOf(err) === 403) await this.explainRefusal(err);
      if (statusOf(err) !== 404 && !["NotFound", "NoSuchBucket"].includes(codeOf(err))) throw this.classify(err, "check bucket");
    }
    const withRegion = this.opts.region !== "us-east-1";
    try {
      await this.createBucket(withRegion);
    } catch (err) {
      // Ceph and others accept only an empty (or their own) LocationConstraint.
      if (withRegion && !isAwsEndpoint(this.opts.endpoint) && ["InvalidLocationConstraint", "IllegalLocationConstraintException", "InvalidArgument"].includes(codeOf(err))) {
        await this.createBucket(false).catch((e2: unknown) => this.rethrowCreate(e2));
      } else {
        this.rethrowCreate(err);
      }
    }
    return { created: true };
  }

  /**
   * A refused HEAD has no body, hence no reason: repeat as a GET to learn
   * whether the key is unknown, the secret wrong or access denied.
   */
  private async explainRefusal(headErr: unknown): Promise<never> {
    try {
      await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }));
    } catch (err) {
      if (codeOf(err)) throw this.classify(err, "check bucket");
    }
    throw this.classify(headErr, "check bucket");
  }

  private async createBucket(withRegion: boolean): Promise<void> {
    await this.client.send(
      new CreateBucketCommand({
        Bucket: this.bucket,
        // us-east-1 must be sent without a LocationConstraint.
        ...(withRegion ? { CreateBucketConfiguration: { LocationConstraint: this.opts.region as BucketLocationConstraint } } : {}),
      }),
    );
  }

  private rethrowCreate(err: unknown): void {
    const code = codeOf(err);
    if (code === "BucketAlreadyOwnedByYou") return; // created meanwhile by us: fine
    if (code === "AccessDenied" || statusOf(err) === 403) {
      throw backendError("BUCKET", `bucket ${this.bucket} does not exist at ${this.endpoint} and the key may not create it (${code || 403})`, {
        provider: code,
        status: 403,
        bucket: this.bucket,
      });
    }
    throw this.classify(err, "create bucket");
  }

  async put(key: string, body: PutBody, opts: PutOptions): Promise<void> {
    const multipart = opts.size > PART_SIZE;
    const run = async (): Promise<void> => {
      const stream = typeof body === "function" ? body() : body;
      const upload = new Upload({
        client: this.client,
        params: {
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: stream,
          ContentLength: opts.size,
          ContentType: key.endsWith(".json") ? "application/json" : "application/octet-stream",
          Metadata: opts.metadata,
          ...(opts.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
        },
        partSize: partSizeFor(opts.size),
        queueSize: QUEUE_SIZE,
        // We abort a failed multipart upload ourselves (below), so the error the
        // user sees is the one that broke the upload, not a failed abort.
        leavePartsOnError: true,
      });
      if (opts.onProgress) upload.on("httpUploadProgress", (p) => opts.onProgress!(p.loaded ?? 0));
      try {
        await upload.done();
      } catch (err) {
        if (!Buffer.isBuffer(stream)) (stream as Readable).destroy();
        if (upload.uploadId) await this.abortUpload({ key, uploadId: upload.uploadId, initiated: new Date() }).catch(() => undefined); // else gc aborts it later
        throw this.classify(err, "upload", key, { create: opts.ifNoneMatch });
      }
    };
    return multipart ? this.largeSlots.run(run) : run();
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const offset = opts.offset ?? 0;
    let r;
    try {
      r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
          ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
        }),
      );
    } catch (err) {
      throw this.classify(err, "download", key, { ifMatch: !!opts.ifMatch });
    }
    const sdkBody = r.Body as Readable | undefined;
    let size = r.ContentLength ?? 0;
    if (offset > 0) {
      // A server that ignored the Range header would send the whole object again.
      const m = /^bytes (\d+)-\d+\/(\d+)$/.exec(r.ContentRange ?? "");
      if (!m || Number(m[1]) !== offset) {
        sdkBody?.destroy();
        throw backendError("CLOUD", `${this.endpoint} did not honour a ranged read of ${key} (resuming at byte ${offset})`, { key, transient: false });
      }
      size = Number(m[2]);
    }
    const body = new PassThrough();
    if (!sdkBody) body.end();
    else {
      // Network errors while streaming become classified (and retryable) errors.
      sdkBody.on("error", (err) => body.destroy(this.classify(err, "download", key)));
      body.on("close", () => {
        if (!sdkBody.readableEnded) sdkBody.destroy();
      });
      sdkBody.pipe(body);
    }
    return {
      body,
      size,
      lastModified: r.LastModified ?? new Date(0),
      metadata: lowerKeys(r.Metadata),
      etag: r.ETag,
    };
  }

  async head(key: string): Promise<HeadResult> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return { size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0), metadata: lowerKeys(r.Metadata), etag: r.ETag };
    } catch (err) {
      throw this.classify(err, "check", key);
    }
  }

  /**
   * Lists with ListObjects (V1) and key markers: supported by AWS, Ceph and
   * MinIO alike, and unlike V2's continuation tokens it also pages on
   * s3rver without Node's legacy OpenSSL provider.
   */
  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const full = this.prefix + prefix;
    let marker = opts.startAfter !== undefined ? this.prefix + opts.startAfter : undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix: full, Marker: marker }));
      } catch (err) {
        throw this.classify(err, "list", prefix);
      }
      let last: string | undefined;
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        last = o.Key;
        if (!o.Key.startsWith(full)) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) };
      }
      if (!page.IsTruncated) return;
      const next = page.NextMarker ?? last;
      if (next === undefined || next === marker) return; // a server that never advances would loop forever
      marker = next;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
    } catch (err) {
      const e = this.classify(err, "delete", key);
      if (!isNotFoundError(e)) throw e;
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let r;
      try {
        r = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true } }),
        );
      } catch (err) {
        throw this.classify(err, "delete", batch[0]);
      }
      const failed = (r.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0) {
        const first = failed[0]!;
        const key = (first.Key ?? "").slice(this.prefix.length);
        throw this.classify({ name: first.Code, message: first.Message, $metadata: { httpStatusCode: first.Code === "AccessDenied" ? 403 : 500 } }, "delete", key);
      }
    }
  }

  async touch(key: string): Promise<Date | undefined> {
    const full = this.prefix + key;
    try {
      // Copying an object onto itself with REPLACE rewrites its Last-Modified.
      const r = await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: full,
          CopySource: `${this.bucket}/${full.split("/").map(encodeURIComponent).join("/")}`,
          MetadataDirective: "REPLACE",
          ContentType: "application/octet-stream",
        }),
      );
      return r.CopyObjectResult?.LastModified;
    } catch (err) {
      throw this.classify(err, "refresh", key);
    }
  }

  async *listUploads(prefix: string): AsyncIterable<PendingUpload> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix + prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (err) {
        if (NOT_IMPLEMENTED_CODES.has(codeOf(err)) || statusOf(err) === 501) return; // e.g. s3rver
        throw this.classify(err, "list uploads", prefix);
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Key.startsWith(this.prefix)) continue;
        yield { key: u.Key.slice(this.prefix.length), uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) };
      }
      if (!page.IsTruncated || (page.NextKeyMarker === keyMarker && page.NextUploadIdMarker === uploadIdMarker)) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  async abortUpload(upload: PendingUpload): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + upload.key, UploadId: upload.uploadId }));
    } catch (err) {
      const e = this.classify(err, "abort upload", upload.key);
      if (!isNotFoundError(e)) throw e;
    }
  }

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  close(): void {
    this.client.destroy();
  }

  /**
   * Turns an SDK or network error into a classified Minus80Error. Messages
   * are built from our own words, the provider's error code and a scrubbed
   * provider message: never a key.
   */
  private classify(err: unknown, op: string, key?: string, ctx: { create?: boolean; ifMatch?: boolean } = {}): Minus80Error {
    if (err instanceof Minus80Error) return err;
    const where = `${this.endpoint} (bucket ${this.bucket})`;
    const net = networkError(err, where, key);
    if (net) return net;
    const code = codeOf(err);
    const status = statusOf(err);
    const about = key !== undefined ? ` ${key}` : "";
    const said = redact(providerMessage(err), this.secrets);
    const data = { provider: code || undefined, status, bucket: this.bucket, ...(key !== undefined ? { key } : {}) };
    const detail = `${code || `HTTP ${status ?? "?"}`}${said ? `: ${said}` : ""}`;

    if (code === "CredentialsProviderError" || /Could not load credentials|credential/i.test(code)) {
      return backendError(
        "CREDENTIALS",
        `no S3 credentials: set cloud.access_key and cloud.secret_key in the config (or CLOUD_ACCESS_KEY / CLOUD_SECRET_KEY, or the AWS credential chain)`,
        { ...data, transient: false },
      );
    }
    if (status === 412 || code === "PreconditionFailed" || code === "ConditionalRequestConflict") {
      if (ctx.ifMatch) return backendError("CLOUD", `${key} changed on ${where} while it was being read`, { ...data, transient: false, changed: true });
      return backendError("FILE_EXISTS", `${key} already exists on ${where}`, { ...data, transient: false });
    }
    if (ctx.create && status === 409 && code !== "BucketAlreadyExists") {
      return backendError("FILE_EXISTS", `${key} was written by someone else at the same time on ${where}`, { ...data, transient: false });
    }
    if (NOT_FOUND_CODES.has(code) || (status === 404 && !BUCKET_CODES.has(code))) {
      return backendError("NOT_FOUND", `${key ?? "object"} does not exist on ${where}`, { ...data, transient: false });
    }
    if (BUCKET_CODES.has(code) || (status === 301 && !code)) {
      const fix =
        code === "NoSuchBucket"
          ? "the bucket does not exist (was it deleted?)"
          : code === "PermanentRedirect" || code === "AuthorizationHeaderMalformed" || status === 301
            ? "the bucket is in another region: set cloud.region"
            : "choose another cloud.bucket";
      return backendError("BUCKET", `bucket ${this.bucket} at ${this.endpoint}: ${fix} (${detail})`, { ...data, transient: false });
    }
    if (CREDENTIAL_CODES.has(code) || status === 403 || status === 401) {
      const why =
        code === "InvalidAccessKeyId"
          ? "the access key is not known there: check cloud.access_key"
          : code === "SignatureDoesNotMatch"
            ? "the secret key does not match the access key: check cloud.secret_key"
            : code === "AccessDenied"
              ? "this key is not allowed to do that: check the key's permissions on the bucket"
              : "check cloud.access_key and cloud.secret_key";
      return backendError("CREDENTIALS", `${where} refused the credentials while trying to ${op}${about} (${code || `HTTP ${status}`}); ${why}`, {
        ...data,
        transient: false,
      });
    }
    if (THROTTLE_CODES.has(code) || status === 429 || (status !== undefined && status >= 500)) {
      return backendError("CLOUD", `${where} failed to ${op}${about}: ${detail}`, { ...data, transient: true });
    }
    if (status === undefined && err instanceof Error && (err.name === "AbortError" || /deserializ|parse|xml/i.test(err.message))) {
      return backendError("CLOUD", `unexpected answer from ${where} while trying to ${op}${about}: ${redact(err.message, this.secrets)}`, {
        ...data,
        transient: err.name !== "AbortError",
      });
    }
    return backendError("CLOUD", `${where} failed to ${op}${about}: ${detail}`, { ...data, transient: false });
  }
}

/** Part size for a body of `size` bytes: PART_SIZE, grown so the parts never exceed MAX_PARTS. */
export function partSizeFor(size: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  return Math.max(PART_SIZE, Math.ceil(needed / MiB) * MiB);
}

function codeOf(err: unknown): string {
  const e = err as { name?: unknown; Code?: unknown; code?: unknown } | null;
  if (!e) return "";
  if (typeof e.Code === "string") return e.Code;
  if (typeof e.name === "string" && !["Error", "S3ServiceException", "Unknown", "UnknownError"].includes(e.name) && !/^\d+$/.test(e.name)) return e.name;
  return "";
}

function statusOf(err: unknown): number | undefined {
  const s = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return typeof s === "number" ? s : undefined;
}

/** The provider's message, if it is short text (some servers send an empty one, or HTML). */
function providerMessage(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  if (typeof m !== "string" || m === "UnknownError" || m.length > 300) return "";
  return m.replace(/\s+/g, " ").trim();
}

function lowerKeys(m: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** At most `limit` callers inside `run` at once. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}
