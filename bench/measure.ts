/**
 * Runs one command and measures its wall time and peak RSS with GNU time
 * (`/usr/bin/time -v`), which counts the whole process tree's largest member.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";

export interface Measurement {
  seconds: number;
  peakRssMiB: number;
  stdout: string;
  stderr: string;
}

export const GNU_TIME = "/usr/bin/time";

export function hasGnuTime(): boolean {
  return fs.existsSync(GNU_TIME);
}

/**
 * @example const m = await measure(["sha256sum", "big.bin"], {});  // m.seconds, m.peakRssMiB
 */
export async function measure(argv: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<Measurement> {
  const useTime = hasGnuTime();
  const cmd = useTime ? GNU_TIME : argv[0]!;
  const args = useTime ? ["-v", ...argv] : argv.slice(1);
  const started = process.hrtime.bigint();
  const child = spawn(cmd, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? -1)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) {
    throw new Error(`command failed (${code}): ${argv.join(" ")}\n${stderr.slice(-2000)}`);
  }
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { seconds, peakRssMiB: rss ? Number(rss[1]) / 1024 : NaN, stdout, stderr };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
