import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Minus80Error } from "../../src/errors.js";
import { Freezable } from "../../src/freezer/freezable.js";
import { Freezer } from "../../src/freezer/freezer.js";
import { Accession } from "../../src/types/accession.js";
import { Cohort, readAccessionsYaml } from "../../src/types/cohort.js";
import { thrown } from "../helpers/assertions.js";

const SHARED_YAML = fileURLToPath(new URL("../../../shared/data/fastq/test_accession.yaml", import.meta.url));
const ENV_KEYS = ["MINUS80_CONFIG", "MINUS80_BASEDIR"] as const;

/** The original minus80 test file's format, written fresh for each test. */
const ORIGINAL_FORMAT_YAML = `10F:
    files:
        - ssh://user@hostname.edu/path/to/file/10_F_S66_R1_001.fastq.gz
        - ssh://user@hostname.edu/path/to/file/10_F_S66_R2_001.fastq.gz
    metadata:
        seqtype: novaseq
10M:
    files:
        - ssh://user@hostname.edu/path/to/file/10_M_S10_R1_001.fastq.gz
        - ssh://user@hostname.edu/path/to/file/10_M_S10_R2_001.fastq.gz
        - ssh://user@hostname.edu/path/to/file/10_M_S40_R1_001.fastq.gz
        - ssh://user@hostname.edu/path/to/file/10_M_S40_R2_001.fastq.gz
`;

let tmp: string;
let basedir: string;
let savedEnv: Partial<Record<(typeof ENV_KEYS)[number], string>>;
const opened: Freezable[] = [];

beforeEach(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), "m80-cohort-"));
  basedir = path.join(tmp, "base");
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  process.env.MINUS80_CONFIG = path.join(tmp, "minus80.conf");
  process.env.MINUS80_BASEDIR = basedir;
});

afterEach(async () => {
  for (const f of opened.splice(0)) f.close();
  for (const k of ENV_KEYS) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await fsp.rm(tmp, { recursive: true, force: true });
});

/** Registers a dataset to be closed after the test. */
function track<T extends Freezable>(f: T): T {
  opened.push(f);
  return f;
}

function cohort(name = "TestCohort"): Cohort {
  return track(new Cohort(name));
}

function writeTemp(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

/** The Minus80Error thrown by `fn` (fails the test if it does not throw one). */
const caught = thrown;

async function caughtAsync(fn: () => Promise<unknown>): Promise<Minus80Error> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Minus80Error);
    return err as Minus80Error;
  }
  throw new Error("expected a Minus80Error, but nothing was thrown");
}

/** A deterministic source of numbers in [0, 1) (a linear congruential generator). */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const three = () => [
  new Accession("S1", { files: ["/data/S1_R1.fq", "/data/S1_R2.fq"], metadata: { tissue: "leaf", age: 3 }, aliases: ["one"] }),
  new Accession("S2", { files: ["/data/S2_R1.fq"], metadata: { tissue: "root", treated: true } }),
  new Accession("S3", { metadata: { code: "007" } }),
];

