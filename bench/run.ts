/**
 * `npm run bench`: minus80 against aws-cli and rclone on the same S3 server.
 *
 * Starts Ceph RGW (../shared/tools/ceph-s3.sh) unless MINUS80_BENCH_S3_ENDPOINT
 * (+ _ACCESS_KEY, _SECRET_KEY) names a server; creates the data; runs each
 * scenario for every tool, alternating them, RUNS times; prints the medians.
 *
 *   A  one raw file (1 GiB): push, then pull
 *   B  5,000 files of 1-64 KiB: push a tag, pull it into an empty freezer
 *   C  B with one file changed: push the new tag
 *   D  freeze of a 1 GiB dataset against sha256sum of the same files
 *   E  the server's ceiling: the best throughput any client reached in A
 *   F  50,000 files of 1-16 KiB: push and pull, with each tool's requests (scenarioF.ts)
 *
 * Options (environment): BENCH_RUNS (3), BENCH_A_MIB (1024), BENCH_B_FILES (5000),
 * BENCH_D_MIB (1024), BENCH_F_FILES (50000), BENCH_SCENARIOS (ABCDF), BENCH_BIG_MIB (0: the extra RSS check
 * with a larger file, e.g. 4096), BENCH_DIR (/tmp/minus80-bench).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, DeleteObjectsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { Freezer } from "../src/freezer/freezer.js";
import { measure, median, type Measurement } from "./measure.js";
import { writeSmallFiles } from "./data.js";
import { scenarioF } from "./scenarioF.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const CLI = path.join(repo, "dist/src/cli/main.js");
const env = process.env;
const RUNS = Number(env.BENCH_RUNS ?? 3);
const A_MIB = Number(env.BENCH_A_MIB ?? 1024);
const B_FILES = Number(env.BENCH_B_FILES ?? 5000);
const D_MIB = Number(env.BENCH_D_MIB ?? 1024);
const BIG_MIB = Number(env.BENCH_BIG_MIB ?? 0);
const SCENARIOS = env.BENCH_SCENARIOS ?? "ABCDF";
const F_FILES = Number(env.BENCH_F_FILES ?? 50_000);
const WORK = env.BENCH_DIR ?? "/tmp/minus80-bench";
const BUCKET = "minus80-bench";
const AWS = fs.existsSync("/usr/bin/aws") ? "/usr/bin/aws" : "aws";

interface Server {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  label: string;
}

interface Row {
  scenario: string;
  tool: string;
  op: string;
  runs: Measurement[];
  bytes: number;
  note?: string;
}

const rows: Row[] = [];

function log(msg: string) {
  process.stderr.write(`[bench] ${msg}\n`);
}

function startServer(): Server {
  if (env.MINUS80_BENCH_S3_ENDPOINT) {
    return {
      endpoint: env.MINUS80_BENCH_S3_ENDPOINT,
      accessKey: env.MINUS80_BENCH_S3_ACCESS_KEY ?? "",
      secretKey: env.MINUS80_BENCH_S3_SECRET_KEY ?? "",
      label: env.MINUS80_BENCH_S3_NAME ?? env.MINUS80_BENCH_S3_ENDPOINT,
    };
  }
  const script = path.resolve(repo, "../shared/tools/ceph-s3.sh");
  log("starting Ceph RGW (about 20 s)");
  const out = execFileSync("bash", [script], {
    env: { ...env, CEPH_S3_DIR: env.CEPH_S3_DIR ?? "/tmp/minus80-bench-ceph", CEPH_S3_OSD_SIZE: env.CEPH_S3_OSD_SIZE ?? "60G" },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  const kv = Object.fromEntries(out.trim().split("\n").slice(-3).map((l) => l.split("=", 2) as [string, string]));
  return { endpoint: kv.S3_ENDPOINT!, accessKey: kv.AWS_ACCESS_KEY_ID!, secretKey: kv.AWS_SECRET_ACCESS_KEY!, label: "Ceph RGW 16 (Debian radosgw), one OSD on a sparse file" };
}

/** Environment for peers: keys, no CA bundle (it breaks plain-http endpoints). */
function peerEnv(s: Server): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = {
    ...env,
    AWS_ACCESS_KEY_ID: s.accessKey,
    AWS_SECRET_ACCESS_KEY: s.secretKey,
    AWS_DEFAULT_REGION: "us-east-1",
    AWS_EC2_METADATA_DISABLED: "true",
    RCLONE_CONFIG_BENCH_TYPE: "s3",
    RCLONE_CONFIG_BENCH_PROVIDER: "Ceph",
    RCLONE_CONFIG_BENCH_ENDPOINT: s.endpoint,
    RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: s.accessKey,
    RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: s.secretKey,
    RCLONE_CONFIG_BENCH_REGION: "us-east-1",
  };
  delete e.AWS_CA_BUNDLE;
  return e;
}

