/**
 * Pushing one local tag of a dataset: the dedup, integrity and ordering
 * rules, written once above the Backend interface.
 *
 *   1. An identical tag already in the bucket (same `total`) is a no-op; a
 *      different one is TAG_CONFLICT (`latest` alone may be replaced).
 *   2. Find which objects the bucket already holds (remoteObjects.ts), as
 *      single objects or inside packs (packs/lookup.ts).
 *   3. Upload only the missing ones, each re-hashed as it is read: many
 *      small ones together as packs (packs/writer.ts), the rest one object
 *      each. The first pack moves the layout marker to version 2.
 *   4. Write the manifest LAST, create-only (`If-None-Match: *`), then read
 *      it back: a reader never sees a tag whose objects are missing, and of
 *      two writers of one new tag exactly one wins.
 *
 * gc safety (see gc.ts): gc deletes only unreferenced objects older than
 * its grace period. A push therefore refreshes (touches) any object it
 * reuses that is older than half the grace period, re-checks the bucket if
 * it took longer than that before committing, and after committing makes
 * sure every object it refreshed (or counted present through a base tag
 * removed meanwhile) is still there.
 *
 * The planning (steps 1 and 2, and the refusals) is pushPlan.ts, which a
 * dry run shares.
 *
 * Cancelled (`signal`), a push stops before its manifest: the objects it
 * sent stay unreferenced, invisible to readers, and gc reclaims them after
 * the grace period (deleting them could break a concurrent push reusing them).
 *
 * @example await pushTag(ctx, ds.tag("v1"), counts, { onProgress })
 */
import { CredentialsError, hasCode, IntegrityError, throwIfCancelled, UnreachableError } from "../errors.js";
import { LATEST_TAG, MANIFEST_VERSION_PACKED, parseTagManifest, summaryOf, tagManifestBody, withoutPacks, type TagManifest } from "../freezer/manifest.js";
import { forEachLimit, sleep } from "../limits.js";
import { formatSlug } from "../names.js";
import { TransferMeter, type ProgressListener } from "../progress.js";
import { manifestKey, objectKey, packKey } from "./layout.js";
import { writeCreateOnly, type CreateProtocol } from "./createOnly.js";
import { ensureMarker, LAYOUT_VERSION, PACKED_LAYOUT_VERSION } from "./marker.js";
import { remoteManifest, splitForPacks } from "./packs/plan.js";
import { ensurePacksThere, recheckPacks, refreshPacks } from "./packs/refresh.js";
import { writePack } from "./packs/writer.js";
import { checkRemote, notLocalError, planTag, tagConflict } from "./pushPlan.js";
import { headOrUndefined, holdsExactly, MAX_MANIFEST_BYTES, readSmallObject, type CloudContext, type OperationOptions } from "./remote.js";
import { baseStillCommitted } from "./remoteObjects.js";
import { uploadFile } from "./transfer/upload.js";

/** Existence checks per push at most (a push slower than half the grace period checks again). */
export const MAX_PUSH_PASSES = 3;
/**
 * How long a push that refreshed old objects waits after committing before
 * checking they are still there: a gc that judged one just before the
 * refresh deletes it within this time, unless its process stalls longer
 * between two requests (see gc.ts). Paid only when old unreferenced
 * objects are reused.
 */
export const REFRESH_SETTLE_MS = 2000;
/** Packs built and sent at once (each is built in a temporary file of up to PACK_TARGET_BYTES and more). */
export const PACKS_IN_FLIGHT = 4;

export interface PushCounts {
  /** files uploaded, as single objects or inside packs */
  uploaded: number;
  /** bytes of the files uploaded */
  bytes: number;
  /** packs written (each holding many of the files uploaded) */
  packs: number;
  /** objects not uploaded because the bucket had them */
  skipped: number;
  /** manifests written */
  manifests: number;
  /** tags written, in order */
  tags: string[];
  /** tags already there, identical */
  unchanged: string[];
  /** how new tags were committed: the server enforced create-only writes, or they were read back (see createOnly.ts) */
  commit?: CreateProtocol;
  catalog?: CatalogOutcome;
}

/** With `cloud.catalog_on_push`: where the rewritten catalog page is, or why it could not be written (the push itself succeeded). */
export type CatalogOutcome = { page: string } | { error: string; code: string };

export interface PushOptions extends OperationOptions {
  onProgress?: ProgressListener;
}

export function emptyPushCounts(): PushCounts {
  return { uploaded: 0, bytes: 0, packs: 0, skipped: 0, manifests: 0, tags: [], unchanged: [] };
}

