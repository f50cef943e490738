/**
 * A Cohort: a named, persistent set of accessions (a freezable type, dtype
 * `Cohort`). It lives in the dataset's SQLite store:
 *
 *     accessions(AID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE)   AIDs in insertion order, never reused
 *     aliases(alias TEXT PRIMARY KEY, AID)                                  other names of an accession
 *     files(AID, url)                                                       in the order added
 *     metadata(AID, key, type, val)                                         type: string | number | boolean
 *
 * Every read gives a fresh Accession: editing it changes nothing stored.
 * Adding an accession whose name is already present merges into it, as the
 * original minus80 did: it keeps its AID, new files and aliases are appended,
 * and each metadata key given replaces that key's value (other keys stay).
 * A name, alias or AID identifies one accession: a string is looked up as a
 * name, then as an alias; a number is an AID.
 *
 * @example
 *   const c = Cohort.fromYaml("TestCohort", "accessions.yaml");
 *   c.get("10F").files             // ["ssh://user@host/.../10_F_S66_R1_001.fastq.gz", ...]
 *   await c.freeze("v1");
 */
import fs from "node:fs";
import type Database from "better-sqlite3";
import { isMap, isScalar, parseDocument, type Node as YamlNode } from "yaml";
import { AccessionNotFoundError, InvalidArgumentError, isMinus80Error } from "../errors.js";
import { Freezable, type FreezableOptions } from "../freezer/freezable.js";
import { checkName } from "../names.js";
import { Accession, checkAccessionLabel, type MetadataValue } from "./accession.js";

/** Identifies an accession: its name or alias (string), its AID (number), or an Accession (by name). */
export type AccessionKey = string | number | Accession;

export interface RandomOptions {
  /** draw with replacement (the same accession may come back more than once) */
  replace?: boolean;
  /** a source of numbers in [0, 1); default Math.random */
  random?: () => number;
}

