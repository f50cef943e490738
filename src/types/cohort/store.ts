/**
 * The SQLite tables of a Cohort and the queries that read and write them.
 * Files of an accession are stored as given, except a file inside the
 * Cohort's own working copy (an attached read): that one is stored as its
 * POSIX path relative to the working copy (`reads/<accession>/<name>`) and
 * flagged `attached`, so it still resolves after the Cohort is pulled into
 * another base directory. Reads turn it back into an absolute path.
 *
 *     accessions(AID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE)   AIDs in insertion order, never reused
 *     aliases(alias TEXT PRIMARY KEY, AID)                                  other names of an accession
 *     files(AID, url)                                                       in the order added
 *     metadata(AID, key, type, val)                                         type: string | number | boolean
 *     file_info(AID, url, lane, read, attached)                             optional; added by the first write that needs it
 *
 * `file_info` is new: a Cohort frozen before it existed opens, reads and
 * thaws unchanged (reading never creates it, so it never shows as an
 * unsaved change); the first write adds it.
 */
import path from "node:path";
import type Database from "better-sqlite3";
import { AccessionNotFoundError, InvalidArgumentError } from "../../errors.js";
import { isInside } from "../../freezer/files.js";
import { Accession, type LaneInfo, type MetadataValue } from "../accession.js";

export type MetadataType = "string" | "number" | "boolean";

/** Identifies an accession: its name or alias (string), its AID (number), or an Accession (by name). */
export type AccessionKey = string | number | Accession;

