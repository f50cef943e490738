/**
 * Pulling one tag of a dataset: plan it (pullPlan.ts: read and validate
 * its manifest, choose the files a selection asks for), then let the
 * freezer import it (`FrozenDataset.importTag`: refusals first, locks,
 * rollback), handing it a fetcher that downloads each missing object,
 * verified against its sha256 before it gets its name (packed files a
 * pack at a time, in as few ranged GETs as packs/reader.ts finds); then thaw it (only
 * the chosen files, for a partial pull). On any failure, cancellation
 * included, the local freezer is left as it was; the bucket is only read.
 *
 * @example await pullTag(ctx, "Cohort", "TestCohort", "v1", { force: false })
 * @example await pullTag(ctx, "Cohort", "RNA", "v1", { accessions: ["Sample1"] })   // its reads and the Cohort's tables
 */
import fsp from "node:fs/promises";
import { withLocalFaults } from "../disk/faults.js";
import { assertSpace } from "../disk/space.js";
import { hashFile } from "../freezer/files.js";
import type { FrozenDataset } from "../freezer/frozenDataset.js";
import { type FetchObject, wantedObjects } from "../freezer/importTag.js";
import { withoutPacks, type TagManifest } from "../freezer/manifest.js";
import { mismatchError } from "../integrity/hashingStream.js";
import { formatSlug } from "../names.js";
import type { ProgressListener } from "../progress.js";
import { objectKey, packKey } from "./layout.js";
import { isPacked } from "./packs/format.js";
import { fetchFromPack, type PackedFile } from "./packs/reader.js";
import { preparePull, type PullSelection } from "./pullPlan.js";
import type { CloudContext, OperationOptions } from "./remote.js";
import { downloadObject } from "./transfer/download.js";
import { wantsRangedRead } from "./transfer/rangedGet.js";

export interface PullCounts {
  downloaded: number;
  bytes: number;
  /** objects already in the local store */
  skipped: number;
  tag: string;
  /** files in the working copy now */
  files: number;
  /** the working copy holds only some files of the tag (a filtered pull) */
  partial: boolean;
  /** with accessions or where: the accessions selected */
  accessions?: string[];
}

export interface PullOptions extends OperationOptions, PullSelection {
  /** discard unsaved local changes */
  force?: boolean;
  onProgress?: ProgressListener;
}

export async function pullTag(ctx: CloudContext, dtype: string, name: string, tag: string, opts: PullOptions = {}): Promise<PullCounts> {
  return withLocalFaults({ dir: ctx.freezer.basedir, op: `pull ${formatSlug(dtype, name, tag)}` }, () => pullInto(ctx, dtype, name, tag, opts));
}

async function pullInto(ctx: CloudContext, dtype: string, name: string, tag: string, opts: PullOptions): Promise<PullCounts> {
  // One FrozenDataset for both steps: the thaw reuses the manifest the import wrote (datasetManifest.ts).
  const ds = ctx.freezer.dataset(dtype, name);
  const { counts, thawOnly, plan } = await fetchTag(ctx, ds, tag, opts);
  // The remote manifest and its pack maps are out of scope here: a large tag's thaw does not hold them too.
  await ds.thaw(tag, { force: opts.force, ...(thawOnly ? { only: thawOnly } : {}), onProgress: opts.onProgress, signal: opts.signal });
  return {
    downloaded: counts.fetched,
    bytes: counts.bytes,
    skipped: counts.present,
    tag,
    files: plan.files.thawed,
    partial: plan.partial,
    ...(plan.accessions ? { accessions: plan.accessions } : {}),
  };
}

