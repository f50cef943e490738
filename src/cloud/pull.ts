/**
 * Pulling one tag of a dataset: read and validate its manifest, then let
 * the freezer import it (`FrozenDataset.importTag`: refusals first, locks,
 * rollback), handing it a fetcher that downloads each missing object,
 * verified against its sha256 before it gets its name; then thaw it.
 * On any failure, cancellation included, the local freezer is left as it
 * was; the bucket is only read.
 *
 * @example await pullTag(ctx, "Cohort", "TestCohort", "v1", { force: false })
 */
import { DatasetNotFoundError, TagNotFoundError } from "../errors.js";
import type { FetchObject } from "../freezer/importTag.js";
import type { TagManifest } from "../freezer/manifest.js";
import { formatSlug } from "../names.js";
import type { ProgressListener } from "../progress.js";
import { isObjectNotFound } from "./backends/errors.js";
import { objectKey } from "./layout.js";
import { fetchManifest, remoteTags, type CloudContext, type OperationOptions } from "./remote.js";
import { downloadObject } from "./transfer/download.js";
import { wantsRangedRead } from "./transfer/rangedGet.js";

export interface PullCounts {
  downloaded: number;
  bytes: number;
  /** objects already in the local freezer */
  skipped: number;
  tag: string;
}

export interface PullOptions extends OperationOptions {
  /** discard unsaved local changes */
  force?: boolean;
  onProgress?: ProgressListener;
}

export async function pullTag(ctx: CloudContext, dtype: string, name: string, tag: string, opts: PullOptions = {}): Promise<PullCounts> {
  const { signal } = opts;
  const manifest = await fetchTagManifest(ctx, dtype, name, tag, signal);
  const ds = ctx.freezer.dataset(dtype, name);
  const counts = await ds.importTag(manifest, objectFetcher(ctx, signal), {
    force: opts.force,
    concurrency: ctx.concurrency,
    from: "the cloud",
    objectName: objectKey,
    onProgress: opts.onProgress,
    signal,
  });
  await ds.thaw(tag, { force: opts.force, onProgress: opts.onProgress, signal });
  return { downloaded: counts.fetched, bytes: counts.bytes, skipped: counts.present, tag };
}

/** The manifest of a tag in the bucket; DATASET_NOT_FOUND / TAG_NOT_FOUND (naming the tags there) when absent. */
async function fetchTagManifest(ctx: CloudContext, dtype: string, name: string, tag: string, signal?: AbortSignal): Promise<TagManifest> {
  try {
    return await fetchManifest(ctx.backend, dtype, name, tag, signal);
  } catch (err) {
    if (!isObjectNotFound(err)) throw err;
    const tags = await remoteTags(ctx.backend, dtype, name, signal);
    if (tags.length === 0) throw new DatasetNotFoundError(formatSlug(dtype, name), "cloud");
    throw new TagNotFoundError(formatSlug(dtype, name), tag, "cloud", tags);
  }
}

/** Downloads an object into the freezer's temporary file: large ones as parallel ranges of the version HEAD describes. */
function objectFetcher(ctx: CloudContext, signal?: AbortSignal): FetchObject {
  const { backend } = ctx;
  return async (entry, tmpFile, onBytes) => {
    const key = objectKey(entry.sha256);
    const head = wantsRangedRead(backend, entry.size) ? await backend.head(key, { signal }) : undefined;
    return downloadObject(backend, key, tmpFile, { expect: () => entry, ...(head ? { head } : {}), mode: 0o444, onBytes, signal });
  };
}
