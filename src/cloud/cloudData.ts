/**
 * `CloudData`: datasets and raw files in S3-compatible storage (or a
 * shared folder). Every method takes `(dtype, name)`, like the CLI; the
 * original minus80's `put/get/remove(name, dtype, {raw})` stay as
 * compatibility names (see the README, "Library").
 *
 * @example
 *   const cloud = await CloudData.open();                 // settings from the config file
 *   await cloud.listDatasets();                           // {} when empty, else { Cohort: ["TestCohort"] }
 *   await cloud.push("Cohort", "TestCohort");             // working state as `latest`, plus every local tag the cloud lacks
 *   await cloud.push("Cohort", "TestCohort", { tag: "v1" });
 *   await cloud.pull("Cohort", "TestCohort");             // fetch `latest` and thaw it
 *   await cloud.pushRaw("fastq", "data/R1.fastq");
 *   await cloud.pullRaw("fastq", "R1.fastq", { output: "R1.fastq" });
 *   await cloud.removeDataset("Cohort", "TestCohort");    // its manifests; gc reclaims the objects
 *   cloud.close();
 */
import { loadConfig, type Config, type ConfigOverrides } from "../config/config.js";
import { Minus80Error, ReadOnlyError } from "../errors.js";
import { Freezer } from "../freezer/freezer.js";
import { LATEST_TAG } from "../freezer/manifest.js";
import { checkDtype, checkName, checkTag } from "../names.js";
import type { Backend } from "./backends/backend.js";
import { createBackend } from "./backends/create.js";
import { gc, GC_GRACE_MS, nuke, type GcOptions, type GcResult, type NukeResult } from "./gc.js";
import { rebuildIndex, refreshIndex, type BucketIndex } from "./bucketIndex.js";
import { catalogLocation, writeCatalog, type CatalogOptions, type CatalogResult } from "./catalog/catalog.js";
import { datasetTags, listRawFiles, listTags, mapValues, type CloudListing, type CloudRawListing, type CloudTagListing, type ListFilter } from "./listing.js";
import { checkMarker } from "./marker.js";
import { pullTag, type PullCounts, type PullOptions } from "./pull.js";
import { preparePull, type PullPlan } from "./pullPlan.js";
import type { CatalogOutcome, PushCounts } from "./push.js";
import { pushDataset, type PushDatasetOptions } from "./pushDataset.js";
import { planPush, type PushPlan } from "./pushPlan.js";
import { pullRaw, pushRaw, type RawGetResult, type RawPullOptions, type RawPushOptions, type RawPutResult } from "./raw.js";
import { openFrom, type ShareGrant } from "./readOnly.js";
import type { CloudContext, OperationOptions } from "./remote.js";
import { removeDataset, removeRaw, type RemoveDatasetOptions } from "./remove.js";
import { createRawShare, createShare, type ShareLink, type ShareOptions } from "./share.js";
import { transfersWithinFileLimit } from "../limits.js";
import { RetryingBackend, type RetryEvent, type RetryPolicy } from "./retry.js";
import { verify, type VerifyOptions, type VerifyReport } from "./verify.js";
import { compatGet, compatPut, compatRemove, type CloudGetOptions, type CloudGetResult, type CloudPutOptions, type CloudPutResult, type CloudRemoveOptions } from "./compat.js";

export interface CloudOpenOptions extends ConfigOverrides, OperationOptions {
  /** the local freezer to use (default: the configured base directory) */
  freezer?: Freezer;
  /**
   * read anonymously from this URL instead of the configured storage: a
   * public bucket path or static web server (`https://host/bucket[/prefix]`),
   * or a share link; GET and HEAD only, every write refused (READ_ONLY)
   */
  from?: string;
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

export interface CloudListOptions extends ListFilter {
  /** raw files instead of datasets */
  raw?: boolean;
  /** per dataset, every tag with its size, file count, creation time and short checksum (per raw file: size and checksum) */
  tags?: boolean;
}

export interface CloudPushOptions extends PushDatasetOptions {
  /** only say what would be sent (a `PushPlan`); nothing is written, locally or remotely */
  dryRun?: boolean;
}

export interface CloudPullOptions extends PullOptions {
  /** default `latest` */
  tag?: string;
  /** only say what would be fetched (a `PullPlan`); nothing is written, locally or remotely */
  dryRun?: boolean;
}

export type CloudRemoveDatasetOptions = RemoveDatasetOptions;

export class CloudData {
  private readonly ctx: CloudContext;

