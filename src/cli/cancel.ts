/**
 * Ctrl-C and SIGTERM for the CLI: the first one aborts the running
 * command's AbortSignal, so the library stops at its next safe point,
 * waits for the requests in flight, aborts open multipart uploads, removes
 * its temporary files and leaves the freezer and bucket as they were (or
 * with the command complete); the CLI then exits 130 (SIGINT) or 143
 * (SIGTERM). A second one exits at once.
 *
 * @example
 *   const run = startCancellation();
 *   try { await cloud.push(dtype, name, { signal: commandSignal() }); } finally { run.stop(); }
 */
import { raiseListenerLimit } from "../limits.js";

/** Exit status of a command ended by a signal: 128 + its number. */
export const SIGNAL_EXIT: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

let controller: AbortController | undefined;

/** The running command's signal (undefined outside a CLI run). */
export function commandSignal(): AbortSignal | undefined {
  return controller?.signal;
}

export interface CancellationScope {
  /** the signal that cancelled the command, if one did */
  readonly received: "SIGINT" | "SIGTERM" | undefined;
  /** removes the handlers */
  stop(): void;
}

/** Installs the handlers for one command. */
export function startCancellation(): CancellationScope {
  const own = new AbortController();
  // Every request and stream in flight listens to it (hundreds in a large push): not a leak.
  raiseListenerLimit(own.signal, 10_000);
  controller = own;
  let received: "SIGINT" | "SIGTERM" | undefined;
  const on = (name: "SIGINT" | "SIGTERM") => () => {
    if (received) process.exit(SIGNAL_EXIT[received]); // the second one: at once
    received = name;
    process.stderr.write(`\nminus80: ${name === "SIGINT" ? "interrupted" : "terminated"}; cleaning up (press Ctrl-C again to exit at once)\n`);
    own.abort();
  };
  const onInt = on("SIGINT");
  const onTerm = on("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  return {
    get received() {
      return received;
    },
    stop() {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      if (controller === own) controller = undefined;
    },
  };
}
