/**
 * Every failure minus80 reports is a `Minus80Error` with a stable `code` and
 * structured `data` (the slug, tag, key or value it concerns). Callers switch
 * on `code`; the CLI maps codes to a message, a hint and an exit status in
 * one place (`cli/errorMessages.ts`).
 *
 * Each code has exactly one constructor: the class below named for it. A
 * code says what went wrong and, for "not found", what was not found.
 *
 * @example
 *   try { await cloud.pull("Cohort", "TestCohort", { tag: "v9" }); }
 *   catch (e) { if (isMinus80Error(e) && e.code === "TAG_NOT_FOUND") ... }
 */
export type ErrorCode =
  | "INVALID_NAME"
  | "INVALID_ARGUMENT"
  | "CONFIG"
  | "DATASET_NOT_FOUND"
  | "TAG_NOT_FOUND"
  | "OBJECT_NOT_FOUND"
  | "UPLOAD_NOT_FOUND"
  | "RAW_FILE_NOT_FOUND"
  | "FILE_NOT_FOUND"
  | "ACCESSION_NOT_FOUND"
  | "TABLE_NOT_FOUND"
  | "TAG_EXISTS"
  | "TAG_CONFLICT"
  | "UNSAVED_CHANGES"
  | "FILE_EXISTS"
  | "INTEGRITY"
  | "LOCKED"
  | "CREDENTIALS"
  | "UNREACHABLE"
  | "BUCKET"
  | "CLOUD"
  | "READ_ONLY"
  | "NOT_PUBLIC"
  | "LINK_EXPIRED"
  | "LINK_INVALID"
  | "CANCELLED"
  | "DISK_FULL"
  | "READ_ONLY_FILESYSTEM"
  | "PERMISSION_DENIED"
  | "TOO_MANY_OPEN_FILES"
  | "QUOTA_EXCEEDED"
  | "STORAGE_FULL"
  | "ACCESS_DENIED"
  | "BUCKET_NOT_YOURS";

export type ErrorData = Record<string, unknown>;

export class Minus80Error extends Error {
  readonly code: ErrorCode;
  readonly data: ErrorData;

  protected constructor(code: ErrorCode, message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Minus80Error";
    this.code = code;
    this.data = data;
  }
}

/** Declares the error class of one code. */
function errorClass(code: ErrorCode, name: string) {
  return class extends Minus80Error {
    constructor(message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
      super(code, message, data, options);
      this.name = name;
    }
  };
}