  private constructor(
    readonly config: Config,
    readonly backend: Backend,
    readonly freezer: Freezer,
    gcGraceMs: number,
    /** the URL opened read-only (`open({ from })`), safe to print; undefined for the configured storage */
    readonly from?: string,
    /** what a share link grants (one tag); undefined otherwise */
    readonly grant?: ShareGrant,
  ) {
    // A low limit of open files lowers the concurrency rather than failing transfers with EMFILE.
    const concurrency = Math.min(config.cloud.concurrency, transfersWithinFileLimit() ?? config.cloud.concurrency);
    this.ctx = { backend, freezer, concurrency, gcGraceMs, committed: new Map() };
  }

  /**
   * Connects with the settings from the config (overrides win), creating
   * the bucket when it is missing.
   *
   * @example const cloud = await CloudData.open({ bucket: "lab-data" });
   */
  static async open(opts: CloudOpenOptions = {}): Promise<CloudData> {
    const { freezer, backend, retry, onRetry, gcGraceMs, connectTimeoutMs, idleTimeoutMs, signal, from, ...overrides } = opts;
    const config = loadConfig(overrides);
    const opened = from !== undefined ? await openFrom(from, { signal, retry }) : undefined;
    const b = opened?.backend ?? backend ?? new RetryingBackend(await createBackend(config.cloud, { connectTimeoutMs, idleTimeoutMs }), retry, onRetry);
    try {
      if (!opened) await b.ensureBucket({ signal });
      if (!opened?.grant) await checkMarker(b, signal);
    } catch (err) {
      b.close();
      throw err;
    }
    return new CloudData(config, b, freezer ?? new Freezer(config.basedir), gcGraceMs ?? GC_GRACE_MS, opened ? b.location : undefined, opened?.grant);
  }

  /** Where the data goes, safe to print. */
  get location(): string {
    return this.backend.location;
  }

  /** Datasets by dtype (exact) and name (prefix): `{ Cohort: ["TestCohort"] }`, `{}` when there is nothing. */
  async listDatasets(opts: ListFilter = {}): Promise<CloudListing> {
    return mapValues(await datasetTags(this.ctx, opts), (names) => Object.keys(names));
  }

  /** Every tag of every matching dataset, with its size, file count, creation time and short checksum. */
  listTags(opts: ListFilter = {}): Promise<CloudTagListing> {
    return listTags(this.ctx, opts);
  }

  /** Raw files with their size, time and recorded sha256. */
  listRawFiles(opts: ListFilter = {}): Promise<CloudRawListing> {
    return listRawFiles(this.ctx, opts);
  }

  /**
   * Stores a dataset: one frozen tag, or (without `tag`) the working state
   * as `latest` plus every local tag the cloud lacks. Only objects the
   * bucket lacks are sent; the result counts what was.
   *
   * With `dryRun`, returns what it would do (files, objects, bytes,
   * requests) and writes nothing (see pushPlan.ts).
   *
   * @example (await cloud.push("Cohort", "TestCohort", { tag: "v1" })).uploaded  // 0 on a re-push
   * @example (await cloud.push("Cohort", "TestCohort", { dryRun: true })).objects.upload
   */
  push(dtype: string, name: string, opts: CloudPushOptions & { dryRun: true }): Promise<PushPlan>;
  push(dtype: string, name: string, opts?: CloudPushOptions & { dryRun?: false }): Promise<PushCounts>;
  push(dtype: string, name: string, opts?: CloudPushOptions): Promise<PushCounts | PushPlan>;
  async push(dtype: string, name: string, opts: CloudPushOptions = {}): Promise<PushCounts | PushPlan> {
    if (!opts.dryRun) {
      const counts = await this.writing(opts, () => pushDataset(this.ctx, dtype, name, opts));
      if (this.config.cloud.catalogOnPush) counts.catalog = await this.catalogAfterPush(opts);
      return counts;
    }
    this.refuseReadOnly("plan a push");
    checkDtype(dtype);
    checkName(name);
    if (opts.tag !== undefined) checkTag(opts.tag);
    return planPush(this.ctx, this.freezer.existing(dtype, name), { tag: opts.tag, signal: opts.signal });
  }

