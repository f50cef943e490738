/**
 * The S3 backend: AWS S3 or any S3-compatible endpoint (Ceph RGW, MinIO,
 * s3rver, ...) through `@aws-sdk/client-s3`, one request per verb. The
 * client's tuning is in `client.ts`, the bucket's creation in `bucket.ts`,
 * error classification in `classify.ts`. Retries, parallel parts and
 * integrity checks are not done here but above, once for every backend.
 *
 * @example
 *   const s3 = new S3Backend({ endpoint: "http://127.0.0.1:7480", bucket: "minus80", prefix: "", region: "us-east-1", pathStyle: true });
 *   await s3.ensureBucket();
 */
import type { Readable } from "node:stream";
import { PassThrough } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { CloudError, type Minus80Error } from "../../../errors.js";
import type { Backend, CompleteUploadOptions, GetOptions, GetResult, HeadResult, ListOptions, ObjectInfo, PartsHint, PendingUpload, PresignOptions, PutBody, PutOptions, RangeReadOptions, RangeSink, RequestOptions, StartUploadOptions } from "../backend.js";
import type { SocketPool } from "../http/socketGet.js";
import { isObjectNotFound } from "../errors.js";
import { ensureS3Bucket } from "./bucket.js";
import { classifyS3Error, codeOf, NOT_IMPLEMENTED_CODES, statusOf, type S3ErrorContext } from "./classify.js";
import { makeS3Client, safeEndpoint, type S3BackendOptions } from "./client.js";
import { presignGetUrl } from "./presign.js";
import { RANGE_URL_SECONDS, socketRangeReader } from "./rangeRead.js";

const MiB = 1024 * 1024;
/**
 * Multipart part size. 16 MiB: on Ceph RGW sharing 2 cores with the client,
 * 1 GiB sent as 16 MiB parts cost the client ~2.5 s CPU vs ~3.5 s as 8 MiB
 * parts (fewer requests), at the same or better wall time.
 */
export const PART_SIZE = 16 * MiB;
/** Sockets kept for part requests: room for the parts of several large transfers at once. */
const PART_SOCKETS = 16;
/**
 * Parts of one upload, and ranged reads of one download, in flight at once.
 * Each part streams, but the sha256 is taken in order, so the bytes of parts
 * ahead of the oldest one wait in memory: up to (n - 1) parts. On Ceph RGW
 * (1 GiB, BENCHMARKS.md, 2026-12-04) 8 parts of 16 MiB peaked at 287 MiB RSS
 * in 5.35 s, 3 at 179 MiB in 5.53 s; 8 ranged reads of 8 MiB at 195-210 MiB,
 * 4 at 180-191 MiB in the same time. Memory under 200 MiB won over 3 %.
 */
export const UPLOAD_PARTS_IN_FLIGHT = 3;
export const DOWNLOAD_PARTS_IN_FLIGHT = 4;
/** Objects at least this large are downloaded as parallel ranged reads of GET_PART_SIZE. */
export const RANGED_GET_THRESHOLD = 16 * MiB;
/**
 * Bytes per ranged read of a parallel download. 8 MiB: 16 MiB x 8 was no
 * faster and held up to 7 x 16 MiB for the in-order hash (RSS 187 vs 150 MiB).
 */
export const GET_PART_SIZE = 8 * MiB;
/** DeleteObjects takes at most this many keys. */
export const DELETE_BATCH = 1000;

export class S3Backend implements Backend {
  readonly location: string;
  readonly rangedReads: PartsHint = { partSize: GET_PART_SIZE, inFlight: DOWNLOAD_PARTS_IN_FLIGHT, threshold: RANGED_GET_THRESHOLD };
  /** Bodies up to one part go in one PutObject; larger ones in parts. */
  readonly multipartWrites: PartsHint = { partSize: PART_SIZE, inFlight: UPLOAD_PARTS_IN_FLIGHT, threshold: PART_SIZE + 1 };
  /** Ranged reads into reused buffers (see `Backend.readRange`): plain http:// endpoints only. */
  readonly readRange?: (key: string, opts: RangeReadOptions, sink: RangeSink) => Promise<{ size: number }>;
  private readonly client: S3Client;
  private readonly sockets?: SocketPool;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly endpoint: string;
  private readonly secrets: string[];

