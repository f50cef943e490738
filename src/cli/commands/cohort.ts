/**
 * `minus80 cohort import|show`: building a Cohort from an accession file or
 * samplesheet and looking at it. `rm`, `alias` and `sample` live in
 * cohortEdit.ts, `export` in cohortExport.ts.
 */
import type { Command } from "commander";
import { Freezer } from "../../freezer/freezer.js";
import { checkName } from "../../names.js";
import { parseWhere } from "../../types/cohort/query.js";
import { Cohort } from "../../types/cohort.js";
import { IMPORT_FORMATS } from "../../types/samplesheet/formats.js";
import { printJson, println } from "../output.js";
import { printAccessions, withExistingCohort } from "./cohortCommon.js";
import { registerCohortEditCommands } from "./cohortEdit.js";
import { registerCohortExportCommand } from "./cohortExport.js";

/** Adds the `cohort` command group to the program. @example registerCohortCommands(program) */
export function registerCohortCommands(program: Command): void {
  const cohort = program.command("cohort").description("build, query, edit and export Cohorts of accessions");
  cohort
    .command("import")
    .description("add the accessions of a YAML file or a CSV/TSV samplesheet (nf-core rnaseq/sarek columns) to a Cohort, creating it if needed")
    .argument("<name>", "Cohort name")
    .argument("<file>", "accessions.yaml, samplesheet.csv, samplesheet.tsv or accessions.json")
    .option("--format <format>", `read the file as ${IMPORT_FORMATS.join("|")} (default: from its extension)`)
    .option("--attach", "copy local files into the Cohort (reads/<accession>/<file name>) so freeze and push carry them; URLs stay references")
    .action(async (name: string, file: string, opts: { format?: string; attach?: boolean }) => {
      checkName(name);
      const before = Freezer.open().exists("Cohort", name);
      const c = await Cohort.importFile(name, file, { format: opts.format, attach: opts.attach });
      try {
        const attached = [...c].flatMap((a) => a.files).filter((f) => f.startsWith(c.dataset.thawedDir)).length;
        println(`${before ? "Updated" : "Created"} ${c.slug}: ${c.size} accessions${opts.attach ? `, ${attached} files attached` : ""}`);
      } finally {
        c.close();
      }
    });
  cohort
    .command("show")
    .description("print a Cohort's accessions, optionally only those matching metadata and/or a name search")
    .argument("<name>", "Cohort name")
    .option("--where <key=value...>", "only accessions whose metadata has key=value (all must hold); repeatable")
    .option("--search <text>", "only accessions whose name or alias contains text (else the closest, as the original minus80 did)")
    .option("--json", "machine-readable output")
    .action((name: string, opts: { where?: string[]; search?: string; json?: boolean }) =>
      withExistingCohort(name, (c) => {
        const criteria = parseWhere(opts.where ?? []);
        const filtered = opts.where !== undefined || opts.search !== undefined;
        const found = opts.search !== undefined ? c.search(opts.search) : undefined;
        const matching = new Set(c.where(criteria).map((a) => a.name));
        const accessions = (found?.accessions ?? [...c]).filter((a) => matching.has(a.name));
        if (opts.json) {
          printJson({ name, size: c.size, ...(filtered && { matched: accessions.length }), ...(found?.fuzzy && { fuzzy: true }), accessions: accessions.map((a) => a.toJSON()) });
          return;
        }
        if (found?.fuzzy) println(`no name or alias contains ${JSON.stringify(opts.search)}; the closest:`);
        println(filtered ? `${c.slug}: ${accessions.length} of ${c.size} accessions match` : `${c.slug}: ${c.size} accessions`);
        printAccessions(accessions);
      }),
    );
  registerCohortEditCommands(cohort);
  registerCohortExportCommand(cohort);
}
