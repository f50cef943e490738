/**
 * `cloud pull --include/--accessions/--where` and `--dry-run` as a user
 * runs them (the built binary), on a folder bucket: the shared FASTQ reads
 * as a samplesheet, attached, frozen and pushed; pulled one accession at a
 * time into empty freezers; frozen again without losing a file; and the
 * bad inputs refused with exit 2 and nothing changed.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { runCliAsync } from "../helpers/cliAsync.js";
import { FASTQ, LANES, TISSUE } from "../helpers/sharedReads.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { snapshotTree } from "../helpers/tree.js";

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const readsOf = (s: string) => LANES.filter(([x]) => x === s).flatMap(([, lane]) => [1, 2].map((r) => `${lane}_R${r}_001.fastq`));

let t: TempEnv;
let bucket: string;
beforeEach(() => {
  t = makeTempEnv();
  loadConfig();
  bucket = path.join(t.root, "bucket");
});
afterEach(() => t.cleanup());

/** The CLI with the base directory `machine` and the folder bucket. */
const cli = (machine: string, ...args: string[]) =>
  runCliAsync(args, { env: { ...t.env, MINUS80_BASEDIR: path.join(t.root, machine), CLOUD_ENDPOINT: `file://${bucket}` }, cwd: t.root });
const base = (machine: string) => path.join(t.root, machine);
const thawed = (machine: string) => path.join(base(machine), "datasets", "Cohort", "RNA", "thawed");
const localManifest = (machine: string) => JSON.parse(fs.readFileSync(path.join(base(machine), "datasets", "Cohort", "RNA", "MANIFEST.json"), "utf8"));
const storedObjects = (machine: string) => {
  const root = path.join(base(machine), "objects", "sha256");
  return fs.existsSync(root) ? (fs.readdirSync(root, { recursive: true }) as string[]).map((p) => path.basename(p)).filter((n) => n.length === 64) : [];
};

/** Imports the shared reads as a sheet with a `tissue` column, freezes v1 and pushes it from machine "a". */
async function pushedSheet(): Promise<void> {
  const rows = LANES.map(([s, lane]) => `${s},${FASTQ}${lane}_R1_001.fastq,${FASTQ}${lane}_R2_001.fastq,reverse,${TISSUE[s]}`);
  const sheet = path.join(t.root, "sheet.csv");
  fs.writeFileSync(sheet, ["sample,fastq_1,fastq_2,strandedness,tissue", ...rows].join("\n") + "\n");
  for (const args of [["cohort", "import", "RNA", sheet, "--attach"], ["freeze", "Cohort.RNA:v1"], ["cloud", "push", "Cohort", "RNA", "--tag", "v1", "--quiet"]]) {
    const r = await cli("a", ...args);
    expect(r.status, r.stderr).toBe(0);
  }
}

/** Pulls into an empty freezer `machine` and checks it holds exactly `sample`'s reads (and no byte of the other's). */
async function pullsOnly(machine: string, sample: string, other: string, ...filter: string[]) {
  const r = await cli(machine, "cloud", "pull", "Cohort", "RNA", "--tag", "v1", ...filter);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout).toContain(`partial copy of 5 files (accessions: ${sample})`);
  expect(fs.readdirSync(path.join(thawed(machine), "reads"))).toEqual([sample]);
  expect(fs.readdirSync(path.join(thawed(machine), "reads", sample)).sort()).toEqual(readsOf(sample).sort());
  const stored = new Set(storedObjects(machine));
  for (const f of readsOf(other)) expect(stored.has(sha256(`${FASTQ}${f}`)), f).toBe(false);
  for (const f of readsOf(sample)) expect(stored.has(sha256(`${FASTQ}${f}`)), f).toBe(true);
  expect(localManifest(machine).partial.absent.sort()).toEqual(readsOf(other).map((f) => `reads/${other}/${f}`).sort());
}

