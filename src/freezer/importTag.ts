/**
 * The local half of a pull: records a tag fetched from elsewhere, fetching
 * the objects the local store lacks through the caller's `fetch`, with the
 * freezer's guarantees. Before anything is fetched it refuses over unsaved
 * changes (unless forced) and over a local tag of the same name with other
 * contents. It holds the dataset's lock and then the store's (the order of
 * freeze), so a local gc cannot remove an object between its arrival and
 * the tag that references it. On any failure, cancellation included, the
 * store and the dataset are left as they were: objects it added are
 * removed, and a dataset it created is removed again. With `only`, just
 * the objects of those paths are fetched (a partial pull): the tag is
 * recorded whole, its other objects absent until a later full import.
 *
 * @example
 *   await importTag(freezer, ds, manifest, (entry, tmp, onBytes) => download(entry, tmp, onBytes), { concurrency: 32 });
 */
import fsp from "node:fs/promises";
import { IntegrityError, TagConflictError, throwIfCancelled } from "../errors.js";
import type { HashResult } from "../integrity/hashingStream.js";
import { forEachLimit } from "../limits.js";
import { TransferMeter, type ProgressListener } from "../progress.js";
import type { BlobStore } from "./blobStore.js";
import { pruneEmptyDirs } from "./files.js";
import type { FrozenDataset } from "./frozenDataset.js";
import { LATEST_TAG, type FileEntry, type TagManifest } from "./manifest.js";

/** Writes the object `entry` into `tmpFile`, reporting bytes as they arrive; returns what they hash to. */
export type FetchObject = (entry: FileEntry, tmpFile: string, onBytes: (n: number) => void) => Promise<HashResult>;

/**
 * Fetches several small objects in one go (the source keeps them together,
 * e.g. the files of one pack): calls `store` with each one's bytes as they
 * arrive; `store` verifies and keeps it, or throws INTEGRITY.
 */
export type FetchBatch = (batch: string, entries: FileEntry[], store: (entry: FileEntry, data: Buffer) => void) => Promise<void>;

