/**
 * gc's part for packs (the rule is in gc.ts): list packs and indexes
 * before the manifests, then delete each unreferenced pack older than the
 * grace period — looked at again just before, its index first — and
 * indexes whose pack is gone, once old.
 *
 * @example
 *   const packs = await listPacks(ctx, signal);          // before reading manifests
 *   await collectPacks(ctx, packs, referencedPacks, cutoff, false, result, signal);
 */
import { forEachLimit } from "../../limits.js";
import type { ObjectInfo } from "../backends/backend.js";
import { PACK_INDEX_PREFIX, packIndexKey, packKey, PACKS_PREFIX, parsePackIndexKey, parsePackKey } from "../layout.js";
import { headOrUndefined, type CloudContext } from "../remote.js";

/** Packs and indexes of the bucket, by pack sha256. */
export interface PackListing {
  packs: Map<string, ObjectInfo>;
  indexes: Map<string, ObjectInfo>;
}

/** Lists packs, then their indexes (a push writes a pack before its index). @example (await listPacks(ctx)).packs.size */
export async function listPacks(ctx: CloudContext, signal?: AbortSignal): Promise<PackListing> {
  const out: PackListing = { packs: new Map(), indexes: new Map() };
  for await (const o of ctx.backend.list(PACKS_PREFIX, { signal })) {
    const sha = parsePackKey(o.key);
    if (sha) out.packs.set(sha, o);
  }
  for await (const o of ctx.backend.list(PACK_INDEX_PREFIX, { signal })) {
    const sha = parsePackIndexKey(o.key);
    if (sha) out.indexes.set(sha, o);
  }
  return out;
}

/** What collectPacks counts into gc's result. */
export interface PackCounts {
  bytes: number;
  packsDeleted: number;
  packsReferenced: number;
  packsYoung: number;
}

/** Deletes (or, dry, counts) unreferenced old packs and orphaned old indexes. */
export async function collectPacks(
  ctx: CloudContext,
  listing: PackListing,
  referenced: ReadonlySet<string>,
  cutoff: number,
  dryRun: boolean,
  result: PackCounts,
  signal?: AbortSignal,
): Promise<void> {
  const { backend } = ctx;
  const victims: Array<{ sha: string; size: number }> = [];
  for (const [sha, o] of listing.packs) {
    if (referenced.has(sha)) result.packsReferenced++;
    else if (o.lastModified.getTime() > cutoff) result.packsYoung++;
    else victims.push({ sha, size: o.size });
  }
  const orphans = [...listing.indexes].filter(([sha, o]) => !listing.packs.has(sha) && !referenced.has(sha) && o.lastModified.getTime() <= cutoff).map(([sha]) => sha);
  if (dryRun) {
    result.packsDeleted += victims.length;
    for (const v of victims) result.bytes += v.size;
    return;
  }
  await forEachLimit(victims, ctx.concurrency, async (v) => {
    // A push may have refreshed it since the listing, to commit a tag reusing it (see gc.ts).
    const now = await headOrUndefined(backend, packKey(v.sha), signal);
    if (!now) return;
    if (now.lastModified.getTime() > cutoff) {
      result.packsYoung++;
      return;
    }
    await backend.delete(packIndexKey(v.sha), { signal });
    await backend.delete(packKey(v.sha), { signal });
    result.packsDeleted++;
    result.bytes += v.size;
  }, signal);
  await forEachLimit(orphans, ctx.concurrency, async (sha) => {
    if (await headOrUndefined(backend, packKey(sha), signal)) return; // its pack arrived since the listing
    await backend.delete(packIndexKey(sha), { signal });
  }, signal);
}
