/**
 * Pushing and pulling dataset tags: the dedup, integrity and ordering rules,
 * written once above the Backend interface.
 *
 * Push (one tag):
 *   1. An identical tag already in the bucket (same `total`) is a no-op; a
 *      different one is TAG_CONFLICT (`latest` alone may be replaced).
 *   2. Find which objects the bucket already holds. Those of a committed
 *      base tag (the parent, else `latest`) count as present unchecked;
 *      the rest are checked (HEAD each, or LIST the `objects/sha256/<2 hex>/`
 *      shards when that takes fewer requests).
 *   3. Upload only the missing ones, each re-hashed while it streams.
 *   4. Write the manifest LAST, create-only (`If-None-Match: *`), then read
 *      it back: a reader never sees a tag whose objects are missing, and of
 *      two writers of one new tag exactly one wins.
 *
 * Pull (one tag): validate the manifest, refuse over unsaved local changes
 * before touching anything, download only the objects missing locally
 * (sha256 verified while streaming), record the tag, thaw. On any failure
 * the local freezer is left as it was.
 *
 * Garbage collection safety (see gc.ts): `gc` deletes only unreferenced
 * objects older than its grace period. A push therefore refreshes
 * (touches) any object it reuses that is older than half the grace period,
 * and re-checks the bucket if it took longer than that before committing.
 */
import fsp from "node:fs/promises";
import path from "node:path";
import { forEachLimit } from "../concurrency.js";
import { DatasetNotFoundError, IntegrityError, Minus80Error, TagNotFoundError } from "../errors.js";
import { pruneEmptyDirs, tempPathFor } from "../freezer/files.js";
import type { Freezer } from "../freezer/freezer.js";
import { LATEST_TAG, parseTagManifest, serializeTagManifest, type FileEntry, type TagManifest } from "../freezer/manifest.js";
import { formatSlug } from "../names.js";
import type { ProgressListener } from "../progress.js";
import type { Backend } from "./backends/backend.js";
import { datasetPrefix, manifestKey, MARKER_BODY, MARKER_KEY, OBJECTS_PREFIX, objectKey, objectShardPrefix, parseManifestKey, parseObjectKey } from "./layout.js";
import { TransferMeter } from "./progress.js";
import { rangedDownload, wantsRangedRead } from "./rangedGet.js";

/** A manifest larger than this is refused as damaged (a real one is ~100 bytes per file). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;
/** Keys in one page of an S3 listing. */
export const LIST_PAGE_KEYS = 1000;
/** Up to this many objects are always checked one HEAD each. */
export const HEAD_CHECK_LIMIT = 16;
/** Existence checks per push at most (a push slower than half the grace period checks again). */
export const MAX_PUSH_PASSES = 3;
/** Objects gc never deletes when younger than this (overridable for tests). */
export const GC_GRACE_MS = 24 * 60 * 60 * 1000;
/**
 * How long a push that refreshed old objects waits after committing before
 * checking they are still there: a gc that judged one just before the
 * refresh deletes it within this time, unless its process stalls longer
 * between two requests (see gc.ts). Paid only when old unreferenced
 * objects are reused.
 */
export const REFRESH_SETTLE_MS = 2000;

/** What the cloud operations share. */
export interface CloudContext {
  backend: Backend;
  freezer: Freezer;
  /** transfers in flight at once */
  concurrency: number;
  /** gc's grace period; pushes rely on it (see above) */
  gcGraceMs: number;
}

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
}

export interface PullCounts {
  downloaded: number;
  bytes: number;
  /** objects already in the local freezer */
  skipped: number;
  tag: string;
}

export function emptyPushCounts(): PushCounts {
  return { uploaded: 0, bytes: 0, skipped: 0, manifests: 0, tags: [], unchanged: [] };
}

/**
 * Reads and validates the manifest at `key`. NOT_FOUND when absent,
 * INTEGRITY when it is damaged or describes another tag.
 */
export async function fetchManifest(backend: Backend, dtype: string, name: string, tag: string): Promise<TagManifest> {
  return (await fetchManifestVersion(backend, dtype, name, tag)).manifest;
}

