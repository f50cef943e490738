/**
 * A tag's summary (freezer/summary.ts): bounded when recorded, validated
 * when read, optional in the manifest (older manifests parse as before),
 * never part of `total`, and a describer that fails never fails a freeze.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Freezer } from "../../src/freezer/freezer.js";
import { buildTagManifest, parseTagManifest, serializeTagManifest } from "../../src/freezer/manifest.js";
import { boundSummary, describeWorkingCopy, MAX_SUMMARY_BYTES, MAX_SUMMARY_LIST, MAX_SUMMARY_TEXT, registerDescriber, type ContentSummary } from "../../src/freezer/summary.js";
import { thrown } from "../helpers/assertions.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const SHA = "a".repeat(64);
const files = { "db.sqlite": { sha256: SHA, size: 10 } };
const summary: ContentSummary = { kind: "accessions", count: 1, columns: ["sha256", "tissue"], items: [{ name: "S1", values: ["x", "leaf"], files: ["reads/S1/R1.fq"], aliases: ["one"] }] };

let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
});
afterEach(() => t.cleanup());

describe("tag summaries", () => {
  it("a manifest carries its summary through serialize and parse, outside its total; one without a summary parses as before", () => {
    const withSummary = buildTagManifest({ dtype: "Cohort", name: "T", tag: "v1", parent: null, files, summary });
    const plain = buildTagManifest({ dtype: "Cohort", name: "T", tag: "v1", parent: null, files });
    expect(withSummary.total).toBe(plain.total);
    // A metadata column named like a file entry's field does not look like a second file.
    expect(parseTagManifest(serializeTagManifest(withSummary), "v1.json").summary).toEqual(summary);
    const old = parseTagManifest(serializeTagManifest(plain), "v1.json");
    expect(old.summary).toBeUndefined();
    expect("summary" in old).toBe(false);
  });

  it("a malformed summary makes the manifest INTEGRITY, naming the summary", () => {
    const m = JSON.parse(serializeTagManifest(buildTagManifest({ dtype: "Cohort", name: "T", tag: "v1", parent: null, files }))) as Record<string, unknown>;
    for (const bad of [[], { ...summary, count: -1 }, { ...summary, items: [{ name: "S1", values: [{}], files: [], aliases: [] }] }, { ...summary, columns: "tissue" }]) {
      const e = thrown(() => parseTagManifest(JSON.stringify({ ...m, summary: bad }), "datasets/Cohort/T/v1.json"));
      expect(e.code).toBe("INTEGRITY");
      expect(e.message).toMatch(/datasets\/Cohort\/T\/v1\.json is invalid: its summary/);
    }
  });

  it("boundSummary cuts long texts and lists, and drops items from the end to fit its byte bound, keeping the count", () => {
    const long = "x".repeat(MAX_SUMMARY_TEXT * 2);
    const cut = boundSummary({ kind: "accessions", count: 1, columns: ["c"], items: [{ name: long, values: [long], files: Array.from({ length: MAX_SUMMARY_LIST + 5 }, (_, i) => `f${i}`), aliases: [] }] });
    expect(cut.items[0]!.name).toHaveLength(MAX_SUMMARY_TEXT);
    expect(cut.items[0]!.name.endsWith("…")).toBe(true);
    expect(cut.items[0]!.values[0]).toHaveLength(MAX_SUMMARY_TEXT);
    expect(cut.items[0]!.files).toHaveLength(MAX_SUMMARY_LIST);
    const many = Array.from({ length: 12_000 }, (_, i) => ({ name: `S${i}`, values: [long], files: [], aliases: [] }));
    const bounded = boundSummary({ kind: "accessions", count: many.length, columns: ["c"], items: many });
    expect(bounded.count).toBe(12_000);
    expect(bounded.items.length).toBeGreaterThan(1000);
    expect(bounded.items.length).toBeLessThan(12_000);
    expect(Buffer.byteLength(JSON.stringify(bounded))).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
  });

  it("freeze records what the type's describer says, bounded; a describer that throws leaves the tag without a summary", async () => {
    const freezer = new Freezer(t.basedir);
    registerDescriber("Described", () => ({ ...summary, kind: "k".repeat(MAX_SUMMARY_TEXT + 1) }));
    const ds = freezer.dataset("Described", "A");
    ds.ensureCreated();
    const m = await ds.freeze("v1");
    expect(m.summary?.items).toEqual(summary.items);
    expect(m.summary?.kind).toHaveLength(MAX_SUMMARY_TEXT);
    expect(freezer.existing("Described", "A").tag("v1").summary).toEqual(m.summary);
    registerDescriber("Broken", () => {
      throw new Error("no database");
    });
    expect(describeWorkingCopy("Broken", t.root)).toBeUndefined();
    const broken = freezer.dataset("Broken", "B");
    broken.ensureCreated();
    expect((await broken.freeze("v1")).summary).toBeUndefined();
    expect(describeWorkingCopy("Nobody", t.root)).toBeUndefined();
  });
});
