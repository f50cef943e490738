/**
 * The `cohort` commands as a user runs them (the built binary): a
 * samplesheet of the shared FASTQ reads in, attached, frozen, queried,
 * edited and written back out as samplesheets.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { runCli } from "../helpers/cli.js";
import { FASTQ, LANES, TISSUE } from "../helpers/sharedReads.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { snapshotTree } from "../helpers/tree.js";


let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
  loadConfig(); // the config file exists before any "nothing changed" snapshot
});
afterEach(() => t.cleanup());

const cli = (...args: string[]) => runCli(args, { env: t.env });
const thawed = (name: string) => path.join(t.basedir, "datasets", "Cohort", name, "thawed");

function write(name: string, text: string): string {
  const file = path.join(t.root, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The shared reads as an nf-core/rnaseq sheet with a metadata column. */
function sharedSheet(): string {
  const rows = LANES.map(([s, lane]) => `${s},${FASTQ}${lane}_R1_001.fastq,${FASTQ}${lane}_R2_001.fastq,reverse,${TISSUE[s]}`);
  return write("samplesheet.csv", ["sample,fastq_1,fastq_2,strandedness,tissue", ...rows].join("\n") + "\n");
}

describe.skipIf(!fs.existsSync(FASTQ))("a samplesheet of real FASTQ reads, attached, frozen and exported (needs ../shared/data/fastq)", () => {
  it("import --attach, freeze: the tag holds every read under reads/<sample>/; export gives nf-core rows whose files are the originals' bytes", () => {
    const imp = cli("cohort", "import", "RNA", sharedSheet(), "--attach");
    expect(imp.stderr).toBe("");
    expect(imp.status).toBe(0);
    expect(imp.stdout).toBe("Created Cohort.RNA: 2 accessions, 8 files attached\n");

    expect(cli("freeze", "Cohort.RNA:v1").status).toBe(0);
    const manifest = JSON.parse(fs.readFileSync(path.join(t.basedir, "datasets/Cohort/RNA/MANIFEST.json"), "utf8"));
    const expected = LANES.flatMap(([s, lane]) => [1, 2].map((r) => `reads/${s}/${lane}_R${r}_001.fastq`));
    expect(Object.keys(manifest.tags.v1.files).sort()).toEqual(["db.sqlite", ...expected].sort());

    const out = cli("cohort", "export", "RNA", "--format", "nf-core-rnaseq");
    expect(out.status).toBe(0);
    const [header, ...rows] = out.stdout.trimEnd().split("\n");
    expect(header).toBe("sample,fastq_1,fastq_2,strandedness");
    expect(rows).toHaveLength(4);
    rows.forEach((row, i) => {
      const [sample, r1, r2, strandedness] = row.split(",");
      const [s, lane] = LANES[i]!;
      expect([sample, strandedness]).toEqual([s, "reverse"]);
      for (const [file, r] of [[r1!, 1], [r2!, 2]] as const) {
        expect(file).toBe(path.join(thawed("RNA"), "reads", s, `${lane}_R${r}_001.fastq`));
        expect(fs.readFileSync(file).equals(fs.readFileSync(`${FASTQ}${lane}_R${r}_001.fastq`))).toBe(true);
      }
    });

    const sarek = cli("cohort", "export", "RNA", "--format", "sarek").stdout.split("\n");
    expect(sarek[0]).toBe("patient,sex,status,sample,lane,fastq_1,fastq_2");
    expect(sarek[1]).toMatch(/^Sample1,NA,0,Sample1,1,\//);
  });

  it("show --where selects by metadata (all criteria must hold), as text and JSON", () => {
    cli("cohort", "import", "RNA", sharedSheet());
    const json = JSON.parse(cli("cohort", "show", "RNA", "--where", "tissue=root", "--json").stdout);
    expect(json.accessions.map((a: { name: string }) => a.name)).toEqual(["Sample2"]);
    expect(json).toMatchObject({ name: "RNA", size: 2, matched: 1 });
    expect(json.accessions[0].files).toHaveLength(4);
    const none = cli("cohort", "show", "RNA", "--where", "tissue=root", "strandedness=forward");
    expect(none.stdout).toBe("Cohort.RNA: 0 of 2 accessions match\n");
    const text = cli("cohort", "show", "RNA", "--where", "tissue=leaf");
    expect(text.stdout).toContain("Cohort.RNA: 1 of 2 accessions match\n- Sample1\n");
    expect(text.stdout).toContain("[lane 2, read 2]");
  });
});

describe("bad samplesheets", () => {
  const sheets: [string, (dir: string) => string, RegExp][] = [
    ["no sample column", () => "name,fastq_1\nS1,/a.fq\n", /row 1: no "sample" column/],
    ["a duplicated column", () => "sample,tissue,tissue\nS1,a,b\n", /row 1, column "tissue": the column appears twice/],
    ["a ragged row", () => "sample,fastq_1\nS1,/a.fq\nS2,/b.fq,/c.fq\n", /row 3: the row has 3 cells/],
    ["an empty sample name", () => "sample,fastq_1\n  ,/a.fq\n", /row 2, column "sample": the sample name is empty/],
    ["a file named twice", () => "sample,fastq_1,fastq_2\nS1,/a.fq,/a.fq\n", /row 2, column "fastq_2": file "\/a.fq" is already named in row 2/],
    ["a missing read (with --attach)", (d) => `sample,fastq_1\nS1,${d}/ok.fq\nS2,${d}/absent.fq\n`, /cannot attach ".*absent.fq" to accession "S2": it does not exist/],
    ["a directory as a read (with --attach)", (d) => `sample,fastq_1\nS1,${d}/ok.fq\nS2,${d}\n`, /it is a directory/],
  ];

  it.each(sheets)("%s: exit 2 naming it, into a new or an existing Cohort, and the freezer is byte-identical", (_what, text, message) => {
    const reads = path.join(t.root, "reads");
    fs.mkdirSync(reads);
    fs.writeFileSync(path.join(reads, "ok.fq"), "@r\nA\n+\nI\n");
    const existing = write("existing.yaml", "Keep:\n  files: [/data/keep_R1.fq]\n  metadata: {tissue: leaf}\n");
    expect(cli("cohort", "import", "Keep", existing).status).toBe(0);
    expect(cli("freeze", "Cohort.Keep:v1").status).toBe(0);
    const sheet = write("bad.csv", text(reads));
    const before = snapshotTree(t.basedir);
    for (const name of ["Keep", "Fresh"]) {
      const r = cli("cohort", "import", name, sheet, "--attach");
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
      expect(snapshotTree(t.basedir)).toEqual(before);
    }
  });

  it("an unknown format is exit 2 naming the choices", () => {
    expect(cli("cohort", "import", "X", write("s.xlsx", "x")).stderr).toMatch(/cannot tell the format of .*s\.xlsx/);
    const r = cli("cohort", "import", "X", write("s.csv", "sample\nS1\n"), "--format", "xlsx");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown import format "xlsx": a format is one of yaml, csv, tsv, json, nf-core-rnaseq, sarek/);
  });
});