/** As `fetchManifest`, with the version read (its ETag, when the backend has one). */
async function fetchManifestVersion(backend: Backend, dtype: string, name: string, tag: string): Promise<{ manifest: TagManifest; etag?: string }> {
  const key = manifestKey(dtype, name, tag);
  const r = await backend.get(key);
  if (r.size > MAX_MANIFEST_BYTES) {
    r.body.destroy();
    throw new IntegrityError(`manifest ${key} is implausibly large (${r.size} bytes)`, { key });
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of r.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_MANIFEST_BYTES) {
      r.body.destroy();
      throw new IntegrityError(`manifest ${key} is implausibly large`, { key });
    }
    chunks.push(c);
  }
  const manifest = parseTagManifest(Buffer.concat(chunks).toString("utf8"), key, { dtype, name, tag });
  return r.etag === undefined ? { manifest } : { manifest, etag: r.etag };
}

/** The tags of one dataset in the bucket (from the manifest keys), sorted. */
export async function remoteTags(backend: Backend, dtype: string, name: string): Promise<string[]> {
  const tags: string[] = [];
  for await (const o of backend.list(datasetPrefix(dtype, name))) {
    const m = parseManifestKey(o.key);
    if (m && m.dtype === dtype && m.name === name) tags.push(m.tag);
  }
  return tags.sort();
}

/** Writes the layout marker once per bucket prefix (create-only; another writer's is as good). */
export async function ensureMarker(backend: Backend): Promise<void> {
  try {
    await backend.head(MARKER_KEY);
    return;
  } catch (err) {
    if (!backend.isNotFound(err)) throw err;
  }
  const body = Buffer.from(MARKER_BODY);
  try {
    await backend.put(MARKER_KEY, body, { size: body.length, ifNoneMatch: true });
  } catch (err) {
    if (!(err instanceof Minus80Error && err.code === "FILE_EXISTS")) throw err;
  }
}

interface RemoteObject {
  size: number;
  lastModified: Date;
}

/**
 * Which of the wanted objects the bucket holds. One HEAD per object, or
 * one LIST per `objects/sha256/<2 hex>/` shard when the objects share
 * shards enough that listing takes fewer requests (a page holds 1000 keys);
 * before the shards, one page of the whole `objects/sha256/` prefix, which
 * is the whole answer when the bucket holds fewer objects than a page.
 */
export async function remoteObjects(ctx: CloudContext, wanted: ReadonlyMap<string, FileEntry>): Promise<Map<string, RemoteObject>> {
  const found = new Map<string, RemoteObject>();
  const shas = [...wanted.keys()];
  const shards = [...new Set(shas.map(objectShardPrefix))];
  if (shas.length <= HEAD_CHECK_LIMIT || shas.length < 2 * shards.length) {
    await forEachLimit(shas, ctx.concurrency, async (sha) => {
      try {
        const h = await ctx.backend.head(objectKey(sha));
        found.set(sha, { size: h.size, lastModified: h.lastModified });
      } catch (err) {
        if (!ctx.backend.isNotFound(err)) throw err;
      }
    });
    return found;
  }
  // A bucket holding at most one page of objects is read whole in one request
  // (a first push, a small project) instead of one LIST per shard.
  let seen = 0;
  for await (const o of ctx.backend.list(OBJECTS_PREFIX)) {
    const sha = parseObjectKey(o.key);
    if (sha && wanted.has(sha)) found.set(sha, { size: o.size, lastModified: o.lastModified });
    if (++seen >= LIST_PAGE_KEYS) break;
  }
  if (seen < LIST_PAGE_KEYS) return found;
  await forEachLimit(shards, ctx.concurrency, async (shard) => {
    for await (const o of ctx.backend.list(shard)) {
      const sha = parseObjectKey(o.key);
      if (sha && wanted.has(sha)) found.set(sha, { size: o.size, lastModified: o.lastModified });
    }
  });
  return found;
}

/**
 * A tag already committed in the bucket whose objects this push can count
 * as present without checking them: a manifest is written only after all
 * its objects, and gc never deletes an object a manifest references. The
 * push re-reads the base's version after committing its own manifest; if
 * the base was removed or replaced meanwhile, its objects are checked
 * like any other (see pushTag).
 */
interface BaseTag {
  tag: string;
  etag?: string;
  /** sha256 -> size, as the base manifest records them */
  objects: Map<string, number>;
}

/**
 * Picks the committed tag of the same dataset that shares most with
 * `manifest`: its parent when the bucket has it, else `latest`, else the
 * remote tag the local freezer shows sharing the most objects. One LIST of
 * the dataset's manifests and one GET; undefined when nothing fits.
 */
