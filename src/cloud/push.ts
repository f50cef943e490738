/**
 * Pushing one local tag of a dataset: the dedup, integrity and ordering
 * rules, written once above the Backend interface.
 *
 *   1. An identical tag already in the bucket (same `total`) is a no-op; a
 *      different one is TAG_CONFLICT (`latest` alone may be replaced).
 *   2. Find which objects the bucket already holds (remoteObjects.ts).
 *   3. Upload only the missing ones, each re-hashed as it is read.
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
import { CredentialsError, hasCode, throwIfCancelled, UnreachableError } from "../errors.js";
import { LATEST_TAG, serializeTagManifest, type TagManifest } from "../freezer/manifest.js";
import { forEachLimit, sleep } from "../limits.js";
import { formatSlug } from "../names.js";
import { TransferMeter, type ProgressListener } from "../progress.js";
import { manifestKey, objectKey } from "./layout.js";
import { writeCreateOnly, type CreateProtocol } from "./createOnly.js";
import { ensureMarker } from "./marker.js";
import { checkRemote, notLocalError, planTag, tagConflict } from "./pushPlan.js";
import { fetchManifest, headOrUndefined, type CloudContext, type OperationOptions } from "./remote.js";
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

export interface PushCounts {
  /** objects uploaded */
  uploaded: number;
  /** bytes of the objects uploaded */
  bytes: number;
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
  return { uploaded: 0, bytes: 0, skipped: 0, manifests: 0, tags: [], unchanged: [] };
}

/** Pushes one local tag; `counts` accumulates what was done. */
export async function pushTag(ctx: CloudContext, manifest: TagManifest, counts: PushCounts, opts: PushOptions = {}): Promise<void> {
  const { backend, freezer } = ctx;
  const { signal } = opts;
  const { dtype, name, tag } = manifest;
  const slug = formatSlug(dtype, name, tag);

  const plan = await planTag(ctx, manifest, (sha) => freezer.blobs.has(sha), signal);
  const { wanted, base, unchecked } = plan;
  if (plan.unchanged) {
    counts.unchanged.push(tag);
    counts.skipped += wanted.size;
    return;
  }

  await ensureMarker(ctx, signal);
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
  for (let pass = 1; ; pass++) {
    const { checkedAt, present, missing, stale } = pass === 1 ? plan : await checkRemote(ctx, unchecked, signal);
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
    const meter = new TransferMeter("upload", missing.reduce((n, sha) => n + wanted.get(sha)!.size, 0), opts.onProgress);
    await forEachLimit(missing, ctx.concurrency, async (sha) => {
      await send(sha, (n) => meter.set(objectKey(sha), n));
      meter.set(objectKey(sha), wanted.get(sha)!.size);
      sent.add(sha);
    }, signal);
    meter.done();
    if (Date.now() - checkedAt <= ctx.gcGraceMs / 2 || pass >= MAX_PUSH_PASSES) break;
  }
  counts.skipped += wanted.size - sent.size;

  throwIfCancelled(signal);
  await commitManifest(ctx, manifest, counts, slug, signal);
  // The base tag was removed or replaced before this tag was committed: its objects were not
  // referenced all along, so treat them as refreshed ones (wait for a racing gc, check, re-send).
  if (base && unchecked.size < wanted.size && !(await baseStillCommitted(ctx, manifest, base, signal))) {
    for (const sha of wanted.keys()) if (!unchecked.has(sha)) refreshed.add(sha);
  }
  // A gc that judged a refreshed object (old, unreferenced) just before this push refreshed it
  // may still delete it: now that the tag is committed (gc keeps what it references), give
  // such a gc time to finish, make sure each is there, and send it again if not (see gc.ts).
  if (refreshed.size > 0) await sleep(Math.min(REFRESH_SETTLE_MS, ctx.gcGraceMs), signal);
  await forEachLimit([...refreshed], ctx.concurrency, async (sha) => {
    const h = await headOrUndefined(backend, objectKey(sha), signal);
    if (h && h.size === wanted.get(sha)!.size) return;
    await send(sha);
  }, signal);
  counts.tags.push(tag);
}

/** Writes the manifest (create-only unless `latest`) and reads it back: another writer's tag wins only if identical. */
async function commitManifest(ctx: CloudContext, manifest: TagManifest, counts: PushCounts, slug: string, signal?: AbortSignal): Promise<void> {
  const { dtype, name, tag } = manifest;
  const mutable = tag === LATEST_TAG;
  const body = Buffer.from(serializeTagManifest(manifest));
  const key = manifestKey(dtype, name, tag);
  const put = (ifNoneMatch: boolean) => ctx.backend.put(key, body, { size: body.length, ifNoneMatch, signal });
  try {
    if (mutable) await put(false);
    else counts.commit = await writeCreateOnly(ctx, key, put, signal);
    counts.manifests++;
  } catch (err) {
    // Someone wrote the tag meanwhile (or our own retried write landed): the read-back decides.
    if (!hasCode(err, "FILE_EXISTS")) throw err;
  }
  if (mutable) return;
  // Read-back: catches a concurrent writer on servers that ignore If-None-Match.
  const back = await fetchManifest(ctx.backend, dtype, name, tag, signal);
  if (back.total !== manifest.total) throw tagConflict(slug, manifest, back);
}
