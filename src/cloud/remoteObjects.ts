/**
 * Which of a push's objects the bucket already holds, in as few requests
 * as the answer allows:
 *
 * - objects of a committed base tag (the parent, else `latest`, else the
 *   remote tag sharing the most objects) count as present unchecked: a
 *   manifest is written only after all its objects, and gc never deletes
 *   an object a manifest references (the push re-checks the base after
 *   committing, see push.ts);
 * - the rest are looked up: one HEAD each, or one LIST per
 *   `objects/sha256/<2 hex>/` shard when they share shards enough that
 *   listing takes fewer requests (a page holds 1000 keys), after one page
 *   of the whole `objects/sha256/` prefix, which is the whole answer in a
 *   bucket of fewer objects than a page.
 *
 * @example
 *   const base = await findBaseTag(ctx, manifest);
 *   const present = await remoteObjects(ctx, unchecked);
 */
import { hasCode } from "../errors.js";
import { LATEST_TAG, type FileEntry, type TagManifest } from "../freezer/manifest.js";
import { forEachLimit } from "../limits.js";
import { isObjectNotFound } from "./backends/errors.js";
import { manifestKey, OBJECTS_PREFIX, objectKey, objectShardPrefix, parseObjectKey } from "./layout.js";
import type { PackRef } from "./packs/format.js";
import { fetchManifestVersion, headOrUndefined, remoteTags, uniqueObjects, type CloudContext } from "./remote.js";

/** Keys in one page of an S3 listing. */
export const LIST_PAGE_KEYS = 1000;
/** Up to this many objects are always checked one HEAD each. */
export const HEAD_CHECK_LIMIT = 16;

export interface RemoteObject {
  size: number;
  lastModified: Date;
}

/** Which of the wanted objects the bucket holds, with their size and age. */
export async function remoteObjects(ctx: CloudContext, wanted: ReadonlyMap<string, FileEntry>, signal?: AbortSignal): Promise<Map<string, RemoteObject>> {
  const { backend } = ctx;
  const found = new Map<string, RemoteObject>();
  const shas = [...wanted.keys()];
  const shards = [...new Set(shas.map(objectShardPrefix))];
  if (shas.length <= HEAD_CHECK_LIMIT || shas.length < 2 * shards.length) {
    await forEachLimit(
      shas,
      ctx.concurrency,
      async (sha) => {
        const h = await headOrUndefined(backend, objectKey(sha), signal);
        if (h) found.set(sha, { size: h.size, lastModified: h.lastModified });
      },
      signal,
    );
    return found;
  }
  let seen = 0;
  for await (const o of backend.list(OBJECTS_PREFIX, { signal })) {
    const sha = parseObjectKey(o.key);
    if (sha && wanted.has(sha)) found.set(sha, { size: o.size, lastModified: o.lastModified });
    if (++seen >= LIST_PAGE_KEYS) break;
  }
  if (seen < LIST_PAGE_KEYS) return found;
  await forEachLimit(
    shards,
    ctx.concurrency,
    async (shard) => {
      for await (const o of backend.list(shard, { signal })) {
        const sha = parseObjectKey(o.key);
        if (sha && wanted.has(sha)) found.set(sha, { size: o.size, lastModified: o.lastModified });
      }
    },
    signal,
  );
  return found;
}

/** A committed tag whose objects a push counts as present without checking them. */
export interface BaseTag {
  tag: string;
  etag?: string;
  /** sha256 -> size, as the base manifest records them */
  objects: Map<string, number>;
  /** sha256 -> pack location, for the base's packed files */
  refs: Map<string, PackRef>;
}

/**
 * Picks the committed tag of the same dataset that shares most with
 * `manifest`: its parent when the bucket has it, else `latest`, else the
 * remote tag the local freezer shows sharing the most objects. One LIST of
 * the dataset's manifests and one GET; undefined when nothing fits.
 */
export async function findBaseTag(ctx: CloudContext, manifest: TagManifest, signal?: AbortSignal): Promise<BaseTag | undefined> {
  const { dtype, name, tag } = manifest;
  const remote = new Set(await remoteTags(ctx.backend, dtype, name, signal));
  remote.delete(tag);
  if (remote.size === 0) return undefined;
  let pick: string | undefined;
  if (manifest.parent !== null && remote.has(manifest.parent)) pick = manifest.parent;
  else if (remote.has(LATEST_TAG)) pick = LATEST_TAG;
  else {
    const ds = ctx.freezer.dataset(dtype, name);
    const local = ds.exists() ? ds.readManifest().tags : {};
    const mine = uniqueObjects(manifest);
    let best = 0;
    for (const t of remote) {
      const m = local[t];
      if (!m) continue;
      let shared = 0;
      for (const e of Object.values(m.files)) if (mine.has(e.sha256)) shared++;
      if (shared > best) [best, pick] = [shared, t];
    }
  }
  if (pick === undefined) return undefined;
  try {
    const { manifest: base, etag } = await fetchManifestVersion(ctx.backend, dtype, name, pick, signal);
    const objects = new Map<string, number>();
    const refs = new Map<string, PackRef>();
    for (const e of Object.values(base.files)) {
      objects.set(e.sha256, e.size);
      if (e.pack !== undefined && e.offset !== undefined) refs.set(e.sha256, { pack: e.pack, offset: e.offset });
    }
    return etag === undefined ? { tag: pick, objects, refs } : { tag: pick, etag, objects, refs };
  } catch (err) {
    // Gone since the LIST, or damaged: no shortcut, check every object.
    if (isObjectNotFound(err) || hasCode(err, "INTEGRITY")) return undefined;
    throw err;
  }
}

/** True when the base tag's manifest is still the version read (so its objects are still referenced). */
export async function baseStillCommitted(ctx: CloudContext, manifest: TagManifest, base: BaseTag, signal?: AbortSignal): Promise<boolean> {
  const h = await headOrUndefined(ctx.backend, manifestKey(manifest.dtype, manifest.name, base.tag), signal);
  return h !== undefined && (base.etag === undefined || h.etag === base.etag);
}