  constructor(private readonly opts: S3BackendOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix;
    this.endpoint = safeEndpoint(opts.endpoint);
    this.location = `s3 ${this.endpoint} bucket ${opts.bucket}${opts.prefix ? ` prefix ${opts.prefix}` : ""}`;
    this.secrets = [opts.secretKey, opts.accessKey].filter((s): s is string => !!s);
    // Two large transfers at once (see transfer/), each with its parts in flight.
    this.client = makeS3Client({ ...opts, partSockets: opts.partSockets ?? PART_SOCKETS });
    const reader = socketRangeReader(opts, {
      endpoint: this.endpoint,
      presign: (key, signal) => this.presignGet(key, { signedAt: new Date(), expiresInSeconds: RANGE_URL_SECONDS, ...(signal ? { signal } : {}) }),
      classify: (err, ctx) => this.classify(err, ctx),
      get: (key, o) => this.get(key, o),
    });
    this.sockets = reader?.pool;
    if (reader) this.readRange = reader.readRange;
  }

  ensureBucket(opts: RequestOptions = {}): Promise<{ created: boolean }> {
    const target = { endpoint: this.opts.endpoint, shownEndpoint: this.endpoint, bucket: this.bucket, prefix: this.prefix, region: this.opts.region, signal: opts.signal };
    return ensureS3Bucket(this.client, target, (err, op) => this.classify(err, { op, signal: opts.signal }));
  }

