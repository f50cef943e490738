/**
 * What the bucket holds, for `cloud ls`: datasets (from the manifest keys
 * alone), their tags with what each manifest says of itself, and raw files
 * with the sha256 their metadata records.
 *
 * @example
 *   await datasetTags(ctx, { dtype: "Cohort" })   // { Cohort: { TestCohort: ["latest", "v1"] } }
 */
import { hasCode, InvalidNameError } from "../errors.js";
import { summaryOf, type ManifestSummary } from "../freezer/manifest.js";
import { forEachLimit } from "../limits.js";
import { checkDtype, checkRawName } from "../names.js";
import { isObjectNotFound } from "./backends/errors.js";
import { datasetPrefix, parseManifestKey, parseRawKey, rawPrefix } from "./layout.js";
import { SHA256_METADATA } from "./raw.js";
import { fetchManifest, type CloudContext, type OperationOptions } from "./remote.js";

export interface ListFilter extends OperationOptions {
  /** exact dtype */
  dtype?: string;
  /** name prefix */
  name?: string;
}

/** `{ Cohort: ["TestCohort"] }`, or for raw files `{ fastq: ["R1.fastq"] }` */
export type CloudListing = Record<string, string[]>;

export interface TagSummary extends ManifestSummary {
  tag: string;
}

/** `{ Cohort: { TestCohort: [ {tag: "v1", ...} ] } }` */
export type CloudTagListing = Record<string, Record<string, TagSummary[]>>;

export interface RawFileSummary {
  name: string;
  size: number;
  lastModified: string;
  /** the sha256 the object carries, or null (e.g. uploaded by another tool) */
  sha256: string | null;
}

/** `{ fastq: [ {name: "R1.fastq", size, ...} ] }` */
export type CloudRawListing = Record<string, RawFileSummary[]>;

const NAME_PREFIX_RE = /^[A-Za-z0-9_-]{0,128}$/;

/** dtype -> name -> tags, from the manifest keys alone. */
export async function datasetTags(ctx: CloudContext, opts: ListFilter): Promise<Record<string, Record<string, string[]>>> {
  if (opts.dtype !== undefined) checkDtype(opts.dtype);
  const prefix = opts.name ?? "";
  if (!NAME_PREFIX_RE.test(prefix)) {
    throw new InvalidNameError(`invalid name filter ${JSON.stringify(prefix)}: a name prefix is up to 128 letters, digits, '_' and '-'`, { kind: "name", value: prefix });
  }
  const out: Record<string, Record<string, string[]>> = {};
  for await (const o of ctx.backend.list(datasetPrefix(opts.dtype), { signal: opts.signal })) {
    const m = parseManifestKey(o.key);
    if (!m || !m.name.startsWith(prefix) || (opts.dtype !== undefined && m.dtype !== opts.dtype)) continue;
    ((out[m.dtype] ??= {})[m.name] ??= []).push(m.tag);
  }
  return sortKeys(mapValues(out, sortKeys));
}

/** Every tag of every matching dataset, with its size, file count, creation time and short checksum. */
export async function listTags(ctx: CloudContext, opts: ListFilter = {}): Promise<CloudTagListing> {
  const found = await datasetTags(ctx, opts);
  const out: CloudTagListing = {};
  const jobs: Array<{ dtype: string; name: string; tag: string; into: TagSummary[] }> = [];
  for (const [dtype, names] of Object.entries(found)) {
    out[dtype] = {};
    for (const [name, tags] of Object.entries(names)) {
      const into: TagSummary[] = (out[dtype]![name] = []);
      for (const tag of tags) jobs.push({ dtype, name, tag, into });
    }
  }
  await forEachLimit(jobs, ctx.concurrency, async (j) => {
    try {
      const m = await fetchManifest(ctx.backend, j.dtype, j.name, j.tag, opts.signal);
      j.into.push({ tag: m.tag, ...summaryOf(m) });
    } catch (err) {
      // Removed meanwhile, or damaged: a listing shows what can be fetched.
      if (!isObjectNotFound(err) && !hasCode(err, "INTEGRITY")) throw err;
    }
  }, opts.signal);
  for (const names of Object.values(out)) {
    for (const tags of Object.values(names)) tags.sort((a, b) => a.created.localeCompare(b.created) || a.tag.localeCompare(b.tag));
  }
  return out;
}

/** Raw files with their size, time and recorded sha256. */
export async function listRawFiles(ctx: CloudContext, opts: ListFilter = {}): Promise<CloudRawListing> {
  if (opts.dtype !== undefined) checkDtype(opts.dtype);
  const prefix = opts.name ?? "";
  if (prefix !== "") checkRawName(prefix);
  const out: CloudRawListing = {};
  const heads: Array<{ key: string; into: RawFileSummary }> = [];
  for await (const o of ctx.backend.list(rawPrefix(opts.dtype), { signal: opts.signal })) {
    const r = parseRawKey(o.key);
    if (!r || !r.file.startsWith(prefix) || (opts.dtype !== undefined && r.dtype !== opts.dtype)) continue;
    const into: RawFileSummary = { name: r.file, size: o.size, lastModified: o.lastModified.toISOString(), sha256: null };
    (out[r.dtype] ??= []).push(into);
    heads.push({ key: o.key, into });
  }
  // Metadata is not in listings: one HEAD per file, in parallel.
  await forEachLimit(heads, ctx.concurrency, async (h) => {
    const meta = await ctx.backend.head(h.key, { signal: opts.signal }).catch(() => undefined);
    const sha = meta?.metadata[SHA256_METADATA];
    h.into.sha256 = sha && /^[0-9a-f]{64}$/.test(sha) ? sha : null;
  }, opts.signal);
  return sortKeys(out);
}

export function mapValues<A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const [k, v] of Object.entries(o)) out[k] = f(v);
  return out;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}
