/**
 * Local file-system failures, named: a full disk, a read-only file system,
 * a refused permission, too many open files. Each becomes its own error
 * code with a message naming the path and the cause, and a hint saying
 * what to do, instead of a bare `ENOSPC: no space left on device, write`.
 *
 * The errno alone often lacks the path (a write stream's ENOSPC names
 * none), so callers say which directory the operation writes in
 * (`dir`), and the hint reports that file system's free space.
 *
 * @example
 *   await withLocalFaults({ dir: freezer.basedir, op: "pull Cohort.Big:v1" }, () => importTag(...));
 *   // DISK_FULL: "no space left on the file system of /data/minus80 while trying to pull Cohort.Big:v1 (ENOSPC)"
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import {
  DiskFullError,
  Minus80Error,
  PermissionDeniedError,
  ReadOnlyFileSystemError,
  TooManyOpenFilesError,
  type ErrorData,
} from "../errors.js";
import { formatBytes } from "../units.js";

export interface LocalFaultContext {
  /** the directory the operation writes in (the freezer's base directory, an output file's folder) */
  dir?: string;
  /** what was being done, for the message: "pull Cohort.Big:v1", "write the output file" */
  op?: string;
  /** the config key or option that chooses `dir`, for the hint */
  setting?: string;
}

/** The errno codes of each kind of local fault. */
const DISK_FULL_CODES = new Set(["ENOSPC", "EDQUOT"]);
const READ_ONLY_CODES = new Set(["EROFS"]);
const PERMISSION_CODES = new Set(["EACCES", "EPERM"]);
const OPEN_FILES_CODES = new Set(["EMFILE", "ENFILE"]);

/** The default setting that chooses where the freezer writes. */
export const BASEDIR_SETTING = "basedir in the config (or MINUS80_BASEDIR)";

/** True when `err` is an errno error this module names. */
export function isLocalFault(err: unknown): err is NodeJS.ErrnoException {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" && (DISK_FULL_CODES.has(code) || READ_ONLY_CODES.has(code) || PERMISSION_CODES.has(code) || OPEN_FILES_CODES.has(code));
}

/**
 * The named error for an errno error, or undefined when it is not a local
 * fault (or is already a Minus80Error).
 *
 * @example localFault(Object.assign(new Error("x"), { code: "EROFS", path: "/ro/a" }), { dir: "/ro" })?.code // "READ_ONLY_FILESYSTEM"
 */
export function localFault(err: unknown, ctx: LocalFaultContext = {}): Minus80Error | undefined {
  if (err instanceof Minus80Error || !isLocalFault(err)) return undefined;
  const errno = err.code!;
  const where = err.path ?? ctx.dir;
  const doing = ctx.op ? ` while trying to ${ctx.op}` : "";
  const setting = ctx.setting ?? BASEDIR_SETTING;
  const data: ErrorData = { errno, ...(where ? { path: where } : {}), ...(ctx.dir ? { dir: ctx.dir } : {}) };
  if (DISK_FULL_CODES.has(errno)) {
    const dir = ctx.dir ?? (where ? path.dirname(where) : undefined);
    const available = dir ? freeBytesSync(dir) : undefined;
    const what = errno === "EDQUOT" ? "your disk quota is used up on" : "no space left on";
    return new DiskFullError(`${what} the file system of ${dir ?? "the target"}${doing} (${errno})`, {
      ...data,
      ...(available !== undefined ? { available } : {}),
      hint: `${available !== undefined ? `${formatBytes(available)} free there; ` : ""}free some space, or set ${setting} to a larger file system; nothing half-written was kept`,
    });
  }
  if (READ_ONLY_CODES.has(errno)) {
    const dir = writableCandidate(where, ctx.dir);
    return new ReadOnlyFileSystemError(`${where ?? "the target"} is on a read-only file system${doing} (${errno})`, {
      ...data,
      hint: `remount ${dir} read-write, or set ${setting} to a directory on a writable file system`,
    });
  }
  if (PERMISSION_CODES.has(errno)) {
    const dir = writableCandidate(where, ctx.dir);
    return new PermissionDeniedError(`permission denied on ${where ?? "the target"}${doing} (${errno})`, {
      ...data,
      hint: `make ${dir} writable for this user (e.g. chown or chmod u+w), or set ${setting} to a directory you may write`,
    });
  }
  return new TooManyOpenFilesError(`too many open files${doing} (${errno})`, {
    ...data,
    // Descriptors free up as other transfers end: waiting and trying again is the limiting.
    transient: true,
    hint: "raise the limit of open files (`ulimit -n 4096`), or lower cloud.concurrency in the config",
  });
}

/**
 * Runs `fn`, turning a local fault it throws into its named error.
 *
 * @example await withLocalFaults({ dir: out, op: "write the output file", setting: "--output" }, () => download())
 */
export async function withLocalFaults<T>(ctx: LocalFaultContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const cause = await mkdirCause(err);
    throw localFault(cause, ctx) ?? err;
  }
}

/**
 * A recursive mkdir on a read-only or refused parent reports ENOENT (Node
 * gives up on the missing path, not on the parent that refused it): make
 * the first missing folder alone to learn the real cause.
 */
async function mkdirCause(err: unknown): Promise<unknown> {
  const e = err as NodeJS.ErrnoException;
  if (e?.code !== "ENOENT" || e.syscall !== "mkdir" || typeof e.path !== "string") return err;
  const at = existingAncestor(e.path);
  const first = path.join(at, path.relative(at, e.path).split(path.sep)[0] ?? "");
  if (first === at) return err;
  try {
    await fsp.mkdir(first);
    await fsp.rmdir(first);
  } catch (probe) {
    if (isLocalFault(probe)) return probe;
  }
  return err;
}

/** Bytes an unprivileged user may still write on the file system holding `dir` (or its nearest existing parent). */
export function freeBytesSync(dir: string): number | undefined {
  try {
    const st = fs.statfsSync(existingAncestor(dir));
    return st.bavail * st.bsize;
  } catch {
    return undefined;
  }
}

/** `dir` itself, or the nearest parent that exists. */
export function existingAncestor(dir: string): string {
  let d = path.resolve(dir);
  while (!fs.existsSync(d)) {
    const up = path.dirname(d);
    if (up === d) break;
    d = up;
  }
  return d;
}

/** The directory to name in a hint: the one the operation writes in, else the failing path's folder. */
function writableCandidate(where: string | undefined, dir: string | undefined): string {
  return dir ?? (where ? path.dirname(where) : "the directory");
}
