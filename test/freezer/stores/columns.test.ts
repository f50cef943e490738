import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ParquetReader, ParquetSchema, ParquetWriter } from "@dsnp/parquetjs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Minus80Error } from "../../../src/errors.js";
import { COLUMN_KINDS_KEY, ColumnStore, type ColumnTable } from "../../../src/freezer/stores/columns.js";

let tmp: string;
let store: ColumnStore;

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "m80-columns-"));
  store = new ColumnStore(path.join(tmp, "columns"));
});

afterEach(async () => {
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** The Minus80Error thrown by `fn` (fails the test if it does not throw one). */
async function caught(fn: () => Promise<unknown>): Promise<Minus80Error> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Minus80Error);
    return err as Minus80Error;
  }
  throw new Error("expected a Minus80Error, but nothing was thrown");
}

/** Asserts two plain-array columns are equal value for value, telling -0 from 0 and matching NaN. */
function expectSameValues(actual: ArrayLike<unknown>, expected: ArrayLike<unknown>): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (e instanceof Date) {
      expect(a).toBeInstanceOf(Date);
      expect((a as Date).getTime(), `row ${i}`).toBe(e.getTime());
    } else {
      expect(Object.is(a, e), `row ${i}: got ${String(a)}, expected ${String(e)}`).toBe(true);
    }
  }
}

async function physicalTypes(file: string): Promise<Record<string, string | undefined>> {
  const reader = await ParquetReader.openFile(file);
  try {
    return Object.fromEntries(reader.getSchema().fieldList.map((f) => [f.name, f.originalType ?? f.primitiveType]));
  } finally {
    await reader.close();
  }
}

describe("ColumnStore round trips", () => {
  it("safe integers are stored as INT64 and read back as numbers", async () => {
    const n = [0, 1, -1, 42, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    await store.write("ints", { n });
    const got = await store.read("ints");
    expectSameValues(got.n!, n);
    expect(typeof got.n![1]).toBe("number");
    expect((await physicalTypes(store.fileOf("ints"))).n).toBe("INT64");
  });

  it("floats keep -0, NaN, Infinity, -Infinity and every bit of precision (DOUBLE)", async () => {
    const x = [0.1, -0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_VALUE, 1 / 3, 2];
    await store.write("floats", { x });
    expectSameValues((await store.read("floats")).x!, x);
    expect((await physicalTypes(store.fileOf("floats"))).x).toBe("DOUBLE");
  });

  it("a column of integers with one -0 is stored as DOUBLE so the -0 survives", async () => {
    await store.write("t", { x: [1, -0, 3] });
    expectSameValues((await store.read("t")).x!, [1, -0, 3]);
    expect((await physicalTypes(store.fileOf("t"))).x).toBe("DOUBLE");
  });

  it("bigints are stored as INT64 and read back as bigints, including the 64-bit extremes", async () => {
    const b = [0n, -(2n ** 63n), 2n ** 63n - 1n, 12345678901234567890n / 2n];
    await store.write("big", { b });
    const got = (await store.read("big")).b!;
    expect(got).toEqual(b);
    expect(typeof got[0]).toBe("bigint");
  });

  it("strings keep unicode, the empty string, newlines and emoji (UTF8)", async () => {
    const s = ["", "plain", "héllo wörld", "日本語", "😀👩‍🔬", "line1\nline2", "tab\tand \u0000 nul"];
    await store.write("strings", { s });
    expect((await store.read("strings")).s).toEqual(s);
    expect((await physicalTypes(store.fileOf("strings"))).s).toBe("UTF8");
  });

  it("booleans round-trip as booleans", async () => {
    await store.write("flags", { f: [true, false, false, true] });
    expect((await store.read("flags")).f).toEqual([true, false, false, true]);
  });

  it("Dates round-trip with the same getTime(), before 1970 and far in the future too", async () => {
    const when = [new Date(0), new Date("1870-01-25T00:00:00.007Z"), new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 999)), new Date(8.64e15)];
    await store.write("dates", { when });
    const got = (await store.read("dates")).when!;
    expectSameValues(got, when);
    expect((await physicalTypes(store.fileOf("dates"))).when).toBe("TIMESTAMP_MILLIS");
  });

  it("null among values of every kind comes back as null in the same place", async () => {
    const columns: ColumnTable = {
      i: [1, null, 3],
      f: [null, 1.5, NaN],
      b: [null, null, 7n],
      s: ["a", null, ""],
      t: [true, null, false],
      d: [new Date(5), null, null],
      none: [null, null, null],
    };
    await store.write("holes", columns);
    const got = await store.read("holes");
    for (const [name, values] of Object.entries(columns)) expectSameValues(got[name]!, values);
  });

  it("each numeric typed array comes back as the same class with identical values", async () => {
    const columns: ColumnTable = {
      f64: new Float64Array([0.1, -0, NaN, Infinity, -Infinity, Number.MAX_VALUE]),
      f32: new Float32Array([0.1, -0, NaN, Infinity, -3.4e38, 1.5]),
      i8: new Int8Array([-128, 127, 0, -1, 5, 6]),
      i16: new Int16Array([-32768, 32767, 0, -1, 5, 6]),
      i32: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1, 5, 6]),
      u8: new Uint8Array([0, 255, 1, 2, 3, 4]),
      u8c: new Uint8ClampedArray([0, 255, 1, 2, 3, 4]),
      u16: new Uint16Array([0, 65535, 1, 2, 3, 4]),
      u32: new Uint32Array([0, 2 ** 32 - 1, 2 ** 31, 2, 3, 4]),
      bi64: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n, 5n, 6n]),
      bu64: new BigUint64Array([0n, 2n ** 64n - 1n, 2n ** 63n, 1n, 5n, 6n]),
    };
    await store.write("typed", columns);
    const got = await store.read("typed");
    for (const [name, values] of Object.entries(columns)) {
      expect(got[name]!.constructor, name).toBe(values.constructor);
      expectSameValues(got[name]!, values);
    }
  });

  it("a table with zero rows keeps its columns and their types", async () => {
    await store.write("empty", { names: [], scores: new Float64Array(0) });
    const got = await store.read("empty");
    expect(got.names).toEqual([]);
    expect(got.scores).toBeInstanceOf(Float64Array);
    expect(got.scores!.length).toBe(0);
  });

  it("a table larger than one Parquet row group round-trips in order", async () => {
    const n = 10_000;
    const id = Array.from({ length: n }, (_, i) => i);
    const x = Float64Array.from(id, (i) => i / 7);
    await store.write("large", { id, x });
    const got = await store.read("large");
    expect(got.id).toEqual(id);
    expect(got.x).toEqual(x);
  });

  it("column order is kept", async () => {
    await store.write("order", { zeta: [1], alpha: [2], mid: [3] });
    expect(Object.keys(await store.read("order"))).toEqual(["zeta", "alpha", "mid"]);
  });
});

