/**
 * Runs the built `minus80` binary in a child process WITHOUT blocking this
 * process: needed when the S3 server (s3rver) runs inside the test process,
 * where a synchronous spawn would stop it from answering.
 */
import { spawn } from "node:child_process";
import { CLI, type CliResult } from "./cli.js";

/** Gives up on a hung CLI after this long. */
const CLI_TIMEOUT_MS = 120_000;

export function runCliAsync(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), CLI_TIMEOUT_MS);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
  });
}