/** Pushes one local tag; `counts` accumulates what was done. */
export async function pushTag(ctx: CloudContext, local: TagManifest, counts: PushCounts, opts: PushOptions = {}): Promise<void> {
  const { backend, freezer } = ctx;
  const { signal } = opts;
  const manifest = withoutPacks(local); // pack locations are the bucket's own, found afresh
  const { dtype, name, tag } = manifest;
  const slug = formatSlug(dtype, name, tag);

  const plan = await planTag(ctx, manifest, (sha) => freezer.blobs.has(sha), signal);
  const { wanted, base, unchecked } = plan;
  if (plan.unchanged) {
    counts.unchanged.push(tag);
    counts.skipped += wanted.size;
    return;
  }

  const send = async (sha: string, onBytes?: (n: number) => void) => {
    // A file a partial pull did not fetch: only the bucket had it.
    if (plan.notLocal.has(sha)) throw notLocalError(manifest, sha);
    const entry = wanted.get(sha)!;
    await uploadFile(backend, objectKey(sha), freezer.blobs.sourceOf(sha), { size: entry.size, signal, ...(onBytes ? { onBytes } : {}) });
    counts.uploaded++;
    counts.bytes += entry.size;
  };

  // Upload what is missing; if that took so long that gc's grace could have
  // run out for objects counted as present, check again before committing.
  const sent = new Set<string>();
  /** objects found old in the bucket and refreshed (touched or sent again): gc may be about to delete them */
  const refreshed = new Set<string>();
  /** file sha256 -> its place in a pack, for the manifest the bucket gets */
  const refs = new Map(plan.packed);
  /** packs this tag relies on besides its base's: reused (found through their index) or written now */
  const used = new Map(plan.packs);
  const refreshedPacks = new Set<string>();
  for (let pass = 1; ; pass++) {
    const check = pass === 1 ? plan : await checkRemote(ctx, withoutKeys(unchecked, refs), signal);
    const { checkedAt, present, missing, stale } = check;
    for (const sha of stale) refreshed.add(sha);
    await forEachLimit(stale, ctx.concurrency, async (sha) => {
      try {
        const touched = await backend.touch(objectKey(sha), { signal });
        // A server that ignores the refresh (s3rver) reports the old time: send the object again.
        if (touched && touched.getTime() <= present.get(sha)!.lastModified.getTime()) missing.push(sha);
      } catch (err) {
        if (err instanceof CredentialsError || err instanceof UnreachableError || hasCode(err, "CANCELLED")) throw err;
        missing.push(sha); // could not refresh it (gone, or too large to copy): send it again
      }
    }, signal);
    // Reused packs: refresh the old ones; one gone or not refreshable is given up, its files sent again.
    const packCheck = pass === 1 ? { gone: [], stale: plan.stalePacks } : await recheckPacks(ctx, used, checkedAt, signal);
    const { refreshed: kept, lost } = await refreshPacks(ctx, packCheck.stale, used, signal);
    for (const pack of kept) refreshedPacks.add(pack);
    for (const pack of [...lost, ...packCheck.gone]) {
      used.delete(pack);
      refreshedPacks.delete(pack);
      for (const [sha, ref] of refs) if (ref.pack === pack) (refs.delete(sha), missing.push(sha));
    }
    const split = splitForPacks(missing, wanted);
    await ensureMarker(ctx, signal, split.groups.length > 0 || refs.size > 0 ? PACKED_LAYOUT_VERSION : LAYOUT_VERSION);
    const meter = new TransferMeter("upload", missing.reduce((n, sha) => n + wanted.get(sha)!.size, 0), opts.onProgress);
    await forEachLimit(split.single, ctx.concurrency, async (sha) => {
      await send(sha, (n) => meter.set(objectKey(sha), n));
      meter.set(objectKey(sha), wanted.get(sha)!.size);
      sent.add(sha);
    }, signal);
    await forEachLimit(split.groups, Math.min(ctx.concurrency, PACKS_IN_FLIGHT), async (group, i) => {
      for (const e of group) if (plan.notLocal.has(e.sha256)) throw notLocalError(manifest, e.sha256);
      const index = await writePack(ctx, group, { ...(signal ? { signal } : {}), onBytes: (n) => meter.set(`pack ${pass}.${i}`, n) });
      for (const f of index.files) (refs.set(f.sha256, { pack: index.pack, offset: f.offset }), sent.add(f.sha256));
      used.set(index.pack, { index, remote: { size: index.size, lastModified: new Date() } });
      counts.packs++;
      counts.uploaded += index.files.length;
      counts.bytes += index.size;
    }, signal);
    meter.done();
    if (Date.now() - checkedAt <= ctx.gcGraceMs / 2 || pass >= MAX_PUSH_PASSES) break;
  }
  counts.skipped += wanted.size - sent.size;

  throwIfCancelled(signal);
  const remote = remoteManifest(manifest, refs);
  await commitManifest(ctx, remote, counts, slug, signal);
  // A writer from before packs may have put its version-1 marker over ours meanwhile: put it back.
  if (remote.version === MANIFEST_VERSION_PACKED) await ensureMarker(ctx, signal, PACKED_LAYOUT_VERSION);
  // The base tag was removed or replaced before this tag was committed: its objects were not
  // referenced all along, so treat them as refreshed ones (wait for a racing gc, check, re-send).
  const baseGone = base !== undefined && unchecked.size < wanted.size && !(await baseStillCommitted(ctx, manifest, base, signal));
  if (baseGone) for (const sha of wanted.keys()) if (!unchecked.has(sha) && !refs.has(sha)) refreshed.add(sha);
  // A gc that judged a refreshed object (old, unreferenced) just before this push refreshed it
  // may still delete it: now that the tag is committed (gc keeps what it references), give
  // such a gc time to finish, make sure each is there, and send it again if not (see gc.ts).
  if (refreshed.size > 0 || refreshedPacks.size > 0 || baseGone) await sleep(Math.min(REFRESH_SETTLE_MS, ctx.gcGraceMs), signal);
  await forEachLimit([...refreshed], ctx.concurrency, async (sha) => {
    const h = await headOrUndefined(backend, objectKey(sha), signal);
    if (h && h.size === wanted.get(sha)!.size) return;
    await send(sha);
  }, signal);
  await ensurePacksThere(ctx, [...refreshedPacks].map((p) => used.get(p)!.index), slug, signal);
  if (baseGone) await checkBasePacks(ctx, remote, used, slug, signal);
  counts.tags.push(tag);
}

