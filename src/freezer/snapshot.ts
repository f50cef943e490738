/**
 * Hashing a working copy: every file's sha256 and size, reusing the hash
 * cached for a file whose stamp (size, mtime, ctime, inode) has not changed
 * since it was last hashed, so a re-check reads nothing. With `store`, each
 * content also goes into the blob store in the same read.
 *
 * @example const { files } = await snapshotWorkingCopy(blobs, ds.thawedDir, statCache, "Cohort.RNA", { store: true });
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { assertSpace, spaceNeeded } from "../disk/space.js";
import { InvalidArgumentError } from "../errors.js";
import { forEachLimit } from "../limits.js";
import type { ProgressListener } from "../progress.js";
import type { BlobStore } from "./blobStore.js";
import { walkFiles, writeFileAtomic } from "./files.js";
import { hashPool } from "./hashPool.js";
import { badPathReason, emptyFileMap, sortPaths, type FileEntry } from "./manifest.js";

interface StatCacheEntry {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sha256: string;
}

/** How many files are hashed or copied at once. */
const FILE_CONCURRENCY = 8;

export interface SnapshotOptions {
  onProgress?: ProgressListener;
  /** also put each content into the blob store (a freeze) */
  store?: boolean;
  /** keep the hash cache as it is (a dry run writes nothing) */
  readOnly?: boolean;
  signal?: AbortSignal;
}

/** Every working file -> its content, sorted by path. */
export async function snapshotWorkingCopy(blobs: BlobStore, thawedDir: string, statCachePath: string, slug: string, opts: SnapshotOptions = {}): Promise<Record<string, FileEntry>> {
  const { store = false, onProgress } = opts;
  const paths = await walkFiles(thawedDir);
  for (const rel of paths) {
    const reason = badPathReason(rel);
    if (reason) {
      throw new InvalidArgumentError(`cannot freeze ${slug}: file ${JSON.stringify(rel)} has a name minus80 cannot store (${reason}); rename it`, { slug, path: rel });
    }
  }
  const cache = readStatCache(statCachePath);
  // Every stamp is taken before any hashing, so a write during hashing shows as a changed stamp later.
  const stats = new Map<string, fs.Stats>();
  await forEachLimit(paths, FILE_CONCURRENCY, async (rel) => void stats.set(rel, await fsp.stat(path.join(thawedDir, rel))), opts.signal);
  if (store) await checkFreezeSpace(blobs, thawedDir, slug, stats, cache);
  const next: Record<string, StatCacheEntry> = Object.create(null);
  const files = emptyFileMap();
  let done = 0;
  await forEachLimit(paths, FILE_CONCURRENCY, async (rel) => {
    const abs = path.join(thawedDir, rel);
    const st = stats.get(rel)!;
    const c = Object.hasOwn(cache, rel) ? cache[rel] : undefined;
    let sha256: string;
    if (cachedHashHolds(c, st)) {
      sha256 = c.sha256;
      if (store && !(await blobs.has(sha256))) await blobs.addFile(abs, { sha256, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    } else if (store) {
      sha256 = (await blobs.ingest(abs, st)).sha256;
    } else {
      sha256 = (await hashPool().hash(abs)).sha256;
    }
    files[rel] = { sha256, size: st.size };
    next[rel] = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, sha256 };
    done++;
    onProgress?.({ phase: store ? "freeze" : "hash", loaded: done, total: paths.length, key: rel });
  }, opts.signal);
  if (!opts.readOnly) await writeFileAtomic(statCachePath, JSON.stringify(next)).catch(() => undefined);
  const sorted = emptyFileMap();
  for (const p of sortPaths(Object.keys(files))) sorted[p] = files[p]!;
  return sorted;
}

/**
 * ctime cannot be set back by a user (unlike mtime); files changed within the last
 * 2 s may change again within the timestamp granularity, so they are re-hashed.
 */
function cachedHashHolds(c: StatCacheEntry | undefined, st: fs.Stats): c is StatCacheEntry {
  return !!c && c.size === st.size && c.mtimeMs === st.mtimeMs && c.ctimeMs === st.ctimeMs && c.ino === st.ino && Date.now() - st.mtimeMs > 2000;
}

/** DISK_FULL before a byte is copied when the files a freeze may store do not fit in the blob store's file system. */
async function checkFreezeSpace(blobs: BlobStore, thawedDir: string, slug: string, stats: Map<string, fs.Stats>, cache: Record<string, StatCacheEntry>): Promise<void> {
  const sizes: number[] = [];
  for (const [rel, st] of stats) {
    const c = Object.hasOwn(cache, rel) ? cache[rel] : undefined;
    if (!cachedHashHolds(c, st) || !(await blobs.has(c.sha256))) sizes.push(st.size);
  }
  if (sizes.length > 0) assertSpace(await spaceNeeded(path.dirname(thawedDir), sizes), { op: `freeze ${slug}` });
}

function readStatCache(file: string): Record<string, StatCacheEntry> {
  try {
    return Object.assign(Object.create(null), JSON.parse(fs.readFileSync(file, "utf8"))) as Record<string, StatCacheEntry>;
  } catch {
    return {};
  }
}
