/**
 * Planning a pull, shared by the pull itself and its dry run: read and
 * check the tag's manifest, choose its files (all, or the filters'
 * selection: `include` globs, and for a Cohort `accessions` / `where`,
 * answered from a read-only copy of the tag's database), and find which
 * objects the local store lacks, what that costs in requests and whether
 * the disk has room. Only reads: nothing is written to the freezer or the
 * bucket. The database copy lives in a temporary folder; the pull stores
 * that verified copy instead of downloading it again (`prefetched`), and
 * `release` removes the folder (a dry run releases it at once).
 *
 * @example
 *   const p = await preparePull(ctx, "Cohort", "RNA", "v1", { accessions: ["Sample1"] });
 *   p.thawOnly   // Set { "db.sqlite", "reads/Sample1/..." }; undefined for the whole tag
 *   p.plan.objects.fetch
 *   await p.release()
 */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import picomatch from "picomatch";
import { DatasetNotFoundError, InvalidArgumentError, TagNotFoundError } from "../errors.js";
import { SQL_FILE } from "../freezer/freezable.js";
import { checkImport, objectsToFetch, wantedObjects } from "../freezer/importTag.js";
import type { TagManifest } from "../freezer/manifest.js";
import { formatSlug } from "../names.js";
import { checkAccessionSelection, selectAccessionFiles } from "../types/cohort/selection.js";
import type { Backend } from "./backends/backend.js";
import { isObjectNotFound } from "./backends/errors.js";
import { copiesAreFree } from "../disk/space.js";
import { addRequests, countingBackend, diskRoom, downloadRequests, type DiskRoom, type RequestEstimate } from "./dryRun.js";
import { objectKey } from "./layout.js";
import { fetchManifest, remoteTags, type CloudContext, type OperationOptions } from "./remote.js";
import { downloadObject } from "./transfer/download.js";
import { isPacked } from "./packs/format.js";
import { downloadPacked, rangesOf, type PackedFile } from "./packs/reader.js";

/** The dtype whose pulls take `accessions` and `where`. */
export const COHORT_DTYPE = "Cohort";
const INCLUDE_RULE = "--include is a glob over the tag's file paths, e.g. 'reads/Sample1/**' or '*.sqlite'";
const COHORT_RULE = `--accessions and --where apply to the dtype ${COHORT_DTYPE} only`;

/** Which files of a tag a pull fetches; nothing given: all of them. */
export interface PullSelection {
  /** globs over the tag's paths (picomatch, dotfiles included) */
  include?: string[];
  /** a Cohort's accessions (names or aliases): their attached reads plus the Cohort's tables */
  accessions?: string[];
  /** a Cohort's accessions whose metadata has every key=value: as `accessions` */
  where?: Record<string, string>;
}

/** What a pull would do, from its dry run. */
export interface PullPlan {
  dryRun: true;
  slug: string;
  tag: string;
  /** the working copy would hold only some files of the tag */
  partial: boolean;
  /** with accessions or where: the accessions selected */
  accessions?: string[];
  /** the files the working copy would hold */
  files: { thawed: number; bytes: number; inTag: number };
  /** objects to download, and those already in the local store */
  objects: { fetch: number; bytes: number; local: number };
  /** requests the pull makes, estimated (the plan's own reads included) */
  requests: RequestEstimate;
  /** bytes written locally (objects fetched + working copy) against the free space of the base directory */
  disk: DiskRoom;
}

/** A planned pull: the manifest, the paths to fetch and thaw (undefined: all), and the plan. */
export interface PreparedPull {
  manifest: TagManifest;
  /** the objects of these paths are fetched */
  fetchOnly?: Set<string>;
  /** these paths are thawed: the selection plus the files whose objects are already local */
  thawOnly?: Set<string>;
  plan: PullPlan;
  /**
   * Objects already downloaded and verified while planning (the Cohort's
   * database, read for `accessions` / `where`): sha256 to a local copy, so the
   * pull does not fetch them again. Call `release` once the pull is done with them.
   */
  prefetched: ReadonlyMap<string, string>;
  release(): Promise<void>;
}

/** True when the selection filters anything (empty lists and criteria filter nothing). @example hasSelection({ include: [] }) // false */
export function hasSelection(sel: PullSelection): boolean {
  return Boolean(sel.include?.length || sel.accessions?.length || (sel.where && Object.keys(sel.where).length > 0));
}

