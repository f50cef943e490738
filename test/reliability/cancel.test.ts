/**
 * Ctrl-C and SIGTERM at random moments of `cloud push` and `cloud pull`
 * (the built CLI, a child process), on every target: the command exits
 * 130 (143 for SIGTERM), or 0 when it finished before the signal; either
 * way no multipart upload is left open, no temporary file is left in the
 * freezer, the local freezer is as it was before the command or has the
 * command complete, the bucket holds the tag whole or not at all, and the
 * same command run again succeeds. A second Ctrl-C exits at once.
 *
 * The moments are drawn from a fixed seed (`MINUS80_CANCEL_SEED` to vary
 * it), spread over the measured length of an uncancelled run.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CloudData } from "../../src/cloud/cloudData.js";
import { CLI, type CliResult } from "../helpers/cli.js";
import { configYaml, type TargetSettings } from "../helpers/s3servers.js";
import { useTargetSession } from "../helpers/targetSession.js";
import { DTYPE, frozen, manifestDigest, MiB, openCloud, pseudoRandomBytes, targets, treeDigest } from "./support.js";

const SEED = Number(process.env.MINUS80_CANCEL_SEED ?? 20261202);
const RUNS = 4;
const NAME = "Cancel";

/** A seeded uniform [0, 1) (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Node's start and the CLI's imports take about this long: signals before it find no handler (and nothing done). */
const STARTUP_MS = 500;

/** A moment in a run lasting `ms`: mostly after the start-up, now and then past the end. */
function moment(u: number, ms: number): number {
  return STARTUP_MS + u * Math.max(ms - STARTUP_MS, 100) * 1.1;
}