describe("ColumnStore rows", () => {
  it("writeRows takes every key seen, in first-appearance order, and a missing key reads back as null", async () => {
    await store.writeRows("samples", [{ id: 1, name: "a" }, { id: 2 }, { id: 3, name: "c", when: new Date(10) }]);
    const rows = await store.readRows("samples");
    expect(rows.map((r) => Object.keys(r))).toEqual([
      ["id", "name", "when"],
      ["id", "name", "when"],
      ["id", "name", "when"],
    ]);
    expect(rows[0]).toEqual({ id: 1, name: "a", when: null });
    expect(rows[1]).toEqual({ id: 2, name: null, when: null });
    expect((rows[2]!.when as Date).getTime()).toBe(10);
  });

  it("readRows of a column-wise table gives one object per row, typed-array values as numbers", async () => {
    await store.write("t", { a: ["x", "y"], v: new Int32Array([7, 8]) });
    expect(await store.readRows("t")).toEqual([
      { a: "x", v: 7 },
      { a: "y", v: 8 },
    ]);
  });

  it("writeRows refuses a row that is not an object, naming the row", async () => {
    const err = await caught(() => store.writeRows("t", [{ a: 1 }, 5 as never]));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ table: "t", index: 1 });
  });
});

describe("ColumnStore storage", () => {
  it("a read returns a copy: editing it changes nothing stored", async () => {
    await store.write("t", { a: [1, 2], v: new Float64Array([1, 2]) });
    const first = await store.read("t");
    (first.a as number[])[0] = 99;
    (first.v as Float64Array)[0] = 99;
    const second = await store.read("t");
    expect(second.a).toEqual([1, 2]);
    expect(second.v).toEqual(new Float64Array([1, 2]));
  });

  it("writing a table again replaces it and leaves no temporary file beside it", async () => {
    await store.write("t", { a: [1, 2, 3] });
    await store.write("t", { b: ["only"] });
    expect(await store.read("t")).toEqual({ b: ["only"] });
    expect(fs.readdirSync(store.dir)).toEqual(["t.parquet"]);
  });

  it("writing the same data twice gives identical bytes, so freezing stores it once", async () => {
    const table = { a: [1, 2, null], s: ["x", "y", "z"], d: new Float32Array([1, 2, 3]) };
    await store.write("one", table);
    await store.write("two", table);
    expect(fs.readFileSync(store.fileOf("one")).equals(fs.readFileSync(store.fileOf("two")))).toBe(true);
  });

  it("has, list and delete see exactly the stored tables, sorted, ignoring other files", async () => {
    expect(await store.list()).toEqual([]);
    await store.write("b-table", { a: [1] });
    await store.write("a_table", { a: [1] });
    fs.writeFileSync(path.join(store.dir, "notes.txt"), "not a table");
    fs.writeFileSync(path.join(store.dir, ".a_table.parquet.tmp-1-abcd"), "half written");
    expect(await store.list()).toEqual(["a_table", "b-table"]);
    expect(await store.has("a_table")).toBe(true);
    expect(await store.has("missing")).toBe(false);
    expect(await store.delete("a_table")).toBe(true);
    expect(await store.delete("a_table")).toBe(false);
    expect(await store.list()).toEqual(["b-table"]);
  });

  it("reading a missing table throws NOT_FOUND with the table name", async () => {
    const err = await caught(() => store.read("nope"));
    expect(err.code).toBe("TABLE_NOT_FOUND");
    expect(err.data).toMatchObject({ table: "nope" });
  });

  it("files are ordinary Parquet: another reader sees the columns and the recorded kinds", async () => {
    await store.write("t", { id: [1, 2], name: ["a", "b"], v: new Uint32Array([1, 2]) });
    const reader = await ParquetReader.openFile(store.fileOf("t"));
    try {
      const cursor = reader.getCursor();
      expect(await cursor.next()).toEqual({ id: 1n, name: "a", v: 1n });
      expect(JSON.parse(String(reader.getMetadata()[COLUMN_KINDS_KEY]))).toEqual({
        version: 1,
        columns: [
          { name: "id", kind: "integer" },
          { name: "name", kind: "string" },
          { name: "v", kind: "Uint32Array" },
        ],
      });
    } finally {
      await reader.close();
    }
  });

  it("a Parquet file written by another tool reads as plain arrays of the decoded values", async () => {
    fs.mkdirSync(store.dir, { recursive: true });
    const schema = new ParquetSchema({ n: { type: "INT64" }, s: { type: "UTF8", optional: true } });
    const writer = await ParquetWriter.openFile(schema, store.fileOf("foreign"));
    await writer.appendRow({ n: 5, s: "x" });
    await writer.appendRow({ n: 6 });
    await writer.close();
    expect(await store.read("foreign")).toEqual({ n: [5n, 6n], s: ["x", null] });
  });

  it("a file whose recorded kinds do not match its columns is reported as INTEGRITY", async () => {
    fs.mkdirSync(store.dir, { recursive: true });
    const writer = await ParquetWriter.openFile(new ParquetSchema({ n: { type: "INT64" } }), store.fileOf("odd"));
    writer.setMetadata(COLUMN_KINDS_KEY, JSON.stringify({ version: 1, columns: [{ name: "other", kind: "integer" }] }));
    await writer.appendRow({ n: 1 });
    await writer.close();
    const err = await caught(() => store.read("odd"));
    expect(err.code).toBe("INTEGRITY");
  });
});

