/**
 * The local freezer under the base directory:
 *
 *     <basedir>/objects/sha256/<2 hex>/<sha256>   contents, stored once (BlobStore)
 *     <basedir>/datasets/<dtype>/<name>/          one FrozenDataset each
 *     <basedir>/tmp/                              temporary files of datasets
 *
 * @example
 *   const freezer = Freezer.open();
 *   freezer.datasets("Cohort", "Test*")   // [{ dtype: "Cohort", name: "TestCohort" }]
 *   await freezer.delete("Cohort", "TestCohort")  // 1
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import picomatch from "picomatch";
import { loadConfig, type ConfigOverrides } from "../config/config.js";
import { DatasetNotFoundError, InvalidNameError } from "../errors.js";
import { checkDtype, checkName, formatSlug } from "../names.js";
import { BlobStore } from "./blobStore.js";
import { FrozenDataset } from "./frozenDataset.js";
import { withLock } from "./lock.js";

export interface DatasetId {
  dtype: string;
  name: string;
}

const PATTERN_RE = /^[A-Za-z0-9_*?[\]!-]{1,128}$/;

export class Freezer {
  readonly blobs: BlobStore;
  readonly datasetsRoot: string;
  readonly tmpDir: string;

  constructor(readonly basedir: string) {
    this.blobs = new BlobStore(path.join(basedir, "objects", "sha256"));
    this.datasetsRoot = path.join(basedir, "datasets");
    this.tmpDir = path.join(basedir, "tmp");
  }

  /** The freezer at the configured base directory (created on use). */
  static open(overrides: ConfigOverrides = {}): Freezer {
    return new Freezer(loadConfig(overrides).basedir);
  }

  /** A handle on one dataset; it exists on disk once created or frozen. */
  dataset(dtype: string, name: string): FrozenDataset {
    checkDtype(dtype);
    checkName(name);
    return new FrozenDataset(this, this.datasetsRoot, dtype, name);
  }

  /** The dataset, which must exist (DATASET_NOT_FOUND otherwise). */
  existing(dtype: string, name: string): FrozenDataset {
    const ds = this.dataset(dtype, name);
    if (!ds.exists()) throw new DatasetNotFoundError(formatSlug(dtype, name));
    return ds;
  }

  exists(dtype: string, name: string): boolean {
    return this.dataset(dtype, name).exists();
  }

  /**
   * Lists datasets, sorted, optionally filtered by glob patterns
   * (`*`, `?`, `[...]`) on dtype and name.
   */
  datasets(dtype?: string, name?: string): DatasetId[] {
    const dtypeMatch = matcher(dtype, "dtype");
    const nameMatch = matcher(name, "name");
    const out: DatasetId[] = [];
    for (const d of safeReaddir(this.datasetsRoot)) {
      if (d.startsWith(".") || !dtypeMatch(d)) continue;
      for (const n of safeReaddir(path.join(this.datasetsRoot, d))) {
        if (n.startsWith(".") || !nameMatch(n)) continue;
        if (fs.existsSync(path.join(this.datasetsRoot, d, n, "MANIFEST.json"))) out.push({ dtype: d, name: n });
      }
    }
    return out.sort((a, b) => a.dtype.localeCompare(b.dtype) || a.name.localeCompare(b.name));
  }

  /**
   * Deletes the datasets matching the (glob) dtype and name and reclaims the
   * contents no other tag uses. Returns how many datasets were removed.
   */
  async delete(dtype: string, name: string): Promise<number> {
    const victims = this.datasets(dtype, name);
    for (const id of victims) {
      const ds = this.dataset(id.dtype, id.name);
      await ds.withLock(() => this.withStoreLock(() => ds.removeFiles()));
    }
    if (victims.length > 0) await this.gc();
    return victims.length;
  }

  /** Removes stored contents that no tag of any dataset references. */
  async gc(): Promise<{ removed: number; bytes: number }> {
    return this.withStoreLock(async () => {
      const keep = new Set<string>();
      for (const id of this.datasets()) {
        for (const t of this.dataset(id.dtype, id.name).tags()) {
          for (const f of Object.values(t.files)) keep.add(f.sha256);
        }
      }
      return this.blobs.sweep(keep);
    });
  }

  /** Serializes writers of the shared object store against `gc`. */
  withStoreLock<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(path.join(this.basedir, "objects"), path.join(this.basedir, "objects.lock"), "the local object store", fn);
  }

  /** A fresh path under `<basedir>/tmp` (the directory is created). */
  async tempPath(suffix = ""): Promise<string> {
    await fsp.mkdir(this.tmpDir, { recursive: true });
    return path.join(this.tmpDir, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}${suffix}`);
  }
}

function matcher(pattern: string | undefined, kind: "dtype" | "name"): (s: string) => boolean {
  // An empty pattern is refused, not "everything": `delete Cohort "$UNSET"` must not empty the freezer.
  if (pattern === undefined) return () => true;
  if (!PATTERN_RE.test(pattern)) {
    const rule = "letters, digits, '_', '-' and the glob characters * ? [ ] !";
    throw new InvalidNameError(`invalid ${kind} pattern ${JSON.stringify(pattern)}: a pattern is 1-128 ${rule}`, { kind, value: pattern, rule });
  }
  return picomatch(pattern);
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