/** Runs the CLI; sends `signals` (one after the other, `gapMs` apart) `afterMs` after it started. */
function cliWithSignal(dir: string, settings: TargetSettings, basedir: string, args: string[], afterMs: number, signals: NodeJS.Signals[] = ["SIGINT"], gapMs = 0): Promise<CliResult & { ms: number }> {
  const cfg = path.join(dir, `cancel-${path.basename(basedir)}.conf`);
  fs.writeFileSync(cfg, configYaml(settings, basedir), { mode: 0o600 });
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, MINUS80_CONFIG: cfg, MINUS80_BASEDIR: basedir }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timers = signals.map((s, i) => setTimeout(() => child.kill(s), afterMs + i * gapMs));
    const hang = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code, sig) => {
      for (const t of timers) clearTimeout(t);
      clearTimeout(hang);
      // As a shell reports it: a process ended by a signal it did not handle (e.g. during Node's start) is 128 + its number.
      resolve({ status: code ?? (sig === "SIGINT" ? 130 : sig === "SIGTERM" ? 143 : -1), stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Temporary files anywhere in the freezer (ours are `.<name>.tmp-…`, thaw staging `.thawed.tmp-…`), and what `tmp/` holds. */
function leftovers(basedir: string): string[] {
  if (!fs.existsSync(basedir)) return [];
  const all = fs.readdirSync(basedir, { recursive: true }) as string[];
  return all.filter((rel) => /\.tmp-|\.thawed\.(tmp|old)-|^tmp\/./.test(rel));
}

/** The freezer's files, leaving out what only caches what the server can do (`cache/`). */
function freezerDigest(basedir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(treeDigest(basedir)).filter(([rel]) => !rel.startsWith("cache/")));
}

async function openUploads(cloud: CloudData): Promise<string[]> {
  const out: string[] = [];
  for await (const u of cloud.backend.listUploads("")) out.push(u.key);
  return out;
}

describe.each(targets())("cancelling push and pull on %s", (_label, start) => {
  const session = useTargetSession(start);

  it("Ctrl-C or SIGTERM at random moments leaves nothing half-done, and the command run again succeeds", async () => {
    const root = session.env.root;
    const random = prng(SEED);
    const a = await openCloud(session.env.configFile, session.settings, path.join(root, "a"));
    session.opened.push(a);
    // A large file (multipart on S3) and many small ones.
    const files: Record<string, Buffer> = { "reads/big.fastq": pseudoRandomBytes(SEED, 40 * MiB + 12345) };
    for (let i = 0; i < 60; i++) files[`tables/t${i}.tsv`] = pseudoRandomBytes(SEED + i + 1, 2000 + i * 97);

    let pushMs = 0;
    let pullMs = 0;
    for (let run = 0; run < RUNS; run++) {
      const tag = `v${run}`;
      const m = (await frozen(a, NAME, { ...files, [`run-${run}.txt`]: Buffer.from(`run ${run}`) }, tag))!;
      const signal: NodeJS.Signals = run % 2 === 0 ? "SIGINT" : "SIGTERM";
      const expectStatus = signal === "SIGINT" ? 130 : 143;

      // push, cancelled somewhere in its length (the first run measures it, uncancelled)
      const before = freezerDigest(path.join(root, "a"));
      const push = await cliWithSignal(root, session.settings, path.join(root, "a"), ["cloud", "push", DTYPE, NAME, "--tag", tag, "--quiet"], run === 0 ? 1e9 : moment(random(), pushMs), [signal]);
      if (run === 0) pushMs = push.ms;
      expect([0, expectStatus], push.stderr).toContain(push.status);
      expect(await openUploads(a)).toEqual([]);
      expect(leftovers(path.join(root, "a"))).toEqual([]);
      expect(freezerDigest(path.join(root, "a"))).toEqual(before);
      const there = (await a.listDatasets())[DTYPE]?.includes(NAME) ? (await a.listTags({ dtype: DTYPE, name: NAME }))[DTYPE]![NAME]!.map((t) => t.tag) : [];
      if (push.status === 0) expect(there).toContain(tag);
      if (there.includes(tag)) expect((await a.verify({ dtype: DTYPE, name: NAME, tag })).ok).toBe(true);
      const again = await cliWithSignal(root, session.settings, path.join(root, "a"), ["cloud", "push", DTYPE, NAME, "--tag", tag, "--quiet"], 1e9);
      expect(again.status, again.stderr).toBe(0);
      expect((await a.verify({ dtype: DTYPE, name: NAME, tag })).ok).toBe(true);

      // pull into another freezer, cancelled somewhere in its length
      const bdir = path.join(root, `b${run}`);
      const pull = await cliWithSignal(root, session.settings, bdir, ["cloud", "pull", DTYPE, NAME, "--tag", tag, "--quiet"], run === 0 ? 1e9 : moment(random(), pullMs), [signal]);
      if (run === 0) pullMs = pull.ms;
      expect([0, expectStatus], pull.stderr).toContain(pull.status);
      if (leftovers(bdir).length) console.error("PULL LEFT", pull.status, pull.ms, pull.stderr);
      expect(leftovers(bdir)).toEqual([]);
      const thawed = path.join(bdir, "datasets", DTYPE, NAME, "thawed");
      if (pull.status === 0) expect(treeDigest(thawed)).toEqual(manifestDigest(m));
      else if (fs.existsSync(thawed)) expect([manifestDigest(m), {}]).toContainEqual(treeDigest(thawed));
      const pulled = await cliWithSignal(root, session.settings, bdir, ["cloud", "pull", DTYPE, NAME, "--tag", tag, "--quiet"], 1e9);
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(treeDigest(thawed)).toEqual(manifestDigest(m));
    }
  });

  it("a second Ctrl-C exits at once with 130", async () => {
    const root = session.env.root;
    const a = await openCloud(session.env.configFile, session.settings, path.join(root, "a"));
    session.opened.push(a);
    await frozen(a, NAME, { "big.bin": pseudoRandomBytes(7, 160 * MiB) }, "v1");
    const signalsAt = STARTUP_MS + 100;
    const r = await cliWithSignal(root, session.settings, path.join(root, "a"), ["cloud", "push", DTYPE, NAME, "--tag", "v1", "--quiet"], signalsAt, ["SIGINT", "SIGINT"], 20);
    expect([0, 130], r.stderr).toContain(r.status);
    if (r.status === 130) expect(r.ms - signalsAt, "exits at once, not after cleaning up").toBeLessThan(1500);
  });

});