/** A name, tag, slug or other user value that breaks a rule. Nothing was changed. */
export class InvalidNameError extends errorClass("INVALID_NAME", "InvalidNameError") {}
/** A bad option or input value (exit status 2). Nothing was changed. */
export class InvalidArgumentError extends errorClass("INVALID_ARGUMENT", "InvalidArgumentError") {}
/** The config file is malformed: names the file, the key and what was expected. */
export class ConfigError extends errorClass("CONFIG", "ConfigError") {}
/** The bytes are not what was promised (a sha256 or size mismatch, a damaged manifest). */
export class IntegrityError extends errorClass("INTEGRITY", "IntegrityError") {}
/** A tag frozen again under its name (tags are immutable). */
export class TagExistsError extends errorClass("TAG_EXISTS", "TagExistsError") {}
/** A tag whose contents differ between here and there (local vs cloud, or two writers). */
export class TagConflictError extends errorClass("TAG_CONFLICT", "TagConflictError") {}
/** The working copy differs from the tag it came from. */
export class UnsavedChangesError extends errorClass("UNSAVED_CHANGES", "UnsavedChangesError") {}
/** A file or object that would be replaced without `force`, or a create-only write that found one. */
export class FileExistsError extends errorClass("FILE_EXISTS", "FileExistsError") {}
/** Another minus80 process holds the lock. */
export class LockedError extends errorClass("LOCKED", "LockedError") {}
/** The storage refused the credentials (or there are none). */
export class CredentialsError extends errorClass("CREDENTIALS", "CredentialsError") {}
/** The storage cannot be reached, or the connection was lost or stalled. */
export class UnreachableError extends errorClass("UNREACHABLE", "UnreachableError") {}
/** The bucket is missing, misnamed, in another region, or not a minus80 layout. */
export class BucketError extends errorClass("BUCKET", "BucketError") {}
/** Any other failure of the storage (5xx, throttling, an unexpected answer). */
export class CloudError extends errorClass("CLOUD", "CloudError") {}
/** A write asked of a read-only location (`--from` a public URL or a share link). Nothing was changed. */
export class ReadOnlyError extends errorClass("READ_ONLY", "ReadOnlyError") {}
/** A public location (`--from <URL>`) that refuses anonymous reads. */
export class NotPublicError extends errorClass("NOT_PUBLIC", "NotPublicError") {}
/** A share link past its expiry (`data.expired`: when, ISO 8601). */
export class LinkExpiredError extends errorClass("LINK_EXPIRED", "LinkExpiredError") {}
/** A share link that is damaged, tampered with, refused by the server, or asked for what it does not grant. */
export class LinkInvalidError extends errorClass("LINK_INVALID", "LinkInvalidError") {}
/** No space left where minus80 writes (ENOSPC, EDQUOT, or too little free for what a pull, thaw or freeze needs): `data.path`, `data.needed`, `data.available` (bytes). */
export class DiskFullError extends errorClass("DISK_FULL", "DiskFullError") {}
/** A directory minus80 must write is on a read-only file system (EROFS): `data.path`. */
export class ReadOnlyFileSystemError extends errorClass("READ_ONLY_FILESYSTEM", "ReadOnlyFileSystemError") {}
/** The file system refused this user (EACCES, EPERM): `data.path`. */
export class PermissionDeniedError extends errorClass("PERMISSION_DENIED", "PermissionDeniedError") {}
/** The process ran out of file descriptors (EMFILE, ENFILE) even after waiting for some to close. */
export class TooManyOpenFilesError extends errorClass("TOO_MANY_OPEN_FILES", "TooManyOpenFilesError") {}
/** The server refused a write because a quota (of the bucket or the account) is used up. */
export class QuotaExceededError extends errorClass("QUOTA_EXCEEDED", "QuotaExceededError") {}
/** The server itself is out of space (HTTP 507 InsufficientStorage, or a full cluster). */
export class StorageFullError extends errorClass("STORAGE_FULL", "StorageFullError") {}
/** Valid keys that a bucket policy or the key's own permissions do not allow this (a read-only key, say). */
export class AccessDeniedError extends errorClass("ACCESS_DENIED", "AccessDeniedError") {}
/** The bucket exists but is another account's (or its policy shuts this key out entirely). */
export class BucketNotYoursError extends errorClass("BUCKET_NOT_YOURS", "BucketNotYoursError") {}
/** A key that does not exist in the bucket. */
export class ObjectNotFoundError extends errorClass("OBJECT_NOT_FOUND", "ObjectNotFoundError") {}
/** A multipart upload the server no longer knows (completed or aborted). */
export class UploadNotFoundError extends errorClass("UPLOAD_NOT_FOUND", "UploadNotFoundError") {}
/** A raw file that is not in the cloud. */
export class RawFileNotFoundError extends errorClass("RAW_FILE_NOT_FOUND", "RawFileNotFoundError") {}
/** A local file that does not exist. */
export class FileNotFoundError extends errorClass("FILE_NOT_FOUND", "FileNotFoundError") {}
/** An accession that is not in the Cohort. */
export class AccessionNotFoundError extends errorClass("ACCESSION_NOT_FOUND", "AccessionNotFoundError") {}
/** A table that is not in a column store. */
export class TableNotFoundError extends errorClass("TABLE_NOT_FOUND", "TableNotFoundError") {}

export class DatasetNotFoundError extends errorClass("DATASET_NOT_FOUND", "DatasetNotFoundError") {
  constructor(slug: string, where = "local freezer") {
    super(`dataset ${slug} does not exist in the ${where}`, { slug, where });
  }
}

export class TagNotFoundError extends errorClass("TAG_NOT_FOUND", "TagNotFoundError") {
  /** `available`: the tags there are, listed in the message */
  constructor(slug: string, tag: string, where = "local freezer", available?: string[]) {
    super(`tag ${slug}:${tag} does not exist in the ${where}${available ? ` (tags there: ${available.join(", ")})` : ""}`, {
      slug,
      tag,
      where,
      ...(available ? { available } : {}),
    });
  }
}

/** The operation was cancelled (Ctrl-C, SIGTERM, or the caller's AbortSignal); what it did was undone. */
export class CancelledError extends errorClass("CANCELLED", "CancelledError") {
  constructor(what = "the operation", data: ErrorData = {}) {
    super(`${what} was cancelled`, data);
  }
}

export function isMinus80Error(err: unknown): err is Minus80Error {
  return err instanceof Minus80Error;
}

/** True when `err` is a Minus80Error with this code. */
export function hasCode(err: unknown, code: ErrorCode): err is Minus80Error {
  return err instanceof Minus80Error && err.code === code;
}

/**
 * Throws CANCELLED when `signal` has been aborted: called between steps, so
 * a cancelled operation stops at the next safe point.
 *
 * @example for (const f of files) { throwIfCancelled(signal); await copy(f); }
 */
export function throwIfCancelled(signal: AbortSignal | undefined, what?: string): void {
  if (signal?.aborted) throw new CancelledError(what);
}
