/**
 * The tag manifest: one frozen version of a dataset. The same JSON is kept
 * locally (inside the dataset's MANIFEST.json) and in the bucket
 * (`datasets/<dtype>/<name>/<tag>.json`), so it is validated the same way on
 * every read: paths must stay inside the dataset, hashes and sizes must be
 * well formed, and `total` must match the files.
 */
import { createHash } from "node:crypto";
import { IntegrityError } from "../errors.js";
import { checkDtype, checkName, checkTag } from "../names.js";
import { validateSummary, type ContentSummary } from "./summary.js";
import { prettyJsonBody, type StreamedBody } from "./jsonChunks.js";

export interface FileEntry {
  sha256: string;
  size: number;
  /**
   * In a bucket of layout version 2 only: the sha256 of the pack holding
   * the file's bytes at `offset` (`size` of them); absent when the file is
   * a single object. Local manifests never carry it.
   */
  pack?: string;
  /** the file's first byte in `pack` */
  offset?: number;
}

/** Manifest version 1: every file a single object; version 2: some files in packs. */
export const MANIFEST_VERSION_PACKED = 2;

export interface TagManifest {
  format: "minus80-tag";
  /** 1, or 2 when some file entries carry `pack` and `offset` */
  version: 1 | 2;
  dtype: string;
  name: string;
  tag: string;
  /** ISO 8601 */
  created: string;
  /** the tag the working copy came from when this one was frozen, or null */
  parent: string | null;
  /** relative POSIX path -> content */
  files: Record<string, FileEntry>;
  /** sha256 over the sorted paths and their hashes; see `computeTotal` */
  total: string;
  /** what the tag's type says about it (summary.ts); absent in older manifests and for types without one; not part of `total` */
  summary?: ContentSummary;
}

/** The mutable pointer: `put` without a tag stores the working state here. */
export const LATEST_TAG = "latest";

const SHA256_RE = /^[0-9a-f]{64}$/;

/**
 * A path -> entry map without a prototype, so a file named `__proto__` or a
 * directory named `constructor` is just a key.
 */
export function emptyFileMap(): Record<string, FileEntry> {
  return Object.create(null) as Record<string, FileEntry>;
}

/** Paths in byte order of their UTF-8 form (the same order in any language). */
export function sortPaths(paths: Iterable<string>): string[] {
  return [...paths].sort((a, b) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8")));
}

/** sha256 over "<path>\0<sha256>\n" for each file, paths sorted by their UTF-8 bytes. */
export function computeTotal(files: Record<string, FileEntry>): string {
  const hash = createHash("sha256");
  for (const p of sortPaths(Object.keys(files))) hash.update(`${p}\0${files[p]!.sha256}\n`);
  return hash.digest("hex");
}

export function totalSize(files: Record<string, FileEntry>): number {
  let n = 0;
  for (const f of Object.values(files)) n += f.size;
  return n;
}

/**
 * Checks one relative path from a manifest: POSIX, relative, no `..`, no
 * empty segment, no backslash, no NUL. Returns a reason or null when valid.
 */
export function badPathReason(p: string): string | null {
  if (typeof p !== "string" || p.length === 0) return "empty path";
  if (p.includes("\0")) return "NUL byte";
  if (!p.isWellFormed()) return "not valid Unicode";
  if (p.includes("\\")) return "backslash";
  if (p.startsWith("/")) return "absolute path";
  if (/^[A-Za-z]:/.test(p)) return "drive letter";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(p)) return "control character";
  const parts = p.split("/");
  for (const part of parts) {
    if (part === "") return "empty segment";
    if (part === "..") return "'..' segment";
    if (part === ".") return "'.' segment";
  }
  return null;
}

/**
 * Parses and validates a manifest from untrusted JSON text. Throws
 * INTEGRITY naming `source` (a key or file) on any problem.
 *
 * @example parseTagManifest(text, "datasets/Cohort/TestCohort/v1.json", { dtype: "Cohort", name: "TestCohort", tag: "v1" })
 */
export function parseTagManifest(text: string, source: string, expect?: { dtype: string; name: string; tag: string }): TagManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new IntegrityError(`manifest ${source} is not valid JSON`, { key: source });
  }
  const m = validateTagManifest(json, source, expect);
  // JSON.parse silently keeps the last of duplicate keys. Every file entry has one
  // "sha256" string field, so more of them in the text than entries means a path
  // was listed twice (escaped quotes inside a path cannot match the pattern).
  const entries = text.match(/"sha256"\s*:\s*"/g)?.length ?? 0;
  if (entries !== Object.keys(m.files).length) {
    throw new IntegrityError(`manifest ${source} is invalid: it lists a path more than once`, { key: source });
  }
  return m;
}

