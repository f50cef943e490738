/**
 * Scenario F: 50,000 files of 1-16 KiB (BENCH_F_FILES). minus80 pushes a
 * tag and pulls it into an empty freezer; aws-cli (`s3 cp --recursive`)
 * and rclone (`copy`) copy the folder up and down, at their defaults.
 * Every tool talks to the server through a counting proxy
 * (countingProxy.ts), so the report gives each one's requests by method.
 *
 * @example await scenarioF(deps)   // rows pushed through deps.addRow
 */
import fs from "node:fs";
import path from "node:path";
import { Freezer } from "../src/freezer/freezer.js";
import { startCountingProxy } from "./countingProxy.js";
import { writeSmallFiles } from "./data.js";
import type { Measurement } from "./measure.js";

export interface FServer {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  label: string;
}

export interface FDeps {
  server: FServer;
  work: string;
  files: number;
  runs: number;
  aws: string;
  bucket: string;
  measure(argv: string[], env: NodeJS.ProcessEnv): Promise<Measurement>;
  m80(args: string[]): string[];
  m80Env(s: FServer, prefix: string, basedir: string): NodeJS.ProcessEnv;
  peerEnv(s: FServer): NodeJS.ProcessEnv;
  fresh(name: string): string;
  /** moves a checked output aside, removed when the bench ends (see run.ts) */
  discard(dir: string): void;
  deletePrefix(prefix: string): Promise<void>;
  log(msg: string): void;
  addRow(row: { scenario: string; tool: string; op: string; runs: Measurement[]; bytes: number; note?: string }): void;
}

const countFiles = (dir: string) => (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile()).length;
const fmt = (c: Record<string, number>) => {
  const total = Object.values(c).reduce((a, b) => a + b, 0);
  return `${total} requests (${Object.entries(c).sort().map(([m, n]) => `${m} ${n}`).join(", ")})`;
};

export async function scenarioF(d: FDeps): Promise<void> {
  const dir = path.join(d.work, "tinyfiles");
  const bytes = writeSmallFiles(dir, d.files, { maxKiB: 16, dirs: 100, seed: 7 });
  d.log(`F: ${d.files} files, ${(bytes / 2 ** 20).toFixed(1)} MiB`);
  const basedir = path.join(d.work, "f-freezer");
  const ds = new Freezer(basedir).dataset("Bench", "tinyfiles");
  fs.mkdirSync(path.dirname(ds.thawedDir), { recursive: true });
  fs.cpSync(dir, ds.thawedDir, { recursive: true });
  ds.ensureCreated();
  await ds.freeze("v1"); // not timed
  const proxy = await startCountingProxy(d.server.endpoint);
  const s: FServer = { ...d.server, endpoint: proxy.url };
  const res: Record<string, Record<string, Measurement[]>> = {};
  const notes: Record<string, Record<string, string[]>> = {};
  const add = (tool: string, op: string, m: Measurement) => {
    ((res[tool] ??= {})[op] ??= []).push(m);
    ((notes[tool] ??= {})[op] ??= []).push(fmt(proxy.counts()));
  };
  try {
    for (let r = 0; r < d.runs; r++) {
      for (const tool of ["minus80", "aws", "rclone"]) {
        const prefix = d.fresh(`f-${tool}`);
        const pullDir = path.join(d.work, d.fresh("f-pull"));
        let got: string;
        if (tool === "minus80") {
          proxy.reset();
          add(tool, "push", await d.measure(d.m80(["cloud", "push", "Bench", "tinyfiles", "--tag", "v1"]), d.m80Env(s, prefix, basedir)));
          proxy.reset();
          add(tool, "pull", await d.measure(d.m80(["cloud", "pull", "Bench", "tinyfiles", "--tag", "v1"]), d.m80Env(s, prefix, pullDir)));
          got = path.join(pullDir, "datasets", "Bench", "tinyfiles", "thawed");
        } else {
          const pe = d.peerEnv(s);
          const url = tool === "aws" ? `s3://${d.bucket}/${prefix}/` : `bench:${d.bucket}/${prefix}/`;
          const up = tool === "aws" ? [d.aws, "--endpoint-url", s.endpoint, "s3", "cp", "--recursive", "--only-show-errors", dir, url] : ["rclone", "copy", dir, url];
          const down = tool === "aws" ? [d.aws, "--endpoint-url", s.endpoint, "s3", "cp", "--recursive", "--only-show-errors", url, pullDir] : ["rclone", "copy", url, pullDir];
          proxy.reset();
          add(tool, "push", await d.measure(up, pe));
          proxy.reset();
          add(tool, "pull", await d.measure(down, pe));
          got = pullDir;
        }
        const n = countFiles(got);
        if (n < d.files) throw new Error(`F: ${tool} pulled only ${n} files`);
        d.discard(pullDir);
        await d.deletePrefix(`${prefix}/`);
        d.log(`F run ${r + 1} ${tool}: push ${res[tool]!.push!.at(-1)!.seconds.toFixed(2)} s ${notes[tool]!.push!.at(-1)}, pull ${res[tool]!.pull!.at(-1)!.seconds.toFixed(2)} s ${notes[tool]!.pull!.at(-1)}`);
      }
    }
  } finally {
    await proxy.stop();
  }
  for (const tool of ["minus80", "aws", "rclone"]) {
    for (const op of ["push", "pull"]) d.addRow({ scenario: "F", tool, op, runs: res[tool]![op]!, bytes, note: notes[tool]![op]!.at(-1)! });
  }
}
