/**
 * `cloud verify` / `CloudData.verify` on every storage target (folder,
 * embedded s3rver, and the S3 endpoint from the environment when given):
 * damage of each kind is reported with the key and the tags using it, a
 * clean bucket passes, the CLI exits 1 / 0 accordingly, and verify writes
 * nothing.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CloudData } from "../../src/cloud/cloudData.js";
import { manifestKey, objectKey, rawKey } from "../../src/cloud/layout.js";
import type { VerifyProblem, VerifyReport } from "../../src/cloud/verify.js";
import { serializeTagManifest } from "../../src/freezer/manifest.js";
import { useTargetSession } from "../helpers/targetSession.js";
import { bump, newFigures, writeFigures, type Figures } from "./figures.js";
import { cliOn, DTYPE, expectCode, frozen, MiB, openCloud, pseudoRandomBytes, serverName, sha256, targets, treeDigest } from "./support.js";

describe.each(targets())("cloud verify on %s", (_label, start) => {
  let fig: Figures;
  const session = useTargetSession(start, {
    afterStart: (t) => (fig = newFigures("verify", serverName(t))),
    beforeStop: () => fig && writeFigures(fig),
  });

  async function open(machine = "a"): Promise<CloudData> {
    const c = await openCloud(session.env.configFile, session.settings, path.join(session.env.root, `freezer-${machine}`));
    session.opened.push(c);
    return c;
  }

  const cli = (...args: string[]) => cliOn(session.env.root, session.settings, path.join(session.env.root, "freezer-cli"), args);

  /** Every key with its size: what "verify writes nothing" compares. */
  async function bucketListing(c: CloudData): Promise<string[]> {
    const out: string[] = [];
    for await (const o of c.backend.list("")) out.push(`${o.key} ${o.size}`);
    return out;
  }

  /** Two tags sharing one object, a third dataset, and a raw file. */
  async function populate(c: CloudData) {
    const shared = pseudoRandomBytes(1, 20_000);
    await frozen(c, "TestCohort", { "shared.bin": shared, "a.txt": "alpha v1", "sub/b.txt": "beta" }, "v1");
    await frozen(c, "TestCohort", { "a.txt": "alpha v2" }, "v2");
    await frozen(c, "Other", { "shared-too.bin": shared, "o.txt": "other" }, "v1");
    await c.put("TestCohort", DTYPE, { tag: "v1" });
    await c.put("TestCohort", DTYPE, { tag: "v2" });
    await c.put("Other", DTYPE, { tag: "v1" });
    const raw = path.join(session.env.root, "R1.fastq");
    fs.writeFileSync(raw, "@r1\nACGT\n+\nIIII\n");
    await c.put(raw, "fastq", { raw: true });
    const ds = c.freezer.dataset(DTYPE, "TestCohort");
    return {
      shared: objectKey(sha256(shared)),
      v1only: objectKey(ds.tag("v1").files["a.txt"]!.sha256),
      v2only: objectKey(ds.tag("v2").files["a.txt"]!.sha256),
      beta: objectKey(ds.tag("v1").files["sub/b.txt"]!.sha256),
      sharedBytes: shared,
    };
  }

  function count(r: VerifyReport, scenario: string): void {
    fig.runs++;
    bump(fig.runsByKind, scenario);
    for (const p of r.problems) bump(fig.extra as Record<string, number>, `reported ${p.kind}`);
  }

  it("a clean bucket passes: every tag, object and raw file is re-hashed, and the CLI exits 0", async () => {
    const c = await open();
    expect(await c.verify()).toMatchObject({ ok: true, manifests: 0, objects: 0, problems: [] });
    await populate(c);
    const r = await c.verify();
    count(r, "clean bucket");
    // 3 tags of 2 datasets; objects: shared, a v1, a v2, beta, o.txt
    expect(r).toMatchObject({ ok: true, manifests: 3, datasets: 2, objects: 5, rawFiles: 1, problems: [], unverifiable: [] });
    expect(r.bytes).toBe(20_000 + "alpha v1".length + "alpha v2".length + "beta".length + "other".length + 16);
    const out = await cli("cloud", "verify", "--quiet");
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toContain("3 tags of 2 datasets, 5 objects and 1 raw file");
    expect(out.stdout).toContain("No problems found.");
    const json = await cli("cloud", "verify", "--json");
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, problems: [] });
  });

  it("a flipped byte, a truncated object, a deleted object and a corrupt manifest are each reported with the key and the tags using it; CLI exit 1", async () => {
    const c = await open();
    const k = await populate(c);
    const flipped = Buffer.from(k.sharedBytes);
    flipped[12_345] = flipped[12_345]! ^ 0x01;
    await c.backend.put(k.shared, flipped, { size: flipped.length }); // same size, one bit off
    const truncated = Buffer.from("alpha");
    await c.backend.put(k.v2only, truncated, { size: truncated.length });
    await c.backend.delete(k.beta);
    const junk = Buffer.from('{"dtype": "Cohort", "name": "Other", "tag": "v1", "files": ');
    await c.backend.put(manifestKey(DTYPE, "Other", "v1"), junk, { size: junk.length });

    const before = await bucketListing(c);
    const freezerBefore = treeDigest(c.freezer.basedir);
    const r = await c.verify();
    count(r, "flipped byte, truncation, deleted object, corrupt manifest");
    expect(r.ok).toBe(false);
    const byKey = Object.fromEntries(r.problems.map((p) => [p.key, p]));
    expect(byKey[k.shared]).toMatchObject({ kind: "damaged", tags: ["Cohort.TestCohort:v1", "Cohort.TestCohort:v2"], actual: { size: 20_000 } });
    expect(byKey[k.v2only]).toMatchObject({ kind: "damaged", tags: ["Cohort.TestCohort:v2"], expected: { size: 8 }, actual: { size: 5, sha256: sha256(truncated) } });
    expect(byKey[k.beta]).toMatchObject({ kind: "missing", tags: ["Cohort.TestCohort:v1", "Cohort.TestCohort:v2"] });
    expect(byKey[manifestKey(DTYPE, "Other", "v1")]).toMatchObject({ kind: "invalid_manifest", tags: ["Cohort.Other:v1"] });
    expect(r.problems).toHaveLength(4); // the intact v1-only object is not reported
    expect(byKey[k.v1only]).toBeUndefined();
    // verify writes nothing, in the bucket or locally
    expect(await bucketListing(c)).toEqual(before);
    expect(treeDigest(c.freezer.basedir)).toEqual(freezerBefore);

    const out = await cli("cloud", "verify", "--quiet");
    expect(out.status).toBe(1);
    for (const key of [k.shared, k.v2only, k.beta, manifestKey(DTYPE, "Other", "v1")]) expect(out.stdout).toContain(key);
    expect(out.stdout).toMatch(/^DAMAGED +objects\/sha256\/\S+ +used by Cohort\.TestCohort:v1, Cohort\.TestCohort:v2$/m);
    expect(out.stdout).toMatch(/^MISSING +objects\/sha256\/\S+ +used by Cohort\.TestCohort:v1, Cohort\.TestCohort:v2$/m);
    expect(out.stderr).toContain("verify found 4 problems");
    const json = await cli("cloud", "verify", "--json");
    expect(json.status).toBe(1);
    const parsed = JSON.parse(json.stdout) as VerifyReport;
    expect(parsed.problems.map((p: VerifyProblem) => p.kind).sort()).toEqual(["damaged", "damaged", "invalid_manifest", "missing"]);
  });

  it("a manifest whose sizes lie is reported as a size mismatch of that tag, while the intact object passes for the others", async () => {
    const c = await open();
    const k = await populate(c);
    const m = c.freezer.dataset(DTYPE, "TestCohort").tag("v1");
    const lie = { ...m, tag: "liar", files: { ...m.files, "shared.bin": { ...m.files["shared.bin"]!, size: 20_001 } } };
    const body = Buffer.from(serializeTagManifest(lie));
    await c.backend.put(manifestKey(DTYPE, "TestCohort", "liar"), body, { size: body.length });
    const r = await c.verify({ dtype: DTYPE, name: "TestCohort" });
    count(r, "manifest whose size lies");
    expect(r.manifests).toBe(3);
    expect(r.problems).toEqual([
      expect.objectContaining({ kind: "size_mismatch", key: k.shared, tags: ["Cohort.TestCohort:liar"], expected: expect.objectContaining({ size: 20_001 }), actual: expect.objectContaining({ size: 20_000 }) }),
    ]);
  });

  it("a raw file whose bytes no longer match its recorded sha256 is reported; one without a sha256 is listed as unverifiable", async () => {
    const c = await open();
    await populate(c);
    const key = rawKey("fastq", "R1.fastq");
    const head = await c.backend.head(key);
    const changed = Buffer.from("@r1\nACGA\n+\nIIII\n");
    await c.backend.put(key, changed, { size: changed.length, metadata: head.metadata }); // keeps the old sha256
    const foreign = Buffer.from("no checksum here\n");
    await c.backend.put(rawKey("fastq", "foreign.fastq"), foreign, { size: foreign.length });
    const r = await c.verify();
    count(r, "raw file damaged, raw file without sha256");
    expect(r.rawFiles).toBe(2);
    expect(r.unverifiable).toEqual([rawKey("fastq", "foreign.fastq")]);
    expect(r.problems).toEqual([expect.objectContaining({ kind: "damaged", key, tags: [], actual: { sha256: sha256(changed), size: changed.length } })]);
    // Verifying one dataset leaves raw files out.
    expect(await c.verify({ dtype: DTYPE, name: "TestCohort" })).toMatchObject({ ok: true, rawFiles: 0 });
  });

  it("verify <dtype> <name> --tag T checks only that tag; an unknown dataset or tag is an error (exit 1), --tag alone is bad usage (exit 2)", async () => {
    const c = await open();
    const k = await populate(c);
    await c.backend.delete(k.v2only); // damages v2 only
    expect(await c.verify({ dtype: DTYPE, name: "TestCohort", tag: "v1" })).toMatchObject({ ok: true, manifests: 1, objects: 3 });
    const v2 = await c.verify({ dtype: DTYPE, name: "TestCohort", tag: "v2" });
    count(v2, "one tag selected");
    expect(v2.problems).toEqual([expect.objectContaining({ kind: "missing", key: k.v2only, tags: ["Cohort.TestCohort:v2"] })]);
    expect(await c.verify({ dtype: DTYPE, name: "Other" })).toMatchObject({ ok: true, manifests: 1 });
    await expectCode(c.verify({ dtype: DTYPE, name: "Nobody" }), "DATASET_NOT_FOUND");
    await expectCode(c.verify({ dtype: DTYPE, name: "TestCohort", tag: "v9" }), "TAG_NOT_FOUND");
    await expectCode(c.verify({ dtype: "bad/dtype" }), "INVALID_NAME");

    expect((await cli("cloud", "verify", "Cohort", "TestCohort", "--tag", "v1")).status).toBe(0);
    const bad = await cli("cloud", "verify", "Cohort", "TestCohort", "--tag", "v2");
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(k.v2only);
    expect(bad.stdout).toContain("Cohort.TestCohort:v2");
    expect((await cli("cloud", "verify", "Cohort", "Nobody")).status).toBe(1);
    expect((await cli("cloud", "verify", "Cohort", "TestCohort", "--tag", "v9")).status).toBe(1);
    expect((await cli("cloud", "verify", "--tag", "v1")).status).toBe(2);
    expect((await cli("cloud", "verify", "Bad.Dtype", "x")).status).toBe(2);
  });

  it("re-hashes a multipart-sized object streamed (9 MiB) and finds a flipped byte in its second part", async () => {
    const c = await open();
    const big = pseudoRandomBytes(7, 9 * MiB);
    await frozen(c, "Big", { "big.bin": big }, "v1");
    await c.put("Big", DTYPE, { tag: "v1" });
    expect(await c.verify({ dtype: DTYPE, name: "Big" })).toMatchObject({ ok: true, objects: 1, bytes: 9 * MiB });
    const bad = Buffer.from(big);
    bad[8 * MiB + 17] = bad[8 * MiB + 17]! ^ 0x80;
    await c.backend.put(objectKey(sha256(big)), bad, { size: bad.length });
    const r = await c.verify({ dtype: DTYPE, name: "Big" });
    count(r, "9 MiB object, flipped byte");
    expect(r.problems).toEqual([expect.objectContaining({ kind: "damaged", key: objectKey(sha256(big)), actual: { sha256: sha256(bad), size: 9 * MiB } })]);
  });
});
