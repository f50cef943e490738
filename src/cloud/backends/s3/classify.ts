/**
 * Turns an S3 SDK or network error into a classified backend error (see
 * `../backend.ts`). Messages are built from our own words, the provider's
 * error code and a scrubbed provider message: never a key.
 *
 * @example throw classifyS3Error(err, { endpoint, bucket, secrets, op: "upload", key });
 */
import {
  AccessDeniedError,
  BucketError,
  BucketNotYoursError,
  CancelledError,
  CloudError,
  CredentialsError,
  FileExistsError,
  Minus80Error,
  ObjectNotFoundError,
  QuotaExceededError,
  StorageFullError,
  UploadNotFoundError,
} from "../../../errors.js";
import { networkError, redact } from "../errors.js";

export interface S3ErrorContext {
  /** safe to print (see `safeEndpoint`) */
  endpoint: string;
  bucket: string;
  secrets: readonly string[];
  /** what was being done, as a verb phrase: "upload", "check", "list" */
  op: string;
  key?: string;
  /** a create-only write: a conflict means someone else created the key */
  create?: boolean;
  /** a read of one version: a failed precondition means the object changed */
  ifMatch?: boolean;
  /** the call's signal: once aborted, any failure is CANCELLED */
  signal?: AbortSignal;
}