describe("export --output", () => {
  it("writes the file; refuses to replace it without --force (the old file stays); --force replaces it", () => {
    cli("cohort", "import", "C", write("s.csv", "sample,fastq_1,fastq_2\nS1,/d/S1_R1.fq,/d/S1_R2.fq\n"));
    const out = path.join(t.root, "samplesheet.csv");
    expect(cli("cohort", "export", "C", "--format", "nf-core-rnaseq", "--output", out).status).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toBe("sample,fastq_1,fastq_2,strandedness\nS1,/d/S1_R1.fq,/d/S1_R2.fq,auto\n");
    fs.writeFileSync(out, "mine");
    const refused = cli("cohort", "export", "C", "--format", "csv", "--output", out);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/already exists; nothing was written\nhint: pass --force/);
    expect(fs.readFileSync(out, "utf8")).toBe("mine");
    expect(fs.readdirSync(t.root).filter((f) => f.includes(".tmp-"))).toEqual([]);
    expect(cli("cohort", "export", "C", "--format", "csv", "--output", out, "--force").status).toBe(0);
    expect(fs.readFileSync(out, "utf8")).toBe("sample,lane,fastq_1,fastq_2\nS1,1,/d/S1_R1.fq,/d/S1_R2.fq\n");
  });

  it("the exported YAML re-imports to the same Cohort", () => {
    cli("cohort", "import", "C", write("s.yaml", "S1:\n  files: [/d/a_R1.fq, {path: /d/a_R2.fq, lane: L2, read: 2}]\n  metadata: {age: 3, code: '007'}\n  aliases: [one]\n10:\n"));
    const yaml = path.join(t.root, "out.yaml");
    expect(cli("cohort", "export", "C", "--format", "yaml", "--output", yaml).status).toBe(0);
    expect(cli("cohort", "import", "D", yaml).status).toBe(0);
    const show = (n: string) => JSON.parse(cli("cohort", "show", n, "--json").stdout).accessions;
    expect(show("D")).toEqual(show("C"));
    expect(show("D")[0].metadata).toEqual({ age: 3, code: "007" });
  });

  it("an unknown export format, or an nf-core sheet of an accession without reads, is exit 2", () => {
    cli("cohort", "import", "C", write("s.yaml", "S1:\n"));
    expect(cli("cohort", "export", "C", "--format", "excel").stderr).toMatch(/unknown export format "excel"/);
    const r = cli("cohort", "export", "C", "--format", "nf-core-rnaseq");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/"S1" has no read files/);
  });
});

