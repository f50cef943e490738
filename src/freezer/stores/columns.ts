/**
 * The columnar store of a dataset: tables by name, one Parquet file each
 * (`thawed/columns/<table>.parquet`), written with @dsnp/parquetjs.
 *
 * A table is given column-wise (each column an array or a numeric typed
 * array, all of one length) or as rows. Reading gives back the same JavaScript
 * types, value for value:
 *
 *     plain array of            Parquet column              read back as
 *     safe integers (not -0)    INT64                       number
 *     other numbers             DOUBLE (-0, NaN, ±Infinity kept)  number
 *     bigint                    INT64                       bigint
 *     string                    UTF8 (unicode, "" kept)     string
 *     boolean                   BOOLEAN                     boolean
 *     Date                      TIMESTAMP_MILLIS            Date (same getTime())
 *     only nulls / empty        BOOLEAN, optional           null
 *   null anywhere in a plain array makes the column optional; null comes back.
 *
 *     Float64Array DOUBLE, Float32Array FLOAT, Int8Array INT_8, Int16Array
 *     INT_16, Int32Array INT32, Uint8Array / Uint8ClampedArray UINT_8,
 *     Uint16Array UINT_16, Uint32Array INT64, BigInt64Array INT64,
 *     BigUint64Array INT64 (two's complement: other tools see values >= 2^63
 *     as negative) -- each read back as the same typed array class.
 *
 * The JavaScript kind of every column is kept in the file's key-value
 * metadata (`minus80.columns`), so other Parquet readers see ordinary
 * columns and we restore exact types. A Parquet file without that entry
 * (written by another tool) is read as plain arrays of what the library
 * decodes (INT64 as bigint, timestamps as Date).
 *
 * Limits: a Date must be valid (not NaN); bigints must fit in 64 bits;
 * `undefined` is refused in columns (use null); in `writeRows` a missing
 * key means null. Column names must avoid ',' and Object.prototype names
 * (`constructor`, `__proto__`, ...), which the Parquet library mishandles.
 * A table needs at least one column.
 *
 * @example
 *   await ds.columns.write("counts", { gene: ["a", "b"], n: [1, 2], x: new Float64Array([0.5, -0]) });
 *   const t = await ds.columns.read("counts");   // { gene: ["a","b"], n: [1,2], x: Float64Array [0.5, -0] }
 */
import fsp from "node:fs/promises";
import path from "node:path";
import type { ParquetReader } from "@dsnp/parquetjs";
import { TableNotFoundError } from "../../errors.js";
import { pathExists, tempPathFor } from "../files.js";
import {
  cellFor,
  checkTableName,
  COLUMN_KINDS_VERSION,
  fieldFor,
  planColumns,
  readKinds,
  restoreColumn,
  rowsToColumns,
  TABLE_NAME_RE,
  type KindsEntry,
} from "./columnKinds.js";
import { COLUMN_KINDS_KEY, TABLE_FILE_EXTENSION, type ColumnRow, type ColumnScalar, type ColumnTable } from "./columnTypes.js";

export { COLUMN_KINDS_KEY, TABLE_FILE_EXTENSION, type ColumnRow, type ColumnScalar, type ColumnTable, type ColumnValues, type NumericTypedArray } from "./columnTypes.js";

export class ColumnStore {
  constructor(readonly dir: string) {}

  /** The file of `table` (validated name). */
  fileOf(table: string): string {
    return path.join(this.dir, checkTableName(table) + TABLE_FILE_EXTENSION);
  }

