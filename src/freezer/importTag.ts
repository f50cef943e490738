/**
 * The local half of a pull: records a tag fetched from elsewhere, fetching
 * the objects the local store lacks through the caller's `fetch`, with the
 * freezer's guarantees. Before anything is fetched it refuses over unsaved
 * changes (unless forced) and over a local tag of the same name with other
 * contents. It holds the dataset's lock and then the store's (the order of
 * freeze), so a local gc cannot remove an object between its arrival and
 * the tag that references it. On any failure, cancellation included, the
 * store and the dataset are left as they were: objects it added are
 * removed, and a dataset it created is removed again.
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

export interface ImportOptions {
  /** discard unsaved changes of the working copy */
  force?: boolean;
  /** objects fetched at once */
  concurrency: number;
  /** where the tag comes from, for messages (e.g. "the cloud") */
  from?: string;
  /** how the source names an object, for messages (e.g. its bucket key) */
  objectName?: (sha256: string) => string;
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

export async function importTag(freezer: ImportTarget, ds: FrozenDataset, manifest: TagManifest, fetch: FetchObject, opts: ImportOptions): Promise<ImportCounts> {
  const { tag } = manifest;
  const existed = ds.exists();
  // Refuse before fetching anything, so a refusal changes nothing.
  if (existed) {
    if (!opts.force) await ds.refuseUnsaved(tag);
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
  const wanted = new Map<string, FileEntry>();
  for (const e of Object.values(manifest.files)) wanted.set(e.sha256, e);
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
  const missing: FileEntry[] = [];
  for (const entry of wanted.values()) {
    const local = await fsp.stat(blobs.pathOf(entry.sha256)).catch(() => null);
    if (!local) missing.push(entry);
    else if (local.size !== entry.size) {
      // A local object was verified when stored: a manifest recording another size for it lies.
      const object = opts.objectName?.(entry.sha256) ?? entry.sha256;
      throw new IntegrityError(
        `the manifest of ${ds.slug}:${manifest.tag} is damaged: it records ${entry.size} bytes for object ${object}, which is ${local.size} bytes`,
        { slug: ds.slug, tag: manifest.tag, key: object, sha256: entry.sha256, expectedSize: entry.size, actualSize: local.size },
      );
    }
  }
  const counts: ImportCounts = { fetched: 0, bytes: 0, present: wanted.size - missing.length };
  const added: string[] = [];
  const meter = new TransferMeter("download", missing.reduce((n, e) => n + e.size, 0), opts.onProgress);
  try {
    await forEachLimit(
      missing,
      opts.concurrency,
      async (entry) => {
        await blobs.addFetched(entry, (tmp) => fetch(entry, tmp, (n) => meter.add(entry.sha256, n)));
        added.push(entry.sha256);
        counts.fetched++;
        counts.bytes += entry.size;
      },
      opts.signal,
    );
    meter.done();
    throwIfCancelled(opts.signal);
    await ds.recordTag(manifest);
  } catch (err) {
    // Still unreferenced (we hold the store lock): remove what this import added.
    await blobs.remove(added);
    throw err;
  }
  return counts;
}