/**
 * The base tag went away before this tag was committed: the packs this tag
 * relies on through it were not referenced all along, and a gc beside the
 * push may have deleted one. Such a pack cannot be sent again (its other
 * files need not be local), so the tag is withdrawn (its manifest deleted)
 * and INTEGRITY says to push again, which then packs those files anew.
 */
async function checkBasePacks(ctx: CloudContext, remote: TagManifest, used: ReadonlyMap<string, unknown>, slug: string, signal?: AbortSignal): Promise<void> {
  // The packs the tag names that it neither wrote nor found through their index: its base's.
  const packs = new Set<string>();
  for (const e of Object.values(remote.files)) if (e.pack !== undefined && !used.has(e.pack)) packs.add(e.pack);
  for (const pack of packs) {
    if (await headOrUndefined(ctx.backend, packKey(pack), signal)) continue;
    await ctx.backend.delete(manifestKey(remote.dtype, remote.name, remote.tag), { signal });
    throw new IntegrityError(`${slug} was withdrawn: its base tag was removed during the push and a gc beside it deleted pack ${packKey(pack)} holding some of its files; push it again`, { slug, key: packKey(pack) });
  }
}

/** `m` without the keys of `drop`. */
function withoutKeys<V>(m: ReadonlyMap<string, V>, drop: ReadonlyMap<string, unknown>): Map<string, V> {
  const out = new Map<string, V>();
  for (const [k, v] of m) if (!drop.has(k)) out.set(k, v);
  return out;
}

/** Writes the manifest (create-only unless `latest`) and reads it back: another writer's tag wins only if identical. */
async function commitManifest(ctx: CloudContext, manifest: TagManifest, counts: PushCounts, slug: string, signal?: AbortSignal): Promise<void> {
  const { dtype, name, tag } = manifest;
  const mutable = tag === LATEST_TAG;
  const body = tagManifestBody(manifest);
  const key = manifestKey(dtype, name, tag);
  const put = (ifNoneMatch: boolean) => ctx.backend.put(key, body.open, { size: body.size, ifNoneMatch, signal });
  try {
    if (mutable) await put(false);
    else counts.commit = await writeCreateOnly(ctx, key, put, signal);
    counts.manifests++;
  } catch (err) {
    // Someone wrote the tag meanwhile (or our own retried write landed): the read-back decides.
    if (!hasCode(err, "FILE_EXISTS")) throw err;
  }
  if (mutable) return;
  // Read-back: catches a concurrent writer on servers that ignore If-None-Match. Our own
  // bytes back are hashed as they stream, neither gathered nor parsed (for a large tag,
  // another copy of every entry at the push's peak); another writer's are read and parsed.
  if (await holdsExactly(ctx.backend, key, body, signal)) {
    ctx.committed?.set(key, { size: body.size, summary: summaryOf(manifest) });
    return;
  }
  const { data } = await readSmallObject(ctx.backend, key, MAX_MANIFEST_BYTES, signal);
  const back = parseTagManifest(data.toString("utf8"), key, { dtype, name, tag });
  if (back.total !== manifest.total) throw tagConflict(slug, manifest, back);
}
