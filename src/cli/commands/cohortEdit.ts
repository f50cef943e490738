/** `minus80 cohort rm|alias|sample`: editing a Cohort's accessions and drawing from them. */
import type { Command } from "commander";
import { printJson, println } from "../output.js";
import { parseCount, withExistingCohort } from "./cohortCommon.js";

/** Adds `rm`, `alias` and `sample` to the `cohort` group. @example registerCohortEditCommands(cohortGroup) */
export function registerCohortEditCommands(cohort: Command): void {
  cohort
    .command("rm")
    .description("remove accessions (by name or alias) with their files, metadata, aliases and attached reads")
    .argument("<name>", "Cohort name")
    .argument("<accession...>", "accession names or aliases; all must exist, or nothing is removed")
    .action((name: string, keys: string[]) =>
      withExistingCohort(name, (c) => {
        const n = c.remove(keys);
        println(`Removed ${n} accession${n === 1 ? "" : "s"} from ${c.slug}; ${c.size} left`);
      }),
    );
  cohort
    .command("alias")
    .description("give an accession another name it can be found by")
    .argument("<name>", "Cohort name")
    .argument("<accession>", "accession name or alias")
    .argument("<alias>", "the new alias")
    .action((name: string, key: string, alias: string) =>
      withExistingCohort(name, (c) => {
        const a = c.addAlias(key, alias);
        println(`${c.slug}: ${a.name} is also known as ${a.aliases.join(", ")}`);
      }),
    );
  cohort
    .command("sample")
    .description("draw N accessions at random (without replacement unless --replace); --seed makes the draw reproducible")
    .argument("<name>", "Cohort name")
    .argument("<n>", "how many accessions")
    .option("--seed <seed>", "a whole number: the same seed draws the same accessions from the same Cohort")
    .option("--replace", "draw with replacement (an accession may come back more than once)")
    .option("--json", "machine-readable output")
    .action((name: string, count: string, opts: { seed?: string; replace?: boolean; json?: boolean }) =>
      withExistingCohort(name, (c) => {
        const n = parseCount("n", count);
        const seed = opts.seed === undefined ? undefined : parseCount("seed", opts.seed, true);
        const drawn = c.randomAccessions(n, { seed, replace: opts.replace });
        if (opts.json) printJson({ name, n, seed: seed ?? null, replace: Boolean(opts.replace), accessions: drawn.map((a) => a.toJSON()) });
        else for (const a of drawn) println(a.name);
      }),
    );
}