export const SCHEMA = `
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

const FILE_INFO_SCHEMA = `
CREATE TABLE IF NOT EXISTS file_info (
  AID INTEGER NOT NULL REFERENCES accessions(AID),
  url TEXT NOT NULL,
  lane TEXT,
  read INTEGER CHECK (read IN (1, 2)),
  attached INTEGER NOT NULL DEFAULT 0 CHECK (attached IN (0, 1)),
  PRIMARY KEY (AID, url)
);
`;

/** One file as stored: `url` is relative to the working copy when `attached`. */
export interface StoredFile extends LaneInfo {
  url: string;
  attached: boolean;
  /** a stored entry this one takes the place of (a reference replaced by its attached copy) */
  replaces?: string;
}

/** The tables of one Cohort, on a connection that has them. */
export class CohortStore {
  constructor(
    private readonly connection: () => Database.Database,
    readonly thawedDir: string,
    readonly slug: string,
  ) {}

  get db(): Database.Database {
    return this.connection();
  }

  /** How a file entry of an Accession is stored: relative and attached when inside the working copy. @example store.storedFile(`${thawed}/reads/S1/R1.fq`) // { url: "reads/S1/R1.fq", attached: true } */
  storedFile(file: string, info: LaneInfo = {}): StoredFile {
    if (path.isAbsolute(file) && isInside(this.thawedDir, path.resolve(file))) {
      return { url: path.relative(this.thawedDir, path.resolve(file)).split(path.sep).join("/"), attached: true, ...info };
    }
    return { url: file, attached: false, ...info };
  }

  /** The path a stored file names: absolute for an attached one, as stored otherwise. @example store.resolve({ url: "reads/S1/R1.fq", attached: true }) // `${thawed}/reads/S1/R1.fq` */
  resolve(f: { url: string; attached: boolean }): string {
    return f.attached ? path.join(this.thawedDir, ...f.url.split("/")) : f.url;
  }

  /** The AID of a name, alias, AID or Accession, or undefined. @example store.lookup("10F") // 1 */
  lookup(key: AccessionKey): number | undefined {
    const db = this.db;
    const aidOf = (row: unknown) => (row as { AID: number } | undefined)?.AID;
    if (key instanceof Accession) return aidOf(db.prepare("SELECT AID FROM accessions WHERE name = ?").get(key.name));
    if (typeof key === "number") return Number.isSafeInteger(key) ? aidOf(db.prepare("SELECT AID FROM accessions WHERE AID = ?").get(key)) : undefined;
    if (typeof key === "string") {
      return aidOf(db.prepare("SELECT AID FROM accessions WHERE name = ?").get(key)) ?? aidOf(db.prepare("SELECT AID FROM aliases WHERE alias = ?").get(key));
    }
    throw new InvalidArgumentError(`an accession is identified by a name, an alias, an AID or an Accession, not a ${typeof key}`, { cohort: this.slug });
  }

  /** Like `lookup`, but NOT_FOUND when absent. @example store.aidOf("10F") // 1 */
  aidOf(key: AccessionKey): number {
    const aid = this.lookup(key);
    if (aid === undefined) {
      const shown = key instanceof Accession ? key.name : key;
      throw new AccessionNotFoundError(`accession ${JSON.stringify(shown)} is not in ${this.slug}`, { cohort: this.slug, key: shown });
    }
    return aid;
  }

  /**
   * Inserts or merges one accession; returns its AID. Runs inside a
   * transaction. `files` (default: the accession's files in stored form)
   * lets the attach step store copies in place of the originals.
   *
   * @example store.upsert(new Accession("S1", { files: ["/d/R1.fq"] })) // 1
   */
  upsert(a: Accession, files: StoredFile[] = a.fileEntries.map(({ file, ...info }) => this.storedFile(file, info))): number {
    const db = this.db;
    const owner = db.prepare("SELECT a.name FROM aliases s JOIN accessions a ON a.AID = s.AID WHERE s.alias = ?").get(a.name) as { name: string } | undefined;
    if (owner) {
      throw new InvalidArgumentError(`cannot add accession ${JSON.stringify(a.name)}: it is already an alias of accession ${JSON.stringify(owner.name)}`, {
        cohort: this.slug,
        accession: a.name,
        owner: owner.name,
      });
    }
    db.prepare("INSERT OR IGNORE INTO accessions (name) VALUES (?)").run(a.name);
    const aid = (db.prepare("SELECT AID FROM accessions WHERE name = ?").get(a.name) as { AID: number }).AID;
    this.upsertFiles(aid, files);
    const setMeta = db.prepare(
      "INSERT INTO metadata (AID, key, type, val) VALUES (?, ?, ?, ?) ON CONFLICT (AID, key) DO UPDATE SET type = excluded.type, val = excluded.val",
    );
    for (const [k, v] of Object.entries(a.metadata)) setMeta.run(aid, k, typeof v as MetadataType, typeof v === "boolean" ? Number(v) : v);
    for (const alias of a.aliases) this.insertAlias(aid, alias);
    return aid;
  }

  private upsertFiles(aid: number, files: StoredFile[]): void {
    const db = this.db;
    if (files.some((f) => f.attached || f.lane !== undefined || f.read !== undefined)) db.exec(FILE_INFO_SCHEMA);
    const hasInfo = this.hasFileInfo();
    const has = db.prepare("SELECT 1 FROM files WHERE AID = ? AND url = ?");
    const addFile = db.prepare("INSERT OR IGNORE INTO files (AID, url) VALUES (?, ?)");
    const dropFile = db.prepare("DELETE FROM files WHERE AID = ? AND url = ?");
    const renameFile = db.prepare("UPDATE files SET url = ? WHERE AID = ? AND url = ?");
    // a record given replaces the old one; a file given again without one keeps its record
    const setInfo = hasInfo
      ? db.prepare(
          `INSERT INTO file_info (AID, url, lane, read, attached) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (AID, url) DO UPDATE SET lane = coalesce(excluded.lane, lane), read = coalesce(excluded.read, read), attached = excluded.attached`,
        )
      : undefined;
    // the copy keeps the reference's lane record unless it brings its own
    const renameInfo = hasInfo ? db.prepare("UPDATE OR REPLACE file_info SET url = ? WHERE AID = ? AND url = ?") : undefined;
    for (const f of files) {
      if (f.replaces !== undefined && f.replaces !== f.url && has.get(aid, f.replaces)) {
        // the copy takes the reference's place in the order
        if (has.get(aid, f.url)) dropFile.run(aid, f.replaces);
        else renameFile.run(f.url, aid, f.replaces);
        renameInfo?.run(f.url, aid, f.replaces);
      }
      addFile.run(aid, f.url);
      if (f.attached || f.lane !== undefined || f.read !== undefined) setInfo!.run(aid, f.url, f.lane ?? null, f.read ?? null, f.attached ? 1 : 0);
    }
  }

  /** Adds an alias to an AID inside a transaction; INVALID_ARGUMENT if it names another accession. @example store.insertAlias(1, "ten-female") */
  insertAlias(aid: number, alias: string): void {
    const db = this.db;
    const named = db.prepare("SELECT AID FROM accessions WHERE name = ?").get(alias) as { AID: number } | undefined;
    if (named) {
      throw new InvalidArgumentError(`alias ${JSON.stringify(alias)} is already the name of an accession in ${this.slug}`, { cohort: this.slug, alias });
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

  /** Deletes the rows of one accession; returns the attached files it alone named (relative). Runs inside a transaction. @example store.deleteRows(1) // ["reads/S1/R1.fq"] */
  deleteRows(aid: number): string[] {
    const db = this.db;
    const info = this.hasFileInfo();
    const attached = info
      ? (db.prepare("SELECT url FROM file_info WHERE AID = ? AND attached = 1").all(aid) as { url: string }[]).map((r) => r.url)
      : [];
    const tables = info ? ["files", "metadata", "aliases", "file_info", "accessions"] : ["files", "metadata", "aliases", "accessions"];
    for (const table of tables) db.prepare(`DELETE FROM ${table} WHERE AID = ?`).run(aid);
    const stillUsed = db.prepare("SELECT 1 FROM files WHERE url = ?");
    return attached.filter((url) => !stillUsed.get(url));
  }

  /** Every AID in order. @example store.aids() // [1, 2, 5] */
  aids(): number[] {
    return (this.db.prepare("SELECT AID FROM accessions ORDER BY AID").all() as { AID: number }[]).map((r) => r.AID);
  }

  /** Fresh Accessions (in the order of `aids`, or all in AID order), with four queries in all. @example store.read([2, 1]).map((a) => a.name) // ["S2", "S1"] */
  read(aids?: readonly number[]): Accession[] {
    const db = this.db;
    const subset = aids !== undefined && aids.length <= 500 ? aids : undefined;
    const where = (col: string) => (subset ? `WHERE ${col} IN (${subset.map(() => "?").join(",")})` : "");
    const params = subset ?? [];
    const wanted = aids && new Set(aids);
    const rows = db.prepare(`SELECT AID, name FROM accessions ${where("AID")} ORDER BY AID`).all(...params) as { AID: number; name: string }[];
    const byAid = new Map(rows.filter((r) => !wanted || wanted.has(r.AID)).map((r) => [r.AID, new Accession(r.name)]));
    const files = this.hasFileInfo()
      ? db.prepare(`SELECT f.AID, f.url, i.lane, i.read, i.attached FROM files f LEFT JOIN file_info i ON i.AID = f.AID AND i.url = f.url ${where("f.AID")} ORDER BY f.rowid`)
      : db.prepare(`SELECT AID, url FROM files ${where("AID")} ORDER BY rowid`);
    for (const f of files.all(...params) as { AID: number; url: string; lane?: string | null; read?: 1 | 2 | null; attached?: number | null }[]) {
      const info: LaneInfo = {};
      if (f.lane !== null && f.lane !== undefined) info.lane = f.lane;
      if (f.read !== null && f.read !== undefined) info.read = f.read;
      byAid.get(f.AID)?.addFile(this.resolve({ url: f.url, attached: f.attached === 1 }), info);
    }
    const meta = db.prepare(`SELECT AID, key, type, val FROM metadata ${where("AID")} ORDER BY rowid`).all(...params) as {
      AID: number;
      key: string;
      type: MetadataType;
      val: string | number;
    }[];
    for (const m of meta) byAid.get(m.AID)?.set(m.key, m.type === "boolean" ? m.val === 1 : m.val);
    const aliases = db.prepare(`SELECT AID, alias FROM aliases ${where("AID")} ORDER BY rowid`).all(...params) as { AID: number; alias: string }[];
    for (const s of aliases) byAid.get(s.AID)?.addAlias(s.alias);
    const used = new Set<number>();
    const out: Accession[] = [];
    for (const aid of aids ?? [...byAid.keys()]) {
      const a = byAid.get(aid);
      if (a === undefined) continue;
      out.push(used.has(aid) ? a.clone() : a); // a repeated AID (a draw with replacement) gets its own copy
      used.add(aid);
    }
    return out;
  }

  /** The stored (relative) paths of the attached files of these AIDs. @example store.attachedUrls([1]) // ["reads/S1/R1.fq"] */
  attachedUrls(aids: readonly number[]): string[] {
    if (!this.hasFileInfo() || aids.length === 0) return [];
    const wanted = new Set(aids);
    const rows = this.db.prepare("SELECT AID, url FROM file_info WHERE attached = 1 ORDER BY rowid").all() as { AID: number; url: string }[];
    return rows.filter((r) => wanted.has(r.AID)).map((r) => r.url);
  }

  /** Metadata rows of one key, with values typed as stored. @example store.metadataOf("age") // [{ AID: 1, value: 3 }] */
  metadataOf(key: string): { AID: number; value: MetadataValue }[] {
    const rows = this.db.prepare("SELECT AID, type, val FROM metadata WHERE key = ?").all(key) as { AID: number; type: MetadataType; val: string | number }[];
    return rows.map((r) => ({ AID: r.AID, value: r.type === "boolean" ? r.val === 1 : r.val }));
  }

  /** Every name (AID order) then every alias, each with its AID. @example store.labels() // [{ AID: 1, label: "10F" }, { AID: 1, label: "ten-female" }] */
  labels(): { AID: number; label: string }[] {
    const db = this.db;
    const names = db.prepare("SELECT AID, name AS label FROM accessions ORDER BY AID").all() as { AID: number; label: string }[];
    const aliases = db.prepare("SELECT AID, alias AS label FROM aliases ORDER BY rowid").all() as { AID: number; label: string }[];
    return [...names, ...aliases];
  }

  private hasFileInfo(): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'file_info'").get() !== undefined;
  }
}
