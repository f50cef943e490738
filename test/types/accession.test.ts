import { describe, expect, it } from "vitest";
import { Minus80Error } from "../../src/errors.js";
import { Accession } from "../../src/types/accession.js";
import { thrown } from "../helpers/assertions.js";

/** The Minus80Error thrown by `fn` (fails the test if it does not throw one). */
const caught = thrown;

describe("Accession", () => {
  it("keeps its name, files, metadata and aliases as given", () => {
    const a = new Accession("10F", {
      files: ["ssh://user@host/10_F_R1.fastq.gz", "/data/10_F_R2.fastq.gz"],
      metadata: { seqtype: "novaseq", lane: 7, paired: true },
      aliases: ["ten-female"],
    });
    expect(a.name).toBe("10F");
    expect(a.files).toEqual(["ssh://user@host/10_F_R1.fastq.gz", "/data/10_F_R2.fastq.gz"]);
    expect(a.metadata).toEqual({ seqtype: "novaseq", lane: 7, paired: true });
    expect(a.aliases).toEqual(["ten-female"]);
  });

  it("an accession without files, metadata or aliases is empty, not undefined", () => {
    const a = new Accession("S1");
    expect(a.toJSON()).toEqual({ name: "S1", files: [], metadata: {}, aliases: [] });
  });

  it("files are deduplicated and stay in the order first added", () => {
    const a = new Accession("S1", { files: ["b", "a", "b"] });
    a.addFile("c").addFile("a").addFiles(["d", "c", "e"]);
    expect(a.files).toEqual(["b", "a", "c", "d", "e"]);
  });

  it("aliases are deduplicated; an alias equal to the name is refused", () => {
    const a = new Accession("S1").addAlias("x").addAlias("y").addAlias("x");
    expect(a.aliases).toEqual(["x", "y"]);
    const err = caught(() => a.addAlias("S1"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ accession: "S1", alias: "S1" });
  });

  it("the files, metadata and aliases getters return copies: editing them changes nothing in the accession", () => {
    const a = new Accession("S1", { files: ["f1"], metadata: { k: "v" }, aliases: ["x"] });
    a.files.push("f2");
    a.metadata.k = "changed";
    a.aliases.push("y");
    expect(a.toJSON()).toEqual({ name: "S1", files: ["f1"], metadata: { k: "v" }, aliases: ["x"] });
  });

  it("set, get and unset edit one metadata key at a time, keeping its type", () => {
    const a = new Accession("S1").set("tissue", "leaf").set("age", 3.5).set("ok", false).set("code", "007");
    expect(a.get("tissue")).toBe("leaf");
    expect(a.get("age")).toBe(3.5);
    expect(a.get("ok")).toBe(false);
    expect(a.get("code")).toBe("007");
    a.set("age", 4);
    expect(a.get("age")).toBe(4);
    expect(a.unset("tissue")).toBe(true);
    expect(a.unset("tissue")).toBe(false);
    expect(a.get("tissue")).toBeUndefined();
    expect(Object.keys(a.metadata)).toEqual(["age", "ok", "code"]);
  });

  it("a metadata value of -0 is kept as 0, as the Cohort's SQLite store would", () => {
    expect(Object.is(new Accession("S1").set("x", -0).get("x"), 0)).toBe(true);
  });

  it("clone() gives an independent copy: editing the clone leaves the original unchanged", () => {
    const a = new Accession("S1", { files: ["f1"], metadata: { k: 1 }, aliases: ["x"] });
    const b = a.clone();
    expect(b.toJSON()).toEqual(a.toJSON());
    b.addFile("f2").set("k", 2).addAlias("y");
    expect(a.toJSON()).toEqual({ name: "S1", files: ["f1"], metadata: { k: 1 }, aliases: ["x"] });
    expect(b.files).toEqual(["f1", "f2"]);
  });

  it("toJSON and fromJSON round-trip through JSON text", () => {
    const a = new Accession("S1", { files: ["f1", "f2"], metadata: { s: "x", n: 1.25, b: true }, aliases: ["one"] });
    const back = Accession.fromJSON(JSON.parse(JSON.stringify(a)));
    expect(back).toBeInstanceOf(Accession);
    expect(back.toJSON()).toEqual(a.toJSON());
  });

  it("fromJSON validates what it is given", () => {
    const err = caught(() => Accession.fromJSON({ name: "S1", files: [""], metadata: {}, aliases: [] }));
    expect(err.code).toBe("INVALID_ARGUMENT");
  });

  it.each(["", " S1", "S1 ", "a\nb", "x".repeat(256)])("name %j is refused with INVALID_NAME naming it and the rule", (bad) => {
    const err = caught(() => new Accession(bad));
    expect(err.code).toBe("INVALID_NAME");
    expect(err.data).toMatchObject({ kind: "accession name", value: bad });
    expect(String(err.data.rule)).toContain("1-255");
  });

  it("names may hold dots, slashes and unicode, up to 255 characters", () => {
    for (const name of ["Sample1.L007", "a/b", "échantillon 1", "x".repeat(255)]) expect(new Accession(name).name).toBe(name);
  });

  it.each([
    ["an empty file", { files: [""] }, "INVALID_ARGUMENT"],
    ["a file with a newline", { files: ["a\nb"] }, "INVALID_ARGUMENT"],
    ["a null metadata value", { metadata: { k: null } }, "INVALID_ARGUMENT"],
    ["a NaN metadata value", { metadata: { k: NaN } }, "INVALID_ARGUMENT"],
    ["a nested metadata value", { metadata: { k: { deep: 1 } } }, "INVALID_ARGUMENT"],
    ["an empty metadata key", { metadata: { "": "v" } }, "INVALID_NAME"],
    ["an alias with a tab", { aliases: ["a\tb"] }, "INVALID_NAME"],
  ])("%s is refused", (_what, init, code) => {
    const err = caught(() => new Accession("S1", init as never));
    expect(err.code).toBe(code);
  });

  it("a refused metadata value names the accession and the key", () => {
    const err = caught(() => new Accession("S1").set("depth", Infinity));
    expect(err.data).toMatchObject({ accession: "S1", key: "depth" });
    expect(err.message).toContain("depth");
  });
});

