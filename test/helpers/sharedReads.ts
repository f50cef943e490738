/** The shared FASTQ reads (`../shared/data/fastq/`) as the CLI tests use them: two samples, two lanes each, R1 and R2. */
import { fileURLToPath } from "node:url";

export const FASTQ = fileURLToPath(new URL("../../../shared/data/fastq/", import.meta.url));
/** [sample, lane prefix] in samplesheet order */
export const LANES = [
  ["Sample1", "Sample1_ATGTCA_L007"],
  ["Sample1", "Sample1_ATGTCA_L008"],
  ["Sample2", "Sample2_ATGTCA_L005"],
  ["Sample2", "Sample2_ATGTCA_L006"],
] as const;
/** the metadata column the tests give each sample */
export const TISSUE: Record<string, string> = { Sample1: "leaf", Sample2: "root" };
