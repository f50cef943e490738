/**
 * The column kinds of the columnar store (see columns.ts for the table of
 * JavaScript types and their Parquet columns): checking table and column
 * names, deciding each column's kind and Parquet field, turning cells back
 * into the JavaScript values they were, and the `minus80.columns` metadata
 * entry that records the kinds.
 *
 * @example const plans = planColumns("counts", { gene: ["a"], n: [1] });   // [{ name: "gene", kind: "string", ... }, ...]
 */
import type { ParquetReader, FieldDefinition, ParquetType } from "@dsnp/parquetjs";
import { InvalidArgumentError, InvalidNameError, IntegrityError } from "../../errors.js";
import { NAME_RULE } from "../../names.js";

import type { ColumnRow, ColumnScalar, ColumnTable, ColumnValues, NumericTypedArray } from "./columnTypes.js";
import { COLUMN_KINDS_KEY } from "./columnTypes.js";

export const COLUMN_KINDS_VERSION = 1;

export const TABLE_NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;
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
export type ColumnKind = PlainKind | TypedKind;

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

export interface ColumnPlan {
  name: string;
  kind: ColumnKind;
  values: ColumnValues;
  optional: boolean;
}

export interface KindsEntry {
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

export function planColumns(table: string, columns: ColumnTable): ColumnPlan[] {
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

export function fieldFor(plan: ColumnPlan): FieldDefinition {
  const type = isTypedKind(plan.kind) ? TYPED[plan.kind].parquet : PLAIN_PARQUET[plan.kind];
  return plan.optional ? { type, optional: true } : { type };
}

/** The cell of `plan` at `row`, as handed to the Parquet writer (undefined: missing). */
export function cellFor(plan: ColumnPlan, row: number): unknown {
  const v = plan.values[row];
  if (isTypedKind(plan.kind)) {
    const encode = TYPED[plan.kind].encode;
    return encode ? encode(v as number | bigint) : v;
  }
  return v === null ? undefined : v;
}

/** Converts the decoded cells of one column back to its JavaScript kind. */
export function restoreColumn(kind: ColumnKind | undefined, cells: unknown[]): ColumnValues {
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

export function rowsToColumns(table: string, rows: ReadonlyArray<ColumnRow>): ColumnTable {
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

/** The recorded kind of each column, or undefined for a file written by another tool. */
export function readKinds(reader: ParquetReader, file: string, names: string[]): Map<string, ColumnKind> | undefined {
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
