/**
 * Output helpers shared by the commands: JSON or human text on stdout,
 * progress bars on stderr only when it is a terminal and not `--quiet`.
 */
import cliProgress from "cli-progress";
import type { ProgressEvent, ProgressListener } from "../progress.js";

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}

export function println(text = ""): void {
  process.stdout.write(text + "\n");
}

import { formatBytes } from "../units.js";

export { formatBytes };

export interface ProgressReporter {
  listener: ProgressListener | undefined;
  stop(): void;
}

/**
 * A progress bar per phase on stderr (bytes phases show rate and ETA).
 * Returns a no-op when quiet or when stderr is not a terminal.
 */
export function progressReporter(opts: { quiet?: boolean; bytesPhases?: readonly string[] }): ProgressReporter {
  if (opts.quiet || !process.stderr.isTTY) return { listener: undefined, stop() {} };
  const multi = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      clearOnComplete: false,
      hideCursor: true,
      format: " {phase} [{bar}] {percentage}% | {value}/{total} {unit} | {rate} | ETA {eta_formatted}",
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  const started = new Map<string, number>();
  const bytesPhases = new Set(opts.bytesPhases ?? []);
  const listener = (e: ProgressEvent) => {
    let bar = bars.get(e.phase);
    if (!bar) {
      bar = multi.create(e.total, 0, { phase: e.phase.padEnd(8), unit: "", rate: "" });
      bars.set(e.phase, bar);
      started.set(e.phase, Date.now());
    }
    const secs = Math.max((Date.now() - started.get(e.phase)!) / 1000, 0.001);
    const isBytes = bytesPhases.has(e.phase);
    bar.setTotal(e.total);
    bar.update(e.loaded, {
      unit: isBytes ? "bytes" : "files",
      rate: isBytes ? `${formatBytes(e.loaded / secs)}/s` : `${(e.loaded / secs).toFixed(0)}/s`,
    });
  };
  return { listener, stop: () => multi.stop() };
}
