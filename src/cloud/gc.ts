/**
 * Reclaiming space in the bucket.
 *
 * `gc` deletes the objects no manifest references, and aborts unfinished
 * multipart uploads. The rule that keeps a concurrent push safe:
 *
 *   gc never deletes an object (nor aborts an upload) younger than the
 *   grace period (GC_GRACE_MS, 24 h), and it lists the objects BEFORE the
 *   manifests.
 *
 * A push uploads objects first and its manifest last, so until the manifest
 * lands its new objects are unreferenced — but young. An object a push
 * reuses may be old and unreferenced (its tag was removed); the push
 * refreshes any reused object older than half the grace period and
 * re-checks before committing if it ran longer than that (push.ts).
 * A push may refresh such an object and commit its tag while gc is still
 * reading manifests (its listing then shows the object old and
 * unreferenced): so gc looks at each victim again (HEAD) immediately
 * before deleting it (one at a time: no batch delete) and keeps it when it
 * is young now; and the push, once its tag is committed, waits
 * REFRESH_SETTLE_MS (2 s), checks that every object it refreshed is still
 * there and sends any that is not again. An object a committed manifest
 * needs can therefore only go missing if the gc process stalls for more
 * than those 2 s between two consecutive requests (its re-check and its
 * delete of that object) while a push refreshes it and commits; S3 has no
 * conditional delete that would close that window entirely.
 *
 * Packs (layout version 2) follow the same rule as a whole: a pack is kept
 * while any manifest references any file in it, or while it is younger
 * than the grace period; packs and their indexes are listed with the
 * objects, before the manifests. An unreferenced old pack is looked at
 * again (HEAD) just before its delete; its index goes first (a push finds
 * packs through their index, and relies on a pack only after a HEAD of it),
 * then the pack. An index whose pack is gone is deleted once old.
 *
 * With `repack`, gc also rewrites old packs that are mostly dead bytes
 * (packs/repack.ts): their live files go to new packs, the manifests are
 * pointed there, and the old packs become unreferenced, for a later gc.
 *
 * gc also deletes the share objects of expired links (share.ts).
 *
 * `nuke` deletes everything minus80 stored under the prefix (the marker,
 * objects, manifests, raw files, the index, share objects) and aborts pending uploads; other keys in
 * a shared bucket are left alone.
 */
import { hasCode, IntegrityError } from "../errors.js";
import { forEachLimit } from "../limits.js";
import { isObjectNotFound } from "./backends/errors.js";
import { DATASETS_PREFIX, LAYOUT_ROOTS, OBJECTS_PREFIX, parseManifestKey, parseObjectKey, parseShareKey, SHARES_PREFIX } from "./layout.js";
import { deleteMarker } from "./marker.js";
import { collectPacks, listPacks } from "./packs/gcPacks.js";
import type { PackedFile } from "./packs/reader.js";
import { repackPacks } from "./packs/repack.js";
import { fetchManifest, headOrUndefined, type CloudContext, type OperationOptions } from "./remote.js";

/** Objects gc never deletes when younger than this (overridable for tests). */
export const GC_GRACE_MS = 24 * 60 * 60 * 1000;

/** How far a server's report of when an upload started may be ahead of the truth (rounded up to the second). */
const UPLOAD_TIME_ROUNDING_MS = 1000;

export interface GcOptions extends OperationOptions {
  /** only report what would be deleted */
  dryRun?: boolean;
  /** also repack old packs whose live files fill less than half of them (packs/repack.ts) */
  repack?: boolean;
}

export interface GcResult {
  dryRun: boolean;
  /** unreferenced objects deleted (or that would be, with dryRun) */
  deleted: number;
  bytes: number;
  /** unreferenced objects kept because they are younger than the grace period */
  young: number;
  /** objects some manifest references */
  referenced: number;
  manifests: number;
  /** stale multipart uploads aborted (or that would be) */
  uploadsAborted: number;
  /** share objects of expired links deleted (or that would be) */
  sharesExpired: number;
  /** unreferenced packs deleted, with their indexes (or that would be); their bytes are in `bytes` */
  packsDeleted: number;
  /** packs some manifest references (by any file in them) */
  packsReferenced: number;
  /** unreferenced packs kept because they are younger than the grace period */
  packsYoung: number;
  /** with `repack`: what was repacked (packs/repack.ts) */
  packsRepacked: number;
  packsWritten: number;
  manifestsRewritten: number;
  /** with `repack`: bytes of the repacked packs, which a later gc frees once they are old */
  repackFreeable: number;
}

/**
 * @example await gc(ctx, { dryRun: true })  // { deleted: 3, bytes: 1234, young: 0, ... }
 */