  /**
   * Fetches a dataset tag (default `latest`) into the local freezer and
   * thaws it. With `include` (globs over its paths), or for a Cohort
   * `accessions` / `where` (their reads plus the Cohort's own tables), only
   * those files: the working copy is then partial (see freezer/partial.ts).
   * With `dryRun`, returns what it would do and writes nothing.
   *
   * @example await cloud.pull("Cohort", "TestCohort", { tag: "v1" })
   * @example await cloud.pull("Cohort", "RNA", { tag: "v1", accessions: ["Sample1"] })   // .partial === true
   * @example (await cloud.pull("Cohort", "RNA", { tag: "v1", where: { tissue: "leaf" }, dryRun: true })).disk.enough
   */
  pull(dtype: string, name: string, opts: CloudPullOptions & { dryRun: true }): Promise<PullPlan>;
  pull(dtype: string, name: string, opts?: CloudPullOptions & { dryRun?: false }): Promise<PullCounts>;
  pull(dtype: string, name: string, opts?: CloudPullOptions): Promise<PullCounts | PullPlan>;
  async pull(dtype: string, name: string, opts: CloudPullOptions = {}): Promise<PullCounts | PullPlan> {
    checkDtype(dtype);
    checkName(name);
    const tag = checkTag(opts.tag ?? LATEST_TAG);
    if (opts.dryRun) return (await preparePull(this.ctx, dtype, name, tag, opts)).plan;
    return pullTag(this.ctx, dtype, name, tag, opts);
  }

  /**
   * Removes a dataset's manifests (one tag, or all). Objects no longer
   * referenced are reclaimed by `gc`.
   *
   * @example await cloud.removeDataset("Cohort", "TestCohort", { tag: "v1" })  // { removed: 1 }
   */
  removeDataset(dtype: string, name: string, opts: CloudRemoveDatasetOptions = {}): Promise<{ removed: number }> {
    return this.writing(opts, () => removeDataset(this.ctx, dtype, name, opts));
  }

  /**
   * Uploads a local file as `raw/<dtype>/<its base name>`, a plain object
   * carrying its sha256.
   *
   * @example await cloud.pushRaw("fastq", "data/R1.fastq")
   */
  async pushRaw(dtype: string, file: string, opts: RawPushOptions = {}): Promise<RawPutResult> {
    const r = await this.writing(opts, () => pushRaw(this.ctx, dtype, file, opts));
    if (this.config.cloud.catalogOnPush) r.catalog = await this.catalogAfterPush(opts);
    return r;
  }

  /**
   * Downloads `raw/<dtype>/<name>`, verified, to `output` (default: `name` here).
   *
   * @example await cloud.pullRaw("fastq", "R1.fastq", { output: "data/" })
   */
  pullRaw(dtype: string, name: string, opts: RawPullOptions = {}): Promise<RawGetResult> {
    return pullRaw(this.ctx, dtype, name, opts);
  }

  /**
   * Removes a raw file from the cloud.
   *
   * @example await cloud.removeRaw("fastq", "R1.fastq")  // { removed: 1 }
   */
  removeRaw(dtype: string, name: string, opts: OperationOptions = {}): Promise<{ removed: number }> {
    return this.writing(opts, () => removeRaw(this.ctx, dtype, name, opts));
  }

