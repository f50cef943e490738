/**
 * A Cohort: a named, persistent set of accessions (a freezable type, dtype
 * `Cohort`), stored in the dataset's SQLite store (tables in
 * `cohort/store.ts`), with attached read files under `reads/<accession>/`
 * in its working copy.
 *
 * Every read gives a fresh Accession: editing it changes nothing stored.
 * Adding an accession whose name is already present merges into it, as the
 * original minus80 did: it keeps its AID, new files and aliases are appended,
 * and each metadata key given replaces that key's value (other keys stay).
 * A name, alias or AID identifies one accession: a string is looked up as a
 * name, then as an alias; a number is an AID. An attached file is read back
 * as its absolute path in this working copy.
 *
 * @example
 *   const c = await Cohort.importFile("RNA", "samplesheet.csv", { attach: true });
 *   c.where({ strandedness: "reverse" }).map((a) => a.name)   // ["Sample1"]
 *   await c.freeze("v1");
 *   c.toSamplesheet("nf-core-rnaseq")                         // "sample,fastq_1,fastq_2,strandedness\n..."
 */
import type Database from "better-sqlite3";
import { AccessionNotFoundError, InvalidArgumentError } from "../errors.js";
import { writeFileExclusive } from "../freezer/files.js";
import { Freezable, type FreezableOptions } from "../freezer/freezable.js";
import { Freezer } from "../freezer/freezer.js";
import { checkName } from "../names.js";
import { Accession, checkAccessionLabel, type LaneInfo } from "./accession.js";
import { checkAttachments, removeAttached, storeAccessions } from "./cohort/attach.js";
import { searchAids, whereAids, type WhereCriteria } from "./cohort/query.js";
import { drawItems, type RandomOptions } from "./cohort/random.js";
import { CohortStore, SCHEMA, type AccessionKey } from "./cohort/store.js";
import { readAccessionFile } from "./samplesheet/formats.js";
import { formatAccessions, type ExportFormat } from "./samplesheet/write.js";
import { readAccessionsYaml } from "./samplesheet/yaml.js";
import "./cohort/summary.js"; // a Cohort describes itself in every tag it freezes

export type { AccessionKey } from "./cohort/store.js";
export type { RandomOptions } from "./cohort/random.js";
export type { WhereCriteria } from "./cohort/query.js";
export { readAccessionsYaml, YAML_ENTRY_KEYS, YAML_FORMAT_HINT } from "./samplesheet/yaml.js";

export interface ImportOptions extends FreezableOptions {
  /** yaml, csv, tsv, json, nf-core-rnaseq or sarek (default: from the extension) */
  format?: string;
  /** copy local files into the working copy (see `attach`) */
  attach?: boolean;
}

export class Cohort extends Freezable {
  /** the connection the schema was last ensured on (thaw closes and replaces it) */
  private schemaReadyOn: Database.Database | undefined;
  private readonly store = new CohortStore(() => this.db, this.dataset.thawedDir, this.slug);

  /** Opens (or creates) the Cohort `name`. @example const c = new Cohort("TestCohort") */
  constructor(name: string, opts: FreezableOptions = {}) {
    super(name, opts);
    void this.db; // opens the SQLite store and creates the tables
  }

  /** The SQLite connection, with the Cohort tables present. */
  private get db(): Database.Database {
    const db = this.sql.db;
    if (this.schemaReadyOn !== db) {
      db.exec(SCHEMA);
      this.schemaReadyOn = db;
    }
    return db;
  }

  /** Builds (or adds to) the Cohort `name` from accessions, in one transaction. @example Cohort.fromAccessions("Trial", [new Accession("S1")]) */
  static fromAccessions<C extends Cohort>(this: new (name: string, opts?: FreezableOptions) => C, name: string, accessions: Iterable<Accession>, opts: FreezableOptions = {}): C {
    return populate(new this(name, opts), accessions);
  }

  /**
   * Builds (or adds to) the Cohort `name` from a YAML file in the original
   * minus80 format, paths kept as written. The whole file is checked before
   * anything is stored. (`importFile` also reads samplesheets and attaches.)
   *
   * @example const c = Cohort.fromYaml("TestCohort", "accessions.yaml");
   */
  static fromYaml<C extends Cohort>(this: new (name: string, opts?: FreezableOptions) => C, name: string, file: string, opts: FreezableOptions = {}): C {
    checkName(name);
    const accessions = readAccessionsYaml(file);
    return populate(new this(name, opts), accessions);
  }

