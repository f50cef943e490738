/**
 * Planning a push, shared by the push itself (push.ts) and its dry run:
 * whether the tag is already in the bucket (unchanged, or a conflict), the
 * base tag whose objects count as present unchecked, which of the other
 * objects the bucket holds (remoteObjects.ts), and so which to upload and
 * which to refresh. Objects the local store lacks (a tag frozen after a
 * partial pull keeps files that were never fetched) must be in the bucket
 * already, else INTEGRITY. Only reads; a dry run also estimates the
 * requests of the rest of the push.
 *
 * @example
 *   const plan = await planTag(ctx, manifest, (sha) => ctx.freezer.blobs.has(sha));
 *   if (!plan.unchanged) plan.missing   // the objects to upload
 *   await planPush(ctx, ds, { tag: "v1" })   // the dry run of `cloud.push(..., { tag: "v1" })`
 */
import { hasCode, IntegrityError, TagConflictError } from "../errors.js";
import type { FrozenDataset } from "../freezer/frozenDataset.js";
import { LATEST_TAG, type FileEntry, type TagManifest } from "../freezer/manifest.js";
import { formatSlug } from "../names.js";
import { isObjectNotFound } from "./backends/errors.js";
import { addRequests, countingBackend, noRequests, uploadRequests, type RequestEstimate } from "./dryRun.js";
import { MARKER_KEY } from "./layout.js";
import { fetchManifest, headOrUndefined, remoteTags, uniqueObjects, type CloudContext, type OperationOptions } from "./remote.js";
import { findBaseTag, remoteObjects, type BaseTag, type RemoteObject } from "./remoteObjects.js";
import { PACK_FILE_THRESHOLD, type PackRef } from "./packs/format.js";
import { findInPacks, type UsedPack } from "./packs/lookup.js";
import { splitForPacks } from "./packs/plan.js";

/** What the bucket holds of the objects a push checks, judged at `checkedAt`. */
export interface RemoteCheck {
  checkedAt: number;
  present: Map<string, RemoteObject>;
  /** absent or damaged: to upload */
  missing: string[];
  /** present but older than half gc's grace: to refresh */
  stale: string[];
}

/** The plan of one tag's push. */
export interface TagPlan extends RemoteCheck {
  /** the bucket has this tag with the same total: nothing to do */
  unchanged: boolean;
  /** the bucket has this tag (`latest`, to be replaced, or unchanged) */
  inBucket: boolean;
  wanted: Map<string, FileEntry>;
  base?: BaseTag;
  /** the objects not covered by the base tag, which were looked up */
  unchecked: Map<string, FileEntry>;
  /** objects the local store lacks (all in the bucket, or planning failed) */
  notLocal: Set<string>;
  /** files already in packs of the bucket (through the base tag or the pack indexes): not sent */
  packed: Map<string, PackRef>;
  /** packs found through their index that the push reuses (the base's are referenced already) */
  packs: Map<string, UsedPack>;
  /** of those, the ones older than half gc's grace: to refresh */
  stalePacks: string[];
}

/** One tag in a push's dry run. */
export interface PushTagPlan {
  tag: string;
  /** `new`; `unchanged` (identical in the bucket); `replaces` (a different `latest`) */
  status: "new" | "unchanged" | "replaces";
  files: number;
  objects: { upload: number; bytes: number; present: number; refresh: number };
  /** the committed tag whose objects count as present unchecked */
  base?: string;
  requests: RequestEstimate;
}

/** What a push would do, from its dry run. */
export interface PushPlan {
  dryRun: true;
  slug: string;
  location: string;
  tags: PushTagPlan[];
  objects: { upload: number; bytes: number; present: number };
  requests: RequestEstimate;
}

