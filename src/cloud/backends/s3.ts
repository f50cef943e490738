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
import { PassThrough, pipeline, Readable, Transform } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type BucketLocationConstraint,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { Minus80Error } from "../../errors.js";
import {
  backendError,
  isFileBody,
  isNotFoundError,
  isTransient,
  networkError,
  redact,
  type Backend,
  type GetOptions,
  type GetResult,
  type HeadResult,
  type ListOptions,
  type FileBody,
  type ObjectInfo,
  type PendingUpload,
  type PutBody,
  type PutOptions,
  type RangedReadHint,
} from "./backend.js";
import { changedError, fileBodyStream, hashMismatchError, OrderedHasher, readSmallFileBody, SMALL_FILE_BODY, stampChanged } from "./fileBody.js";

const MiB = 1024 * 1024;
/**
 * Multipart part size. 16 MiB: on Ceph RGW sharing 2 cores with the client,
 * 1 GiB sent as 16 MiB parts cost the client ~2.5 s CPU vs ~3.5 s as 8 MiB
 * parts (fewer requests), at the same or better wall time.
 */
export const PART_SIZE = 16 * MiB;
/** S3's limit on parts per upload; the part size grows for larger files. */
export const MAX_PARTS = 10_000;
/** Bodies up to this size go in one PutObject; larger ones in parts. */
export const MULTIPART_THRESHOLD = PART_SIZE;
/**
 * Parts of one file upload (or ranged reads of one download) in flight at
 * once; each streams from/to the file, none is buffered whole. 8: 16 was
 * no faster on the 2-core Ceph box and costs more sockets and memory.
 */
export const PARTS_IN_FLIGHT = 8;
/** Objects at least this large are downloaded as parallel ranged reads of GET_PART_SIZE. */
export const RANGED_GET_THRESHOLD = 16 * MiB;
/**
 * Bytes per ranged read of a parallel download. 8 MiB: 16 MiB x 8 was no
 * faster and held up to 7 x 16 MiB for the in-order hash (RSS 187 vs 150 MiB).
 */