async function findBaseTag(ctx: CloudContext, manifest: TagManifest): Promise<BaseTag | undefined> {
  const { backend } = ctx;
  const { dtype, name, tag } = manifest;
  const remote = new Set(await remoteTags(backend, dtype, name));
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
    const { manifest: base, etag } = await fetchManifestVersion(backend, dtype, name, pick);
    const objects = new Map<string, number>();
    for (const e of Object.values(base.files)) objects.set(e.sha256, e.size);
    return etag === undefined ? { tag: pick, objects } : { tag: pick, etag, objects };
  } catch (err) {
    // Gone since the LIST, or damaged: no shortcut, check every object.
    if (backend.isNotFound(err) || (err instanceof Minus80Error && err.code === "INTEGRITY")) return undefined;
    throw err;
  }
}

/** True when the base tag's manifest is still the version read (so its objects are still referenced). */
async function baseStillCommitted(ctx: CloudContext, manifest: TagManifest, base: BaseTag): Promise<boolean> {
  try {
    const h = await ctx.backend.head(manifestKey(manifest.dtype, manifest.name, base.tag));
    return base.etag === undefined || h.etag === base.etag;
  } catch (err) {
    if (ctx.backend.isNotFound(err)) return false;
    throw err;
  }
}

/** Unique contents of a manifest, by sha256. */
export function uniqueObjects(m: TagManifest): Map<string, FileEntry> {
  const out = new Map<string, FileEntry>();
  for (const e of Object.values(m.files)) out.set(e.sha256, e);
  return out;
}

/**
 * Pushes one local tag. `counts` accumulates what was done.
 *
 * @example await pushTag(ctx, ds.tag("v1"), counts, onProgress)
 */
export async function pushTag(ctx: CloudContext, manifest: TagManifest, counts: PushCounts, onProgress?: ProgressListener): Promise<void> {
  const { backend, freezer } = ctx;
  const { dtype, name, tag } = manifest;
  const slug = formatSlug(dtype, name, tag);
  const mutable = tag === LATEST_TAG;
  const key = manifestKey(dtype, name, tag);

  const there = await fetchManifest(backend, dtype, name, tag).catch((err: unknown) => {
    if (backend.isNotFound(err)) return undefined;
    // A damaged immutable manifest is not silently replaced; a damaged `latest` is.
    if (mutable && err instanceof Minus80Error && err.code === "INTEGRITY") return undefined;
    throw err;
  });
  if (there && there.total === manifest.total) {
    counts.unchanged.push(tag);
    counts.skipped += uniqueObjects(manifest).size;
    return;
  }
  if (there && !mutable) throw tagConflict(slug, manifest, there);

  await ensureMarker(backend);
  const wanted = uniqueObjects(manifest);
  for (const [sha] of wanted) {
    if (!(await freezer.blobs.has(sha))) {
      throw new IntegrityError(`cannot push ${slug}: object ${sha} is missing from the local store`, { slug, sha256: sha });
    }
  }

  // Objects of a committed tag (typically the parent) need no check: only
  // the difference is looked up (a new tag of a large dataset costs requests
  // for its changed files, not for all of them).
  const base = await findBaseTag(ctx, manifest);
  const unchecked = new Map<string, FileEntry>();
  for (const [sha, entry] of wanted) if (base?.objects.get(sha) !== entry.size) unchecked.set(sha, entry);

  // Upload what is missing; if that took so long that gc's grace could have
  // run out for objects counted as present, check again before committing.
  const sent = new Set<string>();
  /** objects found old in the bucket and refreshed (touched or sent again): gc may be about to delete them */
  const refreshed = new Set<string>();
  for (let pass = 1; ; pass++) {
    const checkedAt = Date.now();
    const present = await remoteObjects(ctx, unchecked);
    const missing: string[] = [];
    const stale: string[] = [];
    for (const [sha, entry] of unchecked) {
      const p = present.get(sha);
      if (!p || p.size !== entry.size) missing.push(sha); // absent, or damaged: replace it
      else if (checkedAt - p.lastModified.getTime() > ctx.gcGraceMs / 2) stale.push(sha);
    }
    for (const sha of stale) refreshed.add(sha);
    await forEachLimit(stale, ctx.concurrency, async (sha) => {
      try {
        const refreshed = await backend.touch(objectKey(sha));
        // A server that ignores the refresh (s3rver) reports the old time: send the object again.
        if (refreshed && refreshed.getTime() <= present.get(sha)!.lastModified.getTime()) missing.push(sha);
      } catch (err) {
        if (err instanceof Minus80Error && (err.code === "CREDENTIALS" || err.code === "UNREACHABLE")) throw err;
        missing.push(sha); // could not refresh it (gone, or too large to copy): send it again
      }
    });
    const meter = new TransferMeter("upload", missing.reduce((n, sha) => n + wanted.get(sha)!.size, 0), onProgress);
    await forEachLimit(missing, ctx.concurrency, async (sha) => {
      const entry = wanted.get(sha)!;
      const okey = objectKey(sha);
      // A file body: large objects go as parallel parts read straight from the store, hashed once as they are sent.
      await backend.put(okey, { file: freezer.blobs.pathOf(sha), sha256: sha }, {
        size: entry.size,
        onProgress: (n) => meter.set(okey, n),
      });
      meter.set(okey, entry.size);
      sent.add(sha);
      counts.uploaded++;
      counts.bytes += entry.size;
    });
    meter.done();
    if (Date.now() - checkedAt <= ctx.gcGraceMs / 2 || pass >= MAX_PUSH_PASSES) break;
  }
  counts.skipped += wanted.size - sent.size;

  const body = Buffer.from(serializeTagManifest(manifest));
  try {
    await backend.put(key, body, { size: body.length, ifNoneMatch: !mutable });
    counts.manifests++;
  } catch (err) {
    // Someone wrote the tag meanwhile (or our own retried write landed): the read-back decides.
    if (!(err instanceof Minus80Error && err.code === "FILE_EXISTS")) throw err;
  }
  if (!mutable) {
    // Read-back: catches a concurrent writer on servers that ignore If-None-Match.
    const back = await fetchManifest(backend, dtype, name, tag);
    if (back.total !== manifest.total) throw tagConflict(slug, manifest, back);
  }
  // The base tag was removed or replaced before this tag was committed: its objects were not
  // referenced all along, so treat them as refreshed ones (wait for a racing gc, check, re-send).
  if (base && unchecked.size < wanted.size && !(await baseStillCommitted(ctx, manifest, base))) {
    for (const sha of wanted.keys()) if (!unchecked.has(sha)) refreshed.add(sha);
  }
  // A gc that judged a refreshed object (old, unreferenced) just before this push refreshed it
  // may still delete it: now that the tag is committed (gc keeps what it references), give
  // such a gc time to finish, make sure each is there, and send it again if not (see gc.ts).
  if (refreshed.size > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(REFRESH_SETTLE_MS, ctx.gcGraceMs)));
  await forEachLimit([...refreshed], ctx.concurrency, async (sha) => {
    const entry = wanted.get(sha)!;
    const okey = objectKey(sha);
    const h = await backend.head(okey).catch((err: unknown) => {
      if (backend.isNotFound(err)) return undefined;
      throw err;
    });
    if (h && h.size === entry.size) return;
    await backend.put(okey, { file: freezer.blobs.pathOf(sha), sha256: sha }, { size: entry.size });
    counts.uploaded++;
    counts.bytes += entry.size;
  });
  counts.tags.push(tag);
}

