/**
 * One dataset on disk: `<basedir>/datasets/<dtype>/<name>/` with
 *
 *     thawed/          the working copy (what the dataset's stores read and write)
 *     MANIFEST.json    every tag of this dataset, and the tag the working copy came from
 *     .lock            held while freezing, thawing or importing
 *
 * File contents live once in the shared BlobStore. This class knows nothing
 * of what the files mean; `Freezable` (the typed dataset) sits on top of it.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { IntegrityError, TagConflictError, TagExistsError, TagNotFoundError, throwIfCancelled, UnsavedChangesError } from "../errors.js";
import { withLocalFaults } from "../disk/faults.js";
import { checkTag, formatSlug } from "../names.js";
import type { BlobStore } from "./blobStore.js";
import { pruneEmptyDirs } from "./files.js";
import { ManifestFile, type DatasetManifest } from "./datasetManifest.js";
import { withLock } from "./lock.js";
import { materialize } from "./materialize.js";
import { notAllLocalError, partialAfterFreeze, partialRecord, withAbsentFiles, type PartialCopy } from "./partial.js";
import { snapshotWorkingCopy, type SnapshotOptions } from "./snapshot.js";
import { importTag, type FetchObject, type ImportCounts, type ImportOptions, type ImportTarget } from "./importTag.js";
import type { ProgressListener } from "../progress.js";
import { describeWorkingCopy } from "./summary.js";
import { buildTagManifest, emptyFileMap, LATEST_TAG, type FileEntry, type TagManifest } from "./manifest.js";

export type { DatasetManifest } from "./datasetManifest.js";

export interface FileChanges {
  new: string[];
  changed: string[];
  deleted: string[];
}


/** The parts of the Freezer a dataset needs (kept narrow to avoid a cycle). */
export interface FreezerContext extends ImportTarget {
  readonly blobs: BlobStore;
  withStoreLock<T>(fn: () => Promise<T>): Promise<T>;
}

export class FrozenDataset {
  readonly dir: string;
  readonly thawedDir: string;
  readonly manifestPath: string;
  private readonly statCachePath: string;
  private readonly manifestFile: ManifestFile;
  /** the freezer's base directory, named in local faults */
  private readonly basedir: string;

  constructor(
    private readonly freezer: FreezerContext,
    datasetsRoot: string,
    readonly dtype: string,
    readonly name: string,
  ) {
    this.dir = path.join(datasetsRoot, dtype, name);
    this.basedir = path.dirname(datasetsRoot);
    this.thawedDir = path.join(this.dir, "thawed");
    this.manifestPath = path.join(this.dir, "MANIFEST.json");
    this.statCachePath = path.join(this.dir, "statcache.json");
    this.manifestFile = new ManifestFile(this.manifestPath, dtype, name);
  }

  get slug(): string {
    return formatSlug(this.dtype, this.name);
  }

  /** Creates the directories and an empty manifest if missing (idempotent). */
  ensureCreated(): void {
    fs.mkdirSync(this.thawedDir, { recursive: true });
    this.manifestFile.createIfMissing();
  }

  exists(): boolean {
    return fs.existsSync(this.manifestPath);
  }

  /** Reads MANIFEST.json, validating every tag it holds (see datasetManifest.ts: the tag manifests in it are not to be changed). */
  readManifest(): DatasetManifest {
    return this.manifestFile.read();
  }

  private writeManifest(m: DatasetManifest): Promise<void> {
    return this.manifestFile.write(m);
  }

  /** All tags, oldest first. */
  tags(): TagManifest[] {
    return Object.values(this.readManifest().tags).sort((a, b) => a.created.localeCompare(b.created) || a.tag.localeCompare(b.tag));
  }

  /** One tag's manifest; TAG_NOT_FOUND if absent. */
  tag(tag: string): TagManifest {
    const m = this.readManifest().tags[tag];
    if (!m) throw new TagNotFoundError(this.slug, tag);
    return m;
  }

  hasTag(tag: string): boolean {
    return tag in this.readManifest().tags;
  }

