/**
 * Finding accessions: by metadata (`where`, every criterion must hold) and
 * by name or alias (`search`, a substring match with the original
 * minus80's fallback to the longest shared run of characters).
 */
import { InvalidArgumentError } from "../../errors.js";
import { checkAccessionLabel, type MetadataValue } from "../accession.js";
import type { CohortStore } from "./store.js";

/** key -> wanted value; a value matches a stored one of any type by its text (`3` and `"3"` both match 3, `"true"` matches true). */
export type WhereCriteria = Record<string, MetadataValue>;

export const WHERE_RULE = "key=value (the first '=' separates them; the key is a metadata key)";

/** How long a run of characters the fuzzy fallback needs before it counts as a match. */
export const MIN_FUZZY_RUN = 3;

export interface SearchResult {
  /** AIDs of the matches, names first (AID order), then accessions matched by an alias */
  aids: number[];
  /** true when nothing contained the query and the closest accession was taken instead */
  fuzzy: boolean;
}

/**
 * Parses `key=value` criteria (as the CLI's `--where` gives them).
 *
 * @example parseWhere(["tissue=leaf", "age=3"]) // { tissue: "leaf", age: "3" }
 */
export function parseWhere(items: readonly string[]): WhereCriteria {
  const out: WhereCriteria = Object.create(null);
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new InvalidArgumentError(`invalid criterion ${JSON.stringify(item)}: a criterion is ${WHERE_RULE}`, { value: item, rule: WHERE_RULE });
    const key = checkAccessionLabel("metadata key", item.slice(0, eq));
    const value = item.slice(eq + 1);
    if (key in out && out[key] !== value) {
      throw new InvalidArgumentError(`criterion ${JSON.stringify(key)} is given twice with different values; no accession can match both`, { key });
    }
    out[key] = value;
  }
  return out;
}

/** The AIDs (in order) whose metadata holds every criterion. @example whereAids(store, { tissue: "leaf" }) // [1, 3] */
export function whereAids(store: CohortStore, criteria: WhereCriteria): number[] {
  let selected: Set<number> | undefined;
  for (const [key, wanted] of Object.entries(criteria)) {
    const hits = new Set(store.metadataOf(key).filter((m) => String(m.value) === String(wanted)).map((m) => m.AID));
    selected = selected ? new Set([...selected].filter((aid) => hits.has(aid))) : hits;
  }
  const all = store.aids();
  return selected ? all.filter((aid) => selected.has(aid)) : all;
}

/**
 * Accessions whose name or an alias contains `query` (ignoring case). When
 * none does and `fuzzy` is on, the original minus80's fallback: the longest
 * run of characters the query shares with any name or alias (at least
 * MIN_FUZZY_RUN long; the first such label on ties) is searched for
 * instead, and its first match is the one result.
 *
 * @example searchAids(store, "M7956_Fat_shoulder_1_R1") // { aids: [4], fuzzy: true }
 */
export function searchAids(store: CohortStore, query: string, fuzzy = true): SearchResult {
  if (typeof query !== "string" || query.length === 0) throw new InvalidArgumentError("a search needs a non-empty query", { value: query });
  const labels = store.labels();
  const containing = (q: string) => {
    const needle = q.toLowerCase();
    return [...new Set(labels.filter((l) => l.label.toLowerCase().includes(needle)).map((l) => l.AID))];
  };
  const direct = containing(query);
  if (direct.length > 0 || !fuzzy) return { aids: direct, fuzzy: false };
  let best = "";
  for (const { label } of labels) {
    const run = longestCommonRun(query.toLowerCase(), label.toLowerCase());
    if (run.length > best.length) best = run;
  }
  if (best.length < MIN_FUZZY_RUN) return { aids: [], fuzzy: false };
  return { aids: containing(best).slice(0, 1), fuzzy: true };
}

/**
 * The longest substring of `a` that also occurs in `b` (the first in `a` on ties).
 *
 * @example longestCommonRun("m7956_fat_r1", "fat_shoulder") // "fat_"
 */
export function longestCommonRun(a: string, b: string): string {
  let bestLen = 0;
  let bestEnd = 0;
  let prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) {
      if (a[i - 1] === b[j - 1]) {
        row[j] = prev[j - 1]! + 1;
        if (row[j]! > bestLen) {
          bestLen = row[j]!;
          bestEnd = i;
        }
      }
    }
    prev = row;
  }
  return a.slice(bestEnd - bestLen, bestEnd);
}
