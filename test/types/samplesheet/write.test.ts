import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Accession } from "../../../src/types/accession.js";
import { laneRows, mateOf } from "../../../src/types/samplesheet/lanes.js";
import { parseSamplesheet } from "../../../src/types/samplesheet/csvRead.js";
import { formatAccessions, RNASEQ_HEADER, SAREK_HEADER } from "../../../src/types/samplesheet/write.js";
import { readAccessionsYaml } from "../../../src/types/samplesheet/yaml.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";

let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
});
afterEach(() => t.cleanup());

const laned = () =>
  new Accession("S1", { metadata: { strandedness: "reverse", tissue: "leaf", reads: 12 }, aliases: ["one"] })
    .addFile("/d/S1_L7_R1.fq", { lane: "L007", read: 1 })
    .addFile("/d/S1_L7_R2.fq", { lane: "L007", read: 2 })
    .addFile("/d/S1_L8_R1.fq", { lane: "L008", read: 1 })
    .addFile("/d/S1_L8_R2.fq", { lane: "L008", read: 2 });

describe("laneRows", () => {
  it("one row per lane in the order lanes first appear, read 1 then read 2", () => {
    expect(laneRows(laned())).toEqual([
      { lane: "L007", fastq_1: "/d/S1_L7_R1.fq", fastq_2: "/d/S1_L7_R2.fq" },
      { lane: "L008", fastq_1: "/d/S1_L8_R1.fq", fastq_2: "/d/S1_L8_R2.fq" },
    ]);
  });

  it("files without a lane record are paired by their Illumina names; a lone file is single-end", () => {
    const a = new Accession("10M", {
      files: ["ssh://h/p/10_M_S10_R1_001.fastq.gz", "ssh://h/p/10_M_S10_R2_001.fastq.gz", "/x/run_2.fq.gz", "/x/run_1.fq.gz", "/x/notes.txt"],
    });
    expect(laneRows(a)).toEqual([
      { lane: "1", fastq_1: "ssh://h/p/10_M_S10_R1_001.fastq.gz", fastq_2: "ssh://h/p/10_M_S10_R2_001.fastq.gz" },
      { lane: "2", fastq_1: "/x/run_1.fq.gz", fastq_2: "/x/run_2.fq.gz" },
      { lane: "3", fastq_1: "/x/notes.txt", fastq_2: "" },
    ]);
    expect(mateOf("/d/Sample1_ATGTCA_L007_R2_001.fastq")).toEqual({ key: "/d/Sample1_ATGTCA_L007_R?_001.fastq", read: 2 });
  });

  it("two files for one read of a lane are refused, naming the accession and lane", () => {
    const a = new Accession("S1").addFile("/a.fq", { lane: "L1", read: 1 }).addFile("/b.fq", { lane: "L1", read: 1 });
    expect(() => laneRows(a)).toThrow(/accession "S1": lane "L1" has two files for read 1/);
  });
});

describe("formatAccessions", () => {
  it("nf-core-rnaseq: the exact header, one row per lane, strandedness from metadata or auto", () => {
    const plain = new Accession("S2", { files: ["/d/S2_R1.fq", "/d/S2_R2.fq"] });
    const lines = formatAccessions([laned(), plain], "nf-core-rnaseq").split("\n");
    expect(lines[0]).toBe(RNASEQ_HEADER.join(","));
    expect(lines[0]).toBe("sample,fastq_1,fastq_2,strandedness");
    expect(lines.slice(1)).toEqual(["S1,/d/S1_L7_R1.fq,/d/S1_L7_R2.fq,reverse", "S1,/d/S1_L8_R1.fq,/d/S1_L8_R2.fq,reverse", "S2,/d/S2_R1.fq,/d/S2_R2.fq,auto", ""]);
  });

  it("sarek: patient from metadata or the sample, sex NA, status 0, the recorded lanes", () => {
    const withPatient = laned().set("patient", "P9").set("sex", "XY").set("status", "1");
    const lines = formatAccessions([withPatient, new Accession("N1", { files: ["/n_R1.fq"] })], "sarek").trim().split("\n");
    expect(lines).toEqual([
      SAREK_HEADER.join(","),
      "P9,XY,1,S1,L007,/d/S1_L7_R1.fq,/d/S1_L7_R2.fq",
      "P9,XY,1,S1,L008,/d/S1_L8_R1.fq,/d/S1_L8_R2.fq",
      "N1,NA,0,N1,1,/n_R1.fq,",
    ]);
  });

  it("the nf-core formats refuse an accession without read files; csv writes it as a row without files", () => {
    const empty = new Accession("E1", { metadata: { tissue: "root" } });
    expect(() => formatAccessions([empty], "nf-core-rnaseq")).toThrow(/"E1" has no read files; a nf-core-rnaseq samplesheet needs fastq_1/);
    expect(formatAccessions([empty], "csv")).toBe("sample,lane,fastq_1,fastq_2,tissue\nE1,,,,root\n");
  });

  it("csv and tsv re-read to the same names, lanes, files and (textual) metadata", () => {
    for (const [format, delimiter] of [["csv", ","], ["tsv", "\t"]] as const) {
      const odd = new Accession("S,\"3\"", { metadata: { note: "tab\there, comma, \"quote\"\nnewline" } }).addFile("/d/with,comma R1.fq", { lane: "1", read: 1 });
      const text = formatAccessions([laned(), odd], format);
      const back = parseSamplesheet(text, { delimiter, source: `x.${format}` });
      expect(back.map((a) => a.name)).toEqual(["S1", 'S,"3"']);
      expect(back[0]!.fileEntries).toEqual(laned().fileEntries);
      expect(back[0]!.metadata).toEqual({ strandedness: "reverse", tissue: "leaf", reads: "12" });
      expect(back[1]!.get("note")).toBe("tab\there, comma, \"quote\"\nnewline");
    }
  });

  it("yaml re-reads to the same accessions: names (numeric ones too), files with lanes, typed metadata, aliases", () => {
    const accessions = [
      laned(),
      new Accession("10", { files: ["ssh://h/p/10_R1.fq"], metadata: { code: "007", paired: true, n: 1.5 } }),
      new Accession("__proto__", { aliases: ["constructor"] }),
    ];
    const file = path.join(t.root, "out.yaml");
    fs.writeFileSync(file, formatAccessions(accessions, "yaml"));
    expect(readAccessionsYaml(file).map((a) => a.toJSON())).toEqual(accessions.map((a) => a.toJSON()));
  });

  it("json holds every accession's JSON (lanes included)", () => {
    const json = JSON.parse(formatAccessions([laned()], "json")) as { accessions: unknown[] };
    expect(json.accessions).toEqual([laned().toJSON()]);
    expect(laned().toJSON().lanes!["/d/S1_L8_R2.fq"]).toEqual({ lane: "L008", read: 2 });
  });
});
