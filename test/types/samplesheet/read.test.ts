import { describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { parseSamplesheet } from "../../../src/types/samplesheet/csvRead.js";
import { importFormatOf, readAccessionFile } from "../../../src/types/samplesheet/formats.js";
import { formatAccessions } from "../../../src/types/samplesheet/write.js";
import { Accession } from "../../../src/types/accession.js";
import { thrown } from "../../helpers/assertions.js";
import { makeTempEnv } from "../../helpers/tempEnv.js";

const csv = (text: string, baseDir?: string) => parseSamplesheet(text, { delimiter: ",", source: "sheet.csv", baseDir });

const refusal = (text: string) => thrown(() => parseSamplesheet(text, { delimiter: ",", source: "sheet.csv" }));

describe("reading an nf-core/rnaseq samplesheet", () => {
  it("rows of one sample merge into one accession, one lane per row in order, read 1 and read 2 recorded", () => {
    const [s1, s2] = csv(
      "sample,fastq_1,fastq_2,strandedness\nS1,/d/S1_L1_R1.fq,/d/S1_L1_R2.fq,reverse\nS2,/d/S2_R1.fq,,auto\nS1,/d/S1_L2_R1.fq,/d/S1_L2_R2.fq,reverse\n",
    );
    expect(s1!.name).toBe("S1");
    expect(s1!.fileEntries).toEqual([
      { file: "/d/S1_L1_R1.fq", lane: "1", read: 1 },
      { file: "/d/S1_L1_R2.fq", lane: "1", read: 2 },
      { file: "/d/S1_L2_R1.fq", lane: "2", read: 1 },
      { file: "/d/S1_L2_R2.fq", lane: "2", read: 2 },
    ]);
    expect(s1!.metadata).toEqual({ strandedness: "reverse" });
    expect(s2!.fileEntries).toEqual([{ file: "/d/S2_R1.fq", lane: "1", read: 1 }]);
  });

  it("relative paths are resolved against the sheet's directory; URLs stay as written", () => {
    const [a] = csv("sample,fastq_1,fastq_2\nS1,reads/R1.fq,s3://bucket/R2.fq\n", "/data/run1");
    expect(a!.files).toEqual(["/data/run1/reads/R1.fq", "s3://bucket/R2.fq"]);
  });
});

describe("reading an nf-core/sarek samplesheet", () => {
  it("lane comes from the lane column; patient, sex and status become metadata", () => {
    const [t] = csv("patient,sex,status,sample,lane,fastq_1,fastq_2\nP1,XX,1,T1,L007,/d/a1.fq,/d/a2.fq\nP1,XX,1,T1,L008,/d/b1.fq,/d/b2.fq\n");
    expect(t!.metadata).toEqual({ patient: "P1", sex: "XX", status: "1" });
    expect(t!.fileEntries.map((f) => [f.lane, f.read])).toEqual([["L007", 1], ["L007", 2], ["L008", 1], ["L008", 2]]);
  });
});

describe("samplesheet syntax", () => {
  it("RFC 4180 quoting: quoted commas, newlines and doubled quotes; a BOM and CRLF line ends", () => {
    const [a] = csv('\uFEFFsample,fastq_1,note\r\n"S,1","/d/x,y.fq","two\r\nlines and ""quotes"""\r\n');
    expect(a!.name).toBe("S,1");
    expect(a!.files).toEqual(["/d/x,y.fq"]);
    expect(a!.get("note")).toBe('two\r\nlines and "quotes"');
  });

  it("TSV, Unicode names, blank lines and surrounding spaces", () => {
    const [a] = parseSamplesheet("sample\tfastq_1\tgewebe\n\n  Probe-ü😀 \t /d/ü.fq \tBlatt\n\n", { delimiter: "\t", source: "s.tsv" });
    expect(a!.name).toBe("Probe-ü😀");
    expect(a!.files).toEqual(["/d/ü.fq"]);
    expect(a!.metadata).toEqual({ gewebe: "Blatt" });
  });

  it("a huge cell is read whole", () => {
    const big = "x".repeat(2_000_000);
    expect(csv(`sample,note\nS1,${big}\n`)[0]!.get("note")).toBe(big);
  });

  it("the format comes from the extension or --format", () => {
    expect(importFormatOf("a/b.CSV")).toBe("csv");
    expect(importFormatOf("s.tsv")).toBe("tsv");
    expect(importFormatOf("s.yml")).toBe("yaml");
    expect(importFormatOf("s.txt", "sarek")).toBe("sarek");
    expect(() => importFormatOf("s.txt")).toThrow(/cannot tell the format/);
    expect(() => importFormatOf("s.csv", "xlsx")).toThrow(/unknown import format "xlsx"/);
  });
});

describe("bad samplesheets are refused naming the row and column", () => {
  it.each([
    ["no sample column", "name,fastq_1\nS1,/a.fq\n", { row: 1 }, /no "sample" column/],
    ["a case-mismatched sample column", "Sample,fastq_1\nS1,/a.fq\n", { row: 1 }, /found "Sample"/],
    ["a duplicated column", "sample,fastq_1,fastq_1\nS1,/a.fq,/b.fq\n", { row: 1, column: "fastq_1" }, /appears twice \(columns 2 and 3\)/],
    ["a column without a name", "sample,,x\nS1,a,b\n", { row: 1, column: "#2" }, /no name/],
    ["a ragged row", "sample,fastq_1\nS1,/a.fq\nS2\n", { row: 3 }, /1 cells but the header has 2/],
    ["a row with too many cells", "sample,fastq_1\nS1,/a.fq,extra\n", { row: 2 }, /3 cells/],
    ["an empty sample name", "sample,fastq_1\nS1,/a.fq\n,/b.fq\n", { row: 3, column: "sample" }, /sample name is empty/],
    ["a file named twice", "sample,fastq_1,fastq_2\nS1,/a.fq,/b.fq\nS2,/c.fq,/a.fq\n", { row: 3, column: "fastq_2" }, /already named in row 2, column "fastq_1"/],
    ["fastq_2 without fastq_1", "sample,fastq_1,fastq_2\nS1,,/b.fq\n", { row: 2, column: "fastq_1" }, /single-end/],
    ["a lane given twice", "sample,lane,fastq_1\nS1,L1,/a.fq\nS1,L1,/b.fq\n", { row: 3, column: "lane" }, /lane "L1" already in row 2/],
    ["two values for a sample's metadata", "sample,fastq_1,strandedness\nS1,/a.fq,forward\nS1,/b.fq,reverse\n", { row: 3, column: "strandedness" }, /"reverse" here but "forward" in row 2/],
    ["a bad sample name", "sample,fastq_1\nS\u00071,/a.fq\n", { row: 2, column: "sample" }, /invalid accession name/],
    ["a bad metadata key", "sample,bad\u0001key\nS1,x\n", { row: 2, column: "bad\u0001key" }, /invalid metadata key/],
    ["an unclosed quote", 'sample,fastq_1\nS1,"/a.fq\n', {}, /not valid CSV/],
    ["only a header", "sample,fastq_1\n", {}, /no rows/],
    ["an empty file", "\n\n", {}, /is empty/],
  ])("%s", (_what, text, where, message) => {
    const err = refusal(text);
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ file: "sheet.csv", ...where });
    expect(err.message).toMatch(message);
    expect(err.message).toContain("sheet.csv");
  });
});

describe("JSON accession files", () => {
  it("what export --format json writes reads back; an entry of the wrong shape is INVALID_ARGUMENT naming it", () => {
    const t = makeTempEnv();
    const dir = t.root;
    try {
      const a = new Accession("S1", { metadata: { age: 3 }, aliases: ["one"] }).addFile("/d/R1.fq", { lane: "L1", read: 1 });
      const good = path.join(dir, "a.json");
      fs.writeFileSync(good, formatAccessions([a], "json"));
      expect(readAccessionFile(good).map((x) => x.toJSON())).toEqual([a.toJSON()]);
      const bad = path.join(dir, "b.json");
      fs.writeFileSync(bad, JSON.stringify({ accessions: [{ name: "S1", files: 5 }] }));
      const err = thrown(() => readAccessionFile(bad));
      expect(err.code).toBe("INVALID_ARGUMENT");
      expect(err.message).toMatch(/b\.json: entry 1: not an accession/);
    } finally {
      t.cleanup();
    }
  });
});