/**
 * Refuses a bad selection before anything is read (INVALID_ARGUMENT naming the value and the rule).
 *
 * @example checkPullSelection("Other", { accessions: ["S1"] })  // throws: Cohort only
 */
export function checkPullSelection(dtype: string, sel: PullSelection): void {
  for (const g of sel.include ?? []) {
    if (typeof g !== "string" || g.trim() === "") throw new InvalidArgumentError(`invalid --include ${JSON.stringify(g)}: ${INCLUDE_RULE}`, { value: g, rule: INCLUDE_RULE });
  }
  if ((sel.accessions?.length || (sel.where && Object.keys(sel.where).length > 0)) && dtype !== COHORT_DTYPE) {
    const what = sel.accessions?.length ? `--accessions ${sel.accessions.join(",")}` : "--where";
    throw new InvalidArgumentError(`${what} does not apply to ${dtype}: ${COHORT_RULE}`, { dtype, rule: COHORT_RULE });
  }
  checkAccessionSelection(sel);
}

/** Plans the pull of one tag (see the module comment); `dryRun` also runs the refusals the import would. @example (await preparePull(ctx, "Cohort", "RNA", "v1", { dryRun: true })).plan */
export async function preparePull(
  ctx: CloudContext,
  dtype: string,
  name: string,
  tag: string,
  opts: PullSelection & OperationOptions & { force?: boolean; dryRun?: boolean },
): Promise<PreparedPull> {
  const { signal } = opts;
  checkPullSelection(dtype, opts);
  const { backend, requests } = countingBackend(ctx.backend);
  const manifest = await fetchTagManifest(backend, dtype, name, tag, signal);
  const slug = formatSlug(dtype, name, tag);
  const chosen = hasSelection(opts) ? await selectFiles(ctx, backend, manifest, opts, slug, signal) : undefined;
  const release = chosen?.release ?? (async () => undefined);
  try {
    const planned = await planFetch(ctx, requests, dtype, name, tag, manifest, chosen, opts);
    if (opts.dryRun) await release();
    return { ...planned, prefetched: chosen?.prefetched ?? new Map(), release };
  } catch (err) {
    await release();
    throw err;
  }
}

async function planFetch(
  ctx: CloudContext,
  requests: RequestEstimate,
  dtype: string,
  name: string,
  tag: string,
  manifest: TagManifest,
  chosen: SelectedFiles | undefined,
  opts: { force?: boolean; dryRun?: boolean },
): Promise<Omit<PreparedPull, "prefetched" | "release">> {
  const ds = ctx.freezer.dataset(dtype, name);
  if (opts.dryRun) await checkImport(ds, manifest, { force: opts.force, from: "the cloud", readOnly: true });
  const fetchOnly = chosen?.paths;
  const missing = await objectsToFetch(ctx.freezer.blobs, ds, manifest, wantedObjects(manifest, fetchOnly), objectKey);
  let thawOnly: Set<string> | undefined;
  if (fetchOnly) {
    thawOnly = new Set(fetchOnly);
    for (const [p, e] of Object.entries(manifest.files)) if (!thawOnly.has(p) && (await ctx.freezer.blobs.has(e.sha256))) thawOnly.add(p);
    if (thawOnly.size === Object.keys(manifest.files).length) thawOnly = undefined;
  }
  // Single objects: their GETs; packed files: one ranged GET per run of neighbours in each pack.
  const byPack = new Map<string, PackedFile[]>();
  for (const e of missing) {
    if (chosen?.prefetched.has(e.sha256)) continue; // downloaded once, by the selection (counted in `requests`)
    if (!isPacked(e)) addRequests(requests, downloadRequests(ctx.backend, e.size));
    else {
      const files = byPack.get(e.pack) ?? [];
      if (files.length === 0) byPack.set(e.pack, files);
      files.push({ sha256: e.sha256, size: e.size, pack: e.pack, offset: e.offset });
    }
  }
  for (const files of byPack.values()) addRequests(requests, { gets: rangesOf(files).length });
  const fetchBytes = missing.reduce((n, e) => n + e.size, 0);
  const thawedFiles = Object.entries(manifest.files).filter(([p]) => !thawOnly || thawOnly.has(p));
  const thawedBytes = thawedFiles.reduce((n, [, e]) => n + e.size, 0);
  const plan: PullPlan = {
    dryRun: true,
    slug: formatSlug(dtype, name),
    tag,
    partial: thawOnly !== undefined,
    ...(chosen?.accessions ? { accessions: chosen.accessions } : {}),
    files: { thawed: thawedFiles.length, bytes: thawedBytes, inTag: Object.keys(manifest.files).length },
    objects: { fetch: missing.length, bytes: fetchBytes, local: wantedObjects(manifest, fetchOnly).size - missing.length },
    requests,
    disk: await diskRoom(ctx.freezer.basedir, [...missing.map((e) => e.size), ...(await copiesAreFree(ctx.freezer.basedir) ? [] : thawedFiles.map(([, e]) => e.size))]),
  };
  return { manifest, ...(fetchOnly ? { fetchOnly } : {}), ...(thawOnly ? { thawOnly } : {}), plan };
}

