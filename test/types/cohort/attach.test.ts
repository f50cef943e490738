import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Freezer } from "../../../src/freezer/freezer.js";
import { Accession } from "../../../src/types/accession.js";
import { Cohort } from "../../../src/types/cohort.js";
import { expectCode } from "../../helpers/assertions.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";
import { snapshotTree } from "../../helpers/tree.js";

let t: TempEnv;
let data: string;
const opened: Cohort[] = [];
beforeEach(() => {
  t = makeTempEnv();
  data = path.join(t.root, "data");
  fs.mkdirSync(data);
});
afterEach(() => {
  for (const c of opened.splice(0)) c.close();
  vi.restoreAllMocks();
  t.cleanup();
});

function cohort(name = "Reads"): Cohort {
  const c = new Cohort(name);
  opened.push(c);
  return c;
}

/** A small local read file with distinct bytes. */
function read(name: string, dir = data): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, `@${name}\nACGT\n+\nIIII\n`);
  return file;
}

function storedUrls(c: Cohort): string[] {
  const db = new Database(path.join(c.dataset.thawedDir, "db.sqlite"), { readonly: true });
  try {
    return (db.prepare("SELECT url FROM files ORDER BY rowid").all() as { url: string }[]).map((r) => r.url);
  } finally {
    db.close();
  }
}