/** A config file (and environment) for one minus80 run: its own prefix and base directory. */
function m80Env(s: Server, prefix: string, basedir: string): NodeJS.ProcessEnv {
  const dir = fs.mkdtempSync(path.join(WORK, "conf-"));
  const file = path.join(dir, "minus80.conf");
  fs.writeFileSync(
    file,
    `options:\n  basedir: ${basedir}\ncloud:\n  endpoint: ${s.endpoint}\n  bucket: ${BUCKET}\n  prefix: "${prefix}"\n  region: us-east-1\n  path_style: true\n  access_key: ${s.accessKey}\n  secret_key: ${s.secretKey}\n`,
    { mode: 0o600 },
  );
  const e: NodeJS.ProcessEnv = { ...env, MINUS80_CONFIG: file };
  for (const k of ["MINUS80_BASEDIR", "CLOUD_ENDPOINT", "CLOUD_BUCKET", "CLOUD_ACCESS_KEY", "CLOUD_SECRET_KEY"]) delete e[k];
  return e;
}

function s3(s: Server): S3Client {
  return new S3Client({
    endpoint: s.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: s.accessKey, secretAccessKey: s.secretKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

/** Object count and bytes under a prefix. */
async function usage(client: S3Client, prefix: string): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  let token: string | undefined;
  do {
    const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const o of r.Contents ?? []) {
      objects++;
      bytes += o.Size ?? 0;
    }
    token = r.IsTruncated ? r.NextContinuationToken : undefined;
  } while (token);
  return { objects, bytes };
}

/** Deletes everything under a prefix, so repeated runs do not fill the test server's disk. */
async function deletePrefix(client: S3Client, prefix: string): Promise<void> {
  for (;;) {
    const r = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, MaxKeys: 1000 }));
    const keys = (r.Contents ?? []).map((o) => ({ Key: o.Key! }));
    if (keys.length === 0) return;
    await client.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys, Quiet: true } }));
  }
}

function writeRandomFile(file: string, mib: number): void {
  const fd = fs.openSync(file, "w");
  const chunk = randomBytes(1024 * 1024);
  for (let i = 0; i < mib; i++) {
    chunk.writeUInt32LE(i, 0); // every MiB differs
    fs.writeSync(fd, chunk);
  }
  fs.closeSync(fd);
}

function m80(args: string[]): string[] {
  return [process.execPath, CLI, ...args, "--quiet"];
}

let runCounter = 0;
function fresh(name: string): string {
  return `${name}-${process.pid}-${++runCounter}`;
}

/** Where a run's local output goes once it is checked; removed when the bench ends. */
const DISCARDED = path.join(WORK, "discarded");
/**
 * Moves a run's output aside instead of deleting it. Why: ext4 creating files
 * within a minute or so of thousands being deleted scans its inode tables
 * for recently freed inodes (perf: `recently_deleted` under `ext4_create`,
 * 60 % of the samples), which took a 5,000-file pull from 2.0 s to 6.6-7.8 s
 * of mostly system time, for whichever tool ran after a deletion.
 */
function discard(dir: string): void {
  fs.mkdirSync(DISCARDED, { recursive: true });
  fs.renameSync(dir, path.join(DISCARDED, fresh(path.basename(dir))));
}

