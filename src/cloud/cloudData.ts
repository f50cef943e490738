/**
 * `CloudData`: the seed's interface to datasets and raw files in
 * S3-compatible storage (or a shared folder). Argument order follows the
 * seed: name first, then dtype.
 *
 * @example
 *   const cloud = await CloudData.open();                 // settings from the config file
 *   await cloud.list();                                   // {} when empty, else { Cohort: ["TestCohort"] }
 *   await cloud.put("TestCohort", "Cohort");              // working state as `latest`, plus every local tag the cloud lacks
 *   await cloud.put("TestCohort", "Cohort", { tag: "v1" });
 *   await cloud.get("TestCohort", "Cohort");              // fetch `latest` and thaw it
 *   await cloud.put("data/R1.fastq", "fastq", { raw: true });
 *   await cloud.get("R1.fastq", "fastq", { raw: true, output: "R1.fastq" });
 *   await cloud.remove("TestCohort", "Cohort");           // its manifests; gc reclaims the objects
 *   cloud.close();
 */
import { forEachLimit } from "../concurrency.js";
import { loadConfig, type Config, type ConfigOverrides } from "../config/config.js";
import { DatasetNotFoundError, InvalidNameError, Minus80Error, TagNotFoundError } from "../errors.js";
import { Freezer } from "../freezer/freezer.js";
import { LATEST_TAG, totalSize } from "../freezer/manifest.js";
import { checkDtype, checkName, checkRawName, checkTag, formatSlug } from "../names.js";
import type { ProgressListener } from "../progress.js";
import type { Backend } from "./backends/backend.js";
import { createBackend } from "./backends/create.js";
import { emptyPushCounts, fetchManifest, GC_GRACE_MS, pullTag, pushTag, remoteTags, type CloudContext, type PullCounts, type PushCounts } from "./datasets.js";
import { gc, nuke, type GcResult, type NukeResult } from "./gc.js";
import { datasetPrefix, LAYOUT_FORMAT, LAYOUT_VERSION, manifestKey, MARKER_KEY, parseManifestKey, parseRawKey, rawKey, rawPrefix } from "./layout.js";
import { getRaw, putRaw, SHA256_METADATA, type RawGetResult, type RawPutResult } from "./raw.js";
import { RetryingBackend, type RetryEvent, type RetryPolicy } from "./retry.js";
import { verify, type VerifyOptions, type VerifyReport } from "./verify.js";

export interface CloudOpenOptions extends ConfigOverrides {
  /** the local freezer to use (default: the configured base directory) */
  freezer?: Freezer;
  /** a backend to use as is, instead of the configured one (tests, fault injection) */
  backend?: Backend;
  /** retry policy for the configured backend */
  retry?: Partial<RetryPolicy>;
  /** told about every retry (e.g. to count them) */
  onRetry?: (e: RetryEvent) => void;
  /** gc's grace period (default GC_GRACE_MS, 24 h) */
  gcGraceMs?: number;
  connectTimeoutMs?: number;
  /** a connection silent this long fails with UNREACHABLE */
  idleTimeoutMs?: number;
}

export interface CloudListOptions {
  /** exact dtype */
  dtype?: string;
  /** name prefix */
  name?: string;
  /** raw files instead of datasets */
  raw?: boolean;
  /** per dataset, every tag with its size, file count, creation time and short checksum (per raw file: size and checksum) */
  tags?: boolean;
}

/** `{ Cohort: ["TestCohort"] }`, or for raw files `{ fastq: ["R1.fastq"] }` */
export type CloudListing = Record<string, string[]>;

export interface TagSummary {
  tag: string;
  created: string;
  files: number;
  size: number;
  /** first 12 hex digits of the tag's total */
  checksum: string;
  parent: string | null;
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

export interface CloudPutOptions {
  /** push this frozen tag (default: freeze the working state as `latest` and push every tag the cloud lacks) */
  tag?: string;
  /** `name` is a file path and `dtype` a free category */
  raw?: boolean;
  /** raw: replace a different file of the same name */
  force?: boolean;
  onProgress?: ProgressListener;
}

export interface CloudGetOptions {
  /** default `latest` */
  tag?: string;
  raw?: boolean;
  /** raw: where to write (default: the file name in the current directory) */
  output?: string;
  /** discard unsaved local changes / replace a different local file */
  force?: boolean;
  onProgress?: ProgressListener;
}

export interface CloudRemoveOptions {
  /** remove only this tag (default: every tag of the dataset) */
  tag?: string;
  raw?: boolean;
}

/** What a put did: `uploaded === 0` means nothing was sent. */
export type CloudPutResult = PushCounts & { key?: string; sha256?: string };
export type CloudGetResult = (PullCounts & { raw?: false }) | (RawGetResult & { raw: true });

const NAME_PREFIX_RE = /^[A-Za-z0-9_-]{0,128}$/;

export class CloudData {
  private readonly ctx: CloudContext;

