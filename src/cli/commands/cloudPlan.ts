/**
 * What `cloud push` and `cloud pull` add to their commands: the options of
 * a partial pull (`--include`, `--accessions`, `--where`), checked before
 * anything is opened, and the human form of a dry run's plan.
 *
 * @example
 *   const sel = pullSelection("Cohort", { accessions: ["Sample1,Sample2"], where: ["tissue=leaf"] });
 *   process.stdout.write(formatPullPlan(plan));
 */
import { checkPullSelection, type PullPlan, type PullSelection } from "../../cloud/pullPlan.js";
import type { PushPlan } from "../../cloud/pushPlan.js";
import type { RequestEstimate } from "../../cloud/dryRun.js";
import { InvalidArgumentError } from "../../errors.js";
import { formatSlug } from "../../names.js";
import { parseWhere } from "../../types/cohort/query.js";
import { formatBytes } from "../output.js";

/** The options of a pull that select files. */
export interface SelectionFlags {
  include?: string[];
  accessions?: string[];
  where?: string[];
}

/** commander's collector for a repeatable option. @example collect("b", ["a"]) // ["a", "b"] */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * The selection the flags ask for, refused (INVALID_ARGUMENT naming the value
 * and the rule) when bad, with `--raw`, or on a dtype it does not apply to.
 *
 * @example pullSelection("Cohort", { accessions: ["S1,S2"] })  // { accessions: ["S1", "S2"] }
 */
export function pullSelection(dtype: string, flags: SelectionFlags, raw = false): PullSelection {
  if (raw) {
    const given = flags.include?.length ? `--include ${JSON.stringify(flags.include[0])}` : flags.accessions?.length ? "--accessions" : flags.where?.length ? "--where" : undefined;
    if (given) throw new InvalidArgumentError(`${given} does not apply with --raw: a raw file is fetched whole; --include, --accessions and --where select files of a dataset`, { value: given });
    return {};
  }
  const sel: PullSelection = {};
  if (flags.include?.length) sel.include = flags.include;
  if (flags.accessions?.length) sel.accessions = flags.accessions.flatMap((a) => a.split(",").map((s) => s.trim()));
  if (flags.where?.length) sel.where = parseWhere(flags.where) as Record<string, string>;
  checkPullSelection(dtype, sel);
  return sel;
}

const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;

function formatRequests(r: RequestEstimate): string {
  return `requests (estimated): ${r.heads} HEAD, ${r.lists} LIST, ${r.puts} PUT, ${r.gets} GET`;
}

/** A pull's dry run for people. @example formatPullPlan(plan) // "Would pull Cohort.RNA:v1 ..." */
export function formatPullPlan(p: PullPlan): string {
  const part = p.partial ? ` (partial: ${p.files.thawed} of ${p.files.inTag} files${p.accessions ? `; accessions: ${p.accessions.join(", ") || "none"}` : ""})` : "";
  return [
    `Would pull ${p.slug}:${p.tag}${part}: ${plural(p.objects.fetch, "object")} to download (${formatBytes(p.objects.bytes)}), ${p.objects.local} already local; ` +
      `working copy ${plural(p.files.thawed, "file")} (${formatBytes(p.files.bytes)})`,
    formatRequests(p.requests),
    `disk: ${formatBytes(p.disk.needed)} needed, ${formatBytes(p.disk.free)} free${p.disk.enough ? "" : " - NOT ENOUGH ROOM"}`,
    "Nothing was changed (dry run).",
  ].join("\n") + "\n";
}

/** A push's dry run for people. @example formatPushPlan(plan) // "Would push Cohort.RNA: v1 (new) ..." */
export function formatPushPlan(p: PushPlan): string {
  const lines = [`Would push ${p.slug} to ${p.location}: ${plural(p.objects.upload, "object")} to upload (${formatBytes(p.objects.bytes)}), ${p.objects.present} already there`];
  for (const t of p.tags) {
    lines.push(`    ${t.tag.padEnd(16)} ${t.status.padEnd(9)} ${plural(t.files, "file")}, ${t.objects.upload} to upload (${formatBytes(t.objects.bytes)})${t.base ? `, base ${t.base}` : ""}`);
  }
  lines.push(formatRequests(p.requests), "Nothing was changed (dry run).");
  return lines.join("\n") + "\n";
}

/** The line a pull prints: what moved, and whether the copy is partial. @example pulledLine("Cohort", "RNA", counts) // "Pulled Cohort.RNA:v1: ..." */
export function pulledLine(dtype: string, name: string, r: { tag: string; downloaded: number; bytes: number; skipped: number; files: number; partial: boolean; accessions?: string[] }): string {
  const part = r.partial ? `; partial copy of ${plural(r.files, "file")}${r.accessions ? ` (accessions: ${r.accessions.join(", ") || "none"})` : ""}` : "";
  return `Pulled ${formatSlug(dtype, name, r.tag)}: ${plural(r.downloaded, "object")} downloaded (${formatBytes(r.bytes)}), ${r.skipped} already local; thawed${part}`;
}
