/**
 * The accession YAML file (the original minus80 format), read and written:
 *
 *     10F:
 *         files:
 *             - ssh://user@hostname.edu/path/to/file/10_F_S66_R1_001.fastq.gz
 *             - {path: /data/10F_L007_R2.fastq, lane: L007, read: 2}
 *         metadata:
 *             seqtype: novaseq
 *         aliases: [ten-female]
 *
 * `files`, `metadata` and `aliases` are each optional. A file is a path or
 * URL, or a mapping `{path, lane, read}` that also records its lane and
 * read (what `cohort export --format yaml` writes for samplesheet reads).
 */
import fs from "node:fs";
import { isMap, isScalar, parseDocument, stringify, type Node as YamlNode } from "yaml";
import { InvalidArgumentError, isMinus80Error } from "../../errors.js";
import { Accession, type LaneInfo, type MetadataValue } from "../accession.js";
import { resolveEntry } from "./paths.js";

/** The keys an entry of an accession YAML file may have. */
export const YAML_ENTRY_KEYS = ["files", "metadata", "aliases"] as const;
export const YAML_FILE_KEYS = ["path", "lane", "read"] as const;
export const YAML_FORMAT_HINT =
  "a mapping of accession name -> {files: [paths or URLs, or {path, lane, read}], metadata: {key: value}, aliases: [names]}";

/**
 * Reads and checks an accession YAML file. Every problem is an
 * INVALID_ARGUMENT naming the file and the entry. With `baseDir`, relative
 * local paths are resolved against it; otherwise they are kept as written.
 *
 * @example readAccessionsYaml("accessions.yaml").map((a) => a.name) // ["10F", "10M"]
 */
export function readAccessionsYaml(file: string, opts: { baseDir?: string } = {}): Accession[] {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(err)})`;
    throw new InvalidArgumentError(`accession file ${JSON.stringify(file)} ${why}`, { file });
  }
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0].line;
    throw new InvalidArgumentError(`accession file ${file}${line ? ` line ${line}` : ""} is not valid YAML: ${e.message.split("\n")[0]}`, { file, line });
  }
  const root = doc.contents;
  if (!isMap(root) || root.items.length === 0) {
    throw new InvalidArgumentError(`accession file ${file} holds no accessions: expected ${YAML_FORMAT_HINT}`, { file });
  }
  return root.items.map((pair, index) => {
    // the key as written: `10:` names accession "10", `1e3:` names "1e3"
    const key = pair.key as YamlNode | null;
    const name = isScalar(key) ? (typeof key.value === "string" ? key.value : (key.source ?? String(key.value))) : undefined;
    if (name === undefined || name === "") {
      throw new InvalidArgumentError(`accession file ${file}: entry ${index + 1} has no accession name; expected ${YAML_FORMAT_HINT}`, { file, index });
    }
    const value: unknown = pair.value === null || pair.value === undefined ? null : (pair.value as YamlNode).toJS(doc);
    return accessionFromEntry(file, name, value, opts.baseDir);
  });
}

function accessionFromEntry(file: string, name: string, entry: unknown, baseDir: string | undefined): Accession {
  const bad = (field: string, why: string) =>
    new InvalidArgumentError(`accession file ${file}: accession ${JSON.stringify(name)}: ${field} ${why}`, { file, accession: name, field });
  if (entry === null) return new Accession(name);
  if (typeof entry !== "object" || Array.isArray(entry)) throw bad("entry", `must be a mapping with keys ${YAML_ENTRY_KEYS.join(", ")}`);
  const fields = entry as Record<string, unknown>;
  for (const k of Object.keys(fields)) {
    if (!(YAML_ENTRY_KEYS as readonly string[]).includes(k)) throw bad(JSON.stringify(k), `is not a known key; expected ${YAML_ENTRY_KEYS.join(", ")}`);
  }
  const list = (field: string): unknown[] => {
    const v = fields[field] ?? [];
    if (!Array.isArray(v)) throw bad(field, field === "files" ? "must be a list of paths, URLs or {path, lane, read} mappings" : "must be a list of strings");
    return v;
  };
  const aliases = list("aliases");
  if (aliases.some((x) => typeof x !== "string")) throw bad("aliases", "must be a list of strings");
  const files = list("files").map((f) => fileFromItem(f, (why) => bad("files", why)));
  const metadata = fields.metadata ?? {};
  if (typeof metadata !== "object" || Array.isArray(metadata)) throw bad("metadata", "must be a mapping of key -> value");
  try {
    const a = new Accession(name, { metadata: metadata as Record<string, MetadataValue>, aliases: aliases as string[] });
    for (const f of files) a.addFile(resolveEntry(f.path, baseDir), f.info);
    return a;
  } catch (err) {
    if (!isMinus80Error(err)) throw err;
    throw new InvalidArgumentError(`accession file ${file}: ${err.message}`, { ...err.data, file, accession: name });
  }
}

function fileFromItem(item: unknown, bad: (why: string) => Error): { path: string; info?: LaneInfo } {
  if (typeof item === "string") return { path: item };
  if (item === null || typeof item !== "object" || Array.isArray(item)) throw bad("must be a list of paths, URLs or {path, lane, read} mappings");
  const m = item as Record<string, unknown>;
  const unknown = Object.keys(m).find((k) => !(YAML_FILE_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) throw bad(`entry has unknown key ${JSON.stringify(unknown)}; a file mapping has keys ${YAML_FILE_KEYS.join(", ")}`);
  if (typeof m.path !== "string") throw bad("entry needs a path (a string)");
  const lane = m.lane === undefined || m.lane === null ? undefined : String(m.lane);
  if (m.read !== undefined && m.read !== null && m.read !== 1 && m.read !== 2) throw bad(`entry ${JSON.stringify(m.path)}: read must be 1 or 2`);
  const read = m.read === 1 || m.read === 2 ? m.read : undefined;
  return { path: m.path, info: { lane, read } };
}

/**
 * The YAML text of accessions, in the format `readAccessionsYaml` reads
 * (files with a lane record are written as `{path, lane, read}`).
 *
 * @example accessionsToYaml([new Accession("S1", { files: ["/d/S1.fq"] })]) // "S1:\n  files:\n    - /d/S1.fq\n  ..."
 */
export function accessionsToYaml(accessions: Iterable<Accession>): string {
  const doc = new Map<string, unknown>(); // a Map, so that a name like "__proto__" is just a key
  for (const a of accessions) {
    doc.set(a.name, {
      files: a.fileEntries.map(({ file, lane, read }) =>
        lane === undefined && read === undefined ? file : { path: file, ...(lane !== undefined && { lane }), ...(read !== undefined && { read }) },
      ),
      metadata: a.metadata,
      aliases: a.aliases,
    });
  }
  return stringify(doc, { lineWidth: 0 });
}
