/**
 * Shared settings for the property-based tests: a fixed seed in CI so a
 * failure is reproducible, a random one for soak runs, and the seed printed
 * on failure.
 *
 *     MINUS80_SEED=12345 npx vitest run test/property   # replay a failure
 *     MINUS80_SEED=random npx vitest run test/property  # explore (soak)
 *     MINUS80_RUNS_FACTOR=20 npx vitest run test/property  # 20x more runs
 *     MINUS80_FIGURES_DIR=figures npx vitest run test/property
 *         # appends {"property","runs","seed","failed"} lines to figures/property-runs.jsonl
 *
 * @example
 *   checkProperty(fc.property(fc.string(), (s) => { ... }), { numRuns: 500 });
 */
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";

/** The seed used when MINUS80_SEED is not set: CI runs are reproducible. */
export const DEFAULT_SEED = 0x5eed80;

function chooseSeed(): number {
  const env = process.env.MINUS80_SEED;
  if (env === undefined || env === "") return DEFAULT_SEED;
  if (env === "random") return (Math.random() * 0x7fffffff) | 0;
  const n = Number(env);
  if (!Number.isInteger(n)) throw new Error(`MINUS80_SEED must be an integer or "random", got ${JSON.stringify(env)}`);
  return n;
}

/** One seed per test process (all properties of a file share it). */
export const SEED = chooseSeed();

const FACTOR = (() => {
  const f = Number(process.env.MINUS80_RUNS_FACTOR ?? "1");
  return Number.isFinite(f) && f > 0 ? f : 1;
})();

/** Runs so far in this process, by property name (for figures). */
export const propertyRuns: Record<string, number> = {};

/**
 * `fc.assert` with the shared seed; the error names the seed and the
 * fast-check path so the exact failing case can be replayed.
 */
export function checkProperty<Ts>(property: fc.IProperty<Ts>, opts: { numRuns: number; name?: string }): void {
  const numRuns = Math.max(1, Math.round(opts.numRuns * FACTOR));
  const details = fc.check(property, { seed: SEED, numRuns });
  record(opts.name, details);
  if (details.failed) throw failure(details);
}

/** The async variant, for properties that spawn processes or touch sockets. */
export async function checkAsyncProperty<Ts>(property: fc.IAsyncProperty<Ts>, opts: { numRuns: number; name?: string }): Promise<void> {
  const numRuns = Math.max(1, Math.round(opts.numRuns * FACTOR));
  const details = await fc.check(property, { seed: SEED, numRuns });
  record(opts.name, details);
  if (details.failed) throw failure(details);
}

function record<Ts>(name: string | undefined, details: fc.RunDetails<Ts>): void {
  if (!name) return;
  propertyRuns[name] = (propertyRuns[name] ?? 0) + details.numRuns;
  const dir = process.env.MINUS80_FIGURES_DIR;
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    const line = { property: name, runs: details.numRuns, seed: details.seed, failed: details.failed };
    fs.appendFileSync(path.join(dir, "property-runs.jsonl"), JSON.stringify(line) + "\n");
  }
}

function failure<Ts>(details: fc.RunDetails<Ts>): Error {
  const report = fc.defaultReportMessage(details) ?? "property failed";
  const replay = `replay with MINUS80_SEED=${details.seed} (fast-check path ${JSON.stringify(details.counterexamplePath)})`;
  const err = new Error(`${replay}\n${report}`);
  if (details.errorInstance instanceof Error) err.cause = details.errorInstance;
  return err;
}