export const GET_PART_SIZE = 8 * MiB;
/** Parts of one lib-storage upload (streams of unknown provenance) in flight at once (memory: QUEUE_SIZE x part size). */
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
  readonly rangedReads: RangedReadHint = { partSize: GET_PART_SIZE, inFlight: PARTS_IN_FLIGHT, threshold: RANGED_GET_THRESHOLD };
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
    // Enough sockets for every transfer, and for the parts of the large ones in flight.
    const maxSockets = Math.max(MIN_SOCKETS, (opts.concurrency ?? 16) * 2, LARGE_UPLOADS_IN_FLIGHT * PARTS_IN_FLIGHT * 2);
    const agentOpts = { keepAlive: true, maxSockets };
    const checksums = isAwsEndpoint(opts.endpoint) ? "WHEN_SUPPORTED" : "WHEN_REQUIRED";
    const config: S3ClientConfig = {
      endpoint: opts.endpoint,
      region: opts.region,
      forcePathStyle: opts.pathStyle,
      maxAttempts: 1,
      // Errors are classified and reported by minus80; the SDK's own console
      // warnings (e.g. on every failed streamed part) would only clutter stderr.
      logger: { debug() {}, info() {}, warn() {}, error() {}, trace() {} },
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
    // No logger is configured, yet this middleware filters every request's input for one
    // (about 40 us of CPU per request, 0.2 s on a push of 5,000 small files).
    this.client.middlewareStack.remove("loggerMiddleware");
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
        await this.rethrowCreate(err);
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

  private async rethrowCreate(err: unknown): Promise<void> {
    const code = codeOf(err);
    if (code === "BucketAlreadyOwnedByYou") return; // created meanwhile by us: fine
    if (code === "BucketAlreadyExists") {
      // Another client created it between our HEAD and CREATE (two first uses at once;
      // some servers answer BucketAlreadyExists even to its owner): usable now means fine.
      const usable = await this.client.send(new HeadBucketCommand({ Bucket: this.bucket })).then(
        () => true,
        () => false,
      );
      if (usable) return;
    }
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
    if (opts.size <= MULTIPART_THRESHOLD) return this.putSingle(key, body, opts);
    if (isFileBody(body)) return this.largeSlots.run(() => this.putFile(key, body, opts));
    return this.largeSlots.run(() => this.putStream(key, body, opts));
  }

  /** One PutObject, the body streamed (a Buffer is signed with its sha256; a stream is sent UNSIGNED-PAYLOAD). */
  private async putSingle(key: string, body: PutBody, opts: PutOptions): Promise<void> {
    let loaded = 0;
    const count = (chunk: Buffer) => {
      loaded += chunk.length;
      opts.onProgress?.(loaded);
    };
    let stream: Buffer | Readable;
    if (Buffer.isBuffer(body)) stream = body;
    else if (isFileBody(body) && opts.size <= SMALL_FILE_BODY) {
      // Read whole, sent as a one-chunk stream: UNSIGNED-PAYLOAD like any file body (the SDK does not hash it again).
      let data: Buffer;
      try {
        data = await readSmallFileBody(body, key, opts.size);
      } catch (err) {
        throw err instanceof Minus80Error ? err : this.classify(err, "upload", key);
      }
      stream = Readable.from([data], { objectMode: false });
      stream.once("end", () => count(data));
    } else if (isFileBody(body)) stream = fileBodyStream(body, key, 0, opts.size, { whole: true, onChunk: (_o, c) => count(c) });
    else stream = typeof body === "function" ? body() : body;
    if (!Buffer.isBuffer(stream) && !isFileBody(body) && opts.onProgress) {
      // Counted on the way through (a "data" listener would start the flow before the SDK reads).
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          count(chunk);
          cb(null, chunk);
        },
      });
      pipeline(stream, counter, () => undefined);
      stream = counter;
    }
    let bodyError: unknown;
    if (!Buffer.isBuffer(stream)) stream.once("error", (err) => (bodyError ??= err));
    try {
      await this.client.send(
        new PutObjectCommand(this.putParams(key, stream, opts)),
      );
      if (Buffer.isBuffer(stream)) opts.onProgress?.(opts.size);
    } catch (err) {
      if (!Buffer.isBuffer(stream)) stream.destroy();
      throw this.classify(bodyError ?? err, "upload", key, { create: opts.ifNoneMatch });
    }
  }

  /** The parameters of one object's PutObject (lib-storage's Upload takes the same). */
  private putParams(key: string, body: Buffer | Readable, opts: PutOptions) {
    return {
      Bucket: this.bucket,
      Key: this.prefix + key,
      Body: body,
      ContentLength: opts.size,
      ContentType: contentTypeOf(key),
      Metadata: opts.metadata,
      ...(opts.ifNoneMatch ? { IfNoneMatch: "*" as const } : {}),
    };
  }

  /** A stream of unknown provenance: lib-storage's Upload (buffers QUEUE_SIZE parts). */
  private async putStream(key: string, body: Readable | Buffer | (() => Readable), opts: PutOptions): Promise<void> {
    const stream = typeof body === "function" ? body() : body;
    const upload = new Upload({
      client: this.client,
      params: this.putParams(key, stream, opts),
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
  }

  /**
   * A local file as a multipart upload of its own: PARTS_IN_FLIGHT parts at
   * once, each streamed from its byte range of the file (never buffered
   * whole) and retried on its own (`opts.retryStep`). With `body.sha256`,
   * the bytes are hashed in order as they are sent (memory: at most
   * PARTS_IN_FLIGHT - 1 parts held for the hash); the upload is completed
   * only if the hash and the file's stamp still match. On failure every
   * part in flight is waited for, then the upload is aborted: no parts left.
   */
  private async putFile(key: string, body: FileBody, opts: PutOptions): Promise<void> {
    const step = opts.retryStep ?? (<T>(_op: string, fn: () => Promise<T>) => fn());
    const full = this.prefix + key;
    const size = opts.size;
    const partSize = partSizeFor(size);
    const parts = Math.ceil(size / partSize);
    const hasher = body.sha256 ? new OrderedHasher(size, partSize) : undefined;
    const loaded = new Array<number>(parts).fill(0);
    let total = 0;
    const progress = (part: number, n: number) => {
      total += n - loaded[part]!;
      loaded[part] = n;
      opts.onProgress?.(total);
    };

    if (body.stamp && (await stampChanged(body.file, body.stamp))) throw changedError(body.file, key);
    if (opts.ifNoneMatch) {
      // Create-only: If-None-Match goes on the completion, which some servers
      // ignore (Ceph 16 does); checking first narrows the race to the upload's duration.
      const there = await step("check", () => this.head(key)).catch((err: unknown) => {
        if (isNotFoundError(err)) return undefined;
        throw err;
      });
      if (there) throw backendError("FILE_EXISTS", `${key} already exists on ${this.endpoint} (bucket ${this.bucket})`, { key, transient: false });
    }
    const created = await step("start upload", async () => {
      try {
        return await this.client.send(
          new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: full, ContentType: contentTypeOf(key), Metadata: opts.metadata }),
        );
      } catch (err) {
        throw this.classify(err, "upload", key);
      }
    });
    const uploadId = created.UploadId;
    if (!uploadId) throw backendError("CLOUD", `${this.endpoint} started no multipart upload for ${key}`, { key, transient: true });

    const etags = new Array<string>(parts);
    let failure: unknown;
    let next = 0;
    const sendPart = async (i: number): Promise<string> => {
      const start = i * partSize;
      const end = Math.min(size, start + partSize);
      hasher?.restartPart(i);
      progress(i, 0);
      const stream = fileBodyStream(body, key, start, end, {
        onChunk: (offset, chunk) => {
          hasher?.feed(i, offset, chunk);
          progress(i, offset + chunk.length - start);
        },
      });
      let bodyError: unknown;
      stream.once("error", (err) => (bodyError ??= err));
      try {
        const r = await this.client.send(
          new UploadPartCommand({ Bucket: this.bucket, Key: full, UploadId: uploadId, PartNumber: i + 1, Body: stream, ContentLength: end - start }),
        );
        if (!r.ETag) throw backendError("CLOUD", `${this.endpoint} returned no ETag for part ${i + 1} of ${key}`, { key, transient: true });
        return r.ETag;
      } catch (err) {
        stream.destroy();
        throw this.classify(bodyError ?? err, "upload", key);
      }
    };
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < parts) {
        const i = next++;
        // Bounded memory: a part starts only when the hash frontier is close enough.
        if (hasher) await hasher.whenFrontier(i - PARTS_IN_FLIGHT + 1);
        if (failure !== undefined) return;
        try {
          etags[i] = await step("upload part", () => sendPart(i));
          hasher?.endPart(i);
        } catch (err) {
          failure ??= err;
          hasher?.cancel();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, parts) }, worker));

    try {
      if (failure !== undefined) throw failure;
      if (hasher) {
        const digest = hasher.digest();
        if (digest !== body.sha256) {
          throw hashMismatchError(body, key, digest);
        }
      }
      if (body.stamp && (await stampChanged(body.file, body.stamp))) throw changedError(body.file, key);
      await step("complete upload", () => this.completeUpload(key, uploadId, etags, size, !!opts.ifNoneMatch));
    } catch (err) {
      await step("abort upload", () => this.abortUpload({ key, uploadId, initiated: new Date() })).catch(() => undefined); // else gc aborts it later
      throw this.classify(err, "upload", key, { create: opts.ifNoneMatch });
    }
  }

  private async completeUpload(key: string, uploadId: string, etags: string[], size: number, create: boolean): Promise<void> {
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          ...(create ? { IfNoneMatch: "*" } : {}),
        }),
      );
    } catch (err) {
      const e = this.classify(err, "complete upload", key, { create });
      // A retried completion whose first try landed finds the upload gone: the object is there.
      if (e.data.provider === "NoSuchUpload") {
        // A HEAD that itself fails transiently must not turn a landed upload into NOT_FOUND:
        // rethrow it, so the completion is retried (and finds the object then).
        const h = await this.head(key).catch((headErr: unknown) => {
          if (isTransient(headErr)) throw headErr;
          return undefined;
        });
        if (h && h.size === size && Date.now() - h.lastModified.getTime() < 15 * 60_000) return;
      }
      throw e;
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const offset = opts.offset ?? 0;
    const end = opts.end;
    const ranged = offset > 0 || end !== undefined;
    let r;
    try {
      r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          ...(ranged ? { Range: `bytes=${offset}-${end !== undefined ? end - 1 : ""}` } : {}),
          ...(opts.ifMatch ? { IfMatch: opts.ifMatch } : {}),
        }),
      );
    } catch (err) {
      throw this.classify(err, "download", key, { ifMatch: !!opts.ifMatch });
    }
    const sdkBody = r.Body as Readable | undefined;
    let size = r.ContentLength ?? 0;
    if (ranged) {
      // A server that ignored the Range header would send the whole object again.
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(r.ContentRange ?? "");
      const total = m ? Number(m[3]) : undefined;
      const okEnd = m && (end === undefined ? Number(m[2]) === total! - 1 : Number(m[2]) === Math.min(end, total!) - 1);
      if (!m || Number(m[1]) !== offset || !okEnd) {
        sdkBody?.destroy();
        throw backendError("CLOUD", `${this.endpoint} did not honour a ranged read of ${key} (bytes ${offset}-${end ?? ""})`, { key, transient: false });
      }
      size = total!;
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

function contentTypeOf(key: string): string {
  return key.endsWith(".json") ? "application/json" : "application/octet-stream";
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