  /**
   * Writes (or replaces) `table` from columns of equal length, atomically: a
   * reader sees the old table or the new one.
   *
   * @example await store.write("samples", { id: [1, 2], name: ["a", null], when: [new Date(), new Date()] })
   */
  async write(table: string, columns: ColumnTable): Promise<void> {
    const target = this.fileOf(table);
    const plans = planColumns(table, columns);
    const rowCount = plans[0]!.values.length;
    // Loaded on first use: the Parquet library takes ~0.3 s to import, which every CLI start would pay.
    const { ParquetSchema, ParquetWriter } = await import("@dsnp/parquetjs");
    const schema = new ParquetSchema(Object.fromEntries(plans.map((p) => [p.name, fieldFor(p)])));
    const kinds: KindsEntry = { version: COLUMN_KINDS_VERSION, columns: plans.map((p) => ({ name: p.name, kind: p.kind })) };

    await fsp.mkdir(this.dir, { recursive: true });
    const tmp = tempPathFor(target);
    try {
      const writer = await ParquetWriter.openFile(schema, tmp);
      writer.setMetadata(COLUMN_KINDS_KEY, JSON.stringify(kinds));
      for (let r = 0; r < rowCount; r++) {
        const row: Record<string, unknown> = {};
        for (const p of plans) {
          const cell = cellFor(p, r);
          if (cell !== undefined) row[p.name] = cell;
        }
        await writer.appendRow(row);
      }
      await writer.close();
      const fh = await fsp.open(tmp, "r+");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fsp.rename(tmp, target);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Writes `table` from row objects; the columns are every key seen, in first
   * appearance order, and a key missing from a row is null.
   *
   * @example await store.writeRows("samples", [{ id: 1, name: "a" }, { id: 2 }])  // name of row 2: null
   */
  async writeRows(table: string, rows: ReadonlyArray<ColumnRow>): Promise<void> {
    checkTableName(table);
    await this.write(table, rowsToColumns(table, rows));
  }

  /**
   * Reads `table` column-wise, with the types it was written with. The result
   * is a fresh copy. NOT_FOUND if the table does not exist.
   *
   * @example const { id, score } = await store.read("samples");
   */
  async read(table: string): Promise<ColumnTable> {
    const file = this.fileOf(table);
    let reader: ParquetReader;
    try {
      const { ParquetReader } = await import("@dsnp/parquetjs");
      reader = await ParquetReader.openFile(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") {
        throw new TableNotFoundError(`table ${table} does not exist in ${this.dir}`, { table, dir: this.dir });
      }
      throw err;
    }
    try {
      const names = reader.getSchema().fieldList.map((f) => f.name);
      const kinds = readKinds(reader, file, names);
      const cells: unknown[][] = names.map(() => []);
      const cursor = reader.getCursor();
      for (let rec = await cursor.next(); rec; rec = await cursor.next()) {
        const row = rec as Record<string, unknown>;
        names.forEach((n, i) => cells[i]!.push(row[n]));
      }
      return Object.fromEntries(names.map((n, i) => [n, restoreColumn(kinds?.get(n), cells[i]!)]));
    } finally {
      await reader.close();
    }
  }

  /**
   * Reads `table` as row objects (every column present in every row, null
   * when missing).
   *
   * @example for (const row of await store.readRows("samples")) console.log(row.id);
   */
  async readRows(table: string): Promise<ColumnRow[]> {
    const columns = await this.read(table);
    const names = Object.keys(columns);
    const length = names.length === 0 ? 0 : columns[names[0]!]!.length;
    const rows: ColumnRow[] = [];
    for (let r = 0; r < length; r++) {
      const row: ColumnRow = {};
      for (const n of names) row[n] = columns[n]![r] as ColumnScalar | null;
      rows.push(row);
    }
    return rows;
  }

  /** Whether `table` exists. @example await store.has("samples") // true */
  async has(table: string): Promise<boolean> {
    return pathExists(this.fileOf(table));
  }

  /** The names of all tables, sorted. @example await store.list() // ["counts", "samples"] */
  async list(): Promise<string[]> {
    let entries: string[];
    try {
      entries = await fsp.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw err;
    }
    return entries
      .filter((e) => e.endsWith(TABLE_FILE_EXTENSION))
      .map((e) => e.slice(0, -TABLE_FILE_EXTENSION.length))
      .filter((t) => TABLE_NAME_RE.test(t))
      .sort();
  }

  /** Deletes `table`; false if it did not exist. @example await store.delete("samples") // true */
  async delete(table: string): Promise<boolean> {
    const file = this.fileOf(table);
    const existed = await pathExists(file);
    await fsp.rm(file, { force: true });
    return existed;
  }
}