  private constructor(
    readonly config: Config,
    readonly backend: Backend,
    readonly freezer: Freezer,
    gcGraceMs: number,
  ) {
    this.ctx = { backend, freezer, concurrency: config.cloud.concurrency, gcGraceMs };
  }

  /**
   * Connects with the settings from the config (overrides win), creating
   * the bucket when it is missing.
   *
   * @example const cloud = await CloudData.open({ bucket: "lab-data" });
   */
  static async open(opts: CloudOpenOptions = {}): Promise<CloudData> {
    const { freezer, backend, retry, onRetry, gcGraceMs, connectTimeoutMs, idleTimeoutMs, ...overrides } = opts;
    const config = loadConfig(overrides);
    const b = backend ?? new RetryingBackend(await createBackend(config.cloud, { connectTimeoutMs, idleTimeoutMs }), retry, onRetry);
    try {
      await b.ensureBucket();
      await checkMarker(b);
    } catch (err) {
      b.close();
      throw err;
    }
    return new CloudData(config, b, freezer ?? new Freezer(config.basedir), gcGraceMs ?? GC_GRACE_MS);
  }

  /** Where the data goes, safe to print. */
  get location(): string {
    return this.backend.location;
  }

  /**
   * Lists datasets (or raw files with `raw`), filtered by dtype (exact) and
   * name (prefix). `{}` when there is nothing.
   *
   * @example await cloud.list({ dtype: "Cohort" })   // { Cohort: ["TestCohort"] }
   */
  list(opts?: CloudListOptions & { tags?: false }): Promise<CloudListing>;
  list(opts: CloudListOptions & { raw?: false; tags: true }): Promise<CloudTagListing>;
  list(opts: CloudListOptions & { raw: true; tags: true }): Promise<CloudRawListing>;
  async list(opts: CloudListOptions = {}): Promise<CloudListing | CloudTagListing | CloudRawListing> {
    if (opts.raw && opts.tags) return this.listRawFiles(opts);
    if (opts.tags) return this.listTags(opts);
    if (opts.raw) {
      const details = await this.listRawFiles(opts);
      return mapValues(details, (files) => files.map((f) => f.name));
    }
    return mapValues(await this.datasetTags(opts), (names) => Object.keys(names));
  }

  /** Every tag of every matching dataset, with its size, file count, creation time and short checksum. */
  async listTags(opts: Omit<CloudListOptions, "raw" | "tags"> = {}): Promise<CloudTagListing> {
    const found = await this.datasetTags(opts);
    const out: CloudTagListing = {};
    const jobs: Array<{ dtype: string; name: string; tag: string; into: TagSummary[] }> = [];
    for (const [dtype, names] of Object.entries(found)) {
      out[dtype] = {};
      for (const [name, tags] of Object.entries(names)) {
        const into: TagSummary[] = (out[dtype]![name] = []);
        for (const tag of tags) jobs.push({ dtype, name, tag, into });
      }
    }
    await forEachLimit(jobs, this.ctx.concurrency, async (j) => {
      try {
        const m = await fetchManifest(this.backend, j.dtype, j.name, j.tag);
        j.into.push({ tag: m.tag, created: m.created, files: Object.keys(m.files).length, size: totalSize(m.files), checksum: m.total.slice(0, 12), parent: m.parent });
      } catch (err) {
        // Removed meanwhile, or damaged: a listing shows what can be fetched.
        if (!this.backend.isNotFound(err) && !(err instanceof Minus80Error && err.code === "INTEGRITY")) throw err;
      }
    });
    for (const names of Object.values(out)) {
      for (const tags of Object.values(names)) tags.sort((a, b) => a.created.localeCompare(b.created) || a.tag.localeCompare(b.tag));
    }
    return out;
  }