type MetadataType = "string" | "number" | "boolean";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS accessions (
  AID INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS aliases (
  alias TEXT PRIMARY KEY,
  AID INTEGER NOT NULL REFERENCES accessions(AID)
);
CREATE TABLE IF NOT EXISTS files (
  AID INTEGER NOT NULL REFERENCES accessions(AID),
  url TEXT NOT NULL,
  UNIQUE (AID, url)
);
-- val has no declared type, so SQLite keeps each value as given ("007" stays text)
CREATE TABLE IF NOT EXISTS metadata (
  AID INTEGER NOT NULL REFERENCES accessions(AID),
  key TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('string', 'number', 'boolean')),
  val NOT NULL,
  PRIMARY KEY (AID, key)
);
`;

/** The keys an entry of an accession YAML file may have. */
export const YAML_ENTRY_KEYS = ["files", "metadata", "aliases"] as const;
export const YAML_FORMAT_HINT = "a mapping of accession name -> {files: [paths or URLs], metadata: {key: value}, aliases: [names]}";

export class Cohort extends Freezable {
  /** the connection the schema was last ensured on (thaw closes and replaces it) */
  private schemaReadyOn: Database.Database | undefined;

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

  /**
   * Builds (or adds to) the Cohort `name` from accessions, in one transaction.
   *
   * @example const c = Cohort.fromAccessions("Trial", [new Accession("S1"), new Accession("S2")]);
   */
  static fromAccessions<C extends Cohort>(
    this: new (name: string, opts?: FreezableOptions) => C,
    name: string,
    accessions: Iterable<Accession>,
    opts: FreezableOptions = {},
  ): C {
    return populate(new this(name, opts), accessions);
  }

  /**
   * Builds (or adds to) the Cohort `name` from a YAML file in the original
   * minus80 format. The whole file is checked before anything is stored.
   *
   * @example
   *   // accessions.yaml:
   *   //   10F:
   *   //     files: [ssh://user@host/path/10_F_R1.fastq.gz]
   *   //     metadata: {seqtype: novaseq}
   *   const c = Cohort.fromYaml("TestCohort", "accessions.yaml");
   */
  static fromYaml<C extends Cohort>(
    this: new (name: string, opts?: FreezableOptions) => C,
    name: string,
    file: string,
    opts: FreezableOptions = {},
  ): C {
    checkName(name);
    const accessions = readAccessionsYaml(file);
    return populate(new this(name, opts), accessions);
  }

  /** How many accessions. @example c.size // 2 */
  get size(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM accessions").get() as { n: number }).n;
  }

  /**
   * Adds one accession (merging into an existing one of the same name) and
   * returns it as stored.
   *
   * @example c.add(new Accession("S3", { files: ["/data/S3.fq"] })).files // ["/data/S3.fq"]
   */
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
    const list = [...accessions];
    list.forEach((a, index) => {
      if (!(a instanceof Accession)) throw new InvalidArgumentError(`item ${index} is not an Accession`, { cohort: this.slug, index });
    });
    const db = this.db;
    const aids = this.sql.transaction(() => list.map((a) => this.upsert(db, a)));
    return aids.map((aid) => this.read(aid));
  }

  /**
   * The accession for a name, alias or AID (a fresh copy). NOT_FOUND if absent.
   *
   * @example c.get("10F"); c.get(1); c.get("alias-of-10F")
   */
  get(key: AccessionKey): Accession {
    return this.read(this.aidOf(key));
  }

  /** Like `get`, but undefined when absent. @example c.find("nope") // undefined */
  find(key: AccessionKey): Accession | undefined {
    const aid = this.lookup(key);
    return aid === undefined ? undefined : this.read(aid);
  }

  /** Whether the cohort holds this name, alias, AID or Accession (by name). @example c.has("10F") // true */
  has(key: AccessionKey): boolean {
    return this.lookup(key) !== undefined;
  }

  /** The AID of a name, alias or Accession. NOT_FOUND if absent. @example c.aidOf("10F") // 1 */
  aidOf(key: AccessionKey): number {
    const aid = this.lookup(key);
    if (aid === undefined) {
      const shown = key instanceof Accession ? key.name : key;
      throw new AccessionNotFoundError(`accession ${JSON.stringify(shown)} is not in ${this.slug}`, { cohort: this.slug, key: shown });
    }
    return aid;
  }

  /** Removes an accession with its files, metadata and aliases; false if absent. @example c.delete("10F") // true */
  delete(key: AccessionKey): boolean {
    const aid = this.lookup(key);
    if (aid === undefined) return false;
    this.sql.transaction((db) => {
      for (const table of ["files", "metadata", "aliases", "accessions"]) db.prepare(`DELETE FROM ${table} WHERE AID = ?`).run(aid);
    });
    return true;
  }

  /**
   * Adds `alias` to an existing accession. INVALID_ARGUMENT if the alias is
   * already a name or another accession's alias.
   *
   * @example c.addAlias("10F", "ten-female").aliases // ["ten-female"]
   */
  addAlias(key: AccessionKey, alias: string): Accession {
    checkAccessionLabel("alias", alias);
    const aid = this.aidOf(key);
    const db = this.db;
    this.sql.transaction(() => this.insertAlias(db, aid, alias));
    return this.read(aid);
  }

  /** Every accession (fresh copies) in AID order. @example for (const a of c) console.log(a.name) */
  *[Symbol.iterator](): IterableIterator<Accession> {
    yield* this.readAll();
  }

  /**
   * One accession drawn at random (a fresh copy). NOT_FOUND if the cohort is empty.
   *
   * @example c.randomAccession().name
   */
  randomAccession(opts: { random?: () => number } = {}): Accession {
    if (this.size === 0) throw new AccessionNotFoundError(`${this.slug} has no accessions to draw from`, { cohort: this.slug });
    return this.randomAccessions(1, opts)[0]!;
  }

  /**
   * `n` accessions drawn at random, without replacement unless `replace`.
   * INVALID_ARGUMENT when n exceeds the size without replacement.
   *
   * @example c.randomAccessions(2).length // 2
   * @example c.randomAccessions(10, { replace: true })  // repeats allowed
   */
  randomAccessions(n: number, opts: RandomOptions = {}): Accession[] {
    const random = opts.random ?? Math.random;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new InvalidArgumentError(`the number of accessions to draw must be a whole number >= 0, got ${String(n)}`, { n });
    }
    const aids = (this.db.prepare("SELECT AID FROM accessions ORDER BY AID").all() as { AID: number }[]).map((r) => r.AID);
    const size = aids.length;
    const pick = (bound: number) => Math.min(bound - 1, Math.floor(random() * bound));
    if (n > 0 && size === 0) {
      throw new InvalidArgumentError(`cannot draw ${n} accessions from ${this.slug}: it is empty`, { cohort: this.slug, n, size });
    }
    if (opts.replace) return Array.from({ length: n }, () => this.read(aids[pick(size)]!));
    if (n > size) {
      throw new InvalidArgumentError(
        `cannot draw ${n} accessions from ${this.slug} without replacement: it holds only ${size}; pass { replace: true } to allow repeats`,
        { cohort: this.slug, n, size },
      );
    }
    // partial Fisher-Yates: the first n slots become a uniform sample
    for (let i = 0; i < n; i++) {
      const j = i + pick(size - i);
      [aids[i], aids[j]] = [aids[j]!, aids[i]!];
    }
    return aids.slice(0, n).map((aid) => this.read(aid));
  }

  /** The metadata keys used by any accession, sorted. @example c.metadataColumns() // ["seqtype"] */
  metadataColumns(): string[] {
    return (this.db.prepare("SELECT DISTINCT key FROM metadata ORDER BY key").all() as { key: string }[]).map((r) => r.key);
  }

  /** Every name (AID order) followed by every alias. @example c.names() // ["10F", "10M", "ten-female"] */
  names(): string[] {
    const db = this.db;
    const names = (db.prepare("SELECT name FROM accessions ORDER BY AID").all() as { name: string }[]).map((r) => r.name);
    const aliases = (db.prepare("SELECT alias FROM aliases ORDER BY rowid").all() as { alias: string }[]).map((r) => r.alias);
    return [...names, ...aliases];
  }

  private lookup(key: AccessionKey): number | undefined {
    const db = this.db;
    const aidOf = (row: unknown) => (row as { AID: number } | undefined)?.AID;
    if (key instanceof Accession) return aidOf(db.prepare("SELECT AID FROM accessions WHERE name = ?").get(key.name));
    if (typeof key === "number") return Number.isSafeInteger(key) ? aidOf(db.prepare("SELECT AID FROM accessions WHERE AID = ?").get(key)) : undefined;
    if (typeof key === "string") {
      return aidOf(db.prepare("SELECT AID FROM accessions WHERE name = ?").get(key)) ?? aidOf(db.prepare("SELECT AID FROM aliases WHERE alias = ?").get(key));
    }
    throw new InvalidArgumentError(`an accession is identified by a name, an alias, an AID or an Accession, not a ${typeof key}`, {
      cohort: this.slug,
    });
  }

  /** Inserts or merges one accession; returns its AID. Runs inside a transaction. */
  private upsert(db: Database.Database, a: Accession): number {
    const owner = db.prepare("SELECT a.name FROM aliases s JOIN accessions a ON a.AID = s.AID WHERE s.alias = ?").get(a.name) as
      | { name: string }
      | undefined;
    if (owner) {
      throw new InvalidArgumentError(`cannot add accession ${JSON.stringify(a.name)}: it is already an alias of accession ${JSON.stringify(owner.name)}`, {
        cohort: this.slug,
        accession: a.name,
        owner: owner.name,
      });
    }
    db.prepare("INSERT OR IGNORE INTO accessions (name) VALUES (?)").run(a.name);
    const aid = (db.prepare("SELECT AID FROM accessions WHERE name = ?").get(a.name) as { AID: number }).AID;
    const addFile = db.prepare("INSERT OR IGNORE INTO files (AID, url) VALUES (?, ?)");
    for (const f of a.files) addFile.run(aid, f);
    const setMeta = db.prepare(
      "INSERT INTO metadata (AID, key, type, val) VALUES (?, ?, ?, ?) ON CONFLICT (AID, key) DO UPDATE SET type = excluded.type, val = excluded.val",
    );
    for (const [k, v] of Object.entries(a.metadata)) setMeta.run(aid, k, typeof v as MetadataType, typeof v === "boolean" ? Number(v) : v);
    for (const alias of a.aliases) this.insertAlias(db, aid, alias);
    return aid;
  }

  private insertAlias(db: Database.Database, aid: number, alias: string): void {
    const named = db.prepare("SELECT AID FROM accessions WHERE name = ?").get(alias) as { AID: number } | undefined;
    if (named) {
      throw new InvalidArgumentError(`alias ${JSON.stringify(alias)} is already the name of an accession in ${this.slug}`, {
        cohort: this.slug,
        alias,
      });
    }
    const owner = db.prepare("SELECT s.AID, a.name FROM aliases s JOIN accessions a ON a.AID = s.AID WHERE s.alias = ?").get(alias) as
      | { AID: number; name: string }
      | undefined;
    if (owner?.AID === aid) return;
    if (owner) {
      throw new InvalidArgumentError(`alias ${JSON.stringify(alias)} already belongs to accession ${JSON.stringify(owner.name)} in ${this.slug}`, {
        cohort: this.slug,
        alias,
        owner: owner.name,
      });
    }
    db.prepare("INSERT INTO aliases (alias, AID) VALUES (?, ?)").run(alias, aid);
  }

  /** A fresh Accession for an AID known to exist. */
  private read(aid: number): Accession {
    return this.readWhere("WHERE AID = ?", [aid])[0]!;
  }

  private readAll(): Accession[] {
    return this.readWhere("", []);
  }

  /** Builds Accessions (AID order) for the accessions matching `where`, with four queries in all. */
  private readWhere(where: string, params: unknown[]): Accession[] {
    const db = this.db;
    const rows = db.prepare(`SELECT AID, name FROM accessions ${where} ORDER BY AID`).all(...params) as { AID: number; name: string }[];
    const byAid = new Map(rows.map((r) => [r.AID, new Accession(r.name)]));
    const files = db.prepare(`SELECT AID, url FROM files ${where} ORDER BY rowid`).all(...params) as { AID: number; url: string }[];
    for (const f of files) byAid.get(f.AID)?.addFile(f.url);
    const meta = db.prepare(`SELECT AID, key, type, val FROM metadata ${where} ORDER BY rowid`).all(...params) as {
      AID: number;
      key: string;
      type: MetadataType;
      val: string | number;
    }[];
    for (const m of meta) byAid.get(m.AID)?.set(m.key, m.type === "boolean" ? m.val === 1 : m.val);
    const aliases = db.prepare(`SELECT AID, alias FROM aliases ${where} ORDER BY rowid`).all(...params) as { AID: number; alias: string }[];
    for (const s of aliases) byAid.get(s.AID)?.addAlias(s.alias);
    return [...byAid.values()];
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

/**
 * Reads and checks an accession YAML file (the original minus80 format):
 *
 *     10F:
 *         files:
 *             - ssh://user@hostname.edu/path/to/file/10_F_S66_R1_001.fastq.gz
 *         metadata:
 *             seqtype: novaseq
 *
 * `files`, `metadata` and `aliases` are each optional. Every problem is an
 * INVALID_ARGUMENT naming the file and the entry.
 *
 * @example readAccessionsYaml("accessions.yaml").map((a) => a.name) // ["10F", "10M"]
 */
export function readAccessionsYaml(file: string): Accession[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(err)})`;
    throw new InvalidArgumentError(`accession file ${JSON.stringify(file)} ${why}`, { file });
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0].line;
    throw new InvalidArgumentError(`accession file ${file}${line ? ` line ${line}` : ""} is not valid YAML: ${e.message.split("\n")[0]}`, {
      file,
      line,
    });
  }
  const root = doc.contents;
  if (!isMap(root) || root.items.length === 0) {
    throw new InvalidArgumentError(`accession file ${file} holds no accessions: expected ${YAML_FORMAT_HINT}`, { file });
  }
  return root.items.map((pair, index) => {
    // the key as written: `10:` names accession "10", `1e3:` names "1e3"
    const key = pair.key as YamlNode | null;
    const name = isScalar(key) ? (key.source ?? String(key.value)) : undefined;
    if (name === undefined || name === "") {
      throw new InvalidArgumentError(`accession file ${file}: entry ${index + 1} has no accession name; expected ${YAML_FORMAT_HINT}`, { file, index });
    }
    const value: unknown = pair.value === null || pair.value === undefined ? null : (pair.value as YamlNode).toJS(doc);
    return accessionFromEntry(file, name, value);
  });
}