export function validateTagManifest(json: unknown, source: string, expect?: { dtype: string; name: string; tag: string }): TagManifest {
  const fail = (why: string, extra: Record<string, unknown> = {}) =>
    new IntegrityError(`manifest ${source} is invalid: ${why}`, { key: source, ...extra });
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw fail("not a JSON object");
  const m = json as Record<string, unknown>;
  for (const k of ["dtype", "name", "tag", "created", "total"]) {
    if (typeof m[k] !== "string") throw fail(`field ${k} is missing or not a string`);
  }
  if (m.format !== undefined && m.format !== "minus80-tag") throw fail(`field format is not "minus80-tag"`);
  if (m.version !== undefined && m.version !== 1 && m.version !== MANIFEST_VERSION_PACKED) {
    throw fail(`version ${JSON.stringify(m.version)} is not supported (this minus80 reads versions 1 and 2): upgrade minus80`);
  }
  if (Number.isNaN(Date.parse(m.created as string))) throw fail("field created is not an ISO 8601 time");
  if (!SHA256_RE.test(m.total as string)) throw fail("field total is not a sha256 hex digest");
  try {
    checkDtype(m.dtype as string);
    checkName(m.name as string);
    checkTag(m.tag as string);
  } catch (err) {
    throw fail((err as Error).message);
  }
  if (expect && (m.dtype !== expect.dtype || m.name !== expect.name || m.tag !== expect.tag)) {
    throw fail(`it describes ${m.dtype}.${m.name}:${m.tag}, expected ${expect.dtype}.${expect.name}:${expect.tag}`);
  }
  if (m.parent !== null && m.parent !== undefined && typeof m.parent !== "string") throw fail("field parent is not a string or null");
  if (typeof m.files !== "object" || m.files === null || Array.isArray(m.files)) throw fail("field files is not an object");
  // JSON.parse keeps the last of duplicate keys; the total, computed by the writer
  // over what it meant to list, then no longer matches, so a duplicate still fails.
  const files = emptyFileMap();
  // One string per pack, not one per file naming it (50,000 copies of a few pack names in a large tag).
  const packNames = new Map<string, string>();
  for (const [p, entry] of Object.entries(m.files as Record<string, unknown>)) {
    const reason = badPathReason(p);
    if (reason) throw fail(`path ${JSON.stringify(p)} is refused (${reason})`, { path: p });
    if (typeof entry !== "object" || entry === null) throw fail(`entry for ${JSON.stringify(p)} is not an object`, { path: p });
    const { sha256, size, pack, offset } = entry as Record<string, unknown>;
    if (typeof sha256 !== "string" || !SHA256_RE.test(sha256)) throw fail(`entry for ${JSON.stringify(p)} has no valid sha256`, { path: p });
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw fail(`entry for ${JSON.stringify(p)} has an invalid size`, { path: p });
    if (pack === undefined && offset === undefined) files[p] = { sha256, size };
    else {
      if (m.version !== MANIFEST_VERSION_PACKED) throw fail(`entry for ${JSON.stringify(p)} names a pack in a version ${String(m.version)} manifest`, { path: p });
      if (typeof pack !== "string" || !SHA256_RE.test(pack)) throw fail(`entry for ${JSON.stringify(p)} has no valid pack sha256`, { path: p });
      if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) throw fail(`entry for ${JSON.stringify(p)} has an invalid pack offset`, { path: p });
      files[p] = { sha256, size, pack: packNames.get(pack) ?? (packNames.set(pack, pack), pack), offset };
    }
  }
  // A file path that is also a directory prefix of another path cannot be materialized.
  for (const p of Object.keys(files)) {
    const parts = p.split("/");
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join("/");
      if (Object.hasOwn(files, dir)) throw fail(`path ${JSON.stringify(dir)} is both a file and a directory`, { path: dir });
    }
  }
  const total = computeTotal(files);
  if (m.total !== total) throw fail(`its total does not match its files (computed ${total})`);
  return {
    format: "minus80-tag",
    version: m.version === MANIFEST_VERSION_PACKED ? MANIFEST_VERSION_PACKED : 1,
    dtype: m.dtype as string,
    name: m.name as string,
    tag: m.tag as string,
    created: m.created as string,
    parent: (m.parent as string | null | undefined) ?? null,
    files,
    total,
    ...(m.summary !== undefined ? { summary: validateSummary(m.summary, source) } : {}),
  };
}

/** Builds a manifest for files already hashed. */
export function buildTagManifest(args: { dtype: string; name: string; tag: string; parent: string | null; files: Record<string, FileEntry>; created?: Date; summary?: ContentSummary }): TagManifest {
  const files = emptyFileMap();
  for (const p of sortPaths(Object.keys(args.files))) files[p] = args.files[p]!;
  return {
    format: "minus80-tag",
    version: 1,
    dtype: args.dtype,
    name: args.name,
    tag: args.tag,
    created: (args.created ?? new Date()).toISOString(),
    parent: args.parent,
    files,
    total: computeTotal(files),
    ...(args.summary ? { summary: args.summary } : {}),
  };
}

/**
 * The manifest without pack locations (version 1): what a local freezer
 * keeps, whatever bucket the tag came from. The total is unchanged (it
 * covers paths and sha256 only).
 *
 * @example withoutPacks(remote).files["a.txt"]   // { sha256, size }
 */
export function withoutPacks(m: TagManifest): TagManifest {
  if (m.version === 1) return m;
  const files = emptyFileMap();
  for (const [p, e] of Object.entries(m.files)) files[p] = { sha256: e.sha256, size: e.size };
  return { ...m, version: 1, files };
}

/** What a listing and the bucket index show of a tag (`minus80 ls`, `cloud ls`, index.json). */
export interface ManifestSummary {
  created: string;
  files: number;
  size: number;
  /** first 12 hex digits of the tag's total */
  checksum: string;
  parent: string | null;
}

/** The summary of a tag's manifest. @example summaryOf(m).files  // 50000 */
export function summaryOf(t: TagManifest): ManifestSummary {
  return { created: t.created, files: Object.keys(t.files).length, size: totalSize(t.files), checksum: t.total.slice(0, 12), parent: t.parent };
}

/** Serialized form, stable key order. */
export function serializeTagManifest(m: TagManifest): string {
  return JSON.stringify(m, null, 2) + "\n";
}

/**
 * The same bytes as `serializeTagManifest`, as the body of an upload: its
 * size and sha256, and its bytes streamed a piece at a time, so no whole
 * copy of a large tag's manifest (many MB) is ever held.
 *
 * @example const body = tagManifestBody(m);  await backend.put(key, body.open, { size: body.size })
 */
export function tagManifestBody(m: TagManifest): StreamedBody {
  return prettyJsonBody(m);
}