export interface ImportOptions {
  /** discard unsaved changes of the working copy */
  force?: boolean;
  /** objects fetched at once */
  concurrency: number;
  /** where the tag comes from, for messages (e.g. "the cloud") */
  from?: string;
  /** how the source names an object, for messages (e.g. its bucket key) */
  objectName?: (sha256: string) => string;
  /** fetch only the objects of these paths of the tag */
  only?: ReadonlySet<string>;
  /** the batch an object is fetched in (with `fetchBatch`), or undefined to fetch it alone */
  batchOf?: (entry: FileEntry) => string | undefined;
  /** fetches a batch of objects (see FetchBatch) */
  fetchBatch?: FetchBatch;
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

export interface ImportCounts {
  /** objects fetched */
  fetched: number;
  bytes: number;
  /** objects already in the local store */
  present: number;
}

/** The parts of the Freezer an import needs. */
export interface ImportTarget {
  readonly blobs: BlobStore;
  readonly datasetsRoot: string;
  withStoreLock<T>(fn: () => Promise<T>): Promise<T>;
}

/**
 * The refusals of an import, which change nothing: unsaved changes (unless
 * `force`; `readOnly` leaves the hash cache as it is, for a dry run) and a
 * local tag of the same name with other contents.
 *
 * @example await checkImport(ds, manifest, { from: "the cloud", readOnly: true })
 */
export async function checkImport(ds: FrozenDataset, manifest: TagManifest, opts: { force?: boolean; from?: string; readOnly?: boolean }): Promise<void> {
  const { tag } = manifest;
  if (!ds.exists()) return;
  if (!opts.force) await ds.refuseUnsaved(tag, { readOnly: opts.readOnly });
  const local = ds.readManifest().tags[tag];
  if (local && local.total !== manifest.total && tag !== LATEST_TAG) {
    throw new TagConflictError(`local tag ${ds.slug}:${tag} differs from the one in ${opts.from ?? "the source"}; thaw it or pull another tag`, {
      slug: ds.slug,
      tag,
      local: local.total,
      remote: manifest.total,
    });
  }
}

/** The objects of `manifest` (of the paths in `only`, when given), by sha256. @example wantedObjects(manifest, new Set(["db.sqlite"])).size // 1 */
export function wantedObjects(manifest: TagManifest, only?: ReadonlySet<string>): Map<string, FileEntry> {
  const wanted = new Map<string, FileEntry>();
  for (const [p, e] of Object.entries(manifest.files)) if (!only || only.has(p)) wanted.set(e.sha256, e);
  return wanted;
}

/**
 * The wanted objects the local store lacks. A local object was verified
 * when stored: a manifest recording another size for it lies (INTEGRITY).
 *
 * @example (await objectsToFetch(freezer.blobs, ds, manifest, wantedObjects(manifest))).length
 */
export async function objectsToFetch(
  blobs: BlobStore,
  ds: FrozenDataset,
  manifest: TagManifest,
  wanted: ReadonlyMap<string, FileEntry>,
  objectName?: (sha256: string) => string,
): Promise<FileEntry[]> {
  const missing: FileEntry[] = [];
  for (const entry of wanted.values()) {
    const size = blobs.sizeOf(entry.sha256);
    if (size === undefined) missing.push(entry);
    else if (size !== entry.size) {
      const object = objectName?.(entry.sha256) ?? entry.sha256;
      throw new IntegrityError(
        `the manifest of ${ds.slug}:${manifest.tag} is damaged: it records ${entry.size} bytes for object ${object}, which is ${size} bytes`,
        { slug: ds.slug, tag: manifest.tag, key: object, sha256: entry.sha256, expectedSize: entry.size, actualSize: size },
      );
    }
  }
  return missing;
}

export async function importTag(freezer: ImportTarget, ds: FrozenDataset, manifest: TagManifest, fetch: FetchObject, opts: ImportOptions): Promise<ImportCounts> {
  const existed = ds.exists();
  // Refuse before fetching anything, so a refusal changes nothing.
  await checkImport(ds, manifest, opts);
  const wanted = wantedObjects(manifest, opts.only);
  try {
    return await ds.withLock(() => freezer.withStoreLock(() => fetchMissing(freezer.blobs, ds, manifest, wanted, fetch, opts)));
  } catch (err) {
    // A dataset this import created (and could not fill) is removed again.
    if (!existed && Object.keys(ds.readManifest().tags).length === 0) {
      await fsp.rm(ds.dir, { recursive: true, force: true }).catch(() => undefined);
      await pruneEmptyDirs(freezer.datasetsRoot).catch(() => undefined);
    }
    throw err;
  }
}

async function fetchMissing(
  blobs: BlobStore,
  ds: FrozenDataset,
  manifest: TagManifest,
  wanted: Map<string, FileEntry>,
  fetch: FetchObject,
  opts: ImportOptions,
): Promise<ImportCounts> {
  const missing = await objectsToFetch(blobs, ds, manifest, wanted, opts.objectName);
  const counts: ImportCounts = { fetched: 0, bytes: 0, present: wanted.size - missing.length };
  const added: string[] = [];
  const meter = new TransferMeter("download", missing.reduce((n, e) => n + e.size, 0), opts.onProgress);
  const stored = (entry: FileEntry) => {
    added.push(entry.sha256);
    counts.fetched++;
    counts.bytes += entry.size;
  };
  const store = async (entry: FileEntry, fetchInto: (tmp: string) => Promise<HashResult>) => {
    await blobs.addFetched(entry, fetchInto);
    stored(entry);
  };
  const storeBytes = (entry: FileEntry, data: Buffer) => {
    blobs.addBytes(entry, data);
    meter.add(entry.sha256, data.length);
    stored(entry);
  };
  // Objects fetched alone, one job each; objects of a batch, one job per batch.
  const jobs: Array<() => Promise<void>> = [];
  const batches = new Map<string, FileEntry[]>();
  for (const entry of missing) {
    const batch = opts.fetchBatch ? opts.batchOf?.(entry) : undefined;
    if (batch === undefined) jobs.push(() => store(entry, (tmp) => fetch(entry, tmp, (n) => meter.add(entry.sha256, n))));
    else if (batches.has(batch)) batches.get(batch)!.push(entry);
    else batches.set(batch, [entry]);
  }
  for (const [batch, entries] of batches) jobs.unshift(() => opts.fetchBatch!(batch, entries, storeBytes));
  try {
    await forEachLimit(jobs, opts.concurrency, (job) => job(), opts.signal);
    meter.done();
    throwIfCancelled(opts.signal);
    await ds.recordTag(manifest, opts.only);
  } catch (err) {
    // Still unreferenced (we hold the store lock): remove what this import added.
    await blobs.remove(added);
    throw err;
  }
  return counts;
}
