/**
 * File-system primitives shared by the freezer and the cloud layer: atomic
 * writes (temporary name + rename), streamed sha256, and a directory walk.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { FileExistsError } from "../errors.js";
import type { HashResult } from "../integrity/hashingStream.js";
import { prettyJsonPieces } from "./jsonChunks.js";

/** Read buffer for hashing and copying: large reads keep sha256 near disk speed. */
export const READ_CHUNK = 1024 * 1024;

/** Makes this process's temporary names unique beside other hosts' (a shared folder) with the same pid. */
const TEMP_TAG = randomBytes(4).toString("hex");
let tempCount = 0;

/** A unique temporary name beside `target` (same directory, so rename is atomic). */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${process.pid}-${TEMP_TAG}${(tempCount++).toString(36)}`);
}

/**
 * Writes `data` to a file that must not exist yet (EEXIST otherwise), with
 * `mode`, synchronously: for small files where the thread pool's round trips
 * cost more than the write. Not flushed (the blob store's objects are not).
 *
 * @example writeNewFileSync(tempPathFor(target), data, 0o444)
 */
export function writeNewFileSync(file: string, data: Uint8Array, mode: number): void {
  const fd = fs.openSync(file, "wx", mode);
  try {
    for (let done = 0; done < data.length; ) done += fs.writeSync(fd, data, done, data.length - done);
  } finally {
    fs.closeSync(fd);
  }
}

export function isTempName(name: string): boolean {
  return name.startsWith(".") && name.includes(".tmp-");
}

/**
 * Writes `data` to `target` atomically: a reader sees the old file or the
 * new one, never a mix. The data is flushed before the rename.
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeAtomically(target, mode, (fh) => fh.writeFile(data));
}

/** A temporary file beside `target`, filled by `fill`, flushed, then renamed over `target` (removed on failure). */
async function writeAtomically(target: string, mode: number, fill: (fh: fsp.FileHandle) => Promise<void>): Promise<void> {
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  const fh = await fsp.open(tmp, "w", mode);
  try {
    await fill(fh);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  try {
    await fsp.rename(tmp, target);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Writes `JSON.stringify(value, null, 2) + "\n"` to `target` atomically, as
 * writeFileAtomic does, a piece at a time (jsonChunks.ts): a large
 * manifest never exists as one string.
 *
 * @example await writeJsonAtomic(ds.manifestPath, manifest)
 */
export async function writeJsonAtomic(target: string, value: unknown, mode = 0o644): Promise<void> {
  await writeAtomically(target, mode, async (fh) => {
    for (const piece of prettyJsonPieces(value)) await fh.write(piece);
  });
}

export type { HashResult } from "../integrity/hashingStream.js";

/**
 * Writes `data` to a new file `target` atomically (temporary name, then a
 * hard link that never replaces a file made meanwhile); FILE_EXISTS if
 * `target` exists, unless `replace`.
 *
 * @example await writeFileExclusive("samplesheet.csv", text)                   // refuses to overwrite
 * @example await writeFileExclusive("samplesheet.csv", text, { replace: true })
 */
export async function writeFileExclusive(target: string, data: string | Uint8Array, opts: { replace?: boolean } = {}): Promise<void> {
  if (opts.replace) return writeFileAtomic(target, data);
  const exists = () => new FileExistsError(`${target} already exists; nothing was written`, { path: target });
  if (await pathExists(target)) throw exists();
  const tmp = tempPathFor(target);
  try {
    await fsp.writeFile(tmp, data, { flag: "wx", mode: 0o644 });
    await fsp.link(tmp, target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw exists();
    throw err;
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}


/** Streams a file through sha256. */
export async function hashFile(file: string): Promise<HashResult> {
  const hash = createHash("sha256");
  let size = 0;
  const fh = await fsp.open(file, "r");
  try {
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      size += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { sha256: hash.digest("hex"), size };
}

/**
 * Lists regular files under `root` as sorted relative POSIX paths, skipping
 * our own temporary files. Symlinks are refused: a frozen dataset holds
 * bytes, not pointers out of it.
 */
export async function walkFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function visit(dir: string, rel: string): Promise<void> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    for (const e of entries) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await visit(path.join(dir, e.name), r);
      else if (e.isFile()) {
        if (!isTempName(e.name)) out.push(r);
      }
    }
  }
  await visit(root, "");
  return out.sort();
}

/** Removes empty directories below `root` (not `root` itself). */
export async function pruneEmptyDirs(root: string): Promise<void> {
  async function visit(dir: string): Promise<boolean> {
    let entries: fs.Dirent[];
    try {
      entries = await fsp.readdir(dir, { withFileTypes: true });
    } catch {
      return false;
    }
    let empty = true;
    for (const e of entries) {
      if (e.isDirectory() && (await visit(path.join(dir, e.name)))) {
        await fsp.rmdir(path.join(dir, e.name)).catch(() => undefined);
      } else empty = false;
    }
    return empty;
  }
  await visit(root);
}

/** True when `candidate` is strictly inside `root`. */
export function isInside(root: string, candidate: string): boolean {
  const rel = path.relative(root, candidate);
  return rel !== "" && !rel.startsWith("..") && !path.isAbsolute(rel);
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.lstat(p);
    return true;
  } catch {
    return false;
  }
}