/**
 * A large object into the local store by parallel ranged reads of the
 * version HEAD describes, verified before it gets its final name.
 */
async function fetchLargeObject(backend: Backend, freezer: Freezer, okey: string, entry: FileEntry, onBytes: (n: number) => void): Promise<void> {
  const h = await backend.head(okey);
  const hint = wantsRangedRead(backend, h.size);
  if (h.size !== entry.size || !hint) {
    throw new IntegrityError(`object ${okey} is damaged: ${h.size} bytes in the cloud, the manifest says ${entry.size}`, {
      key: okey,
      expectedSize: entry.size,
      actualSize: h.size,
    });
  }
  const target = freezer.blobs.pathOf(entry.sha256);
  await fsp.mkdir(path.dirname(target), { recursive: true });
  const tmp = tempPathFor(target);
  try {
    await rangedDownload(backend, okey, tmp, { size: entry.size, etag: h.etag, sha256: entry.sha256, hint, mode: 0o444, onBytes });
    await fsp.rename(tmp, target);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
}

function tagConflict(slug: string, mine: TagManifest, theirs: TagManifest): Minus80Error {
  return new Minus80Error(
    "TAG_CONFLICT",
    `tag ${slug} already exists in the cloud with different contents (checksum ${theirs.total.slice(0, 12)}, local ${mine.total.slice(0, 12)})`,
    { slug, tag: mine.tag, remote: theirs.total, local: mine.total },
  );
}

/**
 * Fetches `tag` of a dataset into the local freezer and thaws it.
 *
 * @example await pullTag(ctx, "Cohort", "TestCohort", "v1", { force: false })
 */
export async function pullTag(
  ctx: CloudContext,
  dtype: string,
  name: string,
  tag: string,
  opts: { force?: boolean; onProgress?: ProgressListener } = {},
): Promise<PullCounts> {
  const { backend, freezer } = ctx;
  const slug = formatSlug(dtype, name);
  let manifest: TagManifest;
  try {
    manifest = await fetchManifest(backend, dtype, name, tag);
  } catch (err) {
    if (!backend.isNotFound(err)) throw err;
    const tags = await remoteTags(backend, dtype, name);
    if (tags.length === 0) throw new DatasetNotFoundError(slug, "cloud");
    const e = new TagNotFoundError(slug, tag, "cloud");
    e.message += ` (tags there: ${tags.join(", ")})`;
    e.data.available = tags;
    throw e;
  }

  const ds = freezer.dataset(dtype, name);
  const existed = ds.exists();
  // Refuse before downloading anything, so a refusal changes nothing.
  if (existed) {
    if (!opts.force) await ds.refuseUnsaved(tag);
    const local = ds.readManifest().tags[tag];
    if (local && local.total !== manifest.total && tag !== LATEST_TAG) {
      throw new Minus80Error("TAG_CONFLICT", `local tag ${formatSlug(dtype, name, tag)} differs from the one in the cloud; thaw it or pull another tag`, {
        slug,
        tag,
        local: local.total,
        remote: manifest.total,
      });
    }
  }

  const wanted = uniqueObjects(manifest);
  const counts: PullCounts = { downloaded: 0, bytes: 0, skipped: 0, tag };
  try {
    // Lock order as in freeze (dataset, then store): objects fetched here stay
    // unreferenced until importTag, so the local gc must not run meanwhile.
    await ds.withLock(() =>
      freezer.withStoreLock(async () => {
        const missing: string[] = [];
        for (const [sha, entry] of wanted) {
          const local = await fsp.stat(freezer.blobs.pathOf(sha)).catch(() => null);
          if (!local) missing.push(sha);
          else if (local.size !== entry.size) {
            // A local object was verified when stored: a manifest recording another size for it lies.
            throw new IntegrityError(
              `manifest ${manifestKey(dtype, name, tag)} is damaged: it records ${entry.size} bytes for object ${objectKey(sha)}, which is ${local.size} bytes`,
              { key: objectKey(sha), manifest: manifestKey(dtype, name, tag), expectedSize: entry.size, actualSize: local.size },
            );
          }
        }
        counts.skipped = wanted.size - missing.length;
        const added: string[] = [];
        const meter = new TransferMeter("download", missing.reduce((n, sha) => n + wanted.get(sha)!.size, 0), opts.onProgress);
        try {
          await forEachLimit(missing, ctx.concurrency, async (sha) => {
            const entry = wanted.get(sha)!;
            const okey = objectKey(sha);
            if (wantsRangedRead(backend, entry.size)) {
              await fetchLargeObject(backend, freezer, okey, entry, (n) => meter.add(okey, n));
              added.push(sha);
              counts.downloaded++;
              counts.bytes += entry.size;
              return;
            }
            const r = await backend.get(okey);
            // The store starts reading only after an await (its mkdir): a connection that breaks
            // before then must not be an unhandled 'error' event (a crash); addStream's pipeline
            // still receives the error from the destroyed stream.
            r.body.on("error", () => undefined);
            if (r.size !== entry.size) {
              r.body.destroy();
              throw new IntegrityError(`object ${okey} is damaged: ${r.size} bytes in the cloud, the manifest says ${entry.size}`, {
                key: okey,
                expectedSize: entry.size,
                actualSize: r.size,
              });
            }
            await freezer.blobs.addStream(r.body, entry, okey, (n) => meter.add(okey, n));
            added.push(sha);
            counts.downloaded++;
            counts.bytes += entry.size;
          });
          meter.done();
          await ds.importTag(manifest);
        } catch (err) {
          // Leave the store as it was: remove what this pull added (still unreferenced: we hold the lock).
          for (const sha of added) await fsp.rm(freezer.blobs.pathOf(sha), { force: true });
          throw err;
        }
      }),
    );
  } catch (err) {
    // A dataset this pull created (and could not fill) is removed again.
    if (!existed && Object.keys(ds.readManifest().tags).length === 0) {
      await fsp.rm(ds.dir, { recursive: true, force: true }).catch(() => undefined);
      await pruneEmptyDirs(freezer.datasetsRoot).catch(() => undefined);
    }
    throw err;
  }
  await ds.thaw(tag, { force: opts.force, onProgress: opts.onProgress });
  return counts;
}
