/**
 * Reads a CSV or TSV samplesheet into accessions. The `sample` column names
 * the accession; `fastq_1` and `fastq_2` are its read files (read 1 and 2);
 * `lane`, when present, is their lane, else a sample's rows are numbered
 * 1, 2, ... as its lanes. Rows of the same sample merge into one accession.
 * Every other column (strandedness, patient, sex, status, ...) becomes
 * metadata, as text; an empty cell sets nothing. This covers nf-core/rnaseq
 * (`sample,fastq_1,fastq_2,strandedness`) and nf-core/sarek
 * (`patient,sex,status,sample,lane,fastq_1,fastq_2`) sheets.
 *
 * Quoting is RFC 4180 (csv-parse): quoted delimiters, newlines and doubled
 * quotes; a UTF-8 BOM and CRLF line ends are accepted; cells are trimmed.
 * Rows are numbered as a spreadsheet shows them (the header is row 1).
 */
import fs from "node:fs";
import { CsvError, parse } from "csv-parse/sync";
import { InvalidArgumentError, isMinus80Error } from "../../errors.js";
import { Accession, type MetadataValue } from "../accession.js";
import { resolveEntry } from "./paths.js";

export const SAMPLE_COLUMN = "sample";
export const LANE_COLUMN = "lane";
export const READ_COLUMNS = ["fastq_1", "fastq_2"] as const;

export interface SheetReadOptions {
  /** "," (CSV) or "\t" (TSV) */
  delimiter: "," | "\t";
  /** the file named in errors */
  source: string;
  /** relative local paths are resolved against this directory (default: kept as written) */
  baseDir?: string;
}

interface Cell {
  row: number;
  column: string;
}