describe("Cohort basics", () => {
  it("is a Freezable of dtype Cohort stored under the configured base directory", () => {
    const c = cohort();
    expect(c).toBeInstanceOf(Freezable);
    expect(c.dtype).toBe("Cohort");
    expect(c.slug).toBe("Cohort.TestCohort");
    expect(c.dataset.dir).toBe(path.join(basedir, "datasets", "Cohort", "TestCohort"));
    expect(fs.existsSync(path.join(c.dataset.thawedDir, "db.sqlite"))).toBe(true);
  });

  it("creates the accessions, aliases, files and metadata tables when opened", () => {
    const c = cohort();
    const tables = (c.sql.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map(
      (r) => r.name,
    );
    expect(tables).toEqual(expect.arrayContaining(["accessions", "aliases", "files", "metadata"]));
  });

  it("an invalid cohort name is refused with INVALID_NAME before anything is created", () => {
    const err = caught(() => new Cohort("bad.name"));
    expect(err.code).toBe("INVALID_NAME");
    expect(fs.existsSync(path.join(basedir, "datasets", "Cohort"))).toBe(false);
  });

  it("add assigns AIDs in insertion order and returns the accession as stored", () => {
    const c = cohort();
    const stored = c.addMany(three());
    expect(stored.map((a) => a.name)).toEqual(["S1", "S2", "S3"]);
    expect([c.aidOf("S1"), c.aidOf("S2"), c.aidOf("S3")]).toEqual([1, 2, 3]);
    expect(c.add(new Accession("S4")).name).toBe("S4");
    expect(c.aidOf("S4")).toBe(4);
    expect(c.size).toBe(4);
  });

  it("get finds an accession by name, alias, AID or Accession, with files, metadata and aliases as added", () => {
    const c = cohort();
    c.addMany(three());
    const expected = { name: "S1", files: ["/data/S1_R1.fq", "/data/S1_R2.fq"], metadata: { tissue: "leaf", age: 3 }, aliases: ["one"] };
    expect(c.get("S1").toJSON()).toEqual(expected);
    expect(c.get("one").toJSON()).toEqual(expected);
    expect(c.get(1).toJSON()).toEqual(expected);
    expect(c.get(new Accession("S1")).toJSON()).toEqual(expected);
  });

  it("metadata keeps its types: '007' stays a string, numbers and booleans come back as such", () => {
    const c = cohort();
    c.addMany(three());
    expect(c.get("S3").get("code")).toBe("007");
    expect(c.get("S1").get("age")).toBe(3);
    expect(c.get("S2").get("treated")).toBe(true);
    c.add(new Accession("S5", { metadata: { off: false, ratio: 0.125 } }));
    expect(c.get("S5").metadata).toEqual({ off: false, ratio: 0.125 });
  });

  it("a read returns a copy: editing it changes nothing stored, and a second read shows the original", () => {
    const c = cohort();
    c.addMany(three());
    const copy = c.get("S1");
    copy.addFile("/elsewhere.fq").set("tissue", "stem").addAlias("uno");
    expect(c.get("S1").files).toEqual(["/data/S1_R1.fq", "/data/S1_R2.fq"]);
    expect(c.get("S1").get("tissue")).toBe("leaf");
    expect(c.has("uno")).toBe(false);
  });

  it("editing an accession after adding it changes nothing stored", () => {
    const c = cohort();
    const a = new Accession("S1", { files: ["f1"] });
    c.add(a);
    a.addFile("f2");
    expect(c.get("S1").files).toEqual(["f1"]);
  });

  it("get of an absent accession throws NOT_FOUND naming it and the cohort; find returns undefined", () => {
    const c = cohort();
    c.addMany(three());
    const err = caught(() => c.get("nope"));
    expect(err.code).toBe("ACCESSION_NOT_FOUND");
    expect(err.data).toEqual({ cohort: "Cohort.TestCohort", key: "nope" });
    expect(caught(() => c.get(99)).code).toBe("ACCESSION_NOT_FOUND");
    expect(c.find("nope")).toBeUndefined();
    expect(c.find(2)?.name).toBe("S2");
  });

  it("has answers membership by name, alias, AID and Accession", () => {
    const c = cohort();
    c.addMany(three());
    expect(c.has("S2")).toBe(true);
    expect(c.has("one")).toBe(true);
    expect(c.has(3)).toBe(true);
    expect(c.has(new Accession("S3"))).toBe(true);
    expect(c.has("S9")).toBe(false);
    expect(c.has(4)).toBe(false);
    expect(c.has(1.5)).toBe(false);
    expect(c.has(new Accession("S9"))).toBe(false);
  });

  it("a string is never taken as an AID: '1' is looked up as a name", () => {
    const c = cohort();
    c.add(new Accession("S1"));
    expect(c.has("1")).toBe(false);
    c.add(new Accession("1"));
    expect(c.get("1").name).toBe("1");
    expect(c.get(1).name).toBe("S1");
  });

  it("iteration yields fresh copies of every accession in AID order", () => {
    const c = cohort();
    c.addMany(three());
    const all = [...c];
    expect(all.map((a) => a.name)).toEqual(["S1", "S2", "S3"]);
    expect(all[0]!.toJSON()).toEqual(c.get("S1").toJSON());
    all[0]!.addFile("/x");
    expect(c.get("S1").files).not.toContain("/x");
  });

  it("delete removes the accession with its files, metadata and aliases; AIDs are not reused", () => {
    const c = cohort();
    c.addMany(three());
    expect(c.delete("one")).toBe(true);
    expect(c.delete("S1")).toBe(false);
    expect(c.size).toBe(2);
    expect(c.names()).toEqual(["S2", "S3"]);
    expect(c.metadataColumns()).toEqual(["code", "tissue", "treated"]);
    const count = (table: string) => (c.sql.db.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE AID = 1`).get() as { n: number }).n;
    expect([count("files"), count("metadata"), count("aliases")]).toEqual([0, 0, 0]);
    c.add(new Accession("S1"));
    expect(c.aidOf("S1")).toBe(4);
  });

  it("adding an existing name merges into it: same AID, files and aliases appended, given metadata keys replaced, others kept", () => {
    const c = cohort();
    c.addMany(three());
    const merged = c.add(
      new Accession("S1", { files: ["/data/S1_R2.fq", "/data/S1_R3.fq"], metadata: { age: 4, sex: "F" }, aliases: ["one", "first"] }),
    );
    expect(c.aidOf("S1")).toBe(1);
    expect(c.size).toBe(3);
    expect(merged.toJSON()).toEqual({
      name: "S1",
      files: ["/data/S1_R1.fq", "/data/S1_R2.fq", "/data/S1_R3.fq"],
      metadata: { tissue: "leaf", age: 4, sex: "F" },
      aliases: ["one", "first"],
    });
  });

  it("metadataColumns lists every key in use once, sorted", () => {
    const c = cohort();
    c.addMany(three());
    expect(c.metadataColumns()).toEqual(["age", "code", "tissue", "treated"]);
  });

  it("names lists the names in AID order, then the aliases", () => {
    const c = cohort();
    c.addMany(three());
    c.addAlias("S3", "three");
    expect(c.names()).toEqual(["S1", "S2", "S3", "one", "three"]);
  });

  it("the cohort persists: reopening it by name shows the same accessions", () => {
    const c = cohort();
    c.addMany(three());
    c.close();
    const again = cohort();
    expect([...again].map((a) => a.toJSON())).toEqual(three().map((a) => a.toJSON()));
  });
});

describe("Cohort aliases", () => {
  it("addAlias gives an accession another name to be found by", () => {
    const c = cohort();
    c.addMany(three());
    expect(c.addAlias(2, "two").aliases).toEqual(["two"]);
    expect(c.get("two").name).toBe("S2");
    expect(c.addAlias("S2", "two").aliases).toEqual(["two"]);
  });

  it("an alias already used by another accession, or equal to a name, is refused", () => {
    const c = cohort();
    c.addMany(three());
    const taken = caught(() => c.addAlias("S2", "one"));
    expect(taken.code).toBe("INVALID_ARGUMENT");
    expect(taken.data).toMatchObject({ alias: "one", owner: "S1" });
    expect(caught(() => c.addAlias("S2", "S3")).code).toBe("INVALID_ARGUMENT");
    expect(c.get("S2").aliases).toEqual([]);
  });

  it("an accession named like another accession's alias is refused", () => {
    const c = cohort();
    c.addMany(three());
    const err = caught(() => c.add(new Accession("one")));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ accession: "one", owner: "S1" });
    expect(c.size).toBe(3);
  });

  it("addAlias on an absent accession throws NOT_FOUND; an invalid alias INVALID_NAME", () => {
    const c = cohort();
    expect(caught(() => c.addAlias("nobody", "x")).code).toBe("ACCESSION_NOT_FOUND");
    c.add(new Accession("S1"));
    expect(caught(() => c.addAlias("S1", " padded")).code).toBe("INVALID_NAME");
  });
});

describe("Cohort addMany", () => {
  it("rolls back wholly when one accession is invalid: nothing of the batch is stored", () => {
    const c = cohort();
    c.add(new Accession("S0", { aliases: ["zero"] }));
    const batch = [
      new Accession("S1", { files: ["f1"] }),
      new Accession("S0", { files: ["added-to-S0"], metadata: { k: "v" } }),
      new Accession("S2", { aliases: ["zero"] }), // alias owned by S0: invalid
    ];
    const err = caught(() => c.addMany(batch));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(c.size).toBe(1);
    expect(c.names()).toEqual(["S0", "zero"]);
    expect(c.get("S0").toJSON()).toEqual({ name: "S0", files: [], metadata: {}, aliases: ["zero"] });
    expect(c.add(new Accession("S1")).name).toBe("S1");
  });

  it("refuses an item that is not an Accession before storing anything", () => {
    const c = cohort();
    const err = caught(() => c.addMany([new Accession("S1"), { name: "S2", files: [] } as never]));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ index: 1 });
    expect(c.size).toBe(0);
  });
});

describe("Cohort random draws", () => {
  it("randomAccession returns a copy of a member; every member can be drawn", () => {
    const c = cohort();
    c.addMany(three());
    const random = seeded(7);
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(c.randomAccession({ random }).name);
    expect([...seen].sort()).toEqual(["S1", "S2", "S3"]);
    const drawn = c.randomAccession({ random: () => 0 });
    expect(drawn.toJSON()).toEqual(c.get("S1").toJSON());
    drawn.addFile("/x");
    expect(c.get("S1").files).not.toContain("/x");
  });

  it("randomAccession on an empty cohort throws NOT_FOUND", () => {
    expect(caught(() => cohort().randomAccession()).code).toBe("ACCESSION_NOT_FOUND");
  });

  it("randomAccessions without replacement returns n distinct accessions, up to all of them", () => {
    const c = cohort();
    c.addMany(three());
    const two = c.randomAccessions(2, { random: seeded(1) });
    expect(two).toHaveLength(2);
    expect(new Set(two.map((a) => a.name)).size).toBe(2);
    expect(c.randomAccessions(3).map((a) => a.name).sort()).toEqual(["S1", "S2", "S3"]);
    expect(c.randomAccessions(0)).toEqual([]);
  });

  it("randomAccessions refuses n greater than the size without replacement, naming both", () => {
    const c = cohort();
    c.addMany(three());
    const err = caught(() => c.randomAccessions(4));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ n: 4, size: 3 });
  });

  it("randomAccessions with replacement may exceed the size and repeat accessions", () => {
    const c = cohort();
    c.addMany(three());
    const many = c.randomAccessions(30, { replace: true, random: seeded(3) });
    expect(many).toHaveLength(30);
    expect(new Set(many.map((a) => a.name)).size).toBeLessThanOrEqual(3);
    expect(many.every((a) => c.has(a.name))).toBe(true);
  });

  it.each([-1, 1.5, NaN])("randomAccessions refuses n = %s", (n) => {
    const c = cohort();
    c.addMany(three());
    expect(caught(() => c.randomAccessions(n)).code).toBe("INVALID_ARGUMENT");
  });

  it("drawing with replacement from an empty cohort is refused", () => {
    expect(caught(() => cohort().randomAccessions(1, { replace: true })).code).toBe("INVALID_ARGUMENT");
  });
});

describe("Cohort construction", () => {
  it("fromAccessions builds a persistent cohort", () => {
    const c = track(Cohort.fromAccessions("Built", three()));
    expect(c).toBeInstanceOf(Cohort);
    expect(c.size).toBe(3);
    expect(Freezer.open().exists("Cohort", "Built")).toBe(true);
  });

  it("fromAccessions on a subclass builds that subclass", () => {
    class PlantCohort extends Cohort {}
    const c = track(PlantCohort.fromAccessions("Plants", three()));
    expect(c).toBeInstanceOf(PlantCohort);
    expect(c.dtype).toBe("PlantCohort");
  });

  it("fromYaml reads the original minus80 format: names, files in order, metadata; metadata is optional", () => {
    const file = writeTemp("accessions.yaml", ORIGINAL_FORMAT_YAML);
    const c = track(Cohort.fromYaml("TestCohort", file));
    expect(c.size).toBe(2);
    expect(c.get("10F").toJSON()).toEqual({
      name: "10F",
      files: ["ssh://user@hostname.edu/path/to/file/10_F_S66_R1_001.fastq.gz", "ssh://user@hostname.edu/path/to/file/10_F_S66_R2_001.fastq.gz"],
      metadata: { seqtype: "novaseq" },
      aliases: [],
    });
    expect(c.get("10M").files).toHaveLength(4);
    expect(c.get("10M").metadata).toEqual({});
    expect(c.metadataColumns()).toEqual(["seqtype"]);
  });

  it("fromYaml keeps the file's order for AIDs and the key as written for names, even numeric ones", () => {
    const file = writeTemp("order.yaml", "B:\n  files: [b]\n10:\n  files: [ten]\n1e3:\nA:\n  aliases: [alpha]\n  metadata: {lane: 7, paired: true}\n");
    const c = track(Cohort.fromYaml("Ordered", file));
    expect(c.names()).toEqual(["B", "10", "1e3", "A", "alpha"]);
    expect(c.get("A").metadata).toEqual({ lane: 7, paired: true });
  });

  it.skipIf(!fs.existsSync(SHARED_YAML))(
    "fromYaml reads the original project's test_accession.yaml (skipped when ../shared/data/fastq is absent)",
    () => {
      const c = track(Cohort.fromYaml("Shared", SHARED_YAML));
      expect(c.names()).toEqual(["10F", "10M"]);
      expect(c.get("10F").get("seqtype")).toBe("novaseq");
    },
  );

  it.each([
    ["a list at the top level", "- 10F\n- 10M\n", {}],
    ["an empty file", "", {}],
    ["a misspelt key", "10F:\n  file: [a]\n", { accession: "10F", field: '"file"' }],
    ["files that are not a list", "10F:\n  files: a.fq\n", { accession: "10F", field: "files" }],
    ["a file that is not a string", "10F:\n  files: [1]\n", { accession: "10F", field: "files" }],
    ["metadata that is a list", "10F:\n  metadata: [a]\n", { accession: "10F", field: "metadata" }],
    ["a nested metadata value", "10F:\n  metadata:\n    seq: {type: x}\n", { accession: "10F", key: "seq" }],
    ["an empty metadata value", "10F:\n  metadata:\n    seq:\n", { accession: "10F", key: "seq" }],
    ["an entry that is a string", "10F: yes\n", { accession: "10F", field: "entry" }],
    ["a bad accession name", '" 10F":\n  files: [a]\n', { accession: " 10F" }],
    ["invalid YAML", "10F:\n  files: [a\n", {}],
    ["a duplicated accession", "10F:\n  files: [a]\n10F:\n  files: [b]\n", {}],
  ])("fromYaml refuses %s with INVALID_ARGUMENT naming the file, and creates nothing", (_what, text, data) => {
    const file = writeTemp("bad.yaml", text);
    const err = caught(() => Cohort.fromYaml("BadCohort", file));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ file, ...data });
    expect(err.message).toContain(file);
    expect(Freezer.open().exists("Cohort", "BadCohort")).toBe(false);
  });

  it("fromYaml of a missing file is refused with INVALID_ARGUMENT naming it", () => {
    const file = path.join(tmp, "absent.yaml");
    const err = caught(() => Cohort.fromYaml("C", file));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toEqual({ file });
  });

  it("readAccessionsYaml returns the accessions without creating a cohort", () => {
    const accessions = readAccessionsYaml(writeTemp("a.yaml", ORIGINAL_FORMAT_YAML));
    expect(accessions.map((a) => a.name)).toEqual(["10F", "10M"]);
    expect(fs.existsSync(basedir)).toBe(false);
  });
});

describe("Cohort freeze and thaw", () => {
  it("freezing as v1, modifying, then thawing v1 with force gives the original accessions back", async () => {
    const c = cohort();
    c.addMany(three());
    const original = [...c].map((a) => a.toJSON());
    await c.freeze("v1");

    c.add(new Accession("S4", { files: ["/new.fq"] }));
    c.delete("S2");
    c.add(new Accession("S1", { files: ["/more.fq"], metadata: { age: 99 } }));
    expect(c.size).toBe(3);
    expect(c.get("S1").get("age")).toBe(99);

    await c.thaw("v1", { force: true });
    expect([...c].map((a) => a.toJSON())).toEqual(original);
    expect(c.aidOf("S3")).toBe(3);
    expect(c.has("S4")).toBe(false);
  });

  it("thawing over unsaved changes without force is refused, and the changes stay", async () => {
    const c = cohort();
    c.addMany(three());
    await c.freeze("v1");
    c.add(new Accession("S4"));
    const err = await caughtAsync(() => c.thaw("v1"));
    expect(err.code).toBe("UNSAVED_CHANGES");
    expect(c.has("S4")).toBe(true);
  });

  it("after a thaw the same Cohort object keeps working and can be frozen again", async () => {
    const c = cohort();
    c.addMany(three());
    await c.freeze("v1");
    c.add(new Accession("S4"));
    await c.freeze("v2");
    await c.thaw("v1");
    expect(c.size).toBe(3);
    c.add(new Accession("S5"));
    await c.freeze("v3");
    await c.thaw("v2");
    expect(c.names()).toEqual(["S1", "S2", "S3", "S4", "one"]);
    expect(c.tags().map((t) => t.tag)).toEqual(["v1", "v2", "v3"]);
  });
});

describe("a user-defined Freezable type", () => {
  class MyType extends Freezable {}

  it("gets its class name as dtype and uses the SQL, column and document stores through freeze and thaw", async () => {
    const t = track(new MyType("mine"));
    expect(t.dtype).toBe("MyType");
    expect(t.slug).toBe("MyType.mine");
    expect(t.dataset.dir).toBe(path.join(basedir, "datasets", "MyType", "mine"));

    t.sql.db.exec("CREATE TABLE genes (id TEXT PRIMARY KEY, len INTEGER)");
    t.sql.transaction((db) => {
      db.prepare("INSERT INTO genes VALUES (?, ?)").run("g1", 100);
      db.prepare("INSERT INTO genes VALUES (?, ?)").run("g2", 200);
    });
    await t.columns.write("counts", { gene: ["g1", "g2"], n: new Float64Array([1.5, -0]) });
    const when = new Date(Date.UTC(2020, 0, 1));
    t.docs.set("genome", { build: "GRCh38", when });
    await t.freeze("v1");

    t.sql.db.prepare("DELETE FROM genes WHERE id = ?").run("g1");
    await t.columns.write("counts", { gene: ["changed"], n: new Float64Array([9]) });
    await t.columns.write("extra", { x: [1] });
    t.docs.set("genome", { build: "changed" });

    await t.thaw("v1", { force: true });
    expect(t.sql.db.prepare("SELECT id, len FROM genes ORDER BY id").all()).toEqual([
      { id: "g1", len: 100 },
      { id: "g2", len: 200 },
    ]);
    const counts = await t.columns.read("counts");
    expect(counts.gene).toEqual(["g1", "g2"]);
    expect(Object.is((counts.n as Float64Array)[1], -0)).toBe(true);
    expect(await t.columns.list()).toEqual(["counts"]);
    expect(t.docs.get<{ build: string; when: Date }>("genome")).toEqual({ build: "GRCh38", when });
  });
});
