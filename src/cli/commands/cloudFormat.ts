/**
 * How `cloud ls` and `cloud verify` print for people: the original
 * minus80's listing format, and verify's report.
 */
import type { CloudRawListing, CloudTagListing } from "../../cloud/listing.js";
import type { VerifyReport } from "../../cloud/verify.js";
import { formatBytes } from "../output.js";

/** The original minus80's human listing: `-----<dtype>------` then one name a line. */
const dtypeHeader = (dtype: string) => `-----${dtype}------`;
const RAW_HEADER = "######   Raw Data:   ######";
const EMPTY = "Nothing here yet!";

/** `{ fastq: ["R1.fastq"] }` from a detailed raw listing. */
export function namesOnly(files: CloudRawListing): Record<string, string[]> {
  return Object.fromEntries(Object.entries(files).map(([d, fs]) => [d, fs.map((f) => f.name)]));
}

/**
 * The original minus80's human format for datasets: `Nothing here yet!`, or per dtype a
 * line `-----<dtype>------` and its names (with `withTags`, a line per tag).
 *
 * @example formatDatasetListing({ Cohort: { TestCohort: [] } }, false) // "-----Cohort------\nTestCohort\n"
 */
export function formatDatasetListing(listing: CloudTagListing, withTags: boolean): string {
  const dtypes = Object.keys(listing);
  if (dtypes.length === 0) return `${EMPTY}\n`;
  const lines: string[] = [];
  for (const dtype of dtypes) {
    lines.push(dtypeHeader(dtype));
    for (const [name, tags] of Object.entries(listing[dtype]!)) {
      lines.push(name);
      if (!withTags) continue;
      for (const t of tags) {
        lines.push(`    ${t.tag.padEnd(16)} ${formatBytes(t.size).padStart(10)} ${String(t.files).padStart(6)} files  ${t.created}  ${t.checksum}`);
      }
    }
  }
  return lines.join("\n") + "\n";
}

/** The original minus80's raw listing: `######   Raw Data:   ######`, then per dtype its file names. */
export function formatRawListing(listing: CloudRawListing, details: boolean): string {
  const dtypes = Object.keys(listing);
  if (dtypes.length === 0) return `${EMPTY}\n`;
  const lines = [RAW_HEADER];
  for (const dtype of dtypes) {
    lines.push(dtypeHeader(dtype));
    for (const f of listing[dtype]!) {
      lines.push(details ? `${f.name}  ${formatBytes(f.size)}  ${f.lastModified}  ${f.sha256 ? f.sha256.slice(0, 12) : "(no sha256)"}` : f.name);
    }
  }
  return lines.join("\n") + "\n";
}

/**
 * `cloud verify`'s human report: what was checked, then each problem (its
 * kind, key and the tags using it, and what is wrong), or that all is well.
 *
 * @example formatVerifyReport(report) // "Checked ... \nNo problems found.\n"
 */
export function formatVerifyReport(r: VerifyReport): string {
  const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
  const lines = [
    `Checked ${r.location}: ${plural(r.manifests, "tag")} of ${plural(r.datasets, "dataset")}, ${plural(r.objects, "object")}` +
      `${r.packs > 0 ? `, ${plural(r.packs, "pack")} holding ${plural(r.packedFiles, "file")}` : ""}` +
      `${r.rawFiles > 0 ? ` and ${plural(r.rawFiles, "raw file")}` : ""} (${formatBytes(r.bytes)} re-hashed)`,
  ];
  for (const p of r.problems) {
    lines.push(`${p.kind.toUpperCase().replace("_", " ").padEnd(16)} ${p.key}${p.tags.length > 0 ? `  used by ${p.tags.join(", ")}` : ""}`);
    lines.push(`    ${p.message}`);
  }
  if (r.unverifiable.length > 0) {
    lines.push(`note: ${plural(r.unverifiable.length, "raw file")} ${r.unverifiable.length === 1 ? "carries" : "carry"} no sha256 (uploaded by another tool) and could only be read: ${r.unverifiable.join(", ")}`);
  }
  lines.push(r.ok ? "No problems found." : `${plural(r.problems.length, "problem")} found.`);
  return lines.join("\n") + "\n";
}