async function scenarioA(s: Server, file: string, label: string, mib: number, tools = ["minus80", "aws", "rclone"]) {
  const bytes = mib * 1024 * 1024;
  const pe = peerEnv(s);
  const push: Record<string, Measurement[]> = {};
  const pull: Record<string, Measurement[]> = {};
  for (let r = 0; r < RUNS; r++) {
    for (const tool of tools) {
      const prefix = fresh(`a-${tool}`);
      const out = path.join(WORK, `${prefix}.out`);
      let up: Measurement;
      let down: Measurement;
      if (tool === "minus80") {
        const e = m80Env(s, prefix, path.join(WORK, fresh("basedir")));
        up = await measure(m80(["cloud", "push", "bench", file, "--raw"]), e);
        down = await measure(m80(["cloud", "pull", "bench", path.basename(file), "--raw", "--output", out]), e);
      } else if (tool === "aws") {
        const url = `s3://${BUCKET}/${prefix}/raw/bench/${path.basename(file)}`;
        up = await measure([AWS, "--endpoint-url", s.endpoint, "s3", "cp", "--only-show-errors", file, url], pe);
        down = await measure([AWS, "--endpoint-url", s.endpoint, "s3", "cp", "--only-show-errors", url, out], pe);
      } else {
        const url = `bench:${BUCKET}/${prefix}/raw/bench/${path.basename(file)}`;
        up = await measure(["rclone", "copyto", file, url], pe);
        down = await measure(["rclone", "copyto", url, out], pe);
      }
      if (fs.statSync(out).size !== bytes) throw new Error(`${tool} pulled ${fs.statSync(out).size} bytes, expected ${bytes}`);
      fs.rmSync(out);
      await deletePrefix(s3(s), `${prefix}/`);
      (push[tool] ??= []).push(up);
      (pull[tool] ??= []).push(down);
      log(`${label} run ${r + 1} ${tool}: push ${up.seconds.toFixed(2)} s (cpu ${up.cpuSeconds.toFixed(1)}, user ${up.userSeconds.toFixed(1)}, + server ${up.serverCpuSeconds.toFixed(1)}), pull ${down.seconds.toFixed(2)} s (cpu ${down.cpuSeconds.toFixed(1)}, user ${down.userSeconds.toFixed(1)}, + server ${down.serverCpuSeconds.toFixed(1)})`);
    }
  }
  for (const tool of tools) {
    rows.push({ scenario: label, tool, op: "push", runs: push[tool]!, bytes });
    rows.push({ scenario: label, tool, op: "pull", runs: pull[tool]!, bytes });
  }
}

