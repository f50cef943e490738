/**
 * Packs (bucket layout version 2): the small files of a push concatenated
 * into one object, so that many small files cost a few requests.
 *
 *     packs/sha256/<2 hex>/<sha256 of the pack>       the files' bytes, back to back, nothing else
 *     packs/index/<2 hex>/<sha256 of the pack>.json   {"format": "minus80-pack-index", "version": 1,
 *                                                      "pack": sha256, "size": bytes,
 *                                                      "files": [[sha256, offset, size], ...]}
 *
 * A manifest records, for each packed file, `pack` (the pack's sha256) and
 * `offset` beside its `sha256` and `size`: any reader gets the file with
 * one ranged GET (`Range: bytes=offset-(offset+size-1)`) of the pack and
 * checks it against its sha256. The index lets a push find files already
 * in some pack without reading manifests (dedup across tags and datasets);
 * it is a hint, never trusted for reading: a manifest names what it needs.
 *
 * @example
 *   const idx = parsePackIndex(text, packIndexKey(sha));
 *   idx.files[0]   // { sha256, offset: 0, size: 1234 }
 */
import { IntegrityError } from "../../errors.js";
import type { FileEntry, TagManifest } from "../../freezer/manifest.js";

/** Files smaller than this are packed; larger ones stay single objects. */
export const PACK_FILE_THRESHOLD = 1024 * 1024;
/** A pack is closed once it holds this many bytes (or more: the last file may pass it). */
export const PACK_TARGET_BYTES = 32 * 1024 * 1024;
/**
 * A push packs only when it sends at least this many small files: below,
 * a pack and its index save few requests, and single objects keep a
 * small change as cheap to find again (one HEAD each).
 */
export const PACK_MIN_FILES = 16;
/** A pack index larger than this is damaged (a real one is ~90 bytes per file). */
export const MAX_PACK_INDEX_BYTES = 64 * 1024 * 1024;

export const PACK_INDEX_FORMAT = "minus80-pack-index";
export const PACK_INDEX_VERSION = 1;

const SHA256_RE = /^[0-9a-f]{64}$/;

/** One file inside a pack. */
export interface PackMember {
  sha256: string;
  offset: number;
  size: number;
}

/** What a pack index says: the pack's sha256, size and files. */
export interface PackIndex {
  pack: string;
  size: number;
  files: PackMember[];
}

/** Where a packed file is. */
export interface PackRef {
  pack: string;
  offset: number;
}

/** True when the entry's bytes are in a pack. @example isPacked({ sha256, size, pack, offset: 0 }) // true */
export function isPacked(e: FileEntry): e is FileEntry & { pack: string; offset: number } {
  return e.pack !== undefined && e.offset !== undefined;
}

/** The pack sha256s a manifest references. @example packsOf(manifest).size */
export function packsOf(m: TagManifest): Set<string> {
  const out = new Set<string>();
  for (const e of Object.values(m.files)) if (e.pack !== undefined) out.add(e.pack);
  return out;
}

/** A pack index as stored. @example serializePackIndex({ pack, size, files }) */
export function serializePackIndex(idx: PackIndex): string {
  const files = idx.files.map((f) => [f.sha256, f.offset, f.size]);
  return JSON.stringify({ format: PACK_INDEX_FORMAT, version: PACK_INDEX_VERSION, pack: idx.pack, size: idx.size, files }) + "\n";
}

/**
 * Parses a pack index read from `key`; INTEGRITY when it is not one, or
 * its files do not lie inside the pack in order without overlap.
 *
 * @example parsePackIndex(text, "packs/index/ab/ab12....json", "ab12...")
 */
export function parsePackIndex(text: string, key: string, pack: string): PackIndex {
  const bad = (why: string) => new IntegrityError(`pack index ${key} is invalid: ${why}`, { key });
  let j: { format?: unknown; version?: unknown; pack?: unknown; size?: unknown; files?: unknown };
  try {
    j = JSON.parse(text) as typeof j;
  } catch {
    throw bad("not JSON");
  }
  if (j.format !== PACK_INDEX_FORMAT || j.version !== PACK_INDEX_VERSION) throw bad(`not a ${PACK_INDEX_FORMAT} version ${PACK_INDEX_VERSION}`);
  if (j.pack !== pack) throw bad(`it describes pack ${String(j.pack)}`);
  if (typeof j.size !== "number" || !Number.isSafeInteger(j.size) || j.size < 0) throw bad("invalid size");
  if (!Array.isArray(j.files)) throw bad("no files");
  const files: PackMember[] = [];
  let end = 0;
  for (const f of j.files as unknown[]) {
    if (!Array.isArray(f) || f.length !== 3) throw bad("a file entry is not [sha256, offset, size]");
    const [sha256, offset, size] = f as [unknown, unknown, unknown];
    if (typeof sha256 !== "string" || !SHA256_RE.test(sha256)) throw bad("a file has no valid sha256");
    if (typeof offset !== "number" || typeof size !== "number" || !Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < end || size < 0) {
      throw bad(`file ${sha256} has an invalid range`);
    }
    end = offset + size;
    if (end > j.size) throw bad(`file ${sha256} ends past the pack`);
    files.push({ sha256, offset, size });
  }
  return { pack, size: j.size, files };
}