export async function gc(ctx: CloudContext, opts: GcOptions = {}): Promise<GcResult> {
  const { backend } = ctx;
  const { signal } = opts;
  const dryRun = opts.dryRun ?? false;
  const cutoff = Date.now() - ctx.gcGraceMs;

  // Objects first, manifests second (see the rule above).
  const objects: Array<{ key: string; sha: string; size: number; lastModified: Date }> = [];
  for await (const o of backend.list(OBJECTS_PREFIX, { signal })) {
    const sha = parseObjectKey(o.key);
    if (sha) objects.push({ ...o, sha }); // keys outside the layout are not ours to delete
  }
  const packs = await listPacks(ctx, signal);
  const manifestKeys: Array<{ dtype: string; name: string; tag: string }> = [];
  for await (const o of backend.list(DATASETS_PREFIX, { signal })) {
    const m = parseManifestKey(o.key);
    if (m) manifestKeys.push(m);
  }
  const referenced = new Set<string>();
  const referencedPacks = new Set<string>();
  /** with repack: each pack's live files, and the manifests naming it */
  const live = new Map<string, Map<string, PackedFile>>();
  const users = new Map<string, Array<{ dtype: string; name: string; tag: string }>>();
  await forEachLimit(manifestKeys, ctx.concurrency, async ({ dtype, name, tag }) => {
    let m;
    try {
      m = await fetchManifest(backend, dtype, name, tag, signal);
    } catch (err) {
      if (isObjectNotFound(err)) return; // removed meanwhile
      if (hasCode(err, "INTEGRITY")) {
        // Its references are unknown: deleting anything could destroy data it needs.
        throw new IntegrityError(`gc stopped: ${err.message}; remove or re-push that tag, then run gc again`, { ...err.data });
      }
      throw err;
    }
    const named = new Set<string>();
    for (const e of Object.values(m.files)) {
      if (e.pack === undefined) referenced.add(e.sha256);
      else {
        referencedPacks.add(e.pack);
        if (!opts.repack) continue;
        if (!live.has(e.pack)) live.set(e.pack, new Map());
        live.get(e.pack)!.set(e.sha256, { sha256: e.sha256, size: e.size, pack: e.pack, offset: e.offset! });
        named.add(e.pack);
      }
    }
    for (const pack of named) {
      if (!users.has(pack)) users.set(pack, []);
      users.get(pack)!.push({ dtype, name, tag });
    }
  }, signal);

  const victims: Array<{ key: string; size: number }> = [];
  const result: GcResult = {
    dryRun, deleted: 0, bytes: 0, young: 0, referenced: 0, manifests: manifestKeys.length, uploadsAborted: 0, sharesExpired: 0, packsDeleted: 0, packsReferenced: 0, packsYoung: 0,
    packsRepacked: 0, packsWritten: 0, manifestsRewritten: 0, repackFreeable: 0,
  };
  for (const o of objects) {
    if (referenced.has(o.sha)) result.referenced++;
    else if (o.lastModified.getTime() > cutoff) result.young++;
    else victims.push({ key: o.key, size: o.size });
  }
  if (dryRun) {
    result.deleted = victims.length;
    for (const v of victims) result.bytes += v.size;
  } else {
    // A push may have refreshed one since the listing, to commit a tag reusing it (see above):
    // each is looked at again immediately before its own delete, so the window stays one request wide.
    await forEachLimit(victims, ctx.concurrency, async (v) => {
      const now = await headOrUndefined(backend, v.key, signal);
      if (!now) return; // gone already (another gc)
      if (now.lastModified.getTime() > cutoff) {
        result.young++;
        return;
      }
      await backend.delete(v.key, { signal });
      result.deleted++;
      result.bytes += v.size;
    }, signal);
  }

  await collectPacks(ctx, packs, referencedPacks, cutoff, dryRun, result, signal);
  if (opts.repack) await repackPacks(ctx, { listing: packs, live, users, cutoff, dryRun }, result, signal);

  // A share link's grant is useless once the link expired (its expiry is in its key; see share.ts).
  for await (const o of backend.list(SHARES_PREFIX, { signal })) {
    const expires = parseShareKey(o.key);
    if (!expires || expires.getTime() > Date.now()) continue;
    result.sharesExpired++;
    if (!dryRun) await backend.delete(o.key, { signal });
  }

  for await (const u of backend.listUploads("", { signal })) {
    // Swift reports an upload's start rounded up to the next second.
    if (u.initiated.getTime() > cutoff + UPLOAD_TIME_ROUNDING_MS) continue;
    result.uploadsAborted++;
    if (!dryRun) await backend.abortUpload(u, { signal });
  }
  return result;
}

export interface NukeResult {
  deleted: number;
  uploadsAborted: number;
}

/**
 * Deletes every minus80 key under the prefix.
 *
 * @example await nuke(ctx)  // { deleted: 42, uploadsAborted: 0 }
 */
export async function nuke(ctx: CloudContext, opts: OperationOptions = {}): Promise<NukeResult> {
  const { backend } = ctx;
  const { signal } = opts;
  const keys: string[] = [];
  for (const root of LAYOUT_ROOTS) for await (const o of backend.list(root, { signal })) keys.push(o.key);
  let uploadsAborted = 0;
  for await (const u of backend.listUploads("", { signal })) {
    await backend.abortUpload(u, { signal });
    uploadsAborted++;
  }
  // Manifests first, so no reader ever sees a tag whose objects are already gone.
  await backend.deleteMany(keys.filter((k) => k.startsWith(DATASETS_PREFIX)), { signal });
  await backend.deleteMany(keys.filter((k) => !k.startsWith(DATASETS_PREFIX)), { signal });
  const marker = await deleteMarker(backend, signal);
  return { deleted: keys.length + marker, uploadsAborted };
}