/** Looks up `unchecked` in the bucket and sorts them into missing and stale. @example (await checkRemote(ctx, unchecked)).missing */
export async function checkRemote(ctx: CloudContext, unchecked: ReadonlyMap<string, FileEntry>, signal?: AbortSignal): Promise<RemoteCheck> {
  const checkedAt = Date.now();
  const present = await remoteObjects(ctx, unchecked, signal);
  const missing: string[] = [];
  const stale: string[] = [];
  for (const [sha, entry] of unchecked) {
    const p = present.get(sha);
    if (!p || p.size !== entry.size) missing.push(sha); // absent, or damaged: replace it
    else if (checkedAt - p.lastModified.getTime() > ctx.gcGraceMs / 2) stale.push(sha);
  }
  return { checkedAt, present, missing, stale };
}

/** Plans one tag's push (see the module comment). TAG_CONFLICT when the bucket has it with other contents. @example (await planTag(ctx, ds.tag("v1"), (sha) => blobs.has(sha))).missing */
export async function planTag(ctx: CloudContext, manifest: TagManifest, isLocal: (sha: string) => Promise<boolean>, signal?: AbortSignal): Promise<TagPlan> {
  const { dtype, name, tag } = manifest;
  const mutable = tag === LATEST_TAG;
  const there = await fetchManifest(ctx.backend, dtype, name, tag, signal).catch((err: unknown) => {
    if (isObjectNotFound(err)) return undefined;
    // A damaged immutable manifest is not silently replaced; a damaged `latest` is.
    if (mutable && hasCode(err, "INTEGRITY")) return undefined;
    throw err;
  });
  const wanted = uniqueObjects(manifest);
  if (there && there.total === manifest.total) {
    return { unchanged: true, inBucket: true, wanted, unchecked: new Map(), notLocal: new Set(), packed: new Map(), packs: new Map(), stalePacks: [], checkedAt: Date.now(), present: new Map(), missing: [], stale: [] };
  }
  if (there && !mutable) throw tagConflict(formatSlug(dtype, name, tag), manifest, there);
  const notLocal = new Set<string>();
  for (const sha of wanted.keys()) if (!(await isLocal(sha))) notLocal.add(sha);
  // Only what differs from a committed base tag (typically the parent) is looked up.
  const base = await findBaseTag(ctx, manifest, signal);
  const unchecked = new Map<string, FileEntry>();
  for (const [sha, entry] of wanted) if (base?.objects.get(sha) !== entry.size) unchecked.set(sha, entry);
  const check = await checkRemote(ctx, unchecked, signal);
  const packed = new Map<string, PackRef>();
  for (const [sha, ref] of base?.refs ?? []) if (wanted.has(sha) && !unchecked.has(sha)) packed.set(sha, ref);
  // Small files the objects lack may be in some pack already (any tag, any dataset).
  const small = new Map<string, number>();
  for (const sha of check.missing) if (wanted.get(sha)!.size < PACK_FILE_THRESHOLD) small.set(sha, wanted.get(sha)!.size);
  const found = await findInPacks(ctx, small, signal);
  for (const [sha, ref] of found.refs) packed.set(sha, ref);
  check.missing = check.missing.filter((sha) => !found.refs.has(sha));
  const stalePacks = [...found.packs].filter(([, p]) => check.checkedAt - p.remote.lastModified.getTime() > ctx.gcGraceMs / 2).map(([sha]) => sha);
  const unavailable = check.missing.filter((sha) => notLocal.has(sha));
  if (unavailable.length > 0) throw notLocalError(manifest, unavailable[0]!);
  return { unchanged: false, inBucket: there !== undefined, wanted, ...(base ? { base } : {}), unchecked, notLocal, packed, packs: found.packs, stalePacks, ...check };
}

/** INTEGRITY: an object the push needs is neither local nor in the bucket. @example throw notLocalError(manifest, sha) */
export function notLocalError(manifest: TagManifest, sha: string): IntegrityError {
  const slug = formatSlug(manifest.dtype, manifest.name, manifest.tag);
  const file = Object.entries(manifest.files).find(([, e]) => e.sha256 === sha)?.[0];
  return new IntegrityError(
    `cannot push ${slug}: object ${sha}${file ? ` (${file})` : ""} is missing from the local store and from the bucket ` +
      `(a file a partial pull did not fetch); pull its parent tag without filters first`,
    { slug, sha256: sha, ...(file ? { path: file } : {}) },
  );
}