  /** Runs `fn` holding this dataset's lock. */
  withLock<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(this.dir, path.join(this.dir, ".lock"), `dataset ${this.slug}`, fn);
  }

  /**
   * Hashes the working copy. Unchanged files (same size, mtime and inode as
   * when last hashed) reuse the cached hash, so a re-check reads nothing.
   * With `readOnly`, the hash cache is not updated (nothing is written).
   */
  async snapshot(onProgress?: ProgressListener, opts: Omit<SnapshotOptions, "onProgress"> = {}): Promise<Record<string, FileEntry>> {
    this.recoverInterruptedThaw();
    return snapshotWorkingCopy(this.freezer.blobs, this.thawedDir, this.statCachePath, this.slug, { ...opts, onProgress });
  }

  /**
   * Freezes the working copy as `tag`: stores new contents once, then records
   * the tag. A tag cannot be frozen twice (except `latest`, the mutable pointer).
   *
   * @example await ds.freeze("v1")
   */
  async freeze(tag: string, opts: { onProgress?: ProgressListener; signal?: AbortSignal } = {}): Promise<TagManifest> {
    checkTag(tag);
    return withLocalFaults({ dir: this.basedir, op: `freeze ${this.slug}:${tag}` }, () => this.freezeLocked(tag, opts));
  }

  private async freezeLocked(tag: string, opts: { onProgress?: ProgressListener; signal?: AbortSignal }): Promise<TagManifest> {
    this.ensureCreated();
    return this.withLock(() =>
      this.freezer.withStoreLock(async () => {
        const before = this.readManifest();
        if (tag in before.tags && tag !== LATEST_TAG) {
          throw new TagExistsError(`tag ${this.slug}:${tag} already exists; tags are immutable, choose a new tag name`, {
            slug: this.slug,
            tag,
          });
        }
        const now = await this.snapshot(opts.onProgress, { store: true, signal: opts.signal });
        throwIfCancelled(opts.signal); // the new contents stay unreferenced: the next local gc removes them
        // A partial copy keeps the files it does not hold, as the tag it came from has them.
        const files = withAbsentFiles(now, before.partial, before.tags);
        const summary = describeWorkingCopy(this.dtype, this.thawedDir);
        const manifest = buildTagManifest({ dtype: this.dtype, name: this.name, tag, parent: before.head, files, summary });
        const after = this.readManifest();
        after.tags[tag] = manifest;
        after.head = tag;
        after.partial = partialAfterFreeze(manifest, now);
        await this.writeManifest(after);
        return manifest;
      }),
    );
  }

  /**
   * The manifest `freeze(tag)` would record now, without writing anything
   * (a dry run of a push); its objects may not all be in the store yet.
   *
   * @example (await ds.previewFreeze("latest")).total
   */
  async previewFreeze(tag: string, opts: { signal?: AbortSignal } = {}): Promise<TagManifest> {
    const m = this.readManifest();
    const files = withAbsentFiles(await this.snapshot(undefined, { readOnly: true, signal: opts.signal }), m.partial, m.tags);
    return buildTagManifest({ dtype: this.dtype, name: this.name, tag, parent: m.head, files });
  }

  /**
   * Differences between the working copy and `tag` (default: the tag it
   * came from). Files a partial pull did not fetch are not deleted ones.
   * With `readOnly`, the hash cache is left as it is.
   *
   * @example (await ds.fileChanges()).deleted  // []
   */
  async fileChanges(tag?: string, opts: { readOnly?: boolean } = {}): Promise<FileChanges> {
    const m = this.readManifest();
    const base = tag ?? m.head;
    let baseFiles = emptyFileMap();
    if (base !== null) {
      const t = m.tags[base];
      if (!t) throw new TagNotFoundError(this.slug, base);
      baseFiles = t.files;
    }
    const now = withAbsentFiles(await this.snapshot(undefined, opts), m.partial, m.tags);
    const changes: FileChanges = { new: [], changed: [], deleted: [] };
    for (const [p, e] of Object.entries(now)) {
      const b = Object.hasOwn(baseFiles, p) ? baseFiles[p] : undefined;
      if (!b) changes.new.push(p);
      else if (b.sha256 !== e.sha256) changes.changed.push(p);
    }
    for (const p of Object.keys(baseFiles)) if (!Object.hasOwn(now, p)) changes.deleted.push(p);
    return changes;
  }

  /**
   * Restores the working copy to `tag`. Refuses (UNSAVED_CHANGES, listing the
   * files) when the working copy differs from the tag it came from, unless
   * `force`. The swap is atomic: a crash leaves the old or the new state.
   * With `only`, just those paths are thawed and the copy is recorded as
   * partial (see partial.ts); without, every object must be local
   * (INTEGRITY saying the dataset was pulled partially otherwise).
   *
   * @example await ds.thaw("v1", { only: new Set(["db.sqlite"]) })
   */
  async thaw(tag: string, opts: { force?: boolean; only?: ReadonlySet<string>; onProgress?: ProgressListener; signal?: AbortSignal } = {}): Promise<void> {
    checkTag(tag);
    return withLocalFaults({ dir: this.basedir, op: `thaw ${this.slug}:${tag}` }, () => this.thawLocked(tag, opts));
  }

  private async thawLocked(tag: string, opts: { force?: boolean; only?: ReadonlySet<string>; onProgress?: ProgressListener; signal?: AbortSignal }): Promise<void> {
    return this.withLock(async () => {
      const m = this.readManifest();
      const target = m.tags[tag];
      if (!target) throw new TagNotFoundError(this.slug, tag);
      if (!opts.force) await this.refuseUnsaved(tag);
      const missing = await this.missingObjects(target, opts.only);
      if (missing.length > 0) throw notAllLocalError(this.slug, target, missing);
      await materialize(this.freezer.blobs, this, target, { only: opts.only, onProgress: opts.onProgress, signal: opts.signal });
      await fsp.rm(this.statCachePath, { force: true });
      // Read under this lock, so still current: not read again (a second copy of every tag of a large dataset).
      m.head = tag;
      m.partial = partialRecord(target, opts.only);
      await this.writeManifest(m);
    });
  }

  /** The paths of `target` (of `only`, when given) whose objects are not in the blob store. @example await ds.missingObjects(ds.tag("v1")) // [] */
  async missingObjects(target: TagManifest, only?: ReadonlySet<string>): Promise<string[]> {
    const missing: string[] = [];
    for (const [p, e] of Object.entries(target.files)) {
      if ((!only || only.has(p)) && !(await this.freezer.blobs.has(e.sha256))) missing.push(p);
    }
    return missing;
  }

  /** Throws UNSAVED_CHANGES when the working copy differs from its head (`readOnly`: see fileChanges). */
  async refuseUnsaved(wanted: string, opts: { readOnly?: boolean } = {}): Promise<void> {
    const changes = await this.fileChanges(undefined, opts);
    const n = changes.new.length + changes.changed.length + changes.deleted.length;
    if (n > 0) {
      throw new UnsavedChangesError(
        `${this.slug} has unsaved changes (${describeChanges(changes)}); freeze them as a new tag first, or force to discard them and get ${wanted}`,
        { slug: this.slug, tag: wanted, ...changes },
      );
    }
  }

  /** A crash between the two renames of a thaw leaves `thawed` missing: put the old copy back. */
  private recoverInterruptedThaw(): void {
    if (fs.existsSync(this.thawedDir) || !fs.existsSync(this.dir)) return;
    const old = fs.readdirSync(this.dir).filter((n) => n.startsWith(".thawed.old-"));
    if (old.length > 0) fs.renameSync(path.join(this.dir, old.sort().at(-1)!), this.thawedDir);
    else fs.mkdirSync(this.thawedDir, { recursive: true });
  }

  /**
   * Records a tag fetched from elsewhere, fetching the objects the local
   * store lacks through `fetch` (see importTag.ts for the guarantees). The
   * working copy is not touched: `thaw` it afterwards.
   *
   * @example await ds.importTag(manifest, (entry, tmp, onBytes) => download(entry, tmp, onBytes), { concurrency: 32 })
   */
  importTag(manifest: TagManifest, fetch: FetchObject, opts: ImportOptions): Promise<ImportCounts> {
    return importTag(this.freezer, this, manifest, fetch, opts);
  }

  /**
   * Records a tag whose objects are all in the blob store (with `only`: the
   * objects of those paths; the caller holds the locks). The same tag with
   * the same total is a no-op; a different one is TAG_CONFLICT, except for `latest`.
   */
  async recordTag(manifest: TagManifest, only?: ReadonlySet<string>): Promise<void> {
    this.ensureCreated();
    const [missing] = await this.missingObjects(manifest, only);
    if (missing !== undefined) {
      const sha256 = manifest.files[missing]!.sha256;
      throw new IntegrityError(`cannot record ${this.slug}:${manifest.tag}: object ${sha256} is missing`, { sha256 });
    }
    const m = this.readManifest();
    const existing = m.tags[manifest.tag];
    if (existing && existing.total !== manifest.total && manifest.tag !== LATEST_TAG) {
      throw new TagConflictError(`local tag ${this.slug}:${manifest.tag} differs from the one fetched`, { slug: this.slug, tag: manifest.tag });
    }
    if (existing && existing.total === manifest.total) return;
    m.tags[manifest.tag] = manifest;
    await this.writeManifest(m);
  }

  /** Removes the dataset directory (caller holds the locks). */
  async removeFiles(): Promise<void> {
    const trash = path.join(path.dirname(this.dir), `.${this.name}.deleted-${process.pid}-${Date.now()}`);
    await fsp.rename(this.dir, trash);
    await fsp.rm(trash, { recursive: true, force: true });
    await pruneEmptyDirs(path.dirname(path.dirname(this.dir)));
  }
}

export function describeChanges(c: FileChanges): string {
  const parts: string[] = [];
  if (c.new.length) parts.push(`new: ${c.new.join(", ")}`);
  if (c.changed.length) parts.push(`changed: ${c.changed.join(", ")}`);
  if (c.deleted.length) parts.push(`deleted: ${c.deleted.join(", ")}`);
  return parts.join("; ");
}