/** Plans the pull and imports the tag into the freezer: its objects fetched and verified, its manifest committed. */
async function fetchTag(ctx: CloudContext, ds: FrozenDataset, tag: string, opts: PullOptions) {
  const { signal } = opts;
  const { manifest: remote, fetchOnly, thawOnly, plan, prefetched, release } = await preparePull(ctx, ds.dtype, ds.name, tag, opts);
  try {
    // Nothing is written when the tag cannot fit (a write that fails anyway is named by withLocalFaults).
    if (!plan.disk.enough) {
      await confirmSizes(ctx, remote, fetchOnly, signal);
      assertSpace({ dir: plan.disk.dir, needed: plan.disk.needed, available: plan.disk.free }, { op: `pull ${plan.slug}:${tag}` });
    }
    // The freezer keeps the tag without pack locations; packed files are fetched a pack at a time.
    const packed = packedFiles(remote);
    const pathsOf = pathsBySha(remote);
    const counts = await ds.importTag(withoutPacks(remote), objectFetcher(ctx, prefetched, signal), {
      force: opts.force,
      concurrency: ctx.concurrency,
      from: "the cloud",
      objectName: (sha) => (packed.has(sha) ? `${packKey(packed.get(sha)!.pack)} (at byte ${packed.get(sha)!.offset})` : objectKey(sha)),
      ...(fetchOnly ? { only: fetchOnly } : {}),
      batchOf: (e) => (prefetched.has(e.sha256) ? undefined : packed.get(e.sha256)?.pack),
      fetchBatch: (pack, entries, store) => fetchFromPack(ctx.backend, pack, entries.map((e) => packed.get(e.sha256)!), store, { pathsOf, ...(signal ? { signal } : {}) }),
      onProgress: opts.onProgress,
      signal,
    });
    return { counts, thawOnly, plan };
  } finally {
    await release();
  }
}

/** How many of the largest objects a "does not fit" verdict is checked against before it is believed. */
const SIZE_CONFIRMATIONS = 8;

/**
 * Before a pull is refused for want of space, the largest objects it would fetch are
 * HEADed: a manifest whose sizes lie (a damaged or forged bucket) is INTEGRITY naming
 * the object, not a "needs 8192 TiB" that sends the user shopping for disks.
 */
async function confirmSizes(ctx: CloudContext, manifest: TagManifest, only: Set<string> | undefined, signal?: AbortSignal): Promise<void> {
  const largest = [...wantedObjects(manifest, only).values()].sort((x, y) => y.size - x.size).slice(0, SIZE_CONFIRMATIONS);
  for (const entry of largest) {
    if (await ctx.freezer.blobs.has(entry.sha256)) continue;
    if (isPacked(entry)) {
      const key = packKey(entry.pack);
      const head = await ctx.backend.head(key, { signal });
      if (head.size < entry.offset + entry.size) throw mismatchError(`pack ${key} (file ${entry.sha256} at byte ${entry.offset})`, { size: entry.offset + entry.size }, { size: head.size });
      continue;
    }
    const key = objectKey(entry.sha256);
    const head = await ctx.backend.head(key, { signal });
    if (head.size !== entry.size) throw mismatchError(`object ${key}`, entry, { size: head.size });
  }
}

/** The packed files of a manifest, by sha256 (its own entries, not copies: one object per file, however large the tag). */
function packedFiles(m: TagManifest): Map<string, PackedFile> {
  const out = new Map<string, PackedFile>();
  for (const e of Object.values(m.files)) if (isPacked(e)) out.set(e.sha256, e);
  return out;
}

/** sha256 -> the paths holding it, built on first use (for messages about damaged files). */
function pathsBySha(m: TagManifest): (sha: string) => string[] {
  let map: Map<string, string[]> | undefined;
  return (sha) => {
    if (!map) {
      map = new Map();
      for (const [p, e] of Object.entries(m.files)) map.set(e.sha256, [...(map.get(e.sha256) ?? []), p]);
    }
    return map.get(sha) ?? [sha];
  };
}

/** Downloads an object into the freezer's temporary file: large ones as parallel ranges of the version HEAD describes. */
function objectFetcher(ctx: CloudContext, prefetched: ReadonlyMap<string, string>, signal?: AbortSignal): FetchObject {
  const { backend } = ctx;
  return async (entry, tmpFile, onBytes) => {
    const copy = prefetched.get(entry.sha256);
    if (copy) {
      // Read while planning (the selection's database): copied, and hashed again by the store's check.
      await fsp.copyFile(copy, tmpFile);
      onBytes(entry.size);
      return hashFile(tmpFile);
    }
    const key = objectKey(entry.sha256);
    const head = wantsRangedRead(backend, entry.size) ? await backend.head(key, { signal }) : undefined;
    return downloadObject(backend, key, tmpFile, { expect: () => entry, ...(head ? { head } : {}), mode: 0o444, onBytes, signal });
  };
}
