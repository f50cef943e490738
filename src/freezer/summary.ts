/**
 * What a tag says about itself: a small summary recorded in its manifest
 * (`summary`, optional), so a reader that has only the manifests (the
 * catalog page, `cloud/catalog/`) can show what a tag holds without its
 * SQLite or Parquet files. A freezable type describes itself by
 * registering a describer for its dtype (Cohort: `types/cohort/summary.ts`);
 * freeze calls it on the working copy. A type without one records no
 * summary, and a manifest without one reads as before.
 *
 * The shape is one table of items (a Cohort's accessions): each item a
 * name, values aligned with `columns` (no object keys, so nothing in a
 * summary can look like a manifest's file entry), files and aliases.
 * `count` is the number of items the tag holds; when the summary would pass
 * its bounds, `items` keeps the first ones and `count` says how many there are.
 *
 *     {"kind": "accessions", "count": 3, "columns": ["tissue", "age"],
 *      "items": [{"name": "RMB002", "values": ["leaf", 3], "files": ["reads/RMB002/R1.fastq"], "aliases": ["S2"]}]}
 *
 * @example
 *   registerDescriber("Cohort", (dir) => describeCohort(dir));
 *   describeWorkingCopy("Cohort", "/home/me/.minus80/datasets/Cohort/T/thawed")   // { kind: "accessions", count: 3, ... }
 */
import { IntegrityError } from "../errors.js";

/** A value of a summary cell (a Cohort's metadata value), or null where an item has none. */
export type SummaryValue = string | number | boolean | null;

export interface SummaryItem {
  name: string;
  values: SummaryValue[];
  files: string[];
  aliases: string[];
}

export interface ContentSummary {
  /** what the items are, plural: "accessions" */
  kind: string;
  /** how many items the tag holds (more than `items.length` when bounded) */
  count: number;
  columns: string[];
  items: SummaryItem[];
}

/** Items a summary keeps at most. */
export const MAX_SUMMARY_ITEMS = 20_000;
/** Serialized bytes a summary takes at most (items are dropped from the end until it fits). */
export const MAX_SUMMARY_BYTES = 4 * 1024 * 1024;
/** Characters a name, column or text value keeps at most (longer ones are cut, ending in "…"). */
export const MAX_SUMMARY_TEXT = 500;
/** Columns, files or aliases per item kept at most. */
export const MAX_SUMMARY_LIST = 200;

/** Builds a type's summary from its working copy (`thawedDir`), or undefined when it has nothing to say. */
export type Describer = (thawedDir: string) => ContentSummary | undefined;

const describers = new Map<string, Describer>();

/**
 * Makes freeze record `describe(thawedDir)` in every tag of `dtype`.
 *
 * @example registerDescriber("Cohort", describeCohort)
 */
export function registerDescriber(dtype: string, describe: Describer): void {
  describers.set(dtype, describe);
}

/**
 * The bounded summary of a working copy of `dtype`, or undefined (no
 * describer, or one that failed: a summary is a courtesy, never a reason
 * for a freeze to fail).
 *
 * @example describeWorkingCopy("Cohort", ds.thawedDir)?.count   // 3
 */
export function describeWorkingCopy(dtype: string, thawedDir: string): ContentSummary | undefined {
  const describe = describers.get(dtype);
  if (!describe) return undefined;
  try {
    const s = describe(thawedDir);
    return s && boundSummary(s);
  } catch {
    return undefined;
  }
}

/**
 * Cuts a summary to its bounds: long texts, long lists, then items from
 * the end until it serializes within MAX_SUMMARY_BYTES.
 *
 * @example boundSummary({ kind: "accessions", count: 1, columns: [], items: [...] }).items.length
 */
export function boundSummary(s: ContentSummary): ContentSummary {
  const cut = (t: string) => (t.length > MAX_SUMMARY_TEXT ? `${t.slice(0, MAX_SUMMARY_TEXT - 1)}…` : t);
  const list = (l: string[]) => l.slice(0, MAX_SUMMARY_LIST).map(cut);
  const columns = list(s.columns);
  const items = s.items.slice(0, MAX_SUMMARY_ITEMS).map((i) => ({
    name: cut(i.name),
    values: i.values.slice(0, columns.length).map((v) => (typeof v === "string" ? cut(v) : v)),
    files: list(i.files),
    aliases: list(i.aliases),
  }));
  let bytes = Buffer.byteLength(JSON.stringify({ ...s, columns, items: [] }));
  let keep = 0;
  for (; keep < items.length; keep++) {
    bytes += Buffer.byteLength(JSON.stringify(items[keep])) + 1;
    if (bytes > MAX_SUMMARY_BYTES) break;
  }
  return { kind: cut(s.kind), count: Math.max(s.count, items.length), columns, items: items.slice(0, keep) };
}

/**
 * Checks a manifest's `summary` field (untrusted JSON); INTEGRITY naming
 * `source` when it is malformed.
 *
 * @example validateSummary(json.summary, "datasets/Cohort/T/v1.json")
 */
export function validateSummary(json: unknown, source: string): ContentSummary {
  const fail = (why: string) => new IntegrityError(`manifest ${source} is invalid: its summary ${why}`, { key: source });
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw fail("is not an object");
  const s = json as Record<string, unknown>;
  if (typeof s.kind !== "string") throw fail("has no kind");
  if (!Number.isSafeInteger(s.count) || (s.count as number) < 0) throw fail("has no valid count");
  if (!isStringList(s.columns)) throw fail("has no list of columns");
  if (!Array.isArray(s.items) || s.items.length > MAX_SUMMARY_ITEMS) throw fail("has no list of items, or too many");
  const items = s.items.map((raw: unknown, n): SummaryItem => {
    const i = (raw ?? {}) as Record<string, unknown>;
    const valid = typeof i.name === "string" && Array.isArray(i.values) && i.values.every(isValue) && isStringList(i.files) && isStringList(i.aliases);
    if (!valid) throw fail(`item ${n} is malformed`);
    return { name: i.name as string, values: i.values as SummaryValue[], files: i.files as string[], aliases: i.aliases as string[] };
  });
  return { kind: s.kind, count: s.count as number, columns: s.columns as string[], items };
}

function isStringList(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

function isValue(v: unknown): v is SummaryValue {
  return v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}