async function scenarioBC(s: Server, dir: string, totalBytes: number) {
  const pe = peerEnv(s);
  const client = s3(s);
  const basedir = path.join(WORK, "b-freezer");
  // The dataset is frozen once (not timed): B times the push of that tag.
  const freezer = new Freezer(basedir);
  const ds = freezer.dataset("Bench", "smallfiles");
  if (!ds.hasTag("v1")) {
    fs.rmSync(ds.thawedDir, { recursive: true, force: true });
    fs.mkdirSync(path.dirname(ds.thawedDir), { recursive: true });
    fs.cpSync(dir, ds.thawedDir, { recursive: true });
    ds.ensureCreated();
    await ds.freeze("v1");
  }
  const tools = ["minus80", "aws", "rclone"];
  const res: Record<string, Record<string, Measurement[]>> = {};
  const add = (tool: string, op: string, m: Measurement) => ((res[tool] ??= {})[op] ??= []).push(m);
  const cBytes: Record<string, number[]> = {};
  let tagN = 1;
  for (let r = 0; r < RUNS; r++) {
    for (const tool of tools) {
      const prefix = fresh(`b-${tool}`);
      const pullDir = path.join(WORK, fresh("pull"));
      let m: Measurement;
      if (tool === "minus80") {
        const e = m80Env(s, prefix, basedir);
        m = await measure(m80(["cloud", "push", "Bench", "smallfiles", "--tag", "v1"]), e);
        add(tool, "push", m);
        const pe2 = m80Env(s, prefix, pullDir);
        add(tool, "pull", await measure(m80(["cloud", "pull", "Bench", "smallfiles", "--tag", "v1"]), pe2));
        // C: change one file, freeze a new tag (not timed), push it
        await ds.thaw("v1", { force: true });
        const victim = path.join(ds.thawedDir, "d7", "f7.dat");
        fs.writeFileSync(victim, randomBytes(4096));
        const tag = `c${++tagN}`;
        await ds.freeze(tag);
        const before = await usage(client, `${prefix}/`);
        add(tool, "push-one-changed", await measure(m80(["cloud", "push", "Bench", "smallfiles", "--tag", tag]), e));
        const after = await usage(client, `${prefix}/`);
        (cBytes[tool] ??= []).push(after.bytes - before.bytes);
        await ds.thaw("v1", { force: true });
      } else {
        const work = path.join(WORK, fresh(`${tool}-src`));
        fs.cpSync(dir, work, { recursive: true });
        const url = tool === "aws" ? `s3://${BUCKET}/${prefix}/` : `bench:${BUCKET}/${prefix}/`;
        if (tool === "aws") {
          add(tool, "push", await measure([AWS, "--endpoint-url", s.endpoint, "s3", "sync", "--only-show-errors", work, url], pe));
          add(tool, "pull", await measure([AWS, "--endpoint-url", s.endpoint, "s3", "sync", "--only-show-errors", url, pullDir], pe));
        } else {
          add(tool, "push", await measure(["rclone", "copy", work, url], pe));
          add(tool, "pull", await measure(["rclone", "copy", url, pullDir], pe));
        }
        fs.writeFileSync(path.join(work, "d7", "f7.dat"), randomBytes(4096));
        const before = await usage(client, `${prefix}/`);
        if (tool === "aws") add(tool, "push-one-changed", await measure([AWS, "--endpoint-url", s.endpoint, "s3", "sync", "--only-show-errors", work, url], pe));
        else add(tool, "push-one-changed", await measure(["rclone", "sync", work, url], pe));
        const after = await usage(client, `${prefix}/`);
        (cBytes[tool] ??= []).push(after.bytes - before.bytes);
        discard(work);
      }
      const pulledFiles = (fs.readdirSync(pullDir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(pullDir, f)).isFile()).length;
      if (pulledFiles < B_FILES) throw new Error(`${tool} pulled only ${pulledFiles} files`);
      discard(pullDir);
      await deletePrefix(client, `${prefix}/`);
      log(`B/C run ${r + 1} ${tool}: push ${res[tool]!.push!.at(-1)!.seconds.toFixed(2)} s, pull ${res[tool]!.pull!.at(-1)!.seconds.toFixed(2)} s, changed ${res[tool]!["push-one-changed"]!.at(-1)!.seconds.toFixed(2)} s`);
    }
  }
  for (const tool of tools) {
    rows.push({ scenario: "B", tool, op: "push", runs: res[tool]!.push!, bytes: totalBytes });
    rows.push({ scenario: "B", tool, op: "pull", runs: res[tool]!.pull!, bytes: totalBytes });
    rows.push({ scenario: "C", tool, op: "push one changed", runs: res[tool]!["push-one-changed"]!, bytes: 4096, note: `bucket grew by ${median(cBytes[tool]!)} bytes` });
  }
}

async function scenarioD(s: Server, dir: string, bytes: number) {
  const files = (fs.readdirSync(dir) as string[]).map((f) => path.join(dir, f));
  const m: Measurement[] = [];
  const sums: Measurement[] = [];
  for (let r = 0; r < RUNS; r++) {
    const basedir = path.join(WORK, fresh("d-freezer"));
    const freezer = new Freezer(basedir);
    const ds = freezer.dataset("Bench", "big");
    ds.ensureCreated();
    for (const f of files) fs.copyFileSync(f, path.join(ds.thawedDir, path.basename(f)));
    const e = m80Env(s, "unused", basedir);
    sums.push(await measure(["sha256sum", ...files.map((f) => path.join(ds.thawedDir, path.basename(f)))], env));
    m.push(await measure(m80(["freeze", "Bench.big:v1"]), e));
    fs.rmSync(basedir, { recursive: true, force: true });
    log(`D run ${r + 1}: freeze ${m.at(-1)!.seconds.toFixed(2)} s, sha256sum ${sums.at(-1)!.seconds.toFixed(2)} s`);
  }
  rows.push({ scenario: "D", tool: "minus80", op: "freeze", runs: m, bytes });
  rows.push({ scenario: "D", tool: "sha256sum", op: "hash", runs: sums, bytes });
}

