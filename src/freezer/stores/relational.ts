/**
 * The relational store of a dataset: one SQLite file (`thawed/db.sqlite`)
 * through better-sqlite3. The rollback journal (not WAL) keeps the database
 * in a single file, so freezing it between transactions captures it whole.
 *
 * @example
 *   ds.sql.db.exec("CREATE TABLE IF NOT EXISTS t (x INTEGER)");
 *   ds.sql.transaction(() => { insert.run(1); insert.run(2); }); // all or nothing
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export class RelationalStore {
  private handle: Database.Database | undefined;

  constructor(readonly file: string) {}

  /** The open connection (opened, and the file created, on first use). */
  get db(): Database.Database {
    if (!this.handle) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.handle = new Database(this.file);
      this.handle.pragma("journal_mode = DELETE");
      this.handle.pragma("foreign_keys = ON");
    }
    return this.handle;
  }

  /** Runs `fn` in one transaction: committed if it returns, rolled back if it throws. */
  transaction<T>(fn: (db: Database.Database) => T): T {
    const db = this.db;
    return db.transaction(() => fn(db))();
  }

  close(): void {
    this.handle?.close();
    this.handle = undefined;
  }
}
