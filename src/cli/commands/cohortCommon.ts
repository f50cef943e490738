/** What the `cohort` commands share: opening an existing Cohort, and printing accessions for people. */
import type { Accession } from "../../types/accession.js";
import { DatasetNotFoundError, InvalidArgumentError } from "../../errors.js";
import { Freezer } from "../../freezer/freezer.js";
import { checkName, formatSlug } from "../../names.js";
import { Cohort } from "../../types/cohort.js";
import { println } from "../output.js";

/** Runs `fn` on the existing Cohort `name` (DATASET_NOT_FOUND otherwise), closing it after. @example await withExistingCohort("RNA", (c) => c.size) */
export async function withExistingCohort<T>(name: string, fn: (c: Cohort) => T | Promise<T>): Promise<T> {
  checkName(name);
  if (!Freezer.open().exists("Cohort", name)) throw new DatasetNotFoundError(formatSlug("Cohort", name));
  const c = new Cohort(name);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

/** Each accession as a few indented lines: aliases, files (with lane and read), metadata. @example printAccessions([...cohort]) */
export function printAccessions(accessions: readonly Accession[]): void {
  for (const a of accessions) {
    println(`- ${a.name}${a.aliases.length > 0 ? ` (aliases: ${a.aliases.join(", ")})` : ""}`);
    for (const { file, lane, read } of a.fileEntries) {
      const where = [lane !== undefined ? `lane ${lane}` : "", read !== undefined ? `read ${read}` : ""].filter(Boolean).join(", ");
      println(`    file: ${file}${where ? `  [${where}]` : ""}`);
    }
    for (const [k, v] of Object.entries(a.metadata)) println(`    ${k}: ${String(v)}`);
  }
}

/** A whole number >= 0 (or any whole number with `allowNegative`) from a command-line argument, or INVALID_ARGUMENT naming it. @example parseCount("n", "3") // 3 */
export function parseCount(what: string, value: string, allowNegative = false): number {
  const n = Number(value);
  const ok = (allowNegative ? /^-?\d+$/ : /^\d+$/).test(value) && Number.isSafeInteger(n);
  if (!ok) throw new InvalidArgumentError(`invalid ${what} ${JSON.stringify(value)}: ${what === "seed" ? "a seed is a whole number" : `${what} is a whole number >= 0`}`, { value });
  return n;
}
