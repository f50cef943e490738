/**
 * An Accession: one item of a collection (usually a sample) with a name,
 * files (paths or URLs, deduplicated, in the order added), free metadata
 * (key -> string, number or boolean) and optional aliases. A file may say
 * where it sits in a sequencing run: its lane and which read of a pair it
 * holds (`LaneInfo`), so that a samplesheet can be written back one row per
 * lane. It is a plain in-memory value: editing it changes nothing on disk
 * until it is added to a Cohort.
 *
 * @example
 *   const a = new Accession("S1", { files: ["ssh://host/R1.fastq.gz"], metadata: { tissue: "leaf", age: 3 } });
 *   a.addFile("ssh://host/R2.fastq.gz").set("seqtype", "novaseq");
 *   cohort.add(a);
 */
import { InvalidArgumentError, InvalidNameError } from "../errors.js";

export type MetadataValue = string | number | boolean;

/** Where a read file sits in a sequencing run: its lane (e.g. "L007" or "1") and read 1 or 2 of a pair. */
export interface LaneInfo {
  lane?: string;
  read?: 1 | 2;
}

/** One file of an accession with its lane record, as `Accession.fileEntries` lists them. */
export interface FileEntryInfo extends LaneInfo {
  file: string;
}

export interface AccessionInit {
  files?: Iterable<string>;
  /** lane records of some of `files`, by file */
  lanes?: Record<string, LaneInfo>;
  metadata?: Record<string, MetadataValue>;
  aliases?: Iterable<string>;
}

/** The JSON form of an Accession (`toJSON()` / `Accession.fromJSON`). */
export interface AccessionJSON {
  name: string;
  files: string[];
  metadata: Record<string, MetadataValue>;
  aliases: string[];
  /** lane records by file; present only when some file has one */
  lanes?: Record<string, LaneInfo>;
}

export const MAX_ACCESSION_LABEL_LENGTH = 255;
export const ACCESSION_LABEL_RULE = "1-255 characters, no control characters, no leading or trailing whitespace";
export const FILE_RULE = "a non-empty path or URL without control characters";
export const METADATA_VALUE_RULE = "a string, a finite number or a boolean";
export const LANE_RULE = "lane: 1-255 characters, no control characters, no leading or trailing whitespace; read: 1 or 2";

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/;

function isLabel(value: unknown): value is string {
  return (
    typeof value === "string" &&
    value.length >= 1 &&
    [...value].length <= MAX_ACCESSION_LABEL_LENGTH &&
    !CONTROL_RE.test(value) &&
    value.trim() === value
  );
}

/**
 * Throws INVALID_NAME unless `value` is a valid accession name, alias or
 * metadata key (`kind` says which, for the message).
 *
 * @example checkAccessionLabel("alias", "S1-b")
 */
export function checkAccessionLabel(kind: "accession name" | "alias" | "metadata key", value: string): string {
  if (!isLabel(value)) {
    const article = kind === "metadata key" ? "a" : "an";
    throw new InvalidNameError(`invalid ${kind} ${JSON.stringify(String(value))}: ${article} ${kind} is ${ACCESSION_LABEL_RULE}`, {
      kind,
      value,
      rule: ACCESSION_LABEL_RULE,
    });
  }
  return value;
}

function checkFile(name: string, file: string): string {
  if (typeof file !== "string" || file.length === 0 || CONTROL_RE.test(file)) {
    throw new InvalidArgumentError(`accession ${JSON.stringify(name)}: invalid file ${JSON.stringify(String(file))}: a file is ${FILE_RULE}`, {
      accession: name,
      value: file,
      rule: FILE_RULE,
    });
  }
  return file;
}

function checkLaneInfo(name: string, file: string, info: LaneInfo): LaneInfo {
  const ok =
    info !== null &&
    typeof info === "object" &&
    (info.lane === undefined || isLabel(info.lane)) &&
    (info.read === undefined || info.read === 1 || info.read === 2);
  if (!ok) {
    throw new InvalidArgumentError(`accession ${JSON.stringify(name)}: file ${JSON.stringify(file)} has an invalid lane record ${JSON.stringify(info)}: ${LANE_RULE}`, {
      accession: name,
      value: file,
      rule: LANE_RULE,
    });
  }
  const out: LaneInfo = {};
  if (info.lane !== undefined) out.lane = info.lane;
  if (info.read !== undefined) out.read = info.read;
  return out;
}

function checkValue(name: string, key: string, value: unknown): MetadataValue {
  const ok = typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value));
  if (!ok) {
    throw new InvalidArgumentError(
      `accession ${JSON.stringify(name)}: metadata ${JSON.stringify(key)} is ${describe(value)}; a metadata value is ${METADATA_VALUE_RULE}`,
      { accession: name, key, rule: METADATA_VALUE_RULE },
    );
  }
  // SQLite has no negative zero: keep the stored and the in-memory value the same.
  return Object.is(value, -0) ? 0 : (value as MetadataValue);
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "number") return String(value);
  if (value === undefined) return "undefined";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

