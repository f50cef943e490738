/**
 * Sending signals to the built CLI at seeded random moments, for the
 * cancellation (SIGINT, SIGTERM) and crash (SIGKILL) suites.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { CLI, type CliResult } from "../helpers/cli.js";
import { configYaml, type TargetSettings } from "../helpers/s3servers.js";

/** A seeded uniform [0, 1) (mulberry32). */
export function prng(seed: number): () => number {
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
export const STARTUP_MS = 500;

/** A moment in a run lasting `ms`: mostly after the start-up, now and then past the end. */
export function moment(u: number, ms: number): number {
  return STARTUP_MS + u * Math.max(ms - STARTUP_MS, 100) * 1.1;
}

/** Runs the CLI; sends `signals` (one after the other, `gapMs` apart) `afterMs` after it started. */
export function cliWithSignal(dir: string, settings: TargetSettings, basedir: string, args: string[], afterMs: number, signals: NodeJS.Signals[] = ["SIGINT"], gapMs = 0): Promise<CliResult & { ms: number }> {
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
      resolve({ status: code ?? (sig === "SIGINT" ? 130 : sig === "SIGTERM" ? 143 : sig === "SIGKILL" ? 137 : -1), stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Temporary files anywhere in the freezer (ours are `.<name>.tmp-…`, thaw staging `.thawed.tmp-…`), and what `tmp/` holds. */
export function leftovers(basedir: string): string[] {
  if (!fs.existsSync(basedir)) return [];
  const all = fs.readdirSync(basedir, { recursive: true }) as string[];
  return all.filter((rel) => /\.tmp-|\.thawed\.(tmp|old)-|^tmp\/./.test(rel));
}

