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
import type { ParquetReader, FieldDefinition, ParquetType } from "@dsnp/parquetjs";
import { InvalidArgumentError, InvalidNameError, IntegrityError, TableNotFoundError } from "../../errors.js";
import { NAME_RULE } from "../../names.js";
import { pathExists, tempPathFor } from "../files.js";

export type NumericTypedArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Uint8Array
  | Uint8ClampedArray
  | Uint16Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** One cell of a plain-array column. */
export type ColumnScalar = number | bigint | string | boolean | Date;

/** One column: a plain array (null for a missing value) or a numeric typed array. */
export type ColumnValues = ReadonlyArray<ColumnScalar | null> | NumericTypedArray;

/** A table given or read column-wise: column name -> values. */
export type ColumnTable = Record<string, ColumnValues>;

/** A table row: column name -> value. */
export type ColumnRow = Record<string, ColumnScalar | null>;

export const TABLE_FILE_EXTENSION = ".parquet";
/** Key of the Parquet key-value metadata entry that records each column's JavaScript kind. */
export const COLUMN_KINDS_KEY = "minus80.columns";
const COLUMN_KINDS_VERSION = 1;

const TABLE_NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;
export const TABLE_NAME_RULE = NAME_RULE;
const MAX_COLUMN_NAME_LENGTH = 255;
export const COLUMN_NAME_RULE =
  "1-255 characters without ',' or control characters, and not an Object.prototype member such as 'constructor' or '__proto__'";
// eslint-disable-next-line no-control-regex
const BAD_COLUMN_CHAR_RE = /[,\u0000-\u001f\u007f]/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

type PlainKind = "integer" | "number" | "bigint" | "string" | "boolean" | "date" | "null";
type TypedKind =
  | "Float64Array"
  | "Float32Array"
  | "Int8Array"
  | "Int16Array"
  | "Int32Array"
  | "Uint8Array"
  | "Uint8ClampedArray"
  | "Uint16Array"
  | "Uint32Array"
  | "BigInt64Array"
  | "BigUint64Array";
type ColumnKind = PlainKind | TypedKind;

interface TypedSpec {
  make: (length: number) => NumericTypedArray;
  parquet: ParquetType;
  /** JS element -> value handed to the Parquet writer */
  encode?: (v: number | bigint) => number | bigint;
  /** value from the Parquet reader -> JS element */
  decode?: (v: unknown) => number | bigint;
}

const TYPED: Record<TypedKind, TypedSpec> = {
  Float64Array: { make: (n) => new Float64Array(n), parquet: "DOUBLE" },
  Float32Array: { make: (n) => new Float32Array(n), parquet: "FLOAT" },
  Int8Array: { make: (n) => new Int8Array(n), parquet: "INT_8" },
  Int16Array: { make: (n) => new Int16Array(n), parquet: "INT_16" },
  Int32Array: { make: (n) => new Int32Array(n), parquet: "INT32" },
  Uint8Array: { make: (n) => new Uint8Array(n), parquet: "UINT_8" },
  Uint8ClampedArray: { make: (n) => new Uint8ClampedArray(n), parquet: "UINT_8" },
  Uint16Array: { make: (n) => new Uint16Array(n), parquet: "UINT_16" },
  // The library cannot write UINT_32 values >= 2^31 nor UINT_64 values >= 2^63: use INT64.
  Uint32Array: { make: (n) => new Uint32Array(n), parquet: "INT64", decode: (v) => Number(v) },
  BigInt64Array: { make: (n) => new BigInt64Array(n), parquet: "INT64" },
  BigUint64Array: {
    make: (n) => new BigUint64Array(n),
    parquet: "INT64",
    encode: (v) => BigInt.asIntN(64, v as bigint),
    decode: (v) => BigInt.asUintN(64, v as bigint),
  },
};

const PLAIN_PARQUET: Record<PlainKind, ParquetType> = {
  integer: "INT64",
  number: "DOUBLE",
  bigint: "INT64",
  string: "UTF8",
  boolean: "BOOLEAN",
  date: "TIMESTAMP_MILLIS",
  null: "BOOLEAN",
};