interface SelectedFiles {
  paths: Set<string>;
  accessions?: string[];
  /** the database copy the selection read, verified, by sha256 (kept until `release`) */
  prefetched: ReadonlyMap<string, string>;
  release(): Promise<void>;
}

/** The paths a selection chooses: matching an `include` glob, or needed by the chosen accessions. */
async function selectFiles(
  ctx: CloudContext,
  backend: Backend,
  manifest: TagManifest,
  sel: PullSelection,
  slug: string,
  signal?: AbortSignal,
): Promise<SelectedFiles> {
  const paths = Object.keys(manifest.files);
  const out = new Set<string>();
  for (const g of sel.include ?? []) {
    const match = picomatch(g, { dot: true });
    const hits = paths.filter((p) => match(p));
    if (hits.length === 0) throw new InvalidArgumentError(`--include ${JSON.stringify(g)} matches no file of ${slug}: ${INCLUDE_RULE}`, { value: g, rule: INCLUDE_RULE });
    for (const p of hits) out.add(p);
  }
  const where = sel.where && Object.keys(sel.where).length > 0 ? sel.where : undefined;
  const accessions = sel.accessions?.length ? sel.accessions : undefined;
  if (!accessions && !where) return { paths: out, prefetched: new Map(), release: async () => undefined };
  const db = manifest.files[SQL_FILE];
  if (!db) throw new InvalidArgumentError(`${slug} has no ${SQL_FILE}: ${COHORT_RULE}`, { slug });
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "minus80-select-"));
  const release = () => fsp.rm(dir, { recursive: true, force: true });
  try {
    const copy = path.join(dir, SQL_FILE);
    const local = await ctx.freezer.blobs.has(db.sha256);
    if (local) await fsp.copyFile(ctx.freezer.blobs.pathOf(db.sha256), copy);
    else if (isPacked(db)) await downloadPacked(backend, db, copy, { path: SQL_FILE, ...(signal ? { signal } : {}) });
    else await downloadObject(backend, objectKey(db.sha256), copy, { expect: () => db, signal });
    const chosen = selectAccessionFiles(copy, paths, { ...(accessions ? { accessions } : {}), ...(where ? { where } : {}) }, slug);
    for (const p of chosen.paths) out.add(p);
    // The downloaded copy is the pull's too: it is not fetched a second time.
    return { paths: out, accessions: chosen.accessions, prefetched: new Map(local ? [] : [[db.sha256, copy]]), release };
  } catch (err) {
    await release();
    throw err;
  }
}

/** The manifest of a tag in the bucket; DATASET_NOT_FOUND / TAG_NOT_FOUND (naming the tags there) when absent. @example await fetchTagManifest(backend, "Cohort", "RNA", "v1") */
export async function fetchTagManifest(backend: Backend, dtype: string, name: string, tag: string, signal?: AbortSignal): Promise<TagManifest> {
  try {
    return await fetchManifest(backend, dtype, name, tag, signal);
  } catch (err) {
    if (!isObjectNotFound(err)) throw err;
    const tags = await remoteTags(backend, dtype, name, signal);
    if (tags.length === 0) throw new DatasetNotFoundError(formatSlug(dtype, name), "cloud");
    throw new TagNotFoundError(formatSlug(dtype, name), tag, "cloud", tags);
  }
}