describe("rm, alias and sample", () => {
  beforeEach(() => {
    cli("cohort", "import", "C", write("s.csv", "sample,tissue\nS1,a\nS2,b\nS3,c\nS4,d\n"));
  });

  it("alias gives another name; show --search finds by it; rm by alias removes the accession", () => {
    expect(cli("cohort", "alias", "C", "S2", "second").stdout).toBe("Cohort.C: S2 is also known as second\n");
    expect(JSON.parse(cli("cohort", "show", "C", "--search", "SECOND", "--json").stdout).accessions.map((a: { name: string }) => a.name)).toEqual(["S2"]);
    expect(cli("cohort", "rm", "C", "second", "S3").stdout).toBe("Removed 2 accessions from Cohort.C; 2 left\n");
    const missing = cli("cohort", "rm", "C", "S1", "nope");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/accession "nope" is not in Cohort.C/);
    expect(JSON.parse(cli("cohort", "show", "C", "--json").stdout).size).toBe(2);
    expect(cli("cohort", "alias", "C", "S1", "S4").status).toBe(2);
  });

  it("sample N --seed S draws the same accessions in every run; --replace allows more than the size", () => {
    const a = cli("cohort", "sample", "C", "3", "--seed", "11");
    expect(a.status).toBe(0);
    expect(a.stdout.trim().split("\n")).toHaveLength(3);
    expect(cli("cohort", "sample", "C", "3", "--seed", "11").stdout).toBe(a.stdout);
    expect(cli("cohort", "sample", "C", "9", "--seed", "1", "--replace").stdout.trim().split("\n")).toHaveLength(9);
    const tooMany = cli("cohort", "sample", "C", "9");
    expect(tooMany.status).toBe(2);
    expect(tooMany.stderr).toMatch(/cannot draw 9 accessions from Cohort.C without replacement: it holds only 4/);
    expect(cli("cohort", "sample", "C", "two").status).toBe(2);
    expect(cli("cohort", "sample", "C", "1", "--seed", "1.5").stderr).toMatch(/invalid seed "1.5"/);
  });

  it("the commands on a Cohort that does not exist exit 1 naming it", () => {
    for (const args of [["rm", "Nope", "S1"], ["alias", "Nope", "S1", "x"], ["sample", "Nope", "1"], ["export", "Nope", "--format", "csv"]]) {
      const r = cli("cohort", ...args);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/dataset Cohort.Nope does not exist/);
    }
  });
});
