/**
 * Finding files a push would send in packs the bucket already holds
 * (dedup across tags and datasets): one LIST of `packs/index/`, a GET of
 * each index (small), then a HEAD of each pack holding a wanted file, so
 * that only packs that exist, with the size their index records, count.
 * A bucket without packs costs one LIST that finds nothing.
 *
 * @example
 *   const found = await findInPacks(ctx, new Set(["ab12..."]));
 *   found.refs.get("ab12...")   // { pack, offset }
 */
import { hasCode } from "../../errors.js";
import { forEachLimit } from "../../limits.js";
import { isObjectNotFound } from "../backends/errors.js";
import { PACK_INDEX_PREFIX, packIndexKey, packKey, parsePackIndexKey } from "../layout.js";
import { headOrUndefined, readSmallObject, type CloudContext } from "../remote.js";
import type { RemoteObject } from "../remoteObjects.js";
import { MAX_PACK_INDEX_BYTES, parsePackIndex, type PackIndex, type PackRef } from "./format.js";

/** Packs a push relies on: their index (to send one again) and what the bucket said of them. */
export interface UsedPack {
  index: PackIndex;
  remote: RemoteObject;
}

export interface PackLookup {
  /** file sha256 -> where it is */
  refs: Map<string, PackRef>;
  /** pack sha256 -> the pack */
  packs: Map<string, UsedPack>;
}

/**
 * Which of `wanted` (file sha256 -> size) are in an existing pack. Damaged
 * or unreadable indexes are skipped (they only cost dedup).
 *
 * @example (await findInPacks(ctx, wanted)).refs.size
 */
export async function findInPacks(ctx: CloudContext, wanted: ReadonlyMap<string, number>, signal?: AbortSignal): Promise<PackLookup> {
  const out: PackLookup = { refs: new Map(), packs: new Map() };
  if (wanted.size === 0) return out;
  const { backend } = ctx;
  const indexes: string[] = [];
  for await (const o of backend.list(PACK_INDEX_PREFIX, { signal })) {
    const sha = parsePackIndexKey(o.key);
    if (sha) indexes.push(sha);
  }
  const candidates = new Map<string, PackIndex>();
  await forEachLimit(indexes, ctx.concurrency, async (pack) => {
    let idx: PackIndex;
    try {
      const { data } = await readSmallObject(backend, packIndexKey(pack), MAX_PACK_INDEX_BYTES, signal);
      idx = parsePackIndex(data.toString("utf8"), packIndexKey(pack), pack);
    } catch (err) {
      if (isObjectNotFound(err) || hasCode(err, "INTEGRITY")) return;
      throw err;
    }
    if (idx.files.some((f) => wanted.get(f.sha256) === f.size)) candidates.set(pack, idx);
  }, signal);
  // Packs in index order (sorted keys), so two pushes of the same tag choose alike.
  for (const pack of [...candidates.keys()].sort()) {
    const idx = candidates.get(pack)!;
    const head = await headOrUndefined(backend, packKey(pack), signal);
    if (!head || head.size !== idx.size) continue; // gone (gc), or not what its index says
    let used = false;
    for (const f of idx.files) {
      if (wanted.get(f.sha256) !== f.size || out.refs.has(f.sha256)) continue;
      out.refs.set(f.sha256, { pack, offset: f.offset });
      used = true;
    }
    if (used) out.packs.set(pack, { index: idx, remote: { size: head.size, lastModified: head.lastModified } });
  }
  return out;
}
