/**
 * The README's main job (`npm run demo`): the original minus80's cloud walk-through,
 * run for real against a throwaway S3 server (s3rver) on 127.0.0.1 with a
 * temporary config and base directory. It narrates every step and checks
 * it; the exit status is 0 only if every check held.
 *
 *     empty list -> build Cohort TestCohort from real reads -> freeze v1 -> push
 *     -> list -> delete locally -> pull -> check the bytes -> raw FASTQ push/pull -> tags
 *
 * Reads come from `../shared/data/fastq` beside the checkout (or
 * `$MINUS80_DEMO_FASTQ`); without them, synthetic FASTQ is generated.
 * Pass `--keep` to keep the temporary directory for a look around.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { formatDatasetListing, formatRawListing } from "../cli/commands/cloudFormat.js";
import { CloudData } from "../cloud/cloudData.js";
import { isMinus80Error } from "../errors.js";
import { Accession } from "../types/accession.js";
import { Cohort } from "../types/cohort.js";
import { startEmbeddedS3, type EmbeddedS3 } from "./embeddedS3.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** The checkout's root, from src/demo (ts) or dist/src/demo (built). */
const REPO_ROOT = [path.resolve(HERE, "../.."), path.resolve(HERE, "../../..")].find((d) => fs.existsSync(path.join(d, "package.json")))!;
const SHARED_FASTQ = path.resolve(REPO_ROOT, "../shared/data/fastq");
const DATASET = "TestCohort";
const DTYPE = "Cohort";
const RAW_DTYPE = "fastq";
/** Synthetic data when no real reads are around: reads per file, read length. */
const SYNTHETIC_READS = 2000;
const SYNTHETIC_READ_LENGTH = 100;
/** Variables that would point the demo at the user's own settings. */
const USER_VARS = ["MINUS80_BASEDIR", "CLOUD_ENDPOINT", "CLOUD_BUCKET", "CLOUD_ACCESS_KEY", "CLOUD_SECRET_KEY"];

let failures = 0;
let checks = 0;

function say(text: string): void {
  process.stdout.write(text + "\n");
}

function check(what: string, ok: boolean, detail = ""): void {
  checks++;
  if (!ok) failures++;
  say(`    ${ok ? "ok  " : "FAIL"} ${what}${detail ? ` (${detail})` : ""}`);
}