/** TAG_CONFLICT: the bucket has this tag with other contents. @example throw tagConflict("Cohort.RNA:v1", mine, theirs) */
export function tagConflict(slug: string, mine: TagManifest, theirs: TagManifest): TagConflictError {
  return new TagConflictError(
    `tag ${slug} already exists in the cloud with different contents (checksum ${theirs.total.slice(0, 12)}, local ${mine.total.slice(0, 12)})`,
    { slug, tag: mine.tag, remote: theirs.total, local: mine.total },
  );
}

/**
 * The dry run of `CloudData.push`: one tag, or (without `tag`) every local
 * tag the bucket lacks and the working state as `latest`, previewed
 * without freezing it. Writes nothing, locally or remotely.
 *
 * @example (await planPush(ctx, ds, {})).objects.upload
 */
export async function planPush(ctx: CloudContext, ds: FrozenDataset, opts: OperationOptions & { tag?: string }): Promise<PushPlan> {
  const { signal } = opts;
  const { backend, requests } = countingBackend(ctx.backend);
  const reading: CloudContext = { ...ctx, backend };
  const manifests: TagManifest[] = [];
  let working: Map<string, FileEntry> = new Map();
  if (opts.tag !== undefined) manifests.push(ds.tag(opts.tag));
  else {
    const latest = await ds.previewFreeze(LATEST_TAG, { signal });
    working = uniqueObjects(latest);
    const there = new Set(await remoteTags(backend, ds.dtype, ds.name, signal));
    for (const t of ds.tags()) if (t.tag !== LATEST_TAG && !there.has(t.tag)) manifests.push(t);
    manifests.push(latest);
  }
  const isLocal = async (sha: string) => working.has(sha) || (await ctx.freezer.blobs.has(sha));
  const sending = new Set<string>();
  const tags: PushTagPlan[] = [];
  for (const m of manifests) {
    const before = { ...requests };
    const p = await planTag(reading, m, isLocal, signal);
    const upload = p.missing.filter((sha) => !sending.has(sha));
    for (const sha of upload) sending.add(sha);
    const own = addRequests(noRequests(), { heads: requests.heads - before.heads, lists: requests.lists - before.lists, gets: requests.gets - before.gets });
    if (!p.unchanged) {
      const marker = await headOrUndefined(backend, MARKER_KEY, signal); // ensureMarker's HEAD
      addRequests(own, { heads: 1 + p.stale.length, puts: (marker ? 0 : 1) + p.stale.length + 1, gets: m.tag === LATEST_TAG ? 0 : 1 });
      if (p.base && p.unchecked.size < p.wanted.size) addRequests(own, { heads: 1 });
      const split = splitForPacks(upload, p.wanted);
      for (const sha of split.single) addRequests(own, uploadRequests(ctx.backend, p.wanted.get(sha)!.size));
      // A pack: its upload and its index's PUT.
      for (const g of split.groups) addRequests(addRequests(own, uploadRequests(ctx.backend, g.reduce((n, e) => n + e.size, 0))), { puts: 1 });
    }
    const bytes = upload.reduce((n, sha) => n + p.wanted.get(sha)!.size, 0);
    tags.push({
      tag: m.tag,
      status: p.unchanged ? "unchanged" : p.inBucket ? "replaces" : "new",
      files: Object.keys(m.files).length,
      objects: { upload: upload.length, bytes, present: p.wanted.size - upload.length, refresh: p.stale.length },
      ...(p.base ? { base: p.base.tag } : {}),
      requests: own,
    });
  }
  const total = noRequests();
  for (const t of tags) addRequests(total, t.requests);
  if (opts.tag === undefined) addRequests(total, { lists: 1 });
  const sum = (k: "upload" | "bytes" | "present") => tags.reduce((n, t) => n + t.objects[k], 0);
  return { dryRun: true, slug: ds.slug, location: ctx.backend.location, tags, objects: { upload: sum("upload"), bytes: sum("bytes"), present: sum("present") }, requests: total };
}
