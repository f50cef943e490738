/**
 * The listing index, `index.json` at the layout's root: what `cloud ls`
 * shows (datasets, their tags with their summaries, raw files with size and
 * sha256), for readers that may GET but not LIST (a public bucket, a static
 * web server). Readers treat it as what it is, a listing taken at one
 * moment: pull and verify fetch the manifests and objects it names, and
 * check them, so a stale index can hide a tag but never serve wrong bytes.
 *
 *     {"format": "minus80-index", "version": 1, "updated": ISO 8601,
 *      "datasets": {dtype: {name: {tag: {created, files, size, checksum, parent, manifest: {size, modified}}}}},
 *      "raw": {dtype: {file: {size, lastModified, sha256}}}}
 *
 * Keeping it current with racing writers (`refreshIndex`, run by every
 * push, remove and gc after it committed): the index is never merged into,
 * it is rebuilt from a LIST (reusing the summaries of manifests whose size
 * and time did not change, so only new tags cost a GET). A writer loops:
 * read the index, list; if the listing equals the index, stop; else write
 * the rebuilt index and go again. Of all writes, the last one to land was
 * followed by its writer's read and listing: had they differed, it would
 * have written again. So once the writers are done, the index equals a
 * listing taken after every commit — whichever of two racing writers
 * lands last, no entry is dropped for good (S3 reads, lists and writes
 * are strongly consistent: AWS since 2020, Ceph RGW, MinIO, a folder). A
 * writer killed before its refresh leaves the index behind; the next
 * write anywhere in the bucket, or `cloud index --rebuild`, repairs it.
 *
 * @example
 *   await refreshIndex(ctx, signal);          // after a push, remove or gc
 *   const index = await readIndex(backend);   // what `cloud ls --from <URL>` shows
 */
import { hasCode, IntegrityError, ObjectNotFoundError } from "../errors.js";
import { forEachLimit } from "../limits.js";
import type { Backend } from "./backends/backend.js";
import { isObjectNotFound } from "./backends/errors.js";
import { DATASETS_PREFIX, INDEX_KEY, parseManifestKey, parseRawKey, RAW_PREFIX } from "./layout.js";
import type { TagSummary } from "./listing.js";
import { SHA256_METADATA } from "./raw.js";
import { summaryOf } from "../freezer/manifest.js";
import { fetchManifest, readSmallObject, type CloudContext, type OperationOptions } from "./remote.js";

export const INDEX_FORMAT = "minus80-index";
export const INDEX_VERSION = 1;
/** Rebuild rounds one refresh makes at most (racing writers converge in two or three). */
export const MAX_INDEX_PASSES = 5;
const MAX_INDEX_BYTES = 64 * 1024 * 1024;

/** When and how large a manifest object was: a summary is reused while it is unchanged. */
export interface ObjectStamp {
  size: number;
  modified: string;
}

export interface IndexedTag extends Omit<TagSummary, "tag"> {
  manifest: ObjectStamp;
}

export interface IndexedRawFile {
  size: number;
  lastModified: string;
  sha256: string | null;
}

export interface BucketIndex {
  format: typeof INDEX_FORMAT;
  version: number;
  updated: string;
  datasets: Record<string, Record<string, Record<string, IndexedTag>>>;
  raw: Record<string, Record<string, IndexedRawFile>>;
}

/**
 * Reads and checks `index.json`; OBJECT_NOT_FOUND (saying how to make one) when absent.
 *
 * @example Object.keys((await readIndex(backend)).datasets)   // ["Cohort"]
 */
export async function readIndex(backend: Backend, signal?: AbortSignal): Promise<BucketIndex> {
  let text: string;
  try {
    text = (await readSmallObject(backend, INDEX_KEY, MAX_INDEX_BYTES, signal)).data.toString("utf8");
  } catch (err) {
    if (!isObjectNotFound(err)) throw err;
    throw new ObjectNotFoundError(`${backend.location} has no ${INDEX_KEY}, so it cannot be listed without LIST`, {
      key: INDEX_KEY,
      hint: "its owner runs `minus80 cloud index --rebuild` (or pushes); meanwhile `cloud pull <dtype> <name> --tag T --from <URL>` works without it",
    });
  }
  let index: Partial<BucketIndex> = {};
  try {
    index = JSON.parse(text) as Partial<BucketIndex>;
  } catch {
    /* refused below */
  }
  if (index.format !== INDEX_FORMAT || typeof index.datasets !== "object" || typeof index.raw !== "object" || index.datasets === null || index.raw === null) {
    throw new IntegrityError(`${INDEX_KEY} at ${backend.location} is not a minus80 index`, { key: INDEX_KEY });
  }
  if (index.version !== INDEX_VERSION) throw new IntegrityError(`${INDEX_KEY} at ${backend.location} is of version ${String(index.version)}, this minus80 reads ${INDEX_VERSION}: upgrade minus80`, { key: INDEX_KEY });
  return index as BucketIndex;
}

