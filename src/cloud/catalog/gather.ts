/**
 * What the catalog page shows, gathered from the bucket: the listing
 * (`index.json`, rebuilt from a LIST reusing its unchanged entries, see
 * bucketIndex.ts) and every tag's manifest for what its type says about
 * it (`summary`, freezer/summary.ts). Manifests only: never a tag's
 * SQLite or other objects. The summaries of the page already in the
 * bucket are reused for manifests whose size and time did not change (as
 * the index reuses its entries), so rewriting the page after a push GETs
 * only the new manifests.
 *
 * @example
 *   const data = await gatherCatalog(ctx, { signal, onProgress });
 *   data.datasets[0]   // { dtype: "Cohort", name: "TestCohort", tags: [{ tag: "v1", size: 1234, summary: {...} }] }
 */
import { hasCode } from "../../errors.js";
import { validateSummary, type ContentSummary } from "../../freezer/summary.js";
import { forEachLimit } from "../../limits.js";
import { TransferMeter, type ProgressListener } from "../../progress.js";
import { isObjectNotFound } from "../backends/errors.js";
import type { Backend } from "../backends/backend.js";
import { buildIndex, readIndex, type BucketIndex, type ObjectStamp } from "../bucketIndex.js";
import { CATALOG_KEY, rawKey } from "../layout.js";
import type { TagSummary } from "../listing.js";
import { fetchManifest, readSmallObject, type CloudContext, type OperationOptions } from "../remote.js";

export const CATALOG_FORMAT = "minus80-catalog";
/** A previous page larger than this is not read for reuse (its manifests are read instead). */
export const MAX_REUSED_PAGE_BYTES = 256 * 1024 * 1024;
const EMBEDDED_DATA_RE = /<script type="application\/json" id="catalog-data">(.*?)<\/script>/s;

export interface CatalogTag extends TagSummary {
  summary?: ContentSummary;
  /** the manifest object's size and time when read: an unchanged one is not read again */
  manifest?: ObjectStamp;
}

export interface CatalogDataset {
  dtype: string;
  name: string;
  /** oldest first */
  tags: CatalogTag[];
}

export interface CatalogRawFile {
  dtype: string;
  file: string;
  size: number;
  modified: string;
  sha256: string | null;
  /** the file's key, relative to the page (the page sits at the layout's root) */
  href: string;
}

/** The JSON embedded in the page. */
export interface CatalogData {
  format: typeof CATALOG_FORMAT;
  version: 1;
  /** ISO 8601 */
  generated: string;
  /** where the page was written: a bucket's URL (its `--from` location when public), or a folder */
  source: string;
  datasets: CatalogDataset[];
  raw: CatalogRawFile[];
}

export interface GatherOptions extends OperationOptions {
  /** `catalog` events, one unit per manifest read */
  onProgress?: ProgressListener;
}

/**
 * The page's data for the bucket of `ctx`, `source` naming where it lives.
 *
 * @example (await gatherCatalog(ctx, "http://s3.example.org/lab")).raw.map((r) => r.file)   // ["R1.fastq"]
 */
export async function gatherCatalog(ctx: CloudContext, source: string, opts: GatherOptions = {}): Promise<CatalogData> {
  const { signal } = opts;
  const previous = await readIndex(ctx.backend, signal).catch((err: unknown) => {
    if (isObjectNotFound(err) || hasCode(err, "INTEGRITY")) return undefined;
    throw err;
  });
  const index = await buildIndex(ctx, previous, signal);
  const datasets = datasetsOf(index);
  const known = await previousSummaries(ctx.backend, signal);
  const tags = datasets.flatMap((d) => d.tags.map((t) => ({ d, t }))).filter(({ d, t }) => {
    const before = known.get(`${d.dtype}/${d.name}/${t.tag}`);
    if (!before || before.checksum !== t.checksum || before.manifest?.size !== t.manifest?.size || before.manifest?.modified !== t.manifest?.modified) return true;
    if (before.summary) t.summary = before.summary;
    return false;
  });
  const meter = new TransferMeter("catalog", tags.length, opts.onProgress);
  await forEachLimit(
    tags,
    ctx.concurrency,
    async ({ d, t }) => {
      try {
        const m = await fetchManifest(ctx.backend, d.dtype, d.name, t.tag, signal);
        if (m.summary) t.summary = m.summary;
      } catch (err) {
        // Removed since the listing, or damaged: the page still lists the tag, without a summary.
        if (!isObjectNotFound(err) && !hasCode(err, "INTEGRITY")) throw err;
      }
      meter.add(`${d.dtype}/${d.name}/${t.tag}`, 1);
    },
    signal,
  );
  meter.done();
  return { format: CATALOG_FORMAT, version: 1, generated: new Date().toISOString(), source, datasets, raw: rawOf(index) };
}

function datasetsOf(index: BucketIndex): CatalogDataset[] {
  const out: CatalogDataset[] = [];
  for (const dtype of Object.keys(index.datasets).sort()) {
    const names = index.datasets[dtype]!;
    for (const name of Object.keys(names).sort()) {
      const tags = Object.entries(names[name]!).map(([tag, t]): CatalogTag => ({ tag, created: t.created, files: t.files, size: t.size, checksum: t.checksum, parent: t.parent, manifest: t.manifest }));
      tags.sort((a, b) => a.created.localeCompare(b.created) || a.tag.localeCompare(b.tag));
      out.push({ dtype, name, tags });
    }
  }
  return out;
}

/** The tags of the page already in the bucket, by `dtype/name/tag`, with their checked summaries; empty when there is none or it cannot be read. */
async function previousSummaries(backend: Backend, signal?: AbortSignal): Promise<Map<string, CatalogTag>> {
  const out = new Map<string, CatalogTag>();
  let data: Partial<CatalogData>;
  try {
    const html = (await readSmallObject(backend, CATALOG_KEY, MAX_REUSED_PAGE_BYTES, signal)).data.toString("utf8");
    data = JSON.parse(EMBEDDED_DATA_RE.exec(html)?.[1] ?? "null") as Partial<CatalogData>;
  } catch (err) {
    if (hasCode(err, "CANCELLED")) throw err;
    return out; // none yet, or not one minus80 wrote: every manifest is read
  }
  if (data?.format !== CATALOG_FORMAT || data.version !== 1 || !Array.isArray(data.datasets)) return out;
  for (const d of data.datasets) {
    for (const t of Array.isArray(d?.tags) ? d.tags : []) {
      try {
        out.set(`${d.dtype}/${d.name}/${t.tag}`, { ...t, ...(t.summary !== undefined ? { summary: validateSummary(t.summary, CATALOG_KEY) } : {}) });
      } catch {
        /* a damaged entry: its manifest is read again */
      }
    }
  }
  return out;
}

function rawOf(index: BucketIndex): CatalogRawFile[] {
  const out: CatalogRawFile[] = [];
  for (const dtype of Object.keys(index.raw).sort()) {
    for (const [file, r] of Object.entries(index.raw[dtype]!).sort(([a], [b]) => a.localeCompare(b))) {
      out.push({ dtype, file, size: r.size, modified: r.lastModified, sha256: r.sha256, href: rawKey(dtype, file).split("/").map(encodeURIComponent).join("/") });
    }
  }
  return out;
}