function mibps(bytes: number, secs: number): number {
  return bytes / 1024 / 1024 / secs;
}

function report(server: Server): string {
  const lines: string[] = [];
  lines.push(`Server: ${server.label} at ${server.endpoint}; ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; runs: ${RUNS} (median)`);
  lines.push("");
  lines.push("| scenario | tool | op | median s | MiB/s | peak RSS MiB | client CPU s | server CPU s | minus80/peer | note |");
  lines.push("|---|---|---|---:|---:|---:|---:|---:|---:|---|");
  for (const r of rows) {
    const secs = median(r.runs.map((x) => x.seconds));
    const rss = Math.max(...r.runs.map((x) => x.peakRssMiB));
    const mine = rows.find((x) => x.scenario === r.scenario && x.op === r.op && x.tool === "minus80");
    const ratio = r.tool !== "minus80" && mine ? (median(mine.runs.map((x) => x.seconds)) / secs).toFixed(2) : "";
    const cpu = median(r.runs.map((x) => x.cpuSeconds));
    const serverCpu = median(r.runs.map((x) => x.serverCpuSeconds));
    lines.push(`| ${r.scenario} | ${r.tool} | ${r.op} | ${secs.toFixed(2)} | ${mibps(r.bytes, secs).toFixed(1)} | ${rss.toFixed(0)} | ${cpu.toFixed(1)} | ${serverCpu.toFixed(1)} | ${ratio} | ${r.note ?? ""} |`);
  }
  const a = rows.filter((r) => r.scenario === "A");
  if (a.length) {
    for (const op of ["push", "pull"]) {
      const best = Math.max(...a.filter((r) => r.op === op).map((r) => Math.max(...r.runs.map((x) => mibps(r.bytes, x.seconds)))));
      const mine = a.find((r) => r.op === op && r.tool === "minus80")!;
      lines.push(`\nE (${op}): best throughput any client reached for A: ${best.toFixed(1)} MiB/s; minus80 median ${mibps(mine.bytes, median(mine.runs.map((x) => x.seconds))).toFixed(1)} MiB/s`);
    }
  }
  return lines.join("\n");
}

async function main() {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const server = startServer();
  const client = s3(server);
  await client.send(new CreateBucketCommand({ Bucket: BUCKET })).catch(() => undefined);
  log(`server: ${server.label} ${server.endpoint}`);
  if (SCENARIOS.includes("A")) {
    const file = path.join(WORK, "reads.bin");
    writeRandomFile(file, A_MIB);
    await scenarioA(server, file, "A", A_MIB);
    fs.rmSync(file);
  }
  if (BIG_MIB > 0) {
    const file = path.join(WORK, "big.bin");
    writeRandomFile(file, BIG_MIB);
    await scenarioA(server, file, `A ${BIG_MIB} MiB`, BIG_MIB, ["minus80"]);
    fs.rmSync(file);
  }
  if (SCENARIOS.includes("B") || SCENARIOS.includes("C")) {
    const dir = path.join(WORK, "smallfiles");
    const total = writeSmallFiles(dir, B_FILES, { maxKiB: 64, dirs: 50, seed: 42 });
    log(`B: ${B_FILES} files, ${(total / 2 ** 20).toFixed(1)} MiB`);
    await scenarioBC(server, dir, total);
  }
  if (SCENARIOS.includes("D")) {
    const dir = path.join(WORK, "dfiles");
    fs.mkdirSync(dir);
    const per = 64;
    for (let i = 0; i < D_MIB / per; i++) writeRandomFile(path.join(dir, `part${i}.bin`), per);
    await scenarioD(server, dir, D_MIB * 1024 * 1024);
  }
  if (SCENARIOS.includes("F")) {
    await scenarioF({
      server, work: WORK, files: F_FILES, runs: RUNS, aws: AWS, bucket: BUCKET, measure, m80, m80Env, peerEnv, fresh, discard, log,
      deletePrefix: (prefix) => deletePrefix(client, prefix),
      addRow: (row) => rows.push(row),
    });
  }
  const text = report(server);
  process.stdout.write(text + "\n");
  fs.writeFileSync(path.join(repo, "bench", "last-run.md"), text + "\n");
  fs.rmSync(DISCARDED, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