async function readIndexOrUndefined(backend: Backend, signal?: AbortSignal): Promise<BucketIndex | undefined> {
  try {
    return await readIndex(backend, signal);
  } catch (err) {
    if (isObjectNotFound(err) || hasCode(err, "INTEGRITY")) return undefined; // rebuilt from scratch
    throw err;
  }
}

/** The index of what the bucket holds now, from a LIST; summaries of unchanged manifests and raw files come from `previous`. */
export async function buildIndex(ctx: CloudContext, previous: BucketIndex | undefined, signal?: AbortSignal): Promise<BucketIndex> {
  const { backend } = ctx;
  const index: BucketIndex = { format: INDEX_FORMAT, version: INDEX_VERSION, updated: new Date().toISOString(), datasets: {}, raw: {} };
  const fetches: Array<() => Promise<void>> = [];
  for await (const o of backend.list(DATASETS_PREFIX, { signal })) {
    const m = parseManifestKey(o.key);
    if (!m) continue;
    const stamp = { size: o.size, modified: o.lastModified.toISOString() };
    const into = ((index.datasets[m.dtype] ??= {})[m.name] ??= {});
    const known = previous?.datasets[m.dtype]?.[m.name]?.[m.tag];
    const mine = ctx.committed?.get(o.key);
    if (known && sameStamp(known.manifest, stamp)) into[m.tag] = known;
    else if (mine && mine.size === o.size) into[m.tag] = { ...mine.summary, manifest: stamp }; // written and read back by this process
    else {
      fetches.push(async () => {
        try {
          const t = await fetchManifest(backend, m.dtype, m.name, m.tag, signal);
          into[m.tag] = { ...summaryOf(t), manifest: stamp };
        } catch (err) {
          // Removed meanwhile, or damaged: the index shows what can be fetched.
          if (!isObjectNotFound(err) && !hasCode(err, "INTEGRITY")) throw err;
        }
      });
    }
  }
  for await (const o of backend.list(RAW_PREFIX, { signal })) {
    const r = parseRawKey(o.key);
    if (!r) continue;
    const entry: IndexedRawFile = { size: o.size, lastModified: o.lastModified.toISOString(), sha256: null };
    (index.raw[r.dtype] ??= {})[r.file] = entry;
    const known = previous?.raw[r.dtype]?.[r.file];
    if (known && known.size === entry.size && known.lastModified === entry.lastModified) entry.sha256 = known.sha256;
    else {
      fetches.push(async () => {
        const sha = (await backend.head(o.key, { signal }).catch(() => undefined))?.metadata[SHA256_METADATA];
        entry.sha256 = sha && /^[0-9a-f]{64}$/.test(sha) ? sha : null;
      });
    }
  }
  await forEachLimit(fetches, ctx.concurrency, (f) => f(), signal);
  // Drop datasets whose every manifest vanished meanwhile.
  for (const names of Object.values(index.datasets)) for (const [n, tags] of Object.entries(names)) if (Object.keys(tags).length === 0) delete names[n];
  return index;
}

/**
 * Brings `index.json` up to date after a write (see the reasoning above);
 * returns whether it wrote. Gives up quietly after MAX_INDEX_PASSES rounds
 * of racing writers: the last of them brings it up to date.
 *
 * @example await refreshIndex(ctx, { signal })   // { written: true, passes: 2 }
 */
export async function refreshIndex(ctx: CloudContext, opts: OperationOptions = {}): Promise<{ written: boolean; passes: number }> {
  const { signal } = opts;
  let written = false;
  for (let pass = 1; ; pass++) {
    const current = await readIndexOrUndefined(ctx.backend, signal);
    const built = await buildIndex(ctx, current, signal);
    if (current && sameContent(current, built)) return { written, passes: pass };
    if (pass > MAX_INDEX_PASSES) return { written, passes: pass };
    await writeIndex(ctx.backend, built, signal);
    written = true;
  }
}

/**
 * Rebuilds `index.json` from a LIST, whatever it held (`cloud index --rebuild`).
 *
 * @example (await rebuildIndex(ctx)).datasets   // { Cohort: { TestCohort: { v1: {...} } } }
 */
export async function rebuildIndex(ctx: CloudContext, opts: OperationOptions = {}): Promise<BucketIndex> {
  const built = await buildIndex(ctx, undefined, opts.signal);
  await writeIndex(ctx.backend, built, opts.signal);
  await refreshIndex(ctx, opts); // a writer racing the rebuild
  return built;
}

async function writeIndex(backend: Backend, index: BucketIndex, signal?: AbortSignal): Promise<void> {
  const body = Buffer.from(JSON.stringify(index, null, 1) + "\n");
  await backend.put(INDEX_KEY, body, { size: body.length, signal });
}

function sameStamp(a: ObjectStamp | undefined, b: ObjectStamp): boolean {
  return !!a && a.size === b.size && a.modified === b.modified;
}

/** Equal but for `updated` (keys compared sorted, whatever order they were written in). */
function sameContent(a: BucketIndex, b: BucketIndex): boolean {
  return canonical({ d: a.datasets, r: a.raw }) === canonical({ d: b.datasets, r: b.raw });
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}
