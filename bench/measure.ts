/**
 * Runs one command and measures its wall time, peak RSS and CPU time with
 * GNU time (`/usr/bin/time -v`, which counts the whole process tree), and
 * the CPU time the local S3 server's processes (radosgw, ceph-osd, ...)
 * spent meanwhile, read from /proc: client and server share the cores, so
 * `(client + server CPU) / cores` is a floor under the wall time.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";

export interface Measurement {
  seconds: number;
  peakRssMiB: number;
  /** user + system CPU seconds of the command (NaN without GNU time) */
  cpuSeconds: number;
  /** the user part of cpuSeconds (the rest is the kernel's) */
  userSeconds: number;
  /** CPU seconds of local S3 server processes during the command (0 when none runs here) */
  serverCpuSeconds: number;
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
  const serverBefore = serverCpuSeconds();
  const started = process.hrtime.bigint();
  const child = spawn(cmd, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? -1)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const serverCpu = serverCpuSeconds() - serverBefore;
  if (code !== 0) {
    throw new Error(`command failed (${code}): ${argv.join(" ")}\n${stderr.slice(-2000)}`);
  }
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  const user = /User time \(seconds\): ([\d.]+)/.exec(stderr);
  const sys = /System time \(seconds\): ([\d.]+)/.exec(stderr);
  return {
    seconds,
    peakRssMiB: rss ? Number(rss[1]) / 1024 : NaN,
    cpuSeconds: user && sys ? Number(user[1]) + Number(sys[1]) : NaN,
    userSeconds: user ? Number(user[1]) : NaN,
    serverCpuSeconds: serverCpu,
    stdout,
    stderr,
  };
}

/** Processes counted as the S3 server's. */
const SERVER_PROCESSES = new Set(["radosgw", "ceph-osd", "ceph-mon", "ceph-mgr", "minio"]);
/** Linux clock ticks per second (USER_HZ), as /proc reports CPU times. */
const CLOCK_TICKS = 100;

/** Total user + system CPU seconds so far of the local S3 server's processes. */
export function serverCpuSeconds(): number {
  let ticks = 0;
  let pids: string[];
  try {
    pids = fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      if (!SERVER_PROCESSES.has(comm)) continue;
      const fields = stat.slice(close + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
    } catch {
      // gone meanwhile
    }
  }
  return ticks / CLOCK_TICKS;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