/** Provider error codes that mean the credentials were refused (not known, wrong or expired). */
const CREDENTIAL_CODES = new Set([
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
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
/** Provider error codes of a used-up quota (Ceph RGW, MinIO, others). */
const QUOTA_CODES = new Set(["QuotaExceeded", "XMinioAdminBucketQuotaExceeded", "StorageQuotaExceeded"]);
/** Provider error codes of a server out of space. */
const SERVER_FULL_CODES = new Set(["InsufficientStorage", "XMinioStorageFull", "StorageFull"]);
/** The verbs (S3ErrorContext.op) that write: a refusal of one by valid keys suggests a read-only key. */
const WRITE_OPS = new Set(["upload", "delete", "refresh", "complete upload", "abort upload", "create bucket"]);
const NOT_FOUND_CODES = new Set(["NoSuchKey", "NotFound"]);
const THROTTLE_CODES = new Set(["SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests", "RequestThrottled", "RequestTimeout", "InternalError", "ServiceUnavailable"]);
export const NOT_IMPLEMENTED_CODES = new Set(["NotImplemented", "MethodNotAllowed"]);

export function classifyS3Error(err: unknown, ctx: S3ErrorContext): Minus80Error {
  if (err instanceof Minus80Error) return err;
  const { key } = ctx;
  if (ctx.signal?.aborted) return new CancelledError(`${ctx.op}${key !== undefined ? ` ${key}` : ""}`, { key });
  const where = `${ctx.endpoint} (bucket ${ctx.bucket})`;
  const net = networkError(err, where, key);
  if (net) return net;
  const code = codeOf(err);
  const status = statusOf(err);
  const about = key !== undefined ? ` ${key}` : "";
  const said = redact(providerMessage(err), ctx.secrets);
  const data = { provider: code || undefined, status, bucket: ctx.bucket, ...(key !== undefined ? { key } : {}), transient: false };
  const detail = `${code || `HTTP ${status ?? "?"}`}${said ? `: ${said}` : ""}`;

  if (code === "CredentialsProviderError" || /Could not load credentials|credential/i.test(code)) {
    return new CredentialsError(`no S3 credentials: set cloud.access_key and cloud.secret_key in the config (or CLOUD_ACCESS_KEY / CLOUD_SECRET_KEY, or the AWS credential chain)`, data);
  }
  if (status === 412 || code === "PreconditionFailed" || code === "ConditionalRequestConflict") {
    if (ctx.ifMatch) return new CloudError(`${key} changed on ${where} while it was being read`, { ...data, changed: true });
    return new FileExistsError(`${key} already exists on ${where}`, data);
  }
  if (ctx.create && status === 409 && code !== "BucketAlreadyExists") {
    return new FileExistsError(`${key} was written by someone else at the same time on ${where}`, data);
  }
  if (QUOTA_CODES.has(code)) {
    return new QuotaExceededError(`${where} refused to store${about}: the quota of the bucket or of your account there is used up (${detail})`, {
      ...data,
      hint: "ask the storage admin for a larger quota, or make room: `minus80 cloud remove` tags no one needs, then `minus80 cloud gc`",
    });
  }
  if (SERVER_FULL_CODES.has(code) || status === 507) {
    return new StorageFullError(`${where} has no space left to store${about} (${detail})`, {
      ...data,
      hint: "the server itself is full: tell its storage admin; nothing was changed, run the command again once there is room",
    });
  }
  if (code === "AccessDenied" || code === "AllAccessDisabled") return accessDenied(ctx, where, about, detail, data);
  if (code === "NoSuchUpload") return new UploadNotFoundError(`the upload of ${key ?? "an object"} no longer exists on ${where}`, data);
  if (NOT_FOUND_CODES.has(code) || (status === 404 && !BUCKET_CODES.has(code))) {
    return new ObjectNotFoundError(`${key ?? "object"} does not exist on ${where}`, data);
  }
  if (BUCKET_CODES.has(code) || (status === 301 && !code)) {
    const fix =
      code === "NoSuchBucket"
        ? "the bucket does not exist (was it deleted?)"
        : code === "PermanentRedirect" || code === "AuthorizationHeaderMalformed" || status === 301
          ? "the bucket is in another region: set cloud.region"
          : "choose another cloud.bucket";
    return new BucketError(`bucket ${ctx.bucket} at ${ctx.endpoint}: ${fix} (${detail})`, data);
  }
  if (CREDENTIAL_CODES.has(code) || status === 403 || status === 401) {
    const why =
      code === "InvalidAccessKeyId"
        ? "the access key is not known there: check cloud.access_key"
        : code === "SignatureDoesNotMatch"
          ? "the secret key does not match the access key: check cloud.secret_key"
          : !code
            ? "the answer carries no reason: either the keys are wrong, or they may not do this (a bucket policy)"
            : "check cloud.access_key and cloud.secret_key";
    return new CredentialsError(`${where} refused the credentials while trying to ${ctx.op}${about} (${code || `HTTP ${status}`}); ${why}`, data);
  }
  if (NOT_IMPLEMENTED_CODES.has(code) || status === 501) {
    // A feature the server lacks (e.g. Swift and If-None-Match): asking again will not help.
    return new CloudError(`${where} does not support what was asked while trying to ${ctx.op}${about}: ${detail}`, { ...data, unsupported: true });
  }
  if (THROTTLE_CODES.has(code) || status === 429 || (status !== undefined && status >= 500)) {
    return new CloudError(`${where} failed to ${ctx.op}${about}: ${detail}`, { ...data, transient: true });
  }
  if (status === undefined && err instanceof Error && (err.name === "AbortError" || /deserializ|parse|xml/i.test(err.message))) {
    return new CloudError(`unexpected answer from ${where} while trying to ${ctx.op}${about}: ${redact(err.message, ctx.secrets)}`, {
      ...data,
      transient: err.name !== "AbortError",
    });
  }
  return new CloudError(`${where} failed to ${ctx.op}${about}: ${detail}`, data);
}

/**
 * Valid keys refused by a policy or their own permissions: a write refused
 * suggests a read-only key; the bucket check refused, someone else's bucket.
 */
function accessDenied(ctx: S3ErrorContext, where: string, about: string, detail: string, data: Record<string, unknown>): Minus80Error {
  if (ctx.op === "check bucket") {
    return new BucketNotYoursError(`bucket ${ctx.bucket} at ${ctx.endpoint} exists but your key may not use it (${detail}): it belongs to another account, or its policy shuts your key out`, {
      ...data,
      hint: "bucket names are shared by every user of a server: choose another cloud.bucket, or ask the bucket's owner to grant your key access in its bucket policy",
    });
  }
  const write = WRITE_OPS.has(ctx.op);
  return new AccessDeniedError(
    `${where} denied your key the right to ${ctx.op}${about} (${detail}): the keys are valid, but ${write ? "the key may not write here (a read-only key?) or a bucket policy forbids it" : "a bucket policy or the key's permissions do not allow it"}`,
    {
      ...data,
      write,
      hint: write
        ? "ask the bucket's owner to allow writes (s3:PutObject, s3:DeleteObject) for your key, or use keys that may write; reading (`cloud ls`, `cloud pull`) may still work"
        : "ask the bucket's owner to grant your key s3:GetObject and s3:ListBucket in the bucket policy",
    },
  );
}

/** The provider's error code (`NoSuchKey`), or "" when the error carries none. */
export function codeOf(err: unknown): string {
  const e = err as { name?: unknown; Code?: unknown; code?: unknown } | null;
  if (!e) return "";
  if (typeof e.Code === "string") return e.Code;
  if (typeof e.name === "string" && !["Error", "S3ServiceException", "Unknown", "UnknownError"].includes(e.name) && !/^\d+$/.test(e.name)) return e.name;
  return "";
}

export function statusOf(err: unknown): number | undefined {
  const s = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return typeof s === "number" ? s : undefined;
}

/** The provider's message, if it is short text (some servers send an empty one, or HTML). */
function providerMessage(err: unknown): string {
  const m = (err as { message?: unknown } | null)?.message;
  if (typeof m !== "string" || m === "UnknownError" || m.length > 300) return "";
  return m.replace(/\s+/g, " ").trim();
}
