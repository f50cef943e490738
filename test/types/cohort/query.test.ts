import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Accession } from "../../../src/types/accession.js";
import { longestCommonRun, parseWhere } from "../../../src/types/cohort/query.js";
import { seededRandom } from "../../../src/types/cohort/random.js";
import { Cohort } from "../../../src/types/cohort.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";

let t: TempEnv;
let c: Cohort;
beforeEach(() => {
  t = makeTempEnv();
  c = Cohort.fromAccessions("Q", [
    new Accession("M7956_Fat_shoulder_1", { metadata: { tissue: "fat", age: 3, paired: true } }),
    new Accession("M7956_Liver_2", { metadata: { tissue: "liver", age: 3, paired: false }, aliases: ["liver-two"] }),
    new Accession("Sample10", { metadata: { tissue: "fat", age: 30 } }),
    new Accession("Other", { metadata: { tissue: "fat" } }),
  ]);
});
afterEach(() => {
  c.close();
  t.cleanup();
});

const names = (as: Accession[]) => as.map((a) => a.name);

describe("where", () => {
  it("selects the accessions whose metadata holds every criterion, in AID order", () => {
    expect(names(c.where({ tissue: "fat" }))).toEqual(["M7956_Fat_shoulder_1", "Sample10", "Other"]);
    expect(names(c.where({ tissue: "fat", age: 3 }))).toEqual(["M7956_Fat_shoulder_1"]);
    expect(names(c.where({ tissue: "bone" }))).toEqual([]);
    expect(names(c.where({}))).toHaveLength(4);
  });

  it("matches a typed value by its text, as the command line gives it", () => {
    expect(names(c.where(parseWhere(["age=3"])))).toEqual(["M7956_Fat_shoulder_1", "M7956_Liver_2"]);
    expect(names(c.where(parseWhere(["paired=false"])))).toEqual(["M7956_Liver_2"]);
    expect(names(c.where(parseWhere(["age=3.0"])))).toEqual([]);
  });

  it("parseWhere splits at the first '=' and refuses a criterion without a key", () => {
    expect(parseWhere(["note=a=b", "empty="])).toEqual({ note: "a=b", empty: "" });
    expect(() => parseWhere(["tissue"])).toThrow(/invalid criterion "tissue": a criterion is key=value/);
    expect(() => parseWhere(["=x"])).toThrow(/invalid criterion/);
    expect(() => parseWhere(["a=1", "a=2"])).toThrow(/given twice/);
  });
});

describe("search", () => {
  it("finds names and aliases containing the query, ignoring case; each accession once", () => {
    expect(c.search("m7956")).toEqual({ accessions: [c.get("M7956_Fat_shoulder_1"), c.get("M7956_Liver_2")], fuzzy: false });
    expect(names(c.search("LIVER").accessions)).toEqual(["M7956_Liver_2"]);
    expect(names(c.search("two").accessions)).toEqual(["M7956_Liver_2"]);
  });

  it("falls back, like the original, to the accession sharing the longest run with the query", () => {
    const r = c.search("Fat_shoulder_1_R1_001.fastq");
    expect(r.fuzzy).toBe(true);
    expect(names(r.accessions)).toEqual(["M7956_Fat_shoulder_1"]);
    expect(c.search("Fat_shoulder_1_R1", { fuzzy: false })).toEqual({ accessions: [], fuzzy: false });
  });

  it("finds nothing when no run of 3 characters is shared", () => {
    expect(c.search("zq")).toEqual({ accessions: [], fuzzy: false });
    expect(longestCommonRun("m7956_fat_r1", "fat_shoulder")).toBe("fat_");
  });
});

describe("seeded random draws", () => {
  it("the same seed draws the same accessions; another seed usually others; without replacement all distinct", () => {
    const draw = (seed: number) => names(c.randomAccessions(3, { seed }));
    expect(draw(42)).toEqual(draw(42));
    expect(new Set(draw(42)).size).toBe(3);
    const seen = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => draw(s).join()));
    expect(seen.size).toBeGreaterThan(1);
  });

  it("with replacement may repeat and exceed the size, reproducibly", () => {
    const many = names(c.randomAccessions(40, { seed: 7, replace: true }));
    expect(many).toHaveLength(40);
    expect(new Set(many).size).toBe(4);
    expect(names(c.randomAccessions(40, { seed: 7, replace: true }))).toEqual(many);
  });

  it("seededRandom gives numbers in [0, 1) and refuses a seed that is not a whole number", () => {
    const r = seededRandom(-5);
    for (let i = 0; i < 1000; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
    }
    expect(() => seededRandom(1.5)).toThrow(/invalid seed 1.5/);
  });
});