interface ColumnPlan {
  name: string;
  kind: ColumnKind;
  values: ColumnValues;
  optional: boolean;
}

interface KindsEntry {
  version: number;
  columns: { name: string; kind: ColumnKind }[];
}

/** Throws INVALID_NAME unless `table` is a valid table name. */
export function checkTableName(table: string): string {
  if (typeof table !== "string" || !TABLE_NAME_RE.test(table)) {
    throw new InvalidNameError(`invalid table name ${JSON.stringify(String(table))}: a table name is ${TABLE_NAME_RULE}`, {
      kind: "table",
      value: table,
      rule: TABLE_NAME_RULE,
    });
  }
  return table;
}

function checkColumnName(table: string, column: string): void {
  const ok =
    column.length >= 1 && column.length <= MAX_COLUMN_NAME_LENGTH && !BAD_COLUMN_CHAR_RE.test(column) && !(column in Object.prototype);
  if (!ok) {
    throw new InvalidNameError(`invalid column name ${JSON.stringify(column)} in table ${table}: a column name is ${COLUMN_NAME_RULE}`, {
      kind: "column",
      table,
      value: column,
      rule: COLUMN_NAME_RULE,
    });
  }
}

function typedKindOf(values: unknown): TypedKind | undefined {
  if (!ArrayBuffer.isView(values) || values instanceof DataView) return undefined;
  const name = values.constructor.name;
  return Object.hasOwn(TYPED, name) ? (name as TypedKind) : undefined;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (v instanceof Date) return "Date";
  return typeof v;
}

/** Works out the kind of a plain-array column, refusing mixed or unsupported values. */
function plainKindOf(table: string, column: string, values: ReadonlyArray<unknown>): { kind: PlainKind; optional: boolean } {
  let kind: PlainKind = "null";
  let optional = false;
  let allSafeIntegers = true;
  let firstType: string | undefined;
  for (let index = 0; index < values.length; index++) {
    const v = values[index]; // a hole in a sparse array reads as undefined and is refused
    const bad = (why: string) =>
      new InvalidArgumentError(`table ${table}, column ${JSON.stringify(column)}, row ${index}: ${why}`, { table, column, index });
    if (v === null) {
      optional = true;
      continue;
    }
    const type = describe(v);
    if (firstType === undefined) firstType = type;
    else if (type !== firstType) throw bad(`a ${type} in a column of ${firstType}s; a column holds one type (and null)`);
    switch (type) {
      case "number":
        if (!Number.isSafeInteger(v) || Object.is(v, -0)) allSafeIntegers = false;
        kind = "number";
        break;
      case "bigint":
        if ((v as bigint) < INT64_MIN || (v as bigint) > INT64_MAX) throw bad(`bigint ${String(v)} does not fit in 64 bits`);
        kind = "bigint";
        break;
      case "string":
        kind = "string";
        break;
      case "boolean":
        kind = "boolean";
        break;
      case "Date":
        if (Number.isNaN((v as Date).getTime())) throw bad("an invalid Date cannot be stored");
        kind = "date";
        break;
      default:
        throw bad(`a ${type} cannot be stored; use number, bigint, string, boolean, Date or null (not undefined)`);
    }
  }
  if (kind === "number" && allSafeIntegers) kind = "integer";
  return { kind, optional: optional || kind === "null" };
}

function planColumns(table: string, columns: ColumnTable): ColumnPlan[] {
  if (columns === null || typeof columns !== "object" || Array.isArray(columns)) {
    throw new InvalidArgumentError(`table ${table}: expected an object of columns (name -> array)`, { table });
  }
  const names = Object.keys(columns);
  if (names.length === 0) throw new InvalidArgumentError(`table ${table}: a table needs at least one column`, { table });
  let expected: number | undefined;
  return names.map((name) => {
    checkColumnName(table, name);
    const values = columns[name];
    const typed = typedKindOf(values);
    if (typed === undefined && !Array.isArray(values)) {
      throw new InvalidArgumentError(`table ${table}, column ${JSON.stringify(name)}: expected an array or a numeric typed array`, {
        table,
        column: name,
      });
    }
    const length = (values as ColumnValues).length;
    expected ??= length;
    if (length !== expected) {
      throw new InvalidArgumentError(
        `table ${table}, column ${JSON.stringify(name)}: has ${length} values but column ${JSON.stringify(names[0])} has ${expected}; all columns must have the same length`,
        { table, column: name, length, expected },
      );
    }
    if (typed !== undefined) return { name, kind: typed, values: values as NumericTypedArray, optional: false };
    const { kind, optional } = plainKindOf(table, name, values as ReadonlyArray<unknown>);
    return { name, kind, values: values as ColumnValues, optional };
  });
}