  /**
   * Builds (or adds to) the Cohort `name` from a YAML, CSV, TSV or JSON file
   * (relative paths in it are resolved against its directory); with
   * `attach`, local files are copied in. All or nothing: on any failure the
   * freezer is as it was (a Cohort it created is removed again).
   *
   * @example const c = await Cohort.importFile("RNA", "samplesheet.csv", { attach: true });
   */
  static async importFile<C extends Cohort>(this: (new (name: string, opts?: FreezableOptions) => C) & typeof Cohort, name: string, file: string, opts: ImportOptions = {}): Promise<C> {
    checkName(name);
    const { format, attach, ...open } = opts;
    const accessions = readAccessionFile(file, format);
    const freezer = open.freezer ?? Freezer.open(open);
    const ds = freezer.dataset(this.name, name);
    const existed = ds.exists();
    // a new Cohort is only created once its files have passed the checks
    if (attach && !existed) await checkAttachments(ds.thawedDir, ds.slug, accessions);
    const cohort = new this(name, { ...open, freezer }) as C;
    try {
      await cohort.importAccessions(accessions, { attach });
      return cohort;
    } catch (err) {
      cohort.close();
      if (!existed) await ds.withLock(() => freezer.withStoreLock(() => ds.removeFiles()));
      throw err;
    }
  }

  /** How many accessions. @example c.size // 2 */
  get size(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM accessions").get() as { n: number }).n;
  }

  /** Adds one accession (merging into one of the same name); returns it as stored. @example c.add(new Accession("S3", { files: ["/data/S3.fq"] })).files */
  add(accession: Accession): Accession {
    return this.addMany([accession])[0]!;
  }

  /**
   * Adds accessions in one transaction: all are stored, or none (an invalid
   * one, e.g. an alias owned by another accession, rolls back the batch).
   *
   * @example c.addMany([a1, a2]).map((a) => a.name) // ["S1", "S2"]
   */
  addMany(accessions: Iterable<Accession>): Accession[] {
    const list = this.checkList(accessions);
    const aids = this.sql.transaction(() => list.map((a) => this.store.upsert(a)));
    return this.store.read(aids);
  }

  /**
   * Adds accessions like `addMany`, holding the dataset's lock; with
   * `attach`, each local file is first copied to `reads/<accession>/<name>`
   * and the accession names the copy. All or nothing (see cohort/attach.ts).
   *
   * @example await c.importAccessions([new Accession("S1", { files: ["/data/S1_R1.fq"] })], { attach: true })
   */
  async importAccessions(accessions: Iterable<Accession>, opts: { attach?: boolean } = {}): Promise<Accession[]> {
    const list = this.checkList(accessions);
    return this.dataset.withLock(async () => this.store.read(await storeAccessions(this.store, list, Boolean(opts.attach))));
  }

  /**
   * Copies a local file into the working copy as a read of an existing
   * accession (`reads/<accession>/<file name>`), or with no `file` every
   * local file the accession names; an entry naming an original is replaced
   * by its copy, in place, keeping its lane record.
   *
   * @example await c.attach("Sample1", "/data/Sample1_L007_R1_001.fastq", { lane: "L007", read: 1 })
   * @example await c.attach("Sample1")   // all of Sample1's local files
   */
  async attach(key: AccessionKey, file?: string, info?: LaneInfo): Promise<Accession> {
    const current = this.get(key);
    const wanted = file === undefined ? current : new Accession(current.name).addFile(file, info);
    return (await this.importAccessions([wanted], { attach: true }))[0]!;
  }

  /** The accession for a name, alias or AID (a fresh copy). ACCESSION_NOT_FOUND if absent. @example c.get("10F"); c.get(1) */
  get(key: AccessionKey): Accession {
    return this.store.read([this.store.aidOf(key)])[0]!;
  }

  /** Like `get`, but undefined when absent. @example c.find("nope") // undefined */
  find(key: AccessionKey): Accession | undefined {
    const aid = this.store.lookup(key);
    return aid === undefined ? undefined : this.store.read([aid])[0];
  }

  /** Whether the cohort holds this name, alias, AID or Accession (by name). @example c.has("10F") // true */
  has(key: AccessionKey): boolean {
    return this.store.lookup(key) !== undefined;
  }

  /** The AID of a name, alias or Accession. ACCESSION_NOT_FOUND if absent. @example c.aidOf("10F") // 1 */
  aidOf(key: AccessionKey): number {
    return this.store.aidOf(key);
  }

  /** Removes an accession with its files, metadata, aliases and attached reads; false if absent. @example c.delete("10F") // true */
  delete(key: AccessionKey): boolean {
    return this.has(key) && this.remove([key]) === 1;
  }

  /**
   * Removes several accessions in one transaction, with their attached
   * reads. ACCESSION_NOT_FOUND (nothing removed) if any is absent.
   *
   * @example c.remove(["S1", "S2"]) // 2
   */
  remove(keys: readonly AccessionKey[]): number {
    const aids = [...new Set(keys.map((k) => this.store.aidOf(k)))];
    const orphans = this.sql.transaction(() => aids.flatMap((aid) => this.store.deleteRows(aid)));
    removeAttached(this.store, orphans);
    return aids.length;
  }

