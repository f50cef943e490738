/**
 * Thawing: builds a tag's files from the blob store in a staging folder
 * beside the working copy, then swaps it in with two renames, so a crash
 * leaves the old working copy or the new one (a crash between the renames
 * is repaired on the next use, see `FrozenDataset`). Copies are reflinks
 * where the file system has them. With `only`, just those paths of the tag
 * are built (a partial working copy, see partial.ts).
 *
 * @example await materialize(freezer.blobs, ds, ds.tag("v1"))
 * @example await materialize(freezer.blobs, ds, ds.tag("v1"), { only: new Set(["db.sqlite"]) })
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { IntegrityError, throwIfCancelled } from "../errors.js";
import { forEachLimit } from "../limits.js";
import type { ProgressListener } from "../progress.js";
import type { BlobStore } from "./blobStore.js";
import { readInto } from "../integrity/checkedFile.js";
import { isInside, pathExists, writeNewFileSync } from "./files.js";
import { assertSpace, copiesAreFree, spaceNeeded } from "../disk/space.js";
import type { FrozenDataset } from "./frozenDataset.js";
import type { TagManifest } from "./manifest.js";

/** How many files are copied at once. */
const FILE_CONCURRENCY = 8;

/**
 * Files below this are copied synchronously (read, then written to a new
 * file) where the file system has no reflinks: for small files the thread
 * pool's round trips cost more than the copy, and `copyFile` truncates its
 * target, which makes ext4 flush each file on close (BENCHMARKS.md, F pull).
 */
const SMALL_COPY_BYTES = 1024 * 1024;

/** A small file's bytes, read into `scratch` (a view of it), or whole when it is larger than `scratch`. */
function readSmall(file: string, scratch: Buffer): Buffer {
  const data = readInto(file, scratch);
  return data.length < scratch.length ? data : fs.readFileSync(file);
}

/** Synchronous copies give the event loop a turn this often, so Ctrl-C and timers are not held up for a whole large thaw. */
const YIELD_EVERY_FILES = 256;

/** The working copy's files are the user's to edit. */
const WORKING_FILE_MODE = 0o644;

/** Builds the tag's files in a temporary directory, then swaps it in. */
export async function materialize(
  blobs: BlobStore,
  ds: FrozenDataset,
  target: TagManifest,
  opts: { only?: ReadonlySet<string>; onProgress?: ProgressListener; signal?: AbortSignal } = {},
): Promise<void> {
  const { onProgress, signal } = opts;
  const paths = Object.keys(target.files).filter((p) => !opts.only || opts.only.has(p));
  // DISK_FULL before anything is written when the copy cannot fit (a reflinking file system copies for free).
  const reflinks = await copiesAreFree(ds.dir);
  if (!reflinks) {
    assertSpace(await spaceNeeded(ds.dir, paths.map((p) => target.files[p]!.size)), { op: `thaw ${ds.slug}:${target.tag}` });
  }
  const staging = path.join(ds.dir, `.thawed.tmp-${process.pid}-${Date.now()}`);
  await fsp.mkdir(staging, { recursive: true });
  try {
    for (const rel of paths) {
      if (!isInside(staging, path.join(staging, rel))) throw new IntegrityError(`path ${rel} escapes the dataset`, { path: rel });
    }
    // Each folder once, parents first, rather than a recursive mkdir per file.
    const dirs = [...new Set(paths.map((rel) => path.dirname(path.join(staging, rel))))].sort();
    for (const dir of dirs) await fsp.mkdir(dir, { recursive: true });
    let done = 0;
    let scratch: Buffer | undefined;
    let turn: Promise<void> | undefined;
    await forEachLimit(paths, FILE_CONCURRENCY, async (rel) => {
      const entry = target.files[rel]!;
      const dest = path.join(staging, rel);
      const src = blobs.pathOf(entry.sha256);
      try {
        // Read into one buffer shared by every copy (read and write are one synchronous step): no buffer per file.
        if (!reflinks && entry.size < SMALL_COPY_BYTES) writeNewFileSync(dest, readSmall(src, (scratch ??= Buffer.allocUnsafe(SMALL_COPY_BYTES))), WORKING_FILE_MODE);
        else {
          await fsp.copyFile(src, dest, fs.constants.COPYFILE_FICLONE); // a reflink where the file system can, else a copy
          await fsp.chmod(dest, WORKING_FILE_MODE);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT" && !(await pathExists(src))) {
          throw new IntegrityError(`object ${entry.sha256} of ${ds.slug}:${target.tag} (${rel}) is missing from the local store`, {
            path: rel,
            sha256: entry.sha256,
          });
        }
        throw err;
      }
      done++;
      onProgress?.({ phase: "thaw", loaded: done, total: paths.length, key: rel });
      // Every worker waits for the same turn: one worker alone pausing would leave the others' microtasks running.
      if (done % YIELD_EVERY_FILES === 0) turn ??= new Promise<void>((resolve) => setImmediate(() => ((turn = undefined), resolve())));
      if (turn) await turn;
    }, signal);
    throwIfCancelled(signal);
    const old = path.join(ds.dir, `.thawed.old-${process.pid}-${Date.now()}`);
    const hadOld = await pathExists(ds.thawedDir);
    if (hadOld) await fsp.rename(ds.thawedDir, old);
    await fsp.rename(staging, ds.thawedDir);
    if (hadOld) await fsp.rm(old, { recursive: true, force: true });
  } finally {
    await fsp.rm(staging, { recursive: true, force: true });
  }
}