describe("attaching reads", () => {
  it("copies each local file to reads/<accession>/<name>, stores it relative, reads it back absolute; URLs stay references", async () => {
    const c = cohort();
    const r1 = read("S1_R1.fq");
    const [a] = await c.importAccessions([new Accession("S1").addFile(r1, { lane: "L1", read: 1 }).addFile("s3://bucket/S1_R2.fq")], { attach: true });
    const copy = path.join(c.dataset.thawedDir, "reads", "S1", "S1_R1.fq");
    expect(a!.files).toEqual([copy, "s3://bucket/S1_R2.fq"]);
    expect(a!.laneOf(copy)).toEqual({ lane: "L1", read: 1 });
    expect(fs.readFileSync(copy)).toEqual(fs.readFileSync(r1));
    expect(storedUrls(c)).toEqual(["reads/S1/S1_R1.fq", "s3://bucket/S1_R2.fq"]);
  });

  it("a frozen tag holds the attached reads under the layout, with the originals' bytes", async () => {
    const c = cohort();
    const r1 = read("S1_R1.fq");
    await c.importAccessions([new Accession("S1", { files: [r1] })], { attach: true });
    const tag = await c.freeze("v1");
    expect(Object.keys(tag.files).sort()).toEqual(["db.sqlite", "reads/S1/S1_R1.fq"]);
    const blob = Freezer.open().blobs.pathOf(tag.files["reads/S1/S1_R1.fq"]!.sha256);
    expect(fs.readFileSync(blob)).toEqual(fs.readFileSync(r1));
  });

  it("attached reads resolve under whatever base directory the Cohort lives in (as after a pull elsewhere)", async () => {
    const c = cohort();
    await c.importAccessions([new Accession("S1", { files: [read("S1_R1.fq")] })], { attach: true });
    c.close();
    opened.splice(0);
    const moved = path.join(t.root, "elsewhere");
    fs.renameSync(t.basedir, moved);
    process.env.MINUS80_BASEDIR = moved;
    const there = cohort();
    const file = there.get("S1").files[0]!;
    expect(file).toBe(path.join(moved, "datasets", "Cohort", "Reads", "thawed", "reads", "S1", "S1_R1.fq"));
    expect(fs.readFileSync(file, "utf8")).toBe("@S1_R1.fq\nACGT\n+\nIIII\n");
    expect(there.toSamplesheet("nf-core-rnaseq")).toContain(`S1,${file},,auto`);
  });

  it("attach(key, file) replaces the accession's reference to that file by the copy, in place, keeping its lane", async () => {
    const c = cohort();
    const r1 = read("R1.fq");
    const r2 = read("R2.fq");
    c.add(new Accession("S1").addFile(r1, { lane: "7", read: 1 }).addFile(r2, { lane: "7", read: 2 }));
    const a = await c.attach("S1", r1);
    expect(a.files).toEqual([path.join(c.dataset.thawedDir, "reads/S1/R1.fq"), r2]);
    expect(a.fileEntries[0]).toMatchObject({ lane: "7", read: 1 });
  });

  it("attach(key) with no file attaches every local file the accession names, keeping order, lanes and URLs", async () => {
    const c = cohort();
    const r1 = read("R1.fq");
    const r2 = read("R2.fq");
    c.add(new Accession("S1").addFile(r1, { lane: "L1", read: 1 }).addFile("https://host/x.fq").addFile(r2, { lane: "L1", read: 2 }));
    const a = await c.attach("S1");
    const dir = path.join(c.dataset.thawedDir, "reads", "S1");
    expect(a.fileEntries).toEqual([
      { file: path.join(dir, "R1.fq"), lane: "L1", read: 1 },
      { file: "https://host/x.fq" },
      { file: path.join(dir, "R2.fq"), lane: "L1", read: 2 },
    ]);
    expect(storedUrls(c)).toEqual(["reads/S1/R1.fq", "https://host/x.fq", "reads/S1/R2.fq"]);
  });

  it("the same file name in two accessions is two copies; attaching the same bytes again changes nothing", async () => {
    const c = cohort();
    const a = read("R1.fq", path.join(data, "a"));
    const b = read("R1.fq", path.join(data, "b"));
    fs.appendFileSync(b, "other");
    await c.importAccessions([new Accession("A", { files: [a] }), new Accession("B", { files: [b] })], { attach: true });
    const reads = path.join(c.dataset.thawedDir, "reads");
    const before = snapshotTree(reads);
    expect(Object.keys(before).sort()).toEqual(["A/", "A/R1.fq", "B/", "B/R1.fq"]);
    await c.importAccessions([new Accession("A", { files: [a] })], { attach: true });
    expect(c.get("A").files).toEqual([path.join(reads, "A/R1.fq")]);
    expect(snapshotTree(reads)).toEqual(before);
  });

  it("two files of one accession with the same name are refused, naming both, and nothing is copied", async () => {
    const c = cohort();
    const a = read("R1.fq", path.join(data, "lane1"));
    const b = read("R1.fq", path.join(data, "lane2"));
    const before = snapshotTree(t.basedir);
    const err = await expectCode(c.importAccessions([new Accession("S1", { files: [a, b] })], { attach: true }), "INVALID_ARGUMENT");
    expect(err.message).toContain(a);
    expect(err.message).toContain(b);
    expect(err.message).toMatch(/same file name/);
    expect(snapshotTree(t.basedir)).toEqual(before);
  });

  it.each([
    ["a missing file", () => path.join(data, "absent.fq"), /does not exist/],
    ["a directory", () => data, /is a directory/],
  ])("%s fails the whole import with INVALID_ARGUMENT naming it; the freezer is byte-identical", async (_what, bad, why) => {
    const c = cohort();
    c.add(new Accession("Old", { files: ["/x.fq"] }));
    c.close();
    const before = snapshotTree(t.basedir);
    const good = read("ok.fq");
    const err = await expectCode(c.importAccessions([new Accession("S1", { files: [good] }), new Accession("S2", { files: [bad()] })], { attach: true }), "INVALID_ARGUMENT");
    expect(err.message).toContain(bad());
    expect(err.message).toMatch(why);
    expect(err.data).toMatchObject({ accession: "S2", file: bad() });
    c.close();
    expect(snapshotTree(t.basedir)).toEqual(before);
  });

  it.skipIf(process.getuid?.() === 0)("an unreadable file is refused (skipped as root, who reads everything)", async () => {
    const c = cohort();
    const f = read("secret.fq");
    fs.chmodSync(f, 0o000);
    const err = await expectCode(c.importAccessions([new Accession("S1", { files: [f] })], { attach: true }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(/cannot be read/);
  });

  it("a name already attached with other bytes is refused, and the attached copy stays", async () => {
    const c = cohort();
    const a = read("R1.fq", path.join(data, "a"));
    await c.importAccessions([new Accession("S1", { files: [a] })], { attach: true });
    const b = read("R1.fq", path.join(data, "b"));
    fs.appendFileSync(b, "different");
    const err = await expectCode(c.importAccessions([new Accession("S1", { files: [b] })], { attach: true }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(/reads\/S1\/R1\.fq is already attached with other contents/);
    expect(fs.readFileSync(path.join(c.dataset.thawedDir, "reads/S1/R1.fq"))).toEqual(fs.readFileSync(a));
  });

  it.each(["copyFile", "rename"] as const)("%s failing midway removes every copy and rolls the database back: the freezer is byte-identical", async (step) => {
    const c = cohort();
    await c.importAccessions([new Accession("S1", { files: [read("0.fq")] })], { attach: true }); // reads/S1/ exists already
    c.close();
    const before = snapshotTree(t.basedir);
    const files = [read("1.fq"), read("2.fq"), read("3.fq")];
    const real = fsp[step] as (...args: unknown[]) => Promise<void>;
    let n = 0;
    vi.spyOn(fsp, step).mockImplementation((async (...args: unknown[]) => {
      if (++n === 3) throw Object.assign(new Error("ENOSPC: no space left on device"), { code: "ENOSPC" });
      return real(...args);
    }) as never);
    await expect(c.importAccessions([new Accession("S1", { files }), new Accession("S2", { files: [read("4.fq")] })], { attach: true })).rejects.toThrow(/ENOSPC/);
    c.close();
    expect(snapshotTree(t.basedir)).toEqual(before);
    expect(cohort().get("S1").files).toEqual([path.join(c.dataset.thawedDir, "reads/S1/0.fq")]);
  });

  it("a database conflict (an accession named like an alias) copies nothing", async () => {
    const c = cohort();
    c.add(new Accession("S0", { aliases: ["S1"] }));
    c.close();
    const before = snapshotTree(t.basedir);
    await expectCode(c.importAccessions([new Accession("S1", { files: [read("R1.fq")] })], { attach: true }), "INVALID_ARGUMENT");
    c.close();
    expect(snapshotTree(t.basedir)).toEqual(before);
  });

  it("an accession name that cannot be a folder is refused for attaching", async () => {
    const c = cohort();
    const err = await expectCode(c.importAccessions([new Accession("a/../b", { files: [read("R1.fq")] })], { attach: true }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(/the accession name "a\/..\/b" cannot name a file/);
  });

  it("removing an accession removes its attached reads and its folder; other accessions' reads stay", async () => {
    const c = cohort();
    await c.importAccessions([new Accession("S1", { files: [read("a.fq")] }), new Accession("S2", { files: [read("b.fq")] })], { attach: true });
    expect(c.remove(["S1"])).toBe(1);
    expect(fs.existsSync(path.join(c.dataset.thawedDir, "reads/S1"))).toBe(false);
    expect(fs.existsSync(path.join(c.dataset.thawedDir, "reads/S2/b.fq"))).toBe(true);
    await expectCode(Promise.resolve().then(() => c.remove(["S2", "nope"])), "ACCESSION_NOT_FOUND");
    expect(c.has("S2")).toBe(true);
  });

  it("importFile of a bad file list creates no Cohort", async () => {
    const sheet = path.join(t.root, "s.csv");
    fs.writeFileSync(sheet, `sample,fastq_1\nS1,${read("ok.fq")}\nS2,${path.join(data, "absent.fq")}\n`);
    await expectCode(Cohort.importFile("Fresh", sheet, { attach: true }), "INVALID_ARGUMENT");
    expect(Freezer.open().exists("Cohort", "Fresh")).toBe(false);
  });
});

describe("importFile", () => {
  it("a conflict found only by the database (an alias equal to another accession's name) removes the Cohort it created", async () => {
    const yaml = path.join(t.root, "a.yaml");
    fs.writeFileSync(yaml, `A:\n  files: [${read("A_R1.fq")}]\nB:\n  aliases: [A]\n`);
    const before = snapshotTree(t.basedir);
    const err = await expectCode(Cohort.importFile("Fresh", yaml, { attach: true }), "INVALID_ARGUMENT");
    expect(err.message).toMatch(/alias "A" is already the name of an accession/);
    expect(Freezer.open().exists("Cohort", "Fresh")).toBe(false);
    expect(Object.keys(snapshotTree(t.basedir)).filter((k) => k.includes("Fresh"))).toEqual([]);
    expect(Object.keys(before).filter((k) => k.includes("Fresh"))).toEqual([]);
  });
});

describe("a Cohort made before lanes and attached reads", () => {
  it("opens and reads without its database changing; the first write adds the file_info table", () => {
    const dir = path.join(t.basedir, "datasets", "Cohort", "Old", "thawed");
    cohort("Old").close(); // the dataset's directories and manifest
    fs.rmSync(path.join(dir, "db.sqlite"));
    const db = new Database(path.join(dir, "db.sqlite"));
    db.pragma("journal_mode = DELETE");
    db.exec(`CREATE TABLE accessions (AID INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
      CREATE TABLE aliases (alias TEXT PRIMARY KEY, AID INTEGER NOT NULL REFERENCES accessions(AID));
      CREATE TABLE files (AID INTEGER NOT NULL REFERENCES accessions(AID), url TEXT NOT NULL, UNIQUE (AID, url));
      CREATE TABLE metadata (AID INTEGER NOT NULL REFERENCES accessions(AID), key TEXT NOT NULL, type TEXT NOT NULL, val NOT NULL, PRIMARY KEY (AID, key));
      INSERT INTO accessions (name) VALUES ('10F');
      INSERT INTO files VALUES (1, 'ssh://h/10_F_R1.fq'), (1, 'ssh://h/10_F_R2.fq');
      INSERT INTO metadata VALUES (1, 'seqtype', 'string', 'novaseq');`);
    db.close();
    const bytes = fs.readFileSync(path.join(dir, "db.sqlite"));
    const c = cohort("Old");
    expect(c.get("10F").toJSON()).toEqual({ name: "10F", files: ["ssh://h/10_F_R1.fq", "ssh://h/10_F_R2.fq"], metadata: { seqtype: "novaseq" }, aliases: [] });
    expect(c.search("10").accessions).toHaveLength(1);
    expect(c.toSamplesheet("nf-core-rnaseq")).toBe("sample,fastq_1,fastq_2,strandedness\n10F,ssh://h/10_F_R1.fq,ssh://h/10_F_R2.fq,auto\n");
    c.close();
    expect(fs.readFileSync(path.join(dir, "db.sqlite"))).toEqual(bytes);
    const again = cohort("Old");
    again.add(new Accession("10F").addFile("ssh://h/10_F_R1.fq", { lane: "L1", read: 1 }));
    expect(again.get("10F").laneOf("ssh://h/10_F_R1.fq")).toEqual({ lane: "L1", read: 1 });
  });
});

describe("round trips through an exported YAML file", () => {
  it("re-importing into the same Cohort changes no accession; into a new one with --attach gives the same layout", async () => {
    const c = cohort("First");
    const sheet = path.join(t.root, "s.csv");
    fs.writeFileSync(sheet, `sample,fastq_1,fastq_2,strandedness\nS1,${read("S1_R1.fq")},${read("S1_R2.fq")},reverse\nS1,${read("S1b_R1.fq")},,reverse\n`);
    await c.importAccessions((await import("../../../src/types/samplesheet/formats.js")).readAccessionFile(sheet), { attach: true });
    c.addAlias("S1", "one");
    const yaml = path.join(t.root, "out.yaml");
    await c.exportSamplesheet("yaml", yaml);
    const json = [...c].map((a) => a.toJSON());
    const stored = storedUrls(c);
    await c.importAccessions((await import("../../../src/types/samplesheet/formats.js")).readAccessionFile(yaml));
    expect([...c].map((a) => a.toJSON())).toEqual(json);
    const second = await Cohort.importFile("Second", yaml, { attach: true });
    opened.push(second);
    expect(storedUrls(second)).toEqual(stored);
    const relative = (x: Cohort) => [...x].map((a) => ({ ...a.toJSON(), files: a.files.map((f) => path.relative(x.dataset.thawedDir, f)), lanes: undefined }));
    expect(relative(second)).toEqual(relative(c));
    expect(second.get("S1").fileEntries.map((f) => [f.lane, f.read])).toEqual([["1", 1], ["1", 2], ["2", 1]]);
  });
});