  /** Adds `alias` to an existing accession; INVALID_ARGUMENT if it names another. @example c.addAlias("10F", "ten-female").aliases // ["ten-female"] */
  addAlias(key: AccessionKey, alias: string): Accession {
    checkAccessionLabel("alias", alias);
    const aid = this.store.aidOf(key);
    this.sql.transaction(() => this.store.insertAlias(aid, alias));
    return this.store.read([aid])[0]!;
  }

  /** Every accession (fresh copies) in AID order. @example for (const a of c) console.log(a.name) */
  *[Symbol.iterator](): IterableIterator<Accession> {
    yield* this.store.read();
  }

  /**
   * The accessions whose metadata holds every criterion (AID order); a
   * value matches by its text, so `{ age: "3" }` finds age 3.
   *
   * @example c.where({ strandedness: "reverse", sex: "XX" }).map((a) => a.name)
   */
  where(criteria: WhereCriteria): Accession[] {
    for (const k of Object.keys(criteria)) checkAccessionLabel("metadata key", k);
    return this.store.read(whereAids(this.store, criteria));
  }

  /**
   * Accessions whose name or alias contains `query` (ignoring case); when
   * none does, the original minus80's fallback finds the one sharing the
   * longest run of characters (3 or more) with it (`fuzzy: true`).
   *
   * @example c.search("Sample").accessions.length // 2
   * @example c.search("Sample1_extra") // { accessions: [Sample1], fuzzy: true }
   */
  search(query: string, opts: { fuzzy?: boolean } = {}): { accessions: Accession[]; fuzzy: boolean } {
    const r = searchAids(this.store, query, opts.fuzzy ?? true);
    return { accessions: this.store.read(r.aids), fuzzy: r.fuzzy };
  }

  /** One accession drawn at random (a fresh copy). ACCESSION_NOT_FOUND if empty. @example c.randomAccession({ seed: 1 }).name */
  randomAccession(opts: Omit<RandomOptions, "replace"> = {}): Accession {
    if (this.size === 0) throw new AccessionNotFoundError(`${this.slug} has no accessions to draw from`, { cohort: this.slug });
    return this.randomAccessions(1, opts)[0]!;
  }

  /**
   * `n` accessions drawn at random, without replacement unless `replace`;
   * the same `seed` over the same Cohort draws the same ones.
   *
   * @example c.randomAccessions(2, { seed: 42 }).map((a) => a.name)
   * @example c.randomAccessions(10, { replace: true })  // repeats allowed
   */
  randomAccessions(n: number, opts: RandomOptions = {}): Accession[] {
    return this.store.read(drawItems(this.store.aids(), n, opts, this.slug));
  }

  /** The metadata keys used by any accession, sorted. @example c.metadataColumns() // ["seqtype"] */
  metadataColumns(): string[] {
    return (this.db.prepare("SELECT DISTINCT key FROM metadata ORDER BY key").all() as { key: string }[]).map((r) => r.key);
  }

  /** Every name (AID order) followed by every alias. @example c.names() // ["10F", "10M", "ten-female"] */
  names(): string[] {
    return this.store.labels().map((l) => l.label);
  }

  /**
   * The accessions (all, or those given) as a samplesheet or accession
   * file, attached reads named by absolute path (see samplesheet/write.ts).
   *
   * @example c.toSamplesheet("nf-core-rnaseq").split("\n")[0] // "sample,fastq_1,fastq_2,strandedness"
   */
  toSamplesheet(format: ExportFormat, accessions: readonly Accession[] = [...this]): string {
    return formatAccessions(accessions, format);
  }

  /**
   * Writes `toSamplesheet(format)` to `file` atomically; FILE_EXISTS if it
   * exists, unless `force`.
   *
   * @example await c.exportSamplesheet("nf-core-rnaseq", "samplesheet.csv")
   */
  async exportSamplesheet(format: ExportFormat, file: string, opts: { force?: boolean } = {}): Promise<void> {
    await writeFileExclusive(file, this.toSamplesheet(format), { replace: opts.force });
  }

  private checkList(accessions: Iterable<Accession>): Accession[] {
    const list = [...accessions];
    list.forEach((a, index) => {
      if (!(a instanceof Accession)) throw new InvalidArgumentError(`item ${index} is not an Accession`, { cohort: this.slug, index });
    });
    return list;
  }
}

/** Adds `accessions` to a just-opened cohort, closing it if that fails. */
function populate<C extends Cohort>(cohort: C, accessions: Iterable<Accession>): C {
  try {
    cohort.addMany(accessions);
  } catch (err) {
    cohort.close();
    throw err;
  }
  return cohort;
}