describe("ColumnStore validation", () => {
  it.each(["", "a.b", "../x", "a/b", "a b", "x".repeat(129), "tab\t"])("table name %j is refused with INVALID_NAME naming it and the rule", async (bad) => {
    const err = await caught(() => store.write(bad, { a: [1] }));
    expect(err.code).toBe("INVALID_NAME");
    expect(err.data).toMatchObject({ kind: "table", value: bad });
    expect(String(err.data.rule)).toContain("1-128");
    expect(err.message).toContain(JSON.stringify(bad));
    expect(fs.existsSync(store.dir)).toBe(false);
  });

  it("a 128-character table name is accepted", async () => {
    const name = "t".repeat(128);
    await store.write(name, { a: [1] });
    expect(await store.list()).toEqual([name]);
  });

  it("columns of different lengths are refused with INVALID_ARGUMENT and the stored table is kept", async () => {
    await store.write("t", { a: [1, 2] });
    const err = await caught(() => store.write("t", { a: [1, 2], b: new Float64Array(3) }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ table: "t", column: "b", length: 3, expected: 2 });
    expect(await store.read("t")).toEqual({ a: [1, 2] });
  });

  it("a column mixing types is refused, naming the column and the row", async () => {
    const err = await caught(() => store.write("t", { a: [1, "two", 3] }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ table: "t", column: "a", index: 1 });
  });

  it.each([
    ["undefined", [1, undefined]],
    ["a sparse array", [1, , 3]], // eslint-disable-line no-sparse-arrays
    ["an object", [{ a: 1 }]],
    ["an invalid Date", [new Date(NaN)]],
    ["a bigint beyond 64 bits", [2n ** 63n]],
  ])("a column holding %s is refused with INVALID_ARGUMENT", async (_what, values) => {
    const err = await caught(() => store.write("t", { a: values as never }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(await store.has("t")).toBe(false);
  });

  it("a column that is neither an array nor a numeric typed array is refused", async () => {
    const err = await caught(() => store.write("t", { a: "abc" as never }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ column: "a" });
  });

  it("a table without columns is refused", async () => {
    const err = await caught(() => store.write("t", {}));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  it.each(["", "a,b", "constructor", "__proto__", "x\ny"])("column name %j is refused with INVALID_NAME", async (bad) => {
    const columns = JSON.parse(JSON.stringify({ ok: [1] })) as Record<string, unknown>;
    Object.defineProperty(columns, bad, { value: [1], enumerable: true });
    const err = await caught(() => store.write("t", columns as ColumnTable));
    expect(err.code).toBe("INVALID_NAME");
    expect(err.data).toMatchObject({ kind: "column", value: bad });
  });

  it("unusual but safe column names round-trip", async () => {
    const columns = { "gene id": [1], "a.b": [2], "é/x": [3], "1": [4] };
    await store.write("t", columns);
    expect(await store.read("t")).toEqual(columns);
  });
});