describe("Accession lane records", () => {
  it("a file may carry its lane and read; toJSON lists them under lanes only when some file has one", () => {
    const a = new Accession("S1").addFile("/d/L7_R1.fq", { lane: "L007", read: 1 }).addFile("/d/notes.txt");
    expect(a.laneOf("/d/L7_R1.fq")).toEqual({ lane: "L007", read: 1 });
    expect(a.laneOf("/d/notes.txt")).toBeUndefined();
    expect(a.fileEntries).toEqual([{ file: "/d/L7_R1.fq", lane: "L007", read: 1 }, { file: "/d/notes.txt" }]);
    expect(a.toJSON().lanes).toEqual({ "/d/L7_R1.fq": { lane: "L007", read: 1 } });
    expect(Accession.fromJSON(a.toJSON()).toJSON()).toEqual(a.toJSON());
    expect(new Accession("S2", { files: ["/x"] }).toJSON()).not.toHaveProperty("lanes");
  });

  it("adding a file again with a record replaces its record, without one keeps it", () => {
    const a = new Accession("S1").addFile("/a.fq", { lane: "1", read: 1 });
    a.addFile("/a.fq");
    expect(a.laneOf("/a.fq")).toEqual({ lane: "1", read: 1 });
    a.addFile("/a.fq", { lane: "2" });
    expect(a.laneOf("/a.fq")).toEqual({ lane: "2" });
    expect(a.files).toEqual(["/a.fq"]);
  });

  it.each([
    ["read 3", { read: 3 }],
    ["an empty lane", { lane: "" }],
    ["a lane with a control character", { lane: "L\n1" }],
  ])("%s is refused with INVALID_ARGUMENT naming the file", (_what, info) => {
    const err = caught(() => new Accession("S1").addFile("/a.fq", info as never));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ accession: "S1", value: "/a.fq" });
  });

  it("a lane record for a file the accession does not list is refused", () => {
    expect(() => new Accession("S1", { files: ["/a.fq"], lanes: { "/b.fq": { lane: "1" } } })).toThrow(/names "\/b.fq", which is not one of its files/);
  });
});