function isTypedKind(kind: ColumnKind): kind is TypedKind {
  return Object.hasOwn(TYPED, kind);
}

function fieldFor(plan: ColumnPlan): FieldDefinition {
  const type = isTypedKind(plan.kind) ? TYPED[plan.kind].parquet : PLAIN_PARQUET[plan.kind];
  return plan.optional ? { type, optional: true } : { type };
}

/** The cell of `plan` at `row`, as handed to the Parquet writer (undefined: missing). */
function cellFor(plan: ColumnPlan, row: number): unknown {
  const v = plan.values[row];
  if (isTypedKind(plan.kind)) {
    const encode = TYPED[plan.kind].encode;
    return encode ? encode(v as number | bigint) : v;
  }
  return v === null ? undefined : v;
}

/** Converts the decoded cells of one column back to its JavaScript kind. */
function restoreColumn(kind: ColumnKind | undefined, cells: unknown[]): ColumnValues {
  if (kind === undefined) return cells.map((c) => (c === undefined ? null : c)) as ColumnScalar[];
  if (isTypedKind(kind)) {
    const spec = TYPED[kind];
    const out = spec.make(cells.length);
    const decode = spec.decode;
    cells.forEach((c, i) => {
      out[i] = (decode ? decode(c) : c) as never;
    });
    return out;
  }
  return cells.map((c) => {
    if (c === null || c === undefined) return null;
    if (kind === "integer") return Number(c as bigint);
    return c as ColumnScalar;
  });
}

function rowsToColumns(table: string, rows: ReadonlyArray<ColumnRow>): ColumnTable {
  if (!Array.isArray(rows)) throw new InvalidArgumentError(`table ${table}: expected an array of row objects`, { table });
  const names: string[] = [];
  const seen = new Set<string>();
  rows.forEach((row, index) => {
    if (row === null || typeof row !== "object" || Array.isArray(row)) {
      throw new InvalidArgumentError(`table ${table}, row ${index}: expected an object (column name -> value)`, { table, index });
    }
    for (const k of Object.keys(row)) {
      if (!seen.has(k)) {
        seen.add(k);
        names.push(k);
      }
    }
  });
  const columns: Record<string, (ColumnScalar | null)[]> = {};
  for (const name of names) columns[name] = rows.map((row) => row[name] ?? null);
  return columns;
}

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

/** The recorded kind of each column, or undefined for a file written by another tool. */
function readKinds(reader: ParquetReader, file: string, names: string[]): Map<string, ColumnKind> | undefined {
  const raw = reader.getMetadata()[COLUMN_KINDS_KEY];
  if (raw === undefined) return undefined;
  const broken = (why: string) => new IntegrityError(`table file ${file}: metadata ${COLUMN_KINDS_KEY} ${why}`, { file });
  let entry: KindsEntry;
  try {
    entry = JSON.parse(String(raw)) as KindsEntry;
  } catch {
    throw broken("is not valid JSON");
  }
  if (entry.version !== COLUMN_KINDS_VERSION || !Array.isArray(entry.columns)) throw broken(`has an unknown format`);
  const kinds = new Map(entry.columns.map((c) => [c.name, c.kind]));
  const known = (k: unknown) => typeof k === "string" && (Object.hasOwn(TYPED, k) || Object.hasOwn(PLAIN_PARQUET, k));
  if (kinds.size !== names.length || names.some((n) => !known(kinds.get(n)))) throw broken("does not match the file's columns");
  return kinds;
}
