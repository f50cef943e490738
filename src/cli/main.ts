#!/usr/bin/env node
/**
 * The `minus80` command. Each command lives in its own module under
 * `commands/`; they throw errors, and `errorMessages.ts` turns those into
 * a message, a hint and the exit status.
 */
// First: V8's heap settings must be in place before the other modules allocate.
import "./heapTuning.js";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import { registerCloudCommands } from "./commands/cloud.js";
import { registerCohortCommands } from "./commands/cohort.js";
import { registerConfigCommands } from "./commands/config.js";
import { registerDeleteCommand } from "./commands/delete.js";
import { registerFreezeCommands } from "./commands/freeze.js";
import { registerLsCommand } from "./commands/ls.js";
import { SIGNAL_EXIT, startCancellation } from "./cancel.js";
import { EXIT_OK, EXIT_USAGE, formatUserMessage, userMessage } from "./errorMessages.js";
import { VERSION } from "../version.js";

export function buildProgram(): Command {
  const program = new Command("minus80")
    .description("Freeze, tag and share datasets")
    .version(VERSION)
    .option("--config <file>", "config file to use (default: $MINUS80_CONFIG or ~/.minus80.conf)")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .hook("preAction", (cmd) => {
      const file = cmd.opts().config as string | undefined;
      if (file) process.env.MINUS80_CONFIG = file;
    });
  registerLsCommand(program);
  registerDeleteCommand(program);
  registerFreezeCommands(program);
  registerCohortCommands(program);
  registerCloudCommands(program);
  registerConfigCommands(program);
  // Every subcommand reports usage errors through the same exit path.
  const override = (cmd: Command) => {
    cmd.exitOverride();
    cmd.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs the CLI with `argv` (user arguments only) and returns the exit status. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  const cancellation = startCancellation();
  try {
    await program.parseAsync(argv, { from: "user" });
    if (cancellation.received) return cancelled(cancellation.received);
    return EXIT_OK;
  } catch (err) {
    if (cancellation.received) return cancelled(cancellation.received);
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT_OK;
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE; // commander already printed the message
    }
    const m = userMessage(err);
    process.stderr.write(formatUserMessage(m));
    return m.exitStatus;
  } finally {
    cancellation.stop();
  }
}

/** A command ended by SIGINT or SIGTERM, after cleaning up. */
function cancelled(signal: "SIGINT" | "SIGTERM"): number {
  process.stderr.write(`minus80: cancelled by ${signal}; nothing half-done was left behind\n`);
  return SIGNAL_EXIT[signal];
}

/** True when this file is the program node was started with (also through the npm bin symlink). */
function isMainModule(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    return fs.realpathSync(process.argv[1]) === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

/** The oldest Node.js line minus80 supports (package.json `engines`; README "Supported Node.js"). */
export const MIN_NODE_MAJOR = 22;

const isMain = isMainModule();
if (isMain) {
  // npm only warns about `engines` at install time, and on older lines
  // better-sqlite3 dies with a bare segmentation fault: say why first.
  if (Number(process.versions.node.split(".")[0]) < MIN_NODE_MAJOR) {
    process.stderr.write(`warning: minus80 needs Node.js ${MIN_NODE_MAJOR} or newer; this is ${process.version}, on which commands that open a dataset crash\nhint: install Node.js ${MIN_NODE_MAJOR} or newer\n`);
  }
  runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