  /** Raw files with their size, time and recorded sha256. */
  async listRawFiles(opts: Omit<CloudListOptions, "raw" | "tags"> = {}): Promise<CloudRawListing> {
    if (opts.dtype !== undefined) checkDtype(opts.dtype);
    const prefix = opts.name ?? "";
    if (prefix !== "") checkRawName(prefix);
    const out: CloudRawListing = {};
    const heads: Array<{ key: string; into: RawFileSummary }> = [];
    for await (const o of this.backend.list(rawPrefix(opts.dtype))) {
      const r = parseRawKey(o.key);
      if (!r || !r.file.startsWith(prefix) || (opts.dtype !== undefined && r.dtype !== opts.dtype)) continue;
      const into: RawFileSummary = { name: r.file, size: o.size, lastModified: o.lastModified.toISOString(), sha256: null };
      (out[r.dtype] ??= []).push(into);
      heads.push({ key: o.key, into });
    }
    // Metadata is not in listings: one HEAD per file, in parallel.
    await forEachLimit(heads, this.ctx.concurrency, async (h) => {
      const meta = await this.backend.head(h.key).catch(() => undefined);
      const sha = meta?.metadata[SHA256_METADATA];
      h.into.sha256 = sha && /^[0-9a-f]{64}$/.test(sha) ? sha : null;
    });
    return sortKeys(out);
  }

  /** dtype -> name -> tags, from the manifest keys alone. */
  private async datasetTags(opts: { dtype?: string; name?: string }): Promise<Record<string, Record<string, string[]>>> {
    if (opts.dtype !== undefined) checkDtype(opts.dtype);
    const prefix = opts.name ?? "";
    if (!NAME_PREFIX_RE.test(prefix)) {
      throw new InvalidNameError(`invalid name filter ${JSON.stringify(prefix)}: a name prefix is up to 128 letters, digits, '_' and '-'`, {
        kind: "name",
        value: prefix,
      });
    }
    const out: Record<string, Record<string, string[]>> = {};
    for await (const o of this.backend.list(datasetPrefix(opts.dtype))) {
      const m = parseManifestKey(o.key);
      if (!m || !m.name.startsWith(prefix) || (opts.dtype !== undefined && m.dtype !== opts.dtype)) continue;
      ((out[m.dtype] ??= {})[m.name] ??= []).push(m.tag);
    }
    return sortKeys(mapValues(out, sortKeys));
  }

  /**
   * Stores a dataset (or, with `raw`, a file) in the cloud. Only objects
   * the bucket lacks are sent; the result counts what was.
   *
   * @example (await cloud.put("TestCohort", "Cohort", { tag: "v1" })).uploaded  // 0 on a re-push
   */
  async put(name: string, dtype: string, opts: CloudPutOptions = {}): Promise<CloudPutResult> {
    if (opts.raw) {
      const r: RawPutResult = await putRaw(this.ctx, name, dtype, opts);
      return { ...emptyPushCounts(), uploaded: r.uploaded, bytes: r.bytes, skipped: r.skipped, key: r.key, sha256: r.sha256 };
    }
    checkName(name);
    checkDtype(dtype);
    if (opts.tag !== undefined) checkTag(opts.tag);
    const ds = this.freezer.existing(dtype, name);
    const counts = emptyPushCounts();
    if (opts.tag !== undefined) {
      await pushTag(this.ctx, ds.tag(opts.tag), counts, opts.onProgress);
      return counts;
    }
    await ds.freeze(LATEST_TAG, { onProgress: opts.onProgress });
    const there = new Set(await remoteTags(this.backend, dtype, name));
    for (const t of ds.tags()) {
      if (t.tag !== LATEST_TAG && !there.has(t.tag)) await pushTag(this.ctx, t, counts, opts.onProgress);
    }
    await pushTag(this.ctx, ds.tag(LATEST_TAG), counts, opts.onProgress);
    return counts;
  }

  /**
   * Fetches a dataset tag (default `latest`) into the local freezer and
   * thaws it, or with `raw` downloads a file.
   *
   * @example await cloud.get("TestCohort", "Cohort", { tag: "v1" })
   */
  async get(name: string, dtype: string, opts: CloudGetOptions = {}): Promise<CloudGetResult> {
    if (opts.raw) return { ...(await getRaw(this.ctx, name, dtype, opts)), raw: true };
    checkName(name);
    checkDtype(dtype);
    const tag = checkTag(opts.tag ?? LATEST_TAG);
    return pullTag(this.ctx, dtype, name, tag, opts);
  }

