/**
 * A Cohort describes itself in every tag it freezes (types/cohort/summary.ts):
 * its accessions with their metadata as columns, files (attached reads as
 * paths inside the tag) and aliases; the page needs no SQLite.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Freezer } from "../../../src/freezer/freezer.js";
import { Accession } from "../../../src/types/accession.js";
import { Cohort } from "../../../src/types/cohort.js";
import { describeCohort } from "../../../src/types/cohort/summary.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";

let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
});
afterEach(() => t.cleanup());

describe("a Cohort's summary", () => {
  it("freeze records the accessions, metadata columns in order of first use (null where absent), files and aliases", async () => {
    const freezer = new Freezer(t.basedir);
    const c = Cohort.fromAccessions(
      "Trial",
      [
        new Accession("S1", { files: ["/data/S1_R1.fq"], metadata: { tissue: "leaf", age: 3 }, aliases: ["first"] }),
        new Accession("S2", { metadata: { tissue: "root", treated: true } }),
      ],
      { freezer },
    );
    const m = await c.freeze("v1");
    expect(m.summary).toEqual({
      kind: "accessions",
      count: 2,
      columns: ["tissue", "age", "treated"],
      items: [
        { name: "S1", values: ["leaf", 3, null], files: ["/data/S1_R1.fq"], aliases: ["first"] },
        { name: "S2", values: ["root", null, true], files: [], aliases: [] },
      ],
    });
    c.close();
  });

  it("an attached read is listed as its path inside the tag; a folder without a Cohort database says nothing", async () => {
    const freezer = new Freezer(t.basedir);
    const read = path.join(t.root, "S1_R1.fastq");
    fs.writeFileSync(read, "@r\nACGT\n+\nIIII\n");
    const c = Cohort.fromAccessions("Attached", [new Accession("S1", { files: [read] })], { freezer });
    await c.attach("S1");
    const summary = (await c.freeze("v1")).summary!;
    expect(summary.items[0]!.files).toEqual(["reads/S1/S1_R1.fastq"]);
    c.close();
    expect(describeCohort(t.root)).toBeUndefined();
  });
});
