/**
 * Accessions out as a samplesheet or accession file:
 *
 *     nf-core-rnaseq   sample,fastq_1,fastq_2,strandedness        strandedness defaults to "auto"
 *     sarek            patient,sex,status,sample,lane,fastq_1,fastq_2
 *                      patient defaults to the sample's name, sex to "NA", status to 0 (normal)
 *     csv, tsv         sample,lane,fastq_1,fastq_2, then every metadata key (sorted)
 *     yaml             the accession YAML format (with lanes and aliases): it re-imports to the same accessions
 *     json             {"accessions": [Accession JSON]} with lanes and aliases
 *
 * The samplesheet formats write one row per lane (see `laneRows`); an
 * accession with no files is a row without files in csv/tsv, and refused
 * by the nf-core formats, which need fastq_1 on every row.
 */
import { stringify } from "csv-stringify/sync";
import { InvalidArgumentError } from "../../errors.js";
import type { Accession, MetadataValue } from "../accession.js";
import { LANE_COLUMN, READ_COLUMNS, SAMPLE_COLUMN } from "./csvRead.js";
import { laneRows } from "./lanes.js";
import { accessionsToYaml } from "./yaml.js";

export const EXPORT_FORMATS = ["nf-core-rnaseq", "sarek", "csv", "tsv", "yaml", "json"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const RNASEQ_HEADER = ["sample", "fastq_1", "fastq_2", "strandedness"] as const;
export const SAREK_HEADER = ["patient", "sex", "status", "sample", "lane", "fastq_1", "fastq_2"] as const;
/** What a sheet column is when the accession's metadata lacks it. */
export const SHEET_DEFAULTS = { strandedness: "auto", sex: "NA", status: "0" } as const;

/** Throws INVALID_ARGUMENT unless `format` is an export format. @example checkExportFormat("sarek") */
export function checkExportFormat(format: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidArgumentError(`unknown export format ${JSON.stringify(format)}: a format is one of ${EXPORT_FORMATS.join(", ")}`, {
      value: format,
      rule: EXPORT_FORMATS.join("|"),
    });
  }
  return format as ExportFormat;
}

/**
 * The text of `accessions` in `format` (paths as the accessions give them).
 *
 * @example formatAccessions([...cohort], "nf-core-rnaseq") // "sample,fastq_1,fastq_2,strandedness\nSample1,/..._R1_001.fastq,/..._R2_001.fastq,auto\n"
 */
export function formatAccessions(accessions: readonly Accession[], format: ExportFormat): string {
  switch (format) {
    case "yaml":
      return accessionsToYaml(accessions);
    case "json":
      return JSON.stringify({ accessions: accessions.map((a) => a.toJSON()) }, null, 2) + "\n";
    case "nf-core-rnaseq":
      return table(RNASEQ_HEADER, nfCoreRows(accessions, format, (a, r) => [a.name, r.fastq_1, r.fastq_2, meta(a, "strandedness")]), ",");
    case "sarek":
      return table(
        SAREK_HEADER,
        nfCoreRows(accessions, format, (a, r) => [text(a.get("patient")) || a.name, meta(a, "sex"), meta(a, "status"), a.name, r.lane, r.fastq_1, r.fastq_2]),
        ",",
      );
    case "csv":
    case "tsv":
      return genericSheet(accessions, format === "csv" ? "," : "\t");
  }
}

function text(v: MetadataValue | undefined): string {
  return v === undefined ? "" : String(v);
}

function meta(a: Accession, key: keyof typeof SHEET_DEFAULTS): string {
  return text(a.get(key)) || SHEET_DEFAULTS[key];
}

function nfCoreRows(accessions: readonly Accession[], format: ExportFormat, row: (a: Accession, r: ReturnType<typeof laneRows>[number]) => string[]): string[][] {
  return accessions.flatMap((a) => {
    const rows = laneRows(a);
    if (rows.length === 0) {
      throw new InvalidArgumentError(`accession ${JSON.stringify(a.name)} has no read files; a ${format} samplesheet needs fastq_1 on every row`, {
        accession: a.name,
        format,
      });
    }
    return rows.map((r) => row(a, r));
  });
}

function genericSheet(accessions: readonly Accession[], delimiter: "," | "\t"): string {
  const fixed = [SAMPLE_COLUMN, LANE_COLUMN, ...READ_COLUMNS] as string[];
  const keys = [...new Set(accessions.flatMap((a) => Object.keys(a.metadata)))].sort();
  const clash = keys.find((k) => fixed.includes(k));
  if (clash !== undefined) {
    throw new InvalidArgumentError(`metadata key ${JSON.stringify(clash)} is also a samplesheet column (${fixed.join(", ")}); export as yaml or json instead`, {
      key: clash,
    });
  }
  const rows = accessions.flatMap((a) => {
    const values = keys.map((k) => text(a.get(k)));
    const lanes = laneRows(a);
    return lanes.length === 0 ? [[a.name, "", "", "", ...values]] : lanes.map((r) => [a.name, r.lane, r.fastq_1, r.fastq_2, ...values]);
  });
  return table([...fixed, ...keys], rows, delimiter);
}

function table(header: readonly string[], rows: string[][], delimiter: "," | "\t"): string {
  return stringify([[...header], ...rows], { delimiter, record_delimiter: "\n" });
}