/** Reads a samplesheet file. @example readSamplesheet("samplesheet.csv", ",").map((a) => a.name) // ["Sample1", "Sample2"] */
export function readSamplesheet(file: string, delimiter: "," | "\t", baseDir?: string): Accession[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(`samplesheet ${JSON.stringify(file)} ${code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(err)})`}`, { file });
  }
  return parseSamplesheet(text, { delimiter, source: file, baseDir });
}

/**
 * Parses samplesheet text. Every problem is an INVALID_ARGUMENT naming the
 * sheet, the row and the column: no `sample` column, an empty or repeated
 * column name, a row with more or fewer cells than the header, an empty
 * sample name, a file named twice, fastq_2 without fastq_1, a sample's lane
 * given twice, or two values for one sample's metadata key.
 *
 * @example parseSamplesheet("sample,fastq_1\nS1,/d/S1.fq\n", { delimiter: ",", source: "s.csv" })[0].files // ["/d/S1.fq"]
 */
export function parseSamplesheet(text: string, opts: SheetReadOptions): Accession[] {
  const { source } = opts;
  const bad = (where: Partial<Cell>, why: string) => {
    const at = [where.row !== undefined ? `row ${where.row}` : "", where.column !== undefined ? `column ${JSON.stringify(where.column)}` : ""].filter(Boolean).join(", ");
    return new InvalidArgumentError(`samplesheet ${source}${at ? ` ${at}` : ""}: ${why}`, { file: source, ...where });
  };
  let records: string[][];
  try {
    records = parse(text, { bom: true, delimiter: opts.delimiter, relax_column_count: true, relax_quotes: true, skip_empty_lines: false }) as string[][];
  } catch (err) {
    if (err instanceof CsvError) throw bad({}, `is not valid ${opts.delimiter === "," ? "CSV" : "TSV"}: ${err.message}`);
    throw err;
  }
  const isBlank = (r: string[]) => r.every((c) => c.trim() === "");
  const headerIndex = records.findIndex((r) => !isBlank(r));
  if (headerIndex === -1) throw bad({}, `is empty; expected a header row with a ${JSON.stringify(SAMPLE_COLUMN)} column`);
  const header = records[headerIndex]!.map((c) => c.trim());
  const headerRow = headerIndex + 1;
  header.forEach((name, i) => {
    if (name === "") throw bad({ row: headerRow, column: `#${i + 1}` }, "a column has no name");
    const first = header.indexOf(name);
    if (first !== i) throw bad({ row: headerRow, column: name }, `the column appears twice (columns ${first + 1} and ${i + 1})`);
  });
  if (!header.includes(SAMPLE_COLUMN)) {
    const near = header.find((h) => h.toLowerCase() === SAMPLE_COLUMN);
    throw bad({ row: headerRow }, `no ${JSON.stringify(SAMPLE_COLUMN)} column in the header${near ? ` (found ${JSON.stringify(near)}; names are case-sensitive)` : ""}; it names each row's accession`);
  }
  const col = (name: string) => header.indexOf(name);
  const hasLane = col(LANE_COLUMN) !== -1;
  const metaColumns = header.filter((h) => h !== SAMPLE_COLUMN && h !== LANE_COLUMN && !(READ_COLUMNS as readonly string[]).includes(h));
  const drafts = new Map<string, { accession: Accession; rows: number; lanes: Map<string, number>; meta: Map<string, { value: MetadataValue; row: number }> }>();
  const seenFiles = new Map<string, Cell>();

  records.forEach((record, index) => {
    const row = index + 1;
    if (index <= headerIndex || isBlank(record)) return;
    if (record.length !== header.length) {
      throw bad({ row }, `the row has ${record.length} cells but the header has ${header.length} columns`);
    }
    const cell = (name: string) => (col(name) === -1 ? "" : record[col(name)]!.trim());
    const sample = cell(SAMPLE_COLUMN);
    if (sample === "") throw bad({ row, column: SAMPLE_COLUMN }, "the sample name is empty");
    let draft = drafts.get(sample);
    try {
      draft ??= { accession: new Accession(sample), rows: 0, lanes: new Map(), meta: new Map() };
    } catch (err) {
      throw rethrow(err, bad({ row, column: SAMPLE_COLUMN }, errMessage(err)));
    }
    drafts.set(sample, draft);
    draft.rows++;
    const [r1, r2] = READ_COLUMNS.map(cell) as [string, string];
    if (r1 === "" && r2 !== "") throw bad({ row, column: READ_COLUMNS[0] }, `empty, but ${READ_COLUMNS[1]} is given; a single-end row names its file in ${READ_COLUMNS[0]}`);
    if (r1 !== "") {
      const lane = hasLane ? cell(LANE_COLUMN) || String(draft.rows) : String(draft.rows);
      const earlier = draft.lanes.get(lane);
      if (earlier !== undefined) throw bad({ row, column: LANE_COLUMN }, `sample ${JSON.stringify(sample)} has lane ${JSON.stringify(lane)} already in row ${earlier}`);
      draft.lanes.set(lane, row);
      [r1, r2].forEach((given, i) => {
        if (given === "") return;
        const column = READ_COLUMNS[i]!;
        const file = resolveEntry(given, opts.baseDir);
        const first = seenFiles.get(file);
        if (first) throw bad({ row, column }, `file ${JSON.stringify(given)} is already named in row ${first.row}, column ${JSON.stringify(first.column)}`);
        seenFiles.set(file, { row, column });
        try {
          draft.accession.addFile(file, { lane, read: (i + 1) as 1 | 2 });
        } catch (err) {
          throw rethrow(err, bad({ row, column }, errMessage(err)));
        }
      });
    }
    for (const key of metaColumns) {
      const value = cell(key);
      if (value === "") continue;
      const had = draft.meta.get(key);
      if (had && had.value !== value) throw bad({ row, column: key }, `sample ${JSON.stringify(sample)} has ${JSON.stringify(value)} here but ${JSON.stringify(had.value)} in row ${had.row}`);
      try {
        draft.accession.set(key, value);
      } catch (err) {
        throw rethrow(err, bad({ row, column: key }, errMessage(err)));
      }
      draft.meta.set(key, { value, row });
    }
  });
  if (drafts.size === 0) throw bad({}, "has a header but no rows");
  return [...drafts.values()].map((d) => d.accession);
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Our own errors are re-raised with the sheet's row and column; anything else is a bug and passes through. */
function rethrow(err: unknown, located: InvalidArgumentError): unknown {
  return isMinus80Error(err) ? located : err;
}