  /**
   * Removes a dataset's manifests (one tag, or all), or a raw file. Objects
   * no longer referenced are reclaimed by `gc`.
   *
   * @example await cloud.remove("TestCohort", "Cohort", { tag: "v1" })  // { removed: 1 }
   */
  async remove(name: string, dtype: string, opts: CloudRemoveOptions = {}): Promise<{ removed: number }> {
    checkDtype(dtype);
    if (opts.raw) {
      checkRawName(name);
      const key = rawKey(dtype, name);
      await this.backend.head(key).catch((err: unknown) => {
        if (this.backend.isNotFound(err)) throw new Minus80Error("NOT_FOUND", `raw file ${dtype}/${name} does not exist in the cloud`, { key });
        throw err;
      });
      await this.backend.delete(key);
      return { removed: 1 };
    }
    checkName(name);
    const slug = formatSlug(dtype, name);
    const tags = await remoteTags(this.backend, dtype, name);
    if (tags.length === 0) throw new DatasetNotFoundError(slug, "cloud");
    if (opts.tag !== undefined) {
      checkTag(opts.tag);
      if (!tags.includes(opts.tag)) throw new TagNotFoundError(slug, opts.tag, "cloud");
      await this.backend.delete(manifestKey(dtype, name, opts.tag));
      return { removed: 1 };
    }
    await this.backend.deleteMany(tags.map((t) => manifestKey(dtype, name, t)));
    return { removed: tags.length };
  }

  /**
   * Deletes objects no manifest references (older than the grace period)
   * and aborts stale multipart uploads. See gc.ts for the safety rule.
   *
   * @example await cloud.gc({ dryRun: true })
   */
  gc(opts: { dryRun?: boolean } = {}): Promise<GcResult> {
    return gc(this.ctx, opts);
  }

  /**
   * Re-hashes what the bucket holds: every object the selected manifests
   * reference (all datasets by default, plus raw files), streamed. Reports
   * every missing or damaged object, with the tags that use it, and every
   * invalid manifest; writes nothing. See verify.ts.
   *
   * @example (await cloud.verify({ dtype: "Cohort", name: "TestCohort" })).ok  // true when intact
   */
  verify(opts: VerifyOptions = {}): Promise<VerifyReport> {
    return verify(this.ctx, opts);
  }

  /** Deletes everything minus80 stored under the configured bucket prefix. */
  nuke(): Promise<NukeResult> {
    return nuke(this.ctx);
  }

  /** Releases connections. */
  close(): void {
    this.backend.close();
  }
}

/** Refuses a bucket prefix whose layout marker is not ours (or from a newer minus80). */
async function checkMarker(backend: Backend): Promise<void> {
  let text: string;
  try {
    const r = await backend.get(MARKER_KEY);
    const chunks: Buffer[] = [];
    for await (const c of r.body as AsyncIterable<Buffer>) chunks.push(c);
    text = Buffer.concat(chunks).toString("utf8");
  } catch (err) {
    if (backend.isNotFound(err)) return;
    throw err;
  }
  let marker: { format?: unknown; version?: unknown } = {};
  try {
    marker = JSON.parse(text) as typeof marker;
  } catch {
    /* handled below */
  }
  if (marker.format !== LAYOUT_FORMAT) {
    throw new Minus80Error("BUCKET", `${backend.location}: ${MARKER_KEY} is not a minus80 layout marker; use another cloud.bucket or cloud.prefix`, {
      key: MARKER_KEY,
    });
  }
  if (marker.version !== LAYOUT_VERSION) {
    throw new Minus80Error(
      "BUCKET",
      `${backend.location} holds minus80 layout version ${String(marker.version)}, this minus80 reads version ${LAYOUT_VERSION}: upgrade minus80`,
      { key: MARKER_KEY, version: marker.version },
    );
  }
}

function mapValues<A, B>(o: Record<string, A>, f: (a: A) => B): Record<string, B> {
  const out: Record<string, B> = {};
  for (const [k, v] of Object.entries(o)) out[k] = f(v);
  return out;
}

function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k]!;
  return out;
}
