/**
 * What the `cloud` commands share: opening the cloud (or a read-only
 * `--from` location) around a command, progress bars, and refusing
 * `--from` on writes.
 */
import type { Command } from "commander";
import { CloudData } from "../../cloud/cloudData.js";
import { safeUrl } from "../../cloud/readOnly.js";
import type { RetryEvent } from "../../cloud/retry.js";
import { ReadOnlyError } from "../../errors.js";
import { commandSignal } from "../cancel.js";
import { progressReporter } from "../output.js";

/** Phases whose progress is counted in bytes. */
const BYTE_PHASES = ["upload", "download", "checksum"] as const;

export interface Common {
  quiet?: boolean;
  json?: boolean;
  /** read-only: a public location or a share link */
  from?: string;
}

/** Opens the cloud (or, with `from`, a read-only location), runs `fn`, closes it; config warnings go to stderr. */
export async function withCloud<T>(fn: (cloud: CloudData) => Promise<T>, from?: string): Promise<T> {
  const cloud = await CloudData.open({ signal: commandSignal(), from, onRetry: reportStall });
  for (const w of cloud.config.warnings) process.stderr.write(`warning: ${w}\n`);
  try {
    return await fn(cloud);
  } finally {
    cloud.close();
  }
}

/**
 * A stalled server is waited on for a minute per try: say so on stderr
 * rather than look hung (other retries are quick and stay quiet).
 */
function reportStall(e: RetryEvent): void {
  const code = e.error.data.network;
  if (code !== "ETIMEDOUT" && code !== "ESOCKETTIMEDOUT") return;
  process.stderr.write(`warning: ${e.error.message}; trying again (retry ${e.attempt})\n`);
}

/** The option every read command takes. */
export const FROM_HELP = "read anonymously (GET only, no config or keys) from a public bucket path, a web server or a share link";

/** Writes refuse `--from` (exit 2): a location read without keys cannot be written. */
export function refuseFrom(opts: { from?: string }, command: string): void {
  if (opts.from !== undefined) {
    throw new ReadOnlyError(`cloud ${command} writes, and --from ${safeUrl(opts.from)} is read-only: run it without --from, with keys in the config`, { location: safeUrl(opts.from) });
  }
}

/**
 * A `cloud` command that writes: it takes `--json`, and `--from` only to
 * refuse it (READ_ONLY, exit 2) before anything is opened.
 *
 * @example writeCommand(cloud, "gc", "delete unreferenced objects").option("--dry-run", "...").action(...)
 */
export function writeCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .option("--json", "machine-readable output")
    .option("--from <URL>", "refused: a --from location is read-only")
    .hook("preAction", (cmd) => refuseFrom(cmd.opts(), name));
}

/** Runs `fn` with a progress listener drawing on stderr (only on a terminal, never with --quiet or --json). */
export async function withProgress<T>(opts: Common, fn: (listener: ReturnType<typeof progressReporter>["listener"]) => Promise<T>): Promise<T> {
  const progress = progressReporter({ quiet: opts.quiet || opts.json, bytesPhases: BYTE_PHASES });
  try {
    return await fn(progress.listener);
  } finally {
    progress.stop();
  }
}

