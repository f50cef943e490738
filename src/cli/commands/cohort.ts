/** `minus80 cohort import <name> <accessions.yaml>` and `minus80 cohort show <name> [--json]`. */
import fs from "node:fs";
import type { Command } from "commander";
import { DatasetNotFoundError, InvalidArgumentError } from "../../errors.js";
import { Freezer } from "../../freezer/freezer.js";
import { checkName, formatSlug } from "../../names.js";
import { Cohort } from "../../types/cohort.js";
import { printJson, println } from "../output.js";

export function registerCohortCommands(program: Command): void {
  const cohort = program.command("cohort").description("build and inspect Cohorts of accessions");
  cohort
    .command("import")
    .description("add the accessions of a YAML file (the original minus80 format) to a Cohort, creating it if needed")
    .argument("<name>", "Cohort name")
    .argument("<accessions.yaml>", "mapping of accession name -> {files: [...], metadata: {...}}")
    .action((name: string, file: string) => {
      checkName(name);
      if (!fs.existsSync(file)) throw new InvalidArgumentError(`accession file ${JSON.stringify(file)} does not exist`, { path: file });
      const before = Freezer.open().exists("Cohort", name);
      const c = Cohort.fromYaml(name, file);
      try {
        println(`${before ? "Updated" : "Created"} ${c.slug}: ${c.size} accessions`);
      } finally {
        c.close();
      }
    });
  cohort
    .command("show")
    .description("print a Cohort's accessions")
    .argument("<name>", "Cohort name")
    .option("--json", "machine-readable output")
    .action((name: string, opts: { json?: boolean }) => {
      checkName(name);
      if (!Freezer.open().exists("Cohort", name)) throw new DatasetNotFoundError(formatSlug("Cohort", name));
      const c = new Cohort(name);
      try {
        const accessions = [...c].map((a) => a.toJSON());
        if (opts.json) {
          printJson({ name, size: accessions.length, accessions });
          return;
        }
        println(`${c.slug}: ${accessions.length} accessions`);
        for (const a of accessions) {
          println(`- ${a.name}`);
          for (const f of a.files) println(`    file: ${f}`);
          for (const [k, v] of Object.entries(a.metadata)) println(`    ${k}: ${String(v)}`);
        }
      } finally {
        c.close();
      }
    });
}