export class Accession {
  readonly name: string;
  private readonly fileList: string[] = [];
  private readonly laneInfo = new Map<string, LaneInfo>();
  private readonly meta = new Map<string, MetadataValue>();
  private readonly aliasList: string[] = [];

  /** Throws INVALID_NAME / INVALID_ARGUMENT for a bad name, file, alias or metadata entry. */
  constructor(name: string, init: AccessionInit = {}) {
    this.name = checkAccessionLabel("accession name", name);
    this.addFiles(init.files ?? []);
    for (const [f, info] of Object.entries(init.lanes ?? {})) {
      if (!this.fileList.includes(f)) {
        throw new InvalidArgumentError(`accession ${JSON.stringify(name)}: a lane record names ${JSON.stringify(f)}, which is not one of its files`, { accession: name, value: f });
      }
      this.addFile(f, info);
    }
    for (const [k, v] of Object.entries(init.metadata ?? {})) this.set(k, v);
    for (const alias of init.aliases ?? []) this.addAlias(alias);
  }

  /** The files, in the order first added (a copy). */
  get files(): string[] {
    return [...this.fileList];
  }

  /** The metadata as a plain object (a copy). */
  get metadata(): Record<string, MetadataValue> {
    return Object.fromEntries(this.meta);
  }

  /** Other names this accession is known by (a copy). */
  get aliases(): string[] {
    return [...this.aliasList];
  }

  /**
   * Adds a file path or URL unless already present; a lane record given
   * replaces the file's record.
   *
   * @example a.addFile("/data/R1.fastq"); a.addFile("/data/L7_R2.fastq", { lane: "L007", read: 2 })
   */
  addFile(file: string, info?: LaneInfo): this {
    checkFile(this.name, file);
    const checked = info === undefined ? undefined : checkLaneInfo(this.name, file, info);
    if (!this.fileList.includes(file)) this.fileList.push(file);
    if (checked && (checked.lane !== undefined || checked.read !== undefined)) this.laneInfo.set(file, checked);
    return this;
  }

  /** The lane record of a file, or undefined. @example a.laneOf("/data/L7_R2.fastq") // { lane: "L007", read: 2 } */
  laneOf(file: string): LaneInfo | undefined {
    const info = this.laneInfo.get(file);
    return info && { ...info };
  }

  /** Every file with its lane record, in order (copies). @example a.fileEntries[0] // { file: "/data/R1.fastq", lane: "1", read: 1 } */
  get fileEntries(): FileEntryInfo[] {
    return this.fileList.map((file) => ({ file, ...this.laneInfo.get(file) }));
  }

  /** Adds several files, skipping ones already present. @example a.addFiles(["R1.fq", "R2.fq"]) */
  addFiles(files: Iterable<string>): this {
    for (const f of files) this.addFile(f);
    return this;
  }

  /** Adds an alias unless already present (the name itself is refused). @example a.addAlias("S1-old") */
  addAlias(alias: string): this {
    checkAccessionLabel("alias", alias);
    if (alias === this.name) {
      throw new InvalidArgumentError(`accession ${JSON.stringify(this.name)}: an alias must differ from the name`, { accession: this.name, alias });
    }
    if (!this.aliasList.includes(alias)) this.aliasList.push(alias);
    return this;
  }

  /** The metadata value under `key`, or undefined. @example a.get("tissue") // "leaf" */
  get(key: string): MetadataValue | undefined {
    return this.meta.get(key);
  }

  /** Sets a metadata value (string, finite number or boolean). @example a.set("age", 3) */
  set(key: string, value: MetadataValue): this {
    checkAccessionLabel("metadata key", key);
    this.meta.set(key, checkValue(this.name, key, value));
    return this;
  }

  /** Removes a metadata key; false if it was absent. @example a.unset("age") */
  unset(key: string): boolean {
    return this.meta.delete(key);
  }

  /** An independent copy. @example const b = a.clone(); b.addFile("x"); // a unchanged */
  clone(): Accession {
    return Accession.fromJSON(this.toJSON());
  }

  /** A plain JSON value. @example JSON.stringify(a) // {"name":"S1","files":[...],"metadata":{...},"aliases":[]} */
  toJSON(): AccessionJSON {
    const json: AccessionJSON = { name: this.name, files: this.files, metadata: this.metadata, aliases: this.aliases };
    if (this.laneInfo.size > 0) json.lanes = Object.fromEntries([...this.laneInfo].map(([f, info]) => [f, { ...info }]));
    return json;
  }

  /** Rebuilds an Accession from `toJSON()` output, validating it. @example Accession.fromJSON(JSON.parse(text)) */
  static fromJSON(json: AccessionJSON): Accession {
    if (json === null || typeof json !== "object") throw new InvalidArgumentError("an accession must be an object", {});
    return new Accession(json.name, { files: json.files ?? [], lanes: json.lanes ?? {}, metadata: json.metadata ?? {}, aliases: json.aliases ?? [] });
  }
}