function accessionFromEntry(file: string, name: string, entry: unknown): Accession {
  const bad = (field: string, why: string) =>
    new InvalidArgumentError(`accession file ${file}: accession ${JSON.stringify(name)}: ${field} ${why}`, { file, accession: name, field });
  if (entry === null) return new Accession(name);
  if (typeof entry !== "object" || Array.isArray(entry)) throw bad("entry", `must be a mapping with keys ${YAML_ENTRY_KEYS.join(", ")}`);
  const fields = entry as Record<string, unknown>;
  for (const k of Object.keys(fields)) {
    if (!(YAML_ENTRY_KEYS as readonly string[]).includes(k)) throw bad(JSON.stringify(k), `is not a known key; expected ${YAML_ENTRY_KEYS.join(", ")}`);
  }
  const stringList = (field: string): string[] => {
    const v = fields[field] ?? [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) throw bad(field, "must be a list of strings");
    return v as string[];
  };
  const metadata = fields.metadata ?? {};
  if (typeof metadata !== "object" || Array.isArray(metadata)) throw bad("metadata", "must be a mapping of key -> value");
  try {
    return new Accession(name, {
      files: stringList("files"),
      metadata: metadata as Record<string, MetadataValue>,
      aliases: stringList("aliases"),
    });
  } catch (err) {
    if (!isMinus80Error(err)) throw err;
    throw new InvalidArgumentError(`accession file ${file}: ${err.message}`, { ...err.data, file, accession: name });
  }
}
