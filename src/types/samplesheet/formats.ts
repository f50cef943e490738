/**
 * Which reader an accession file needs: by `--format`, else by extension
 * (.yaml/.yml, .csv, .tsv/.tab, .json). `nf-core-rnaseq` and `sarek` name
 * CSV sheets with those pipelines' columns.
 */
import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError, isMinus80Error } from "../../errors.js";
import { Accession, type AccessionJSON } from "../accession.js";
import { readSamplesheet } from "./csvRead.js";
import { readAccessionsYaml } from "./yaml.js";

export const IMPORT_FORMATS = ["yaml", "csv", "tsv", "json", "nf-core-rnaseq", "sarek"] as const;
export type ImportFormat = (typeof IMPORT_FORMATS)[number];

const BY_EXTENSION: Record<string, ImportFormat> = { ".yaml": "yaml", ".yml": "yaml", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json" };

/**
 * The format of `file`: `given` when set (checked), else from its extension.
 *
 * @example importFormatOf("sheet.TSV") // "tsv"
 */
export function importFormatOf(file: string, given?: string): ImportFormat {
  if (given !== undefined) {
    if (!(IMPORT_FORMATS as readonly string[]).includes(given)) {
      throw new InvalidArgumentError(`unknown import format ${JSON.stringify(given)}: a format is one of ${IMPORT_FORMATS.join(", ")}`, {
        value: given,
        rule: IMPORT_FORMATS.join("|"),
      });
    }
    return given as ImportFormat;
  }
  const ext = path.extname(file).toLowerCase();
  const format = Object.hasOwn(BY_EXTENSION, ext) ? BY_EXTENSION[ext] : undefined;
  if (!format) {
    throw new InvalidArgumentError(
      `cannot tell the format of ${JSON.stringify(file)} from its extension: name it .yaml, .csv, .tsv or .json, or pass a format (${IMPORT_FORMATS.join(", ")})`,
      { file },
    );
  }
  return format;
}

/**
 * Reads the accessions of a YAML, CSV, TSV or JSON file. Relative local
 * paths in it are resolved against the file's own directory.
 *
 * @example readAccessionFile("samplesheet.csv").map((a) => a.name) // ["Sample1", "Sample2"]
 */
export function readAccessionFile(file: string, format?: string): Accession[] {
  const fmt = importFormatOf(file, format);
  const baseDir = path.dirname(path.resolve(file));
  switch (fmt) {
    case "yaml":
      return readAccessionsYaml(file, { baseDir });
    case "json":
      return readAccessionsJson(file);
    case "tsv":
      return readSamplesheet(file, "\t", baseDir);
    default:
      return readSamplesheet(file, ",", baseDir);
  }
}

/** `{"accessions": [...]}` (what `export --format json` and `show --json` write) or a bare list. */
function readAccessionsJson(file: string): Accession[] {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new InvalidArgumentError(`accession file ${JSON.stringify(file)} ${code === "ENOENT" ? "does not exist" : `is not readable JSON (${code ?? (err as Error).message})`}`, { file });
  }
  const list = Array.isArray(json) ? json : (json as { accessions?: unknown } | null)?.accessions;
  if (!Array.isArray(list) || list.length === 0) throw new InvalidArgumentError(`accession file ${file} holds no accessions: expected {"accessions": [{name, files, metadata, aliases}]}`, { file });
  return list.map((item, index) => {
    try {
      return Accession.fromJSON(item as AccessionJSON);
    } catch (err) {
      // a value of the wrong shape (files: 5) fails inside the constructor as a TypeError
      if (!isMinus80Error(err) && !(err instanceof TypeError)) throw err;
      const why = isMinus80Error(err) ? err.message : "not an accession: expected {name, files: [...], metadata: {...}, aliases: [...]}";
      throw new InvalidArgumentError(`accession file ${file}: entry ${index + 1}: ${why}`, { ...(isMinus80Error(err) ? err.data : {}), file, index });
    }
  });
}