  /** One PutObject (a Buffer is signed with its sha256; a stream is sent UNSIGNED-PAYLOAD, unhashed by the SDK). */
  async put(key: string, body: PutBody, opts: PutOptions): Promise<void> {
    const sent = this.open(body);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: sent.body,
          ContentLength: opts.size,
          ContentType: opts.contentType ?? contentTypeOf(key),
          Metadata: opts.metadata,
          ...(opts.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
        }),
        { abortSignal: opts.signal },
      );
    } catch (err) {
      sent.destroy();
      throw this.classify(sent.error() ?? err, { op: "upload", key, create: opts.ifNoneMatch, signal: opts.signal });
    }
  }

  /** A body to send, remembering the error its stream failed with (an INTEGRITY check says more than the SDK's "aborted"). */
  private open(body: PutBody): { body: Buffer | Readable; error(): unknown; destroy(): void } {
    if (Buffer.isBuffer(body)) return { body, error: () => undefined, destroy() {} };
    const stream = body();
    let failure: unknown;
    stream.once("error", (err) => (failure ??= err));
    return { body: stream, error: () => failure, destroy: () => stream.destroy() };
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
        { abortSignal: opts.signal },
      );
    } catch (err) {
      throw this.classify(err, { op: "download", key, ifMatch: !!opts.ifMatch, signal: opts.signal });
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
        throw new CloudError(`${this.endpoint} did not honour a ranged read of ${key} (bytes ${offset}-${end ?? ""})`, { key, transient: false });
      }
      size = total!;
    }
    const body = new PassThrough();
    if (!sdkBody) body.end();
    else {
      // Network errors while streaming become classified (and retryable) errors.
      sdkBody.on("error", (err) => body.destroy(this.classify(err, { op: "download", key, signal: opts.signal })));
      body.on("close", () => {
        if (!sdkBody.readableEnded) sdkBody.destroy();
      });
      sdkBody.pipe(body);
    }
    return { body, size, lastModified: r.LastModified ?? new Date(0), metadata: lowerKeys(r.Metadata), etag: r.ETag };
  }

  async head(key: string, opts: RequestOptions = {}): Promise<HeadResult> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: opts.signal });
      return { size: r.ContentLength ?? 0, lastModified: r.LastModified ?? new Date(0), metadata: lowerKeys(r.Metadata), etag: r.ETag };
    } catch (err) {
      throw this.classify(err, { op: "check", key, signal: opts.signal });
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
        page = await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix: full, Marker: marker }), { abortSignal: opts.signal });
      } catch (err) {
        throw this.classify(err, { op: "list", key: prefix, signal: opts.signal });
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

  async delete(key: string, opts: RequestOptions = {}): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }), { abortSignal: opts.signal });
    } catch (err) {
      const e = this.classify(err, { op: "delete", key, signal: opts.signal });
      if (!isObjectNotFound(e)) throw e;
    }
  }

  async deleteMany(keys: readonly string[], opts: RequestOptions = {}): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      let r;
      try {
        r = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map((k) => ({ Key: this.prefix + k })), Quiet: true } }),
          { abortSignal: opts.signal },
        );
      } catch (err) {
        throw this.classify(err, { op: "delete", key: batch[0], signal: opts.signal });
      }
      const failed = (r.Errors ?? []).filter((e) => e.Code !== "NoSuchKey");
      if (failed.length > 0) {
        const first = failed[0]!;
        const key = (first.Key ?? "").slice(this.prefix.length);
        throw this.classify({ name: first.Code, message: first.Message, $metadata: { httpStatusCode: first.Code === "AccessDenied" ? 403 : 500 } }, { op: "delete", key });
      }
    }
  }

  async touch(key: string, opts: RequestOptions = {}): Promise<Date | undefined> {
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
        { abortSignal: opts.signal },
      );
      return r.CopyObjectResult?.LastModified;
    } catch (err) {
      throw this.classify(err, { op: "refresh", key, signal: opts.signal });
    }
  }

  async startUpload(key: string, opts: StartUploadOptions = {}): Promise<PendingUpload> {
    let r;
    try {
      r = await this.client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + key, ContentType: contentTypeOf(key), Metadata: opts.metadata }),
        { abortSignal: opts.signal },
      );
    } catch (err) {
      throw this.classify(err, { op: "upload", key, signal: opts.signal });
    }
    if (!r.UploadId) throw new CloudError(`${this.endpoint} started no multipart upload for ${key}`, { key, transient: true });
    return { key, uploadId: r.UploadId, initiated: new Date() };
  }

  async uploadPart(upload: PendingUpload, partNumber: number, body: PutBody, size: number, opts: RequestOptions = {}): Promise<string> {
    const sent = this.open(body);
    let etag: string | undefined;
    try {
      const r = await this.client.send(
        new UploadPartCommand({ Bucket: this.bucket, Key: this.prefix + upload.key, UploadId: upload.uploadId, PartNumber: partNumber, Body: sent.body, ContentLength: size }),
        { abortSignal: opts.signal },
      );
      etag = r.ETag;
    } catch (err) {
      sent.destroy();
      throw this.classify(sent.error() ?? err, { op: "upload", key: upload.key, signal: opts.signal });
    }
    if (!etag) throw new CloudError(`${this.endpoint} returned no ETag for part ${partNumber} of ${upload.key}`, { key: upload.key, transient: true });
    return etag;
  }

  async completeUpload(upload: PendingUpload, etags: readonly string[], opts: CompleteUploadOptions = {}): Promise<void> {
    try {
      await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: this.prefix + upload.key,
          UploadId: upload.uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
          ...(opts.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
        }),
        { abortSignal: opts.signal },
      );
    } catch (err) {
      throw this.classify(err, { op: "complete upload", key: upload.key, create: opts.ifNoneMatch, signal: opts.signal });
    }
  }

  async abortUpload(upload: PendingUpload, opts: RequestOptions = {}): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.prefix + upload.key, UploadId: upload.uploadId }), {
        abortSignal: opts.signal,
      });
    } catch (err) {
      // A server without the verb (s3rver) cannot be asked: nothing more can be done about its parts.
      if (NOT_IMPLEMENTED_CODES.has(codeOf(err))) return;
      const e = this.classify(err, { op: "abort upload", key: upload.key, signal: opts.signal });
      if (e.code !== "UPLOAD_NOT_FOUND" && e.code !== "OBJECT_NOT_FOUND") throw e;
    }
  }

  async *listUploads(prefix: string, opts: RequestOptions = {}): AsyncIterable<PendingUpload> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let page;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix + prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
          { abortSignal: opts.signal },
        );
      } catch (err) {
        if (NOT_IMPLEMENTED_CODES.has(codeOf(err)) || statusOf(err) === 501) return; // e.g. s3rver
        throw this.classify(err, { op: "list uploads", key: prefix, signal: opts.signal });
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

  /** A SigV4 presigned GET of `key`, signed with the configured keys (or the credential chain's). */
  async presignGet(key: string, opts: PresignOptions): Promise<string> {
    let credentials;
    try {
      credentials = await this.client.config.credentials();
    } catch (err) {
      throw this.classify(err, { op: "sign a link to", key, signal: opts.signal });
    }
    const { endpoint, region, pathStyle } = this.opts;
    return presignGetUrl({ endpoint, bucket: this.bucket, key: this.prefix + key, region, pathStyle, credentials, signedAt: opts.signedAt, expiresInSeconds: opts.expiresInSeconds });
  }

  close(): void {
    this.client.destroy();
    this.sockets?.close();
  }

  private classify(err: unknown, ctx: Omit<S3ErrorContext, "endpoint" | "bucket" | "secrets">): Minus80Error {
    return classifyS3Error(err, { endpoint: this.endpoint, bucket: this.bucket, secrets: this.secrets, ...ctx });
  }
}

function contentTypeOf(key: string): string {
  return key.endsWith(".json") ? "application/json" : "application/octet-stream";
}

function lowerKeys(m: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m ?? {})) out[k.toLowerCase()] = v;
  return out;
}
