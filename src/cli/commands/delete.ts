/** `minus80 delete <dtype> <name> [--force]`: remove datasets from the local freezer. */
import readline from "node:readline/promises";
import type { Command } from "commander";
import { DatasetNotFoundError, InvalidArgumentError } from "../../errors.js";
import { Freezer } from "../../freezer/freezer.js";
import { formatSlug } from "../../names.js";
import { println } from "../output.js";

export function registerDeleteCommand(program: Command): void {
  program
    .command("delete")
    .description("delete datasets (glob patterns allowed) and every tag of them from the local freezer")
    .argument("<dtype>", "dtype, e.g. Cohort")
    .argument("<name>", "dataset name")
    .option("--force", "do not ask for confirmation")
    .action(async (dtype: string, name: string, opts: { force?: boolean }) => {
      const freezer = Freezer.open();
      const victims = freezer.datasets(dtype, name);
      if (victims.length === 0) throw new DatasetNotFoundError(formatSlug(dtype, name));
      const list = victims.map((v) => formatSlug(v.dtype, v.name)).join(", ");
      if (!opts.force) {
        if (!process.stdin.isTTY) {
          throw new InvalidArgumentError(`refusing to delete ${list} without confirmation: pass --force when not at a terminal`, { datasets: list });
        }
        const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
        const answer = await rl.question(`Delete ${list} and all its tags? [y/N] `);
        rl.close();
        if (!/^y(es)?$/i.test(answer.trim())) {
          println("Nothing deleted.");
          return;
        }
      }
      const n = await freezer.delete(dtype, name);
      println(`Deleted ${n} dataset${n === 1 ? "" : "s"}: ${list}`);
    });
}
