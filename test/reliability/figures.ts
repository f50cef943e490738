/**
 * The reliability figures: each reliability test file counts what it did
 * (runs, faults injected, retries, errors by code, bytes lost, half-visible
 * states, ...) and writes one fragment:
 *
 *     <dir>/reliability/<suite>.json        one per suite (test file x server)
 *     <dir>/reliability-figures.json        all fragments merged
 *
 * `<dir>` is MINUS80_FIGURES_DIR, else `test-results/` in the repository.
 * `node scripts/reliability-report.mjs` renders RELIABILITY.md's tables from them.
 *
 * @example
 *   const fig = newFigures("faults.random", "s3rver");
 *   fig.runs++; bump(fig.errorsByCode, "UNREACHABLE");
 *   writeFigures(fig);
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Where figures go. */
export function figuresDir(): string {
  return path.resolve(process.env.MINUS80_FIGURES_DIR || path.join(REPO, "test-results"));
}

/** The counters every suite keeps (a suite leaves at zero what it does not exercise). */
export interface Figures {
  /** e.g. "faults.random" */
  suite: string;
  /** e.g. "s3rver", "Ceph RGW http://127.0.0.1:7480", "folder" */
  server: string;
  /** the seed of the randomized parts, or null */
  seed: number | null;
  startedAt: string;
  finishedAt?: string;
  durationMs?: number;
  /** scenarios or randomized runs executed */
  runs: number;
  /** runs by what they did, e.g. "push dataset multipart" */
  runsByKind: Record<string, number>;
  /** faults the fault proxy injected (its own counters) */
  faultsInjected: { cutAfter: number; stall: number; httpError: number };
  /** the proxy's own HTTP answers, by status */
  httpErrorsByStatus: Record<string, number>;
  /** commands (runs) that retried at least one request */
  commandsRetried: number;
  /** requests retried in all (RetryingBackend's onRetry), and by cause */
  retries: number;
  retriesByCause: Record<string, number>;
  /** commands that completed despite the faults */
  completedUnderFaults: number;
  /** commands that failed, by error code (a code outside the expected set fails the suite) */
  errorsByCode: Record<string, number>;
  /** the same command re-run without faults: completed, objects it re-sent, and what was really missing */
  rerunsCompleted: number;
  objectsResent: number;
  objectsMissingBeforeRerun: number;
  /** bytes that should be there (bucket or working copy) and bytes found intact */
  bytesExpected: number;
  bytesFound: number;
  /** bytesExpected - bytesFound: must be 0 */
  bytesLost: number;
  /** checks of "a visible tag has all its objects" / "the working copy is the old or the new state" */
  stateChecks: number;
  /** of those, the ones that failed: must be 0 */
  halfVisibleStates: number;
  /** unfinished multipart uploads (servers that list them) */
  multipart: { listingSupported: boolean; leftAfterCommand: number; cleanedByGc: number; leftAfterGc: number };
  /** longest faulted command, and how many never returned (hangs: must be 0) */
  maxCommandMs: number;
  hangs: number;
  /** anything else the suite counts */
  extra: Record<string, number | string | boolean>;
  /** the first violations seen (each fails the suite) */
  violations: string[];
}

export function newFigures(suite: string, server: string, seed: number | null = null): Figures {
  return {
    suite,
    server,
    seed,
    startedAt: new Date().toISOString(),
    runs: 0,
    runsByKind: {},
    faultsInjected: { cutAfter: 0, stall: 0, httpError: 0 },
    httpErrorsByStatus: {},
    commandsRetried: 0,
    retries: 0,
    retriesByCause: {},
    completedUnderFaults: 0,
    errorsByCode: {},
    rerunsCompleted: 0,
    objectsResent: 0,
    objectsMissingBeforeRerun: 0,
    bytesExpected: 0,
    bytesFound: 0,
    bytesLost: 0,
    stateChecks: 0,
    halfVisibleStates: 0,
    multipart: { listingSupported: false, leftAfterCommand: 0, cleanedByGc: 0, leftAfterGc: 0 },
    maxCommandMs: 0,
    hangs: 0,
    extra: {},
    violations: [],
  };
}

/** `counts[key] += n` */
export function bump(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}

/** Records bytes expected and found; the difference is lost. */
export function countBytes(fig: Figures, expected: number, found: number): void {
  fig.bytesExpected += expected;
  fig.bytesFound += found;
  fig.bytesLost += expected - found;
}

/** Records one state check; `ok === false` is a half-visible state (and a violation). */
export function checkState(fig: Figures, ok: boolean, what: string): void {
  fig.stateChecks++;
  if (!ok) {
    fig.halfVisibleStates++;
    violation(fig, `half-visible state: ${what}`);
  }
}

export function violation(fig: Figures, what: string): void {
  if (fig.violations.length < 50) fig.violations.push(what);
  else fig.extra.violationsNotListed = Number(fig.extra.violationsNotListed ?? 0) + 1;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-|-$/g, "").toLowerCase();

/** Writes the suite's fragment and refreshes the merged file. Returns the fragment's path. */
export function writeFigures(fig: Figures): string {
  fig.finishedAt = new Date().toISOString();
  fig.durationMs = Date.parse(fig.finishedAt) - Date.parse(fig.startedAt);
  const dir = path.join(figuresDir(), "reliability");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${slug(fig.suite)}--${slug(fig.server)}.json`);
  writeAtomic(file, JSON.stringify(fig, null, 2) + "\n");
  mergeFigures();
  return file;
}

/** Merges every fragment into `<dir>/reliability-figures.json`. */
export function mergeFigures(): void {
  const dir = path.join(figuresDir(), "reliability");
  const suites: Figures[] = [];
  for (const f of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
    if (!f.endsWith(".json")) continue;
    try {
      suites.push(JSON.parse(fs.readFileSync(path.join(dir, f), "utf8")) as Figures);
    } catch {
      /* a fragment being written by another process: the next merge picks it up */
    }
  }
  writeAtomic(path.join(figuresDir(), "reliability-figures.json"), JSON.stringify({ generated: new Date().toISOString(), suites }, null, 2) + "\n");
}

function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
