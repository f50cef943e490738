/**
 * A file's stamp (size, mtime, ctime) tells whether it changed since it was
 * hashed, without reading it again: mtime can be set back, ctime cannot.
 *
 * @example
 *   const stamp = stampOf(await fsp.stat(file));
 *   ... hash it, copy or send it ...
 *   await checkUnchanged(file, stamp, "while it was being frozen");
 */
import fsp from "node:fs/promises";
import type { Stats } from "node:fs";
import { IntegrityError } from "../errors.js";

export interface FileStamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

export function stampOf(st: Pick<Stats, "size" | "mtimeMs" | "ctimeMs">): FileStamp {
  return { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** True when the file no longer has `stamp` (or is gone). */
export async function stampChanged(file: string, stamp: FileStamp): Promise<boolean> {
  const st = await fsp.stat(file).catch(() => null);
  return !st || st.size !== stamp.size || st.mtimeMs !== stamp.mtimeMs || st.ctimeMs !== stamp.ctimeMs;
}

/**
 * Throws INTEGRITY when `file` changed since `stamp` was taken.
 * `when` completes the message: "changed <when>; ...".
 */
export async function checkUnchanged(file: string, stamp: FileStamp, when: string, data: Record<string, unknown> = {}): Promise<void> {
  if (await stampChanged(file, stamp)) {
    throw new IntegrityError(`${file} changed ${when}; try again when it is no longer being written`, { path: file, ...data });
  }
}
