/**
 * A Cohort describes itself (freezer/summary.ts): its accessions, with
 * their metadata as columns (keys in order of first appearance), files and
 * aliases, read from the working copy's database opened read-only. Freeze
 * records it in the tag's manifest, so the catalog page shows the table
 * without the SQLite file.
 *
 * @example describeCohort("/home/me/.minus80/datasets/Cohort/TestCohort/thawed")
 *   // { kind: "accessions", count: 3, columns: ["type", "tissue"], items: [{ name: "RMB002", values: ["sample", "leaf"], ... }] }
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { SQL_FILE } from "../../freezer/freezable.js";
import { MAX_SUMMARY_ITEMS, registerDescriber, type ContentSummary } from "../../freezer/summary.js";
import { CohortStore } from "./store.js";

/** The summary of the Cohort in `thawedDir`, or undefined when it has no accessions table. */
export function describeCohort(thawedDir: string): ContentSummary | undefined {
  const file = path.join(thawedDir, SQL_FILE);
  if (!fs.existsSync(file)) return undefined;
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'accessions'").get() !== undefined;
    if (!hasTable) return undefined;
    // An empty folder: attached files read back relative to the working copy (reads/<accession>/...).
    const store = new CohortStore(() => db, "", "summary");
    const aids = store.aids();
    const accessions = store.read(aids.slice(0, MAX_SUMMARY_ITEMS));
    const columns: string[] = [];
    const seen = new Set<string>();
    for (const a of accessions) for (const k of Object.keys(a.metadata)) if (!seen.has(k)) (seen.add(k), columns.push(k));
    const items = accessions.map((a) => ({ name: a.name, values: columns.map((c) => a.metadata[c] ?? null), files: a.files, aliases: a.aliases }));
    return { kind: "accessions", count: aids.length, columns, items };
  } finally {
    db.close();
  }
}

registerDescriber("Cohort", describeCohort);
