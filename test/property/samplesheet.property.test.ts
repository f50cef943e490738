/**
 * Samplesheets over random content: quoted delimiters, quotes and line
 * breaks in cells, a UTF-8 BOM, CRLF line ends, Unicode names and huge
 * cells. A well-formed sheet reads back exactly what was written; any text
 * at all is either read or refused with INVALID_ARGUMENT, never a crash.
 * Fixed seed (see fcConfig.ts).
 */
import fc from "fast-check";
import { stringify } from "csv-stringify/sync";
import { describe, expect, it } from "vitest";
import { Minus80Error } from "../../src/errors.js";
import { Accession } from "../../src/types/accession.js";
import { parseSamplesheet } from "../../src/types/samplesheet/csvRead.js";
import { formatAccessions } from "../../src/types/samplesheet/write.js";
import { isWellFormed, nastyString } from "./arbitraries.js";
import { checkProperty } from "./fcConfig.js";

const tricky = fc.constantFrom(",", "\t", '"', "\n", "\r\n", "\r", " ", "é", "😀", "ü", "\u00a0", "'", ";", "=", "#");
const cellUnit = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(..."abcXYZ019_-./") }, { weight: 2, arbitrary: tricky });
/** A cell as the reader keeps it: non-empty, no surrounding whitespace. */
const cell = fc
  .oneof({ weight: 20, arbitrary: fc.string({ unit: cellUnit, minLength: 1, maxLength: 30 }) }, { weight: 1, arbitrary: fc.constant("H".repeat(200_000)) })
  .filter((s) => s.trim() === s && s !== "" && isWellFormed(s));
/** An accession name: a cell without control characters. */
const sampleName = cell.filter((s) => !/[\u0000-\u001f\u007f]/.test(s) && [...s].length <= 255);
const metaKey = fc.constantFrom("strandedness", "tissue", "patient", "note ü", "a,b", 'q"k');

interface Sheet {
  samples: { name: string; lanes: number; paired: boolean; meta: Record<string, string> }[];
  keys: string[];
  bom: boolean;
  crlf: boolean;
  delimiter: "," | "\t";
}

const sheet: fc.Arbitrary<Sheet> = fc.record({
  samples: fc.uniqueArray(
    fc.record({ name: sampleName, lanes: fc.integer({ min: 1, max: 3 }), paired: fc.boolean(), meta: fc.dictionary(metaKey, cell, { maxKeys: 3 }) }),
    { minLength: 1, maxLength: 6, selector: (s) => s.name },
  ),
  keys: fc.constant([]),
  bom: fc.boolean(),
  crlf: fc.boolean(),
  delimiter: fc.constantFrom(",", "\t"),
}).map((s) => ({ ...s, keys: [...new Set(s.samples.flatMap((x) => Object.keys(x.meta)))] }));

function render(s: Sheet): { text: string; expected: Accession[] } {
  const header = ["sample", "fastq_1", "fastq_2", ...s.keys];
  const rows: string[][] = [];
  const expected = s.samples.map((x, i) => {
    const a = new Accession(x.name, { metadata: x.meta });
    for (let lane = 1; lane <= x.lanes; lane++) {
      const r1 = `/reads/s${i}/L${lane},"R1".fq`;
      const r2 = x.paired ? `/reads/s${i}/L${lane} R2.fq` : "";
      a.addFile(r1, { lane: String(lane), read: 1 });
      if (r2) a.addFile(r2, { lane: String(lane), read: 2 });
      rows.push([x.name, r1, r2, ...s.keys.map((k) => x.meta[k] ?? "")]);
    }
    return a;
  });
  const text = stringify([header, ...rows], { delimiter: s.delimiter, record_delimiter: s.crlf ? "\r\n" : "\n" });
  return { text: (s.bom ? "\uFEFF" : "") + text, expected };
}

describe("samplesheets, property-based", () => {
  it("a well-formed sheet (any quoting, BOM, CRLF, Unicode, huge cells) reads back exactly", () => {
    checkProperty(
      fc.property(sheet, (s) => {
        const { text, expected } = render(s);
        const got = parseSamplesheet(text, { delimiter: s.delimiter, source: "prop.csv" });
        expect(got.map((a) => a.toJSON())).toEqual(expected.map((a) => a.toJSON()));
      }),
      { numRuns: 150, name: "samplesheet-roundtrip" },
    );
  });

  it("what the csv and tsv writers produce reads back to the same lanes and metadata", () => {
    checkProperty(
      fc.property(sheet, (s) => {
        const { expected } = render(s);
        const format = s.delimiter === "," ? "csv" : "tsv";
        const got = parseSamplesheet(formatAccessions(expected, format), { delimiter: s.delimiter, source: "w" });
        expect(got.map((a) => a.toJSON())).toEqual(expected.map((a) => a.toJSON()));
      }),
      { numRuns: 100, name: "samplesheet-writer-roundtrip" },
    );
  });

  it("any text is read or refused with INVALID_ARGUMENT naming the sheet, never a crash", () => {
    const piece = fc.oneof(nastyString, fc.constantFrom("sample", "fastq_1", "fastq_2", "lane", ",", "\t", '"', '""', "\r\n", "\n", "\uFEFF", "/a.fq"));
    const text = fc.oneof(
      fc.array(piece, { maxLength: 40 }).map((p) => p.join("")),
      fc.array(piece, { maxLength: 30 }).map((p) => "sample,fastq_1,fastq_2\n" + p.join("")),
    );
    checkProperty(
      fc.property(text, fc.constantFrom(",", "\t"), (t, delimiter) => {
        try {
          const got = parseSamplesheet(t, { delimiter: delimiter as "," | "\t", source: "fuzz.csv" });
          expect(got.length).toBeGreaterThan(0);
        } catch (err) {
          expect(err).toBeInstanceOf(Minus80Error);
          expect((err as Minus80Error).code).toBe("INVALID_ARGUMENT");
          expect((err as Error).message).toContain("fuzz.csv");
        }
      }),
      { numRuns: 400, name: "samplesheet-no-crash" },
    );
  });
});