function sha256(file: string): string {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

/** FASTQ files grouped by sample: `Sample1_..._R1_001.fastq` -> Sample1. */
function findReads(dir: string): Map<string, string[]> {
  const bySample = new Map<string, string[]>();
  if (!fs.existsSync(dir)) return bySample;
  for (const f of fs.readdirSync(dir).sort()) {
    if (!/\.f(ast)?q$/.test(f)) continue;
    const sample = f.split("_")[0]!;
    bySample.set(sample, [...(bySample.get(sample) ?? []), path.join(dir, f)]);
  }
  return bySample;
}

/** Deterministic synthetic paired-end FASTQ for two samples. */
function syntheticReads(dir: string): Map<string, string[]> {
  fs.mkdirSync(dir, { recursive: true });
  let seed = 80;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const bases = "ACGT";
  const out = new Map<string, string[]>();
  for (const sample of ["Sample1", "Sample2"]) {
    for (const r of ["R1", "R2"]) {
      const file = path.join(dir, `${sample}_SYNTH_L001_${r}_001.fastq`);
      const lines: string[] = [];
      for (let i = 0; i < SYNTHETIC_READS; i++) {
        const seq = Array.from({ length: SYNTHETIC_READ_LENGTH }, () => bases[Math.floor(rand() * 4)]).join("");
        lines.push(`@${sample}:${i + 1} ${r}`, seq, "+", "I".repeat(SYNTHETIC_READ_LENGTH));
      }
      fs.writeFileSync(file, lines.join("\n") + "\n");
      out.set(sample, [...(out.get(sample) ?? []), file]);
    }
  }
  return out;
}

function countReads(file: string): number {
  const text = fs.readFileSync(file, "utf8");
  return Math.floor(text.split("\n").filter((l) => l !== "").length / 4);
}

async function main(): Promise<number> {
  const keep = process.argv.includes("--keep");
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-demo-"));
  for (const v of USER_VARS) delete process.env[v];
  let server: EmbeddedS3 | undefined;
  let cloud: CloudData | undefined;
  try {
    say("minus80 demo: the original minus80's cloud walk-through against a throwaway S3 server\n");
    server = await startEmbeddedS3(path.join(root, "s3"));
    const configFile = path.join(root, "minus80.conf");
    const basedir = path.join(root, "freezer");
    fs.writeFileSync(
      configFile,
      [
        "options:",
        `  basedir: ${basedir}`,
        "cloud:",
        `  endpoint: ${server.endpoint}`,
        "  bucket: minus80-demo",
        '  prefix: ""',
        "  region: us-east-1",
        "  path_style: true",
        `  access_key: ${server.accessKey}`,
        `  secret_key: ${server.secretKey}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    process.env.MINUS80_CONFIG = configFile;
    say(`S3 server (s3rver) on ${server.endpoint}; config ${configFile}; freezer ${basedir}\n`);

    say("1. cloud = await CloudData.open(); await cloud.list()");
    cloud = await CloudData.open();
    const empty = await cloud.list();
    process.stdout.write(indent(formatDatasetListing({}, false)));
    check("an empty bucket lists as {}", Object.keys(empty).length === 0);

    let reads = findReads(process.env.MINUS80_DEMO_FASTQ ?? SHARED_FASTQ);
    const real = reads.size > 0;
    if (!real) reads = syntheticReads(path.join(root, "synthetic-fastq"));
    const allFiles = [...reads.values()].flat();
    say(`\n2. build Cohort ${DATASET} from ${allFiles.length} ${real ? "real" : "synthetic"} FASTQ files (${reads.size} samples), reads attached`);
    let cohort = new Cohort(DATASET);
    // attach: each read is copied into the working copy as reads/<sample>/<file name>
    await cohort.importAccessions(
      [...reads].map(
        ([sample, files]) =>
          new Accession(sample, {
            files,
            metadata: { reads: files.reduce((n, f) => n + countReads(f), 0), lanes: new Set(files.map((f) => f.split("_")[2])).size },
          }),
      ),
      { attach: true },
    );
    say(`    accessions: ${cohort.names().join(", ")}`);
    check(`the cohort holds ${reads.size} accessions`, cohort.size === reads.size);

    say('\n3. await cohort.freeze("v1"); await cloud.put("TestCohort", "Cohort", { tag: "v1" })');
    await cohort.freeze("v1");
    const pushed = await cloud.put(DATASET, DTYPE, { tag: "v1" });
    say(`    uploaded ${pushed.uploaded} objects (${pushed.bytes} bytes)`);
    check("push uploaded the tag's objects", pushed.uploaded > 0 && pushed.tags.includes("v1"));
    say('    await cloud.put("TestCohort", "Cohort")   // the working state as `latest`');
    const again = await cloud.put(DATASET, DTYPE);
    check("pushing the unchanged state as latest uploads no object", again.uploaded === 0, `${again.skipped} already there`);

    say("\n4. await cloud.list()");
    const listed = await cloud.list();
    process.stdout.write(indent(formatDatasetListing({ [DTYPE]: { [DATASET]: [] } }, false)));
    check(`the list is { ${DTYPE}: ["${DATASET}"] }`, JSON.stringify(listed) === JSON.stringify({ [DTYPE]: [DATASET] }));

    say(`\n5. delete ${DTYPE}.${DATASET} from the local freezer`);
    cohort.close();
    await cloud.freezer.delete(DTYPE, DATASET);
    check("the dataset is gone locally", !cloud.freezer.exists(DTYPE, DATASET));

    say('\n6. await cloud.get("TestCohort", "Cohort")   // fetch `latest` and thaw it');
    const pulled = await cloud.get(DATASET, DTYPE);
    say(`    downloaded ${pulled.downloaded} objects (${pulled.bytes} bytes)`);
    cohort = new Cohort(DATASET);
    check("the accessions came back", JSON.stringify(cohort.names()) === JSON.stringify([...reads.keys()]));
    const pulledFiles = new Map([...cohort].flatMap((a) => a.files.map((f) => [`${a.name}/${path.basename(f)}`, f] as const)));
    const sameBytes = [...reads].every(([sample, files]) => files.every((f) => {
      const copy = pulledFiles.get(`${sample}/${path.basename(f)}`);
      return copy !== undefined && copy.startsWith(cohort.dataset.thawedDir) && sha256(f) === sha256(copy);
    }));
    check(`all ${allFiles.length} read files are byte-identical to the originals (sha256)`, sameBytes);
    cohort.close();
    say('    await cloud.get("TestCohort", "Cohort", { tag: "v1" })   // same contents: nothing to download');
    const v1 = await cloud.get(DATASET, DTYPE, { tag: "v1" });
    check("pulling v1 as well downloads no object", v1.downloaded === 0, `${v1.skipped} already local`);
    check("both tags are in the local freezer", cloud.freezer.dataset(DTYPE, DATASET).tags().map((t) => t.tag).sort().join(",") === "latest,v1");

    const rawFile = allFiles[0]!;
    const rawName = path.basename(rawFile);
    say(`\n7. await cloud.put("${rawName}", "${RAW_DTYPE}", { raw: true }); await cloud.get(..., { raw: true, output })`);
    const rawPut = await cloud.put(rawFile, RAW_DTYPE, { raw: true });
    const output = path.join(root, "downloads", rawName);
    fs.mkdirSync(path.dirname(output), { recursive: true });
    const rawGot = await cloud.get(rawName, RAW_DTYPE, { raw: true, output });
    check("the raw file was uploaded with its sha256", rawPut.uploaded === 1 && rawPut.sha256 === sha256(rawFile));
    check("the raw file came back byte-identical", fs.readFileSync(output).equals(fs.readFileSync(rawFile)), rawGot.raw ? `verified by ${rawGot.verified}` : "");
    process.stdout.write(indent(formatRawListing(await cloud.listRawFiles(), false)));

    say("\n8. await cloud.list({ tags: true })");
    const tags = await cloud.listTags();
    process.stdout.write(indent(formatDatasetListing(tags, true)));
    const names = (tags[DTYPE]?.[DATASET] ?? []).map((t) => t.tag).sort();
    check("both tags are listed with sizes and checksums", names.join(",") === "latest,v1" && tags[DTYPE]![DATASET]!.every((t) => t.size > 0 && t.checksum.length === 12));
  } catch (err) {
    failures++;
    say(`\nFAIL: ${isMinus80Error(err) ? `${err.code}: ` : ""}${err instanceof Error ? err.message : String(err)}`);
  } finally {
    cloud?.close();
    await server?.stop().catch(() => undefined);
    if (keep) say(`\n(kept ${root})`);
    else fs.rmSync(root, { recursive: true, force: true });
  }
  say(failures === 0 ? `\nAll ${checks} checks held.` : `\n${failures} of ${checks} checks FAILED.`);
  return failures === 0 ? 0 : 1;
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => (l ? `    ${l}` : l))
    .join("\n");
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo crashed: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