  /**
   * Deletes objects no manifest references (older than the grace period)
   * and aborts stale multipart uploads. See gc.ts for the safety rule.
   *
   * @example await cloud.gc({ dryRun: true })
   */
  gc(opts: GcOptions = {}): Promise<GcResult> {
    return opts.dryRun ? gc(this.ctx, opts) : this.writing(opts, () => gc(this.ctx, opts));
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
  async nuke(opts: OperationOptions = {}): Promise<NukeResult> {
    this.refuseReadOnly("nuke");
    return nuke(this.ctx, opts);
  }

  /**
   * A link that lets anyone fetch one tag, without keys, until it expires
   * (default and most: 7 days): `CloudData.open({ from: link.url })` or
   * `minus80 cloud pull --from '<url>'`. See share.ts.
   *
   * @example (await cloud.share("Cohort", "TestCohort", { tag: "v1", expires: "2h" })).url
   */
  async share(dtype: string, name: string, opts: ShareOptions = {}): Promise<ShareLink> {
    this.refuseReadOnly("make share links");
    return createShare(this.ctx, dtype, name, opts);
  }

  /**
   * A link to one raw file that curl or a browser fetch as the file itself.
   *
   * @example (await cloud.shareRaw("fastq", "R1.fastq", { expires: "1d" })).url
   */
  async shareRaw(dtype: string, file: string, opts: Omit<ShareOptions, "tag"> = {}): Promise<ShareLink> {
    this.refuseReadOnly("make share links");
    return createRawShare(this.ctx, dtype, file, opts);
  }

  /**
   * Rebuilds `index.json` (what readers without LIST see) from a LIST.
   *
   * @example Object.keys((await cloud.rebuildIndex()).datasets)   // ["Cohort"]
   */
  async rebuildIndex(opts: OperationOptions = {}): Promise<BucketIndex> {
    this.refuseReadOnly("rebuild the index");
    return rebuildIndex(this.ctx, opts);
  }

  /**
   * Writes the catalog page: one self-contained `index.html` at the
   * layout's root (or, with `output`, into that local folder) showing the
   * datasets, tags, what each tag's type says about it (a Cohort's
   * accessions) and the raw files, from the manifests alone. Readable
   * wherever the bucket's files are (a public bucket URL, a static server
   * over a copy, a file on disk). Progress: `catalog` events.
   *
   * @example (await cloud.catalog()).page                   // "https://s3.example.org/lab/index.html"
   * @example (await cloud.catalog({ output: "site" })).page  // "/home/me/site/index.html"
   */
  async catalog(opts: CatalogOptions = {}): Promise<CatalogResult> {
    if (opts.output === undefined) this.refuseReadOnly("write the catalog page");
    const where = this.from !== undefined ? { source: this.from, page: `${this.from}/index.html` } : catalogLocation(this.config.cloud);
    return writeCatalog(this.ctx, where, opts);
  }

  /** The page rewritten after a push; a failure is reported in the push's result, never thrown (the push succeeded). */
  private async catalogAfterPush(opts: OperationOptions & { onProgress?: CatalogOptions["onProgress"] }): Promise<CatalogOutcome> {
    try {
      return { page: (await this.catalog({ signal: opts.signal, onProgress: opts.onProgress })).page };
    } catch (err) {
      return { error: err instanceof Error ? err.message : String(err), code: err instanceof Minus80Error ? err.code : "CLOUD" };
    }
  }

  /** READ_ONLY when opened `from` a URL. */
  private refuseReadOnly(what: string): void {
    if (this.from !== undefined) throw new ReadOnlyError(`${this.location} was opened read-only (--from): cannot ${what}`, { location: this.location });
  }

  /** Runs a write, then brings the index up to date (bucketIndex.ts). */
  private async writing<T>(opts: OperationOptions, write: () => Promise<T>): Promise<T> {
    this.refuseReadOnly("write");
    const result = await write();
    await refreshIndex(this.ctx, opts);
    return result;
  }

  /**
   * Compatibility (the original minus80): datasets by default, raw files
   * with `raw`, or with `tags` the details `listTags`/`listRawFiles` give.
   *
   * @example await cloud.list({ dtype: "Cohort" })   // { Cohort: ["TestCohort"] }
   */
  list(opts?: CloudListOptions & { tags?: false }): Promise<CloudListing>;
  list(opts: CloudListOptions & { raw?: false; tags: true }): Promise<CloudTagListing>;
  list(opts: CloudListOptions & { raw: true; tags: true }): Promise<CloudRawListing>;
  async list(opts: CloudListOptions = {}): Promise<CloudListing | CloudTagListing | CloudRawListing> {
    if (opts.raw && opts.tags) return this.listRawFiles(opts);
    if (opts.tags) return this.listTags(opts);
    if (opts.raw) return mapValues(await this.listRawFiles(opts), (files) => files.map((f) => f.name));
    return this.listDatasets(opts);
  }

  /**
   * Compatibility (the original minus80): `push`, or with `raw` `pushRaw`, name first.
   *
   * @example await cloud.put("TestCohort", "Cohort", { tag: "v1" })
   */
  put(name: string, dtype: string, opts: CloudPutOptions = {}): Promise<CloudPutResult> {
    return compatPut(this, name, dtype, opts);
  }

  /**
   * Compatibility (the original minus80): `pull`, or with `raw` `pullRaw`, name first.
   *
   * @example await cloud.get("R1.fastq", "fastq", { raw: true, output: "R1.fastq" })
   */
  get(name: string, dtype: string, opts: CloudGetOptions = {}): Promise<CloudGetResult> {
    return compatGet(this, name, dtype, opts);
  }

  /**
   * Compatibility (the original minus80): `removeDataset`, or with `raw` `removeRaw`, name first.
   *
   * @example await cloud.remove("TestCohort", "Cohort")
   */
  remove(name: string, dtype: string, opts: CloudRemoveOptions = {}): Promise<{ removed: number }> {
    return compatRemove(this, name, dtype, opts);
  }

  /** Releases connections. */
  close(): void {
    this.backend.close();
  }
}
