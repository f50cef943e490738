/**
 * The one place that turns an error into what the user reads: a message, a
 * hint saying what to do, and the exit status (0 ok, 1 the operation failed,
 * 2 bad usage or bad input). Modelled on npm's error-message.js.
 */
import { localFault } from "../disk/faults.js";
import { isMinus80Error, type ErrorCode } from "../errors.js";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface UserMessage {
  message: string;
  hint?: string;
  exitStatus: number;
}

const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(["INVALID_NAME", "INVALID_ARGUMENT", "CONFIG", "READ_ONLY"]);

const HINTS: Partial<Record<ErrorCode, string>> = {
  CONFIG: "fix the file (see `minus80 config path`) or move it away to get a fresh one with defaults",
  DATASET_NOT_FOUND: "`minus80 ls` lists local datasets, `minus80 cloud ls` the ones in the cloud",
  TAG_NOT_FOUND: "`minus80 ls --tags` (or `minus80 cloud ls --tags`) lists the tags",
  RAW_FILE_NOT_FOUND: "`minus80 cloud ls --raw` lists the raw files in the cloud",
  FILE_NOT_FOUND: "check the path",
  ACCESSION_NOT_FOUND: "`minus80 cohort show <name>` lists the accessions",
  OBJECT_NOT_FOUND: "the bucket lacks an object minus80 expected; `minus80 cloud verify` reports what is missing",
  TAG_EXISTS: "tags are immutable: freeze under a new tag name",
  TAG_CONFLICT: "tags are immutable: push under a new tag name (`--tag`)",
  UNSAVED_CHANGES: "freeze the working copy under a new tag first, or pass --force to discard the changes",
  FILE_EXISTS: "pass --force to replace it",
  INTEGRITY: "the data is damaged; nothing was changed locally. Re-push it from a good copy, or report it",
  LOCKED: "another minus80 process is working on it; wait for it to finish",
  CREDENTIALS: "check cloud.access_key and cloud.secret_key in the config file (or CLOUD_ACCESS_KEY / CLOUD_SECRET_KEY)",
  UNREACHABLE: "check cloud.endpoint in the config file (or CLOUD_ENDPOINT) and that the server is up",
  BUCKET: "check cloud.bucket in the config file (or CLOUD_BUCKET) and that your key may use it",
  READ_ONLY: "a --from location or share link is read-only: run writes without --from, with keys in the config",
  NOT_PUBLIC: "ask its owner for a share link (`minus80 cloud share`), or for a bucket policy allowing anonymous s3:GetObject (README, \"Sharing\")",
  LINK_EXPIRED: "ask whoever shared it for a new link (`minus80 cloud share <dtype> <name> --tag T`)",
  LINK_INVALID: "use the link exactly as it was given (quoted, nothing added or cut), for the dataset and tag it names; `--json` of `cloud share` says what it grants",
  CANCELLED: "run the command again to finish it",
  DISK_FULL: "free some space, or set basedir in the config (or MINUS80_BASEDIR) to a larger file system",
  READ_ONLY_FILESYSTEM: "set basedir in the config (or MINUS80_BASEDIR) to a directory on a writable file system",
  PERMISSION_DENIED: "make the directory writable for this user, or set basedir in the config (or MINUS80_BASEDIR) to one you may write",
  TOO_MANY_OPEN_FILES: "raise the limit of open files (`ulimit -n 4096`), or lower cloud.concurrency in the config",
  QUOTA_EXCEEDED: "ask the storage admin for a larger quota, or make room: `minus80 cloud remove` old tags, then `minus80 cloud gc`",
  STORAGE_FULL: "the server is out of space: tell its storage admin",
  ACCESS_DENIED: "ask the bucket's owner to grant your key the permission in the bucket policy, or use keys that have it",
  BUCKET_NOT_YOURS: "choose another cloud.bucket, or ask the bucket's owner to grant your key access",
};

/**
 * @example userMessage(new TagNotFoundError("Cohort.x", "v9")).exitStatus // 1
 */
export function userMessage(err: unknown): UserMessage {
  if (isMinus80Error(err)) {
    return {
      message: err.message,
      // A hint the error itself carries (where the code's usual one would mislead) wins.
      hint: typeof err.data.hint === "string" ? err.data.hint : HINTS[err.code],
      exitStatus: USAGE_CODES.has(err.code) ? EXIT_USAGE : EXIT_FAILED,
    };
  }
  // A full disk, a read-only file system or a refused permission is not a bug: name it.
  const fault = localFault(err);
  if (fault) return userMessage(fault);
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === "string" && typeof e.path === "string") {
    return { message: `${e.code}: cannot access ${e.path}`, exitStatus: EXIT_FAILED };
  }
  return {
    message: `unexpected error: ${err instanceof Error ? err.message : String(err)}`,
    hint: "this is a bug in minus80; please report it with the command you ran",
    exitStatus: EXIT_FAILED,
  };
}

/** `error: ...` then `hint: ...`, for stderr. */
export function formatUserMessage(m: UserMessage): string {
  return `error: ${m.message}\n` + (m.hint ? `hint: ${m.hint}\n` : "");
}
