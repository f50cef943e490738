/**
 * The public types of the columnar store (what a table is, given and read
 * back) and its file constants, apart from the Parquet library's types so
 * that a user's type check never needs that library's declarations.
 *
 * @example const t: ColumnTable = { gene: ["a", "b"], n: new Float64Array([1, 2]) };
 */
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

