/**
 * An accession's files as samplesheet rows: one row per lane, in the order
 * the lanes first appear, read 1 in `fastq_1` and read 2 in `fastq_2`.
 * Files without a lane record (from a YAML file, or added by hand) are
 * paired by their Illumina-style names (`..._R1_001.fastq.gz` with
 * `..._R2_001.fastq.gz`, `x_1.fq.gz` with `x_2.fq.gz`); a file that pairs
 * with nothing is a single-end row.
 */
import path from "node:path";
import { InvalidArgumentError } from "../../errors.js";
import type { Accession } from "../accession.js";

export interface LaneRow {
  /** the recorded lane, or the row's number among the accession's rows (1, 2, ...) */
  lane: string;
  fastq_1: string;
  fastq_2: string;
}

// <prefix><sep>[R]<1|2>[<sep><digits>].fastq|.fq[.gz|.bz2|.zst]
const MATE_RE = /^(.*[._-])(R?)([12])((?:[._-]\d+)?\.f(?:ast)?q(?:\.gz|\.bz2|\.zst)?)$/i;

/** The read a file name says it holds, and a key shared with its mate. @example mateOf("/d/S_R2_001.fq") // { key: "/d/S_R?_001.fq", read: 2 } */
export function mateOf(file: string): { key: string; read: 1 | 2 } | undefined {
  const base = path.posix.basename(file);
  const m = MATE_RE.exec(base);
  if (!m) return undefined;
  return { key: `${file.slice(0, file.length - base.length)}${m[1]}${m[2]}?${m[4]}`, read: Number(m[3]) as 1 | 2 };
}

/**
 * The rows of one accession (none when it has no files).
 * INVALID_ARGUMENT when a lane holds two files for the same read.
 *
 * @example laneRows(a) // [{ lane: "L007", fastq_1: "/d/S1_L007_R1.fq", fastq_2: "/d/S1_L007_R2.fq" }, ...]
 */
export function laneRows(a: Accession): LaneRow[] {
  const groups = new Map<string, { lane?: string; slots: [string, string] }>();
  for (const { file, lane, read } of a.fileEntries) {
    const mate = lane === undefined ? mateOf(file) : undefined;
    const key = lane !== undefined ? `lane:${lane}` : `file:${mate?.key ?? file}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { lane, slots: ["", ""] }));
    const wanted = read ?? mate?.read;
    const slot = wanted !== undefined ? wanted - 1 : g.slots.indexOf("");
    if (slot === -1 || g.slots[slot] !== "") {
      throw new InvalidArgumentError(
        `accession ${JSON.stringify(a.name)}: ${lane !== undefined ? `lane ${JSON.stringify(lane)}` : "a pair of files"} has two files for read ${slot === -1 ? "1 and 2 already" : slot + 1} (${JSON.stringify(file)}); a samplesheet row holds one file per read`,
        { accession: a.name, lane, value: file },
      );
    }
    g.slots[slot] = file;
  }
  return [...groups.values()].map((g, i) => {
    // a lone read-2 file is still the row's first file
    const [one, two] = g.slots[0] === "" ? [g.slots[1], ""] : g.slots;
    return { lane: g.lane ?? String(i + 1), fastq_1: one, fastq_2: two };
  });
}
