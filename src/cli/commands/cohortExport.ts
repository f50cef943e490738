/** `minus80 cohort export <name> --format F [--output FILE] [--force]`: a Cohort as a samplesheet or accession file. */
import type { Command } from "commander";
import { checkExportFormat, EXPORT_FORMATS } from "../../types/samplesheet/write.js";
import { println } from "../output.js";
import { withExistingCohort } from "./cohortCommon.js";

/** Adds `export` to the `cohort` group. @example registerCohortExportCommand(cohortGroup) */
export function registerCohortExportCommand(cohort: Command): void {
  cohort
    .command("export")
    .description("write a Cohort as a samplesheet (one row per lane, absolute paths of attached reads) or as YAML/JSON")
    .argument("<name>", "Cohort name")
    .requiredOption("--format <format>", EXPORT_FORMATS.join("|"))
    .option("--output <file>", "write to this file (atomically) instead of standard output")
    .option("--force", "replace --output if it exists")
    .action((name: string, opts: { format: string; output?: string; force?: boolean }) =>
      withExistingCohort(name, async (c) => {
        const format = checkExportFormat(opts.format);
        if (opts.output === undefined) {
          process.stdout.write(c.toSamplesheet(format));
          return;
        }
        await c.exportSamplesheet(format, opts.output, { force: opts.force });
        println(`Wrote ${c.slug} as ${format} to ${opts.output}`);
      }),
    );
}
