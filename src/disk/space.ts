/**
 * The space check before a pull, thaw or freeze writes anything: what the
 * operation will write (each file rounded up to the file system's block,
 * plus a margin for manifests and folders), against what the file system
 * has free for this user. Too little fails with DISK_FULL naming both, so
 * a pull that cannot fit never starts.
 *
 * @example
 *   const need = await spaceNeeded(freezer.basedir, [1e6, 5e6]);   // sizes of the files to write
 *   assertSpace(need, { op: "pull Cohort.Big:v1" });                // DISK_FULL when it does not fit
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { DiskFullError } from "../errors.js";
import { formatBytes } from "../units.js";
import { BASEDIR_SETTING, existingAncestor } from "./faults.js";

/** Room kept for what is written besides the files: manifests, folders, SQLite journals. */
export const SPACE_MARGIN_BYTES = 256 * 1024;

export interface SpaceNeed {
  /** the directory the files go to */
  dir: string;
  /** bytes the files take on disk (block-rounded, margin included) */
  needed: number;
  /** bytes free for this user there */
  available: number;
  /** the file system's block size */
  blockSize: number;
}

/**
 * What writing files of these sizes into `dir` takes, and what is free.
 *
 * @example (await spaceNeeded("/data", [10])).needed // 4096 + SPACE_MARGIN_BYTES on a 4 KiB-block file system
 */
export async function spaceNeeded(dir: string, sizes: Iterable<number>): Promise<SpaceNeed> {
  const at = existingAncestor(dir);
  const st = await fsp.statfs(at);
  const block = st.bsize > 0 ? st.bsize : 4096;
  let needed = 0;
  for (const size of sizes) needed += Math.ceil(size / block) * block;
  return { dir, needed: needed + SPACE_MARGIN_BYTES, available: st.bavail * st.bsize, blockSize: block };
}

/** Adds what another set of files needs in the same directory. */
export function addNeed(a: SpaceNeed, sizes: Iterable<number>): SpaceNeed {
  let more = 0;
  for (const size of sizes) more += Math.ceil(size / a.blockSize) * a.blockSize;
  return { ...a, needed: a.needed + more };
}

/**
 * Throws DISK_FULL when `need` does not fit.
 *
 * @example assertSpace(need, { op: "thaw Cohort.x:v1" })
 */
export function assertSpace(need: Pick<SpaceNeed, "dir" | "needed" | "available">, ctx: { op: string; setting?: string }): void {
  if (need.needed <= need.available) return;
  throw new DiskFullError(
    `not enough space to ${ctx.op}: it needs ${formatBytes(need.needed)} in ${need.dir}, and that file system has ${formatBytes(need.available)} free`,
    {
      path: need.dir,
      needed: need.needed,
      available: need.available,
      hint: `free ${formatBytes(need.needed - need.available)} there, or set ${ctx.setting ?? BASEDIR_SETTING} to a larger file system; nothing was written`,
    },
  );
}

/**
 * True when copies in `dir` are reflinks (btrfs, XFS): a thawed working
 * copy then costs no space beyond its blob store. Probed with one small file.
 *
 * @example if (!(await copiesAreFree(ds.dir))) need = addNeed(need, sizes)
 */
export async function copiesAreFree(dir: string): Promise<boolean> {
  const at = existingAncestor(dir);
  const probe = path.join(at, `.minus80-reflink-probe-${process.pid}-${Date.now()}`);
  try {
    await fsp.writeFile(probe, "x");
    await fsp.copyFile(probe, `${probe}.copy`, fs.constants.COPYFILE_FICLONE_FORCE);
    return true;
  } catch {
    return false;
  } finally {
    await fsp.rm(probe, { force: true }).catch(() => undefined);
    await fsp.rm(`${probe}.copy`, { force: true }).catch(() => undefined);
  }
}
