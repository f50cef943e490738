/**
 * Which files of a Cohort tag a partial pull needs for some accessions:
 * the Cohort's own tables (every file not under `reads/`) and the attached
 * reads of the accessions chosen by name or alias (`accessions`) and by
 * metadata (`where`, every criterion must hold; both given: both must).
 * The tag's database is read from a copy (`dbFile`), opened read-only.
 *
 * @example
 *   selectAccessionFiles(tmpCopyOfDb, Object.keys(manifest.files), { accessions: ["Sample1"] }, "Cohort.RNA:v1")
 *   // { accessions: ["Sample1"], paths: Set { "db.sqlite", "reads/Sample1/..." } }
 */
import Database from "better-sqlite3";
import { InvalidArgumentError } from "../../errors.js";
import { checkAccessionLabel } from "../accession.js";
import { READS_DIR } from "./attach.js";
import { whereAids, type WhereCriteria } from "./query.js";
import { CohortStore } from "./store.js";

export interface AccessionSelection {
  /** accession names or aliases */
  accessions?: readonly string[];
  /** metadata criteria, all of which must hold */
  where?: WhereCriteria;
}

export const ACCESSIONS_RULE = "--accessions names accessions (or aliases) of the Cohort tag, separated by commas";

/** Checks a selection's values before anything is read; INVALID_ARGUMENT / INVALID_NAME naming the value and the rule. @example checkAccessionSelection({ accessions: [""] }) // throws */
export function checkAccessionSelection(sel: AccessionSelection): void {
  for (const a of sel.accessions ?? []) {
    if (typeof a !== "string" || a.length === 0) throw new InvalidArgumentError(`invalid accession ${JSON.stringify(a)}: ${ACCESSIONS_RULE}`, { value: a, rule: ACCESSIONS_RULE });
  }
  for (const [k, v] of Object.entries(sel.where ?? {})) {
    checkAccessionLabel("metadata key", k);
    if (!["string", "number", "boolean"].includes(typeof v)) throw new InvalidArgumentError(`criterion ${JSON.stringify(k)} has no text, number or boolean value`, { key: k });
  }
}

/** The tag's paths the selected accessions need, and their names (AID order). @example selectAccessionFiles(copy, paths, { where: { tissue: "leaf" } }, "Cohort.RNA:v1").accessions */
export function selectAccessionFiles(dbFile: string, paths: readonly string[], sel: AccessionSelection, slug: string): { paths: Set<string>; accessions: string[] } {
  checkAccessionSelection(sel);
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'accessions'").get() !== undefined;
    if (!hasTable) throw new InvalidArgumentError(`${slug} holds no accessions table: --accessions and --where apply to Cohorts`, { slug });
    const store = new CohortStore(() => db, "", slug);
    let aids = sel.where ? whereAids(store, sel.where) : store.aids();
    if (sel.accessions) {
      const unknown = sel.accessions.filter((a) => store.lookup(a) === undefined);
      if (unknown.length > 0) {
        const names = store.labels().map((l) => l.label);
        throw new InvalidArgumentError(
          `unknown accession${unknown.length > 1 ? "s" : ""} ${unknown.map((u) => JSON.stringify(u)).join(", ")}: ${ACCESSIONS_RULE} (it has: ${names.join(", ") || "none"})`,
          { slug, value: unknown, rule: ACCESSIONS_RULE },
        );
      }
      const named = new Set(sel.accessions.map((a) => store.lookup(a)!));
      aids = aids.filter((aid) => named.has(aid));
    }
    const accessions = store.read(aids).map((a) => a.name);
    const folders = accessions.map((n) => `${READS_DIR}/${n}/`);
    const attached = new Set(store.attachedUrls(aids));
    const wanted = paths.filter((p) => !p.startsWith(`${READS_DIR}/`) || attached.has(p) || folders.some((f) => p.startsWith(f)));
    return { paths: new Set(wanted), accessions };
  } finally {
    db.close();
  }
}
