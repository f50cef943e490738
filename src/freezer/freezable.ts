/**
 * The base class of every freezable dataset type. A type is made by
 * extending it; its dtype is its class name. Each dataset gets four stores
 * inside its working copy, and the tag operations of the freezer.
 *
 * @example
 *   class Expression extends Freezable {}
 *   const e = new Expression("liver");         // opens or creates Expression.liver
 *   e.sql.db.exec("CREATE TABLE IF NOT EXISTS genes (id TEXT)");
 *   await e.columns.write("counts", { gene: ["a", "b"], n: [1, 2] });
 *   await e.freeze("v1");
 */
import path from "node:path";
import type { ConfigOverrides } from "../config/config.js";
import { checkDtype, checkName, formatSlug } from "../names.js";
import { Freezer } from "./freezer.js";
import type { ProgressListener } from "../progress.js";
import type { FileChanges, FrozenDataset } from "./frozenDataset.js";
import type { TagManifest } from "./manifest.js";
import { ColumnStore } from "./stores/columns.js";
import { DocumentStore } from "./stores/documents.js";
import { RelationalStore } from "./stores/relational.js";

/** The SQLite store's file in the working copy (and so in every tag of a type that uses it). */
export const SQL_FILE = "db.sqlite";

export interface FreezableOptions extends ConfigOverrides {
  /** use this freezer instead of the configured one */
  freezer?: Freezer;
}

export abstract class Freezable {
  readonly name: string;
  readonly freezer: Freezer;
  readonly dataset: FrozenDataset;
  private relational?: RelationalStore;
  private columnStore?: ColumnStore;
  private documentStore?: DocumentStore;

  /** Opens the dataset `name` of this type, creating it if it does not exist. */
  constructor(name: string, opts: FreezableOptions = {}) {
    checkDtype(this.dtype);
    checkName(name);
    this.name = name;
    const { freezer, ...overrides } = opts;
    this.freezer = freezer ?? Freezer.open(overrides);
    this.dataset = this.freezer.dataset(this.dtype, name);
    this.dataset.ensureCreated();
  }

  /** The class name, e.g. `Cohort`. */
  get dtype(): string {
    return this.constructor.name;
  }

  get slug(): string {
    return formatSlug(this.dtype, this.name);
  }

  /** The SQLite store (`db.sqlite` in the working copy). */
  get sql(): RelationalStore {
    this.relational ??= new RelationalStore(path.join(this.dataset.thawedDir, SQL_FILE));
    return this.relational;
  }

  /** Columnar tables stored as Parquet by name (`columns/<table>.parquet`). */
  get columns(): ColumnStore {
    this.columnStore ??= new ColumnStore(path.join(this.dataset.thawedDir, "columns"));
    return this.columnStore;
  }

  /** A small JSON document / key-value store (`documents.json`). */
  get docs(): DocumentStore {
    this.documentStore ??= new DocumentStore(path.join(this.dataset.thawedDir, "documents.json"));
    return this.documentStore;
  }

  /** A fresh temporary file path under `<basedir>/tmp`. */
  tmpFile(suffix = ""): Promise<string> {
    return this.freezer.tempPath(suffix);
  }

  /** Freezes the working copy as `tag` (immutable). */
  freeze(tag: string, opts: { onProgress?: ProgressListener } = {}): Promise<TagManifest> {
    return this.dataset.freeze(tag, opts);
  }

  /** Restores the working copy to `tag`; refuses over unsaved changes unless forced. */
  async thaw(tag: string, opts: { force?: boolean; onProgress?: ProgressListener } = {}): Promise<void> {
    this.close(); // the files under the open SQLite handle are about to be replaced
    await this.dataset.thaw(tag, opts);
  }

  /** Every tag of this dataset, oldest first. */
  tags(): TagManifest[] {
    return this.dataset.tags();
  }

  /** What changed in the working copy since `tag` (default: the tag it came from). */
  fileChanges(tag?: string): Promise<FileChanges> {
    return this.dataset.fileChanges(tag);
  }

  /** Closes open handles (the SQLite connection). Stores reopen on next use. */
  close(): void {
    this.relational?.close();
  }
}