describe.skipIf(!fs.existsSync(FASTQ))("partial pulls and dry runs of the shared FASTQ reads (needs ../shared/data/fastq)", () => {
  it("--accessions Sample1 and --where tissue=root each fetch one sample's reads; a freeze there loses no file of the tag", async () => {
    await pushedSheet();
    await pullsOnly("b", "Sample1", "Sample2", "--accessions", "Sample1", "--quiet");
    await pullsOnly("c", "Sample2", "Sample1", "--where", "tissue=root", "--where", "strandedness=reverse");

    expect((await cli("b", "freeze", "Cohort.RNA:v2")).status).toBe(0);
    const tags = localManifest("b").tags;
    for (const f of readsOf("Sample2")) expect(tags.v2.files[`reads/Sample2/${f}`]).toEqual({ sha256: sha256(`${FASTQ}${f}`), size: fs.statSync(`${FASTQ}${f}`).size });
    expect(tags.v2.total).toBe(tags.v1.total);

    const thaw = await cli("b", "thaw", "Cohort.RNA:v1", "--force");
    expect(thaw.status).toBe(1);
    expect(thaw.stderr).toMatch(/pulled partially[\s\S]*hint: run `minus80 cloud pull Cohort RNA --tag v1` without filters/);

    const full = await cli("b", "cloud", "pull", "Cohort", "RNA", "--tag", "v1", "--json");
    expect(full.status, full.stderr).toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ downloaded: 4, skipped: 5, partial: false });
    expect(localManifest("b").partial).toBeUndefined();
    expect(fs.readdirSync(path.join(thawed("b"), "reads")).sort()).toEqual(["Sample1", "Sample2"]);
  });

  it("--dry-run --json of a push and of a pull answers in JSON and writes nothing, locally or in the bucket", async () => {
    await pushedSheet();
    expect((await cli("a", "freeze", "Cohort.RNA:v2")).status).toBe(0);
    const before = { a: snapshotTree(base("a")), b: snapshotTree(base("b")), bucket: snapshotTree(bucket) };

    const push = await cli("a", "cloud", "push", "Cohort", "RNA", "--dry-run", "--json");
    expect(push.status, push.stderr).toBe(0);
    expect(JSON.parse(push.stdout)).toMatchObject({ dryRun: true, objects: { upload: 0, present: 18 }, tags: [{ tag: "v2", status: "new", base: "v1" }, { tag: "latest" }] });

    const pull = await cli("b", "cloud", "pull", "Cohort", "RNA", "--tag", "v1", "--accessions", "Sample2", "--dry-run", "--json");
    expect(pull.status, pull.stderr).toBe(0);
    const plan = JSON.parse(pull.stdout);
    const bytes = readsOf("Sample2").reduce((n, f) => n + fs.statSync(`${FASTQ}${f}`).size, 0);
    expect(plan).toMatchObject({ dryRun: true, partial: true, accessions: ["Sample2"], objects: { fetch: 5, local: 0 }, disk: { enough: true } });
    expect(plan.objects.bytes).toBeGreaterThan(bytes);
    expect(plan.requests).toMatchObject({ puts: 0 });
    const human = await cli("b", "cloud", "pull", "Cohort", "RNA", "--tag", "v1", "--dry-run");
    expect(human.stdout).toMatch(/^Would pull Cohort\.RNA:v1: 9 objects to download[\s\S]*disk: .* free[\s\S]*Nothing was changed/);

    expect({ a: snapshotTree(base("a")), b: snapshotTree(base("b")), bucket: snapshotTree(bucket) }).toEqual(before);
  });

  it.each([
    [["--accessions", "Sample9"], /"Sample9".*--accessions names accessions/],
    [["--accessions", "Sample1,"], /invalid accession "".*--accessions names accessions/],
    [["--where", "tissue"], /"tissue".*key=value/],
  ])("pull %j exits 2 naming the value and the rule, with nothing changed", async (args, message) => {
    await pushedSheet();
    const before = { b: snapshotTree(base("b")), bucket: snapshotTree(bucket) };
    const r = await cli("b", "cloud", "pull", "Cohort", "RNA", "--tag", "v1", ...args);
    expect(r.status, r.stderr).toBe(2);
    expect(r.stderr).toMatch(message);
    expect({ b: snapshotTree(base("b")), bucket: snapshotTree(bucket) }).toEqual(before);
  });

  it("--include with --raw exits 2 naming the glob and the rule, before anything is opened", async () => {
    const r = await cli("b", "cloud", "pull", "fastq", "R1.fastq", "--raw", "--include", "reads/**");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--include "reads\/\*\*" does not apply with --raw: a raw file is fetched whole/);
    expect(fs.existsSync(bucket)).toBe(false);
  });

  it("--accessions on a dataset that is not a Cohort exits 2 before anything is opened", async () => {
    const r = await cli("b", "cloud", "pull", "Expression", "liver", "--accessions", "Sample1");
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--accessions Sample1 does not apply to Expression: --accessions and --where apply to the dtype Cohort only/);
    expect(fs.existsSync(bucket)).toBe(false);
    expect(fs.existsSync(base("b"))).toBe(false);
  });
});
