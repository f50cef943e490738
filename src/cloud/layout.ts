/**
 * The bucket layout (README "Cloud layout"; docs/contract.md), in one
 * place. Keys are relative to `<bucket>/<prefix>`:
 *
 *     minus80.json                               layout marker {"format": "minus80", "version": 1 or 2}
 *     objects/sha256/<first 2 hex>/<sha256 hex>  file contents, shared by all datasets
 *     packs/sha256/<first 2 hex>/<sha256 hex>    packs (layout 2): small files concatenated (packs/format.ts)
 *     packs/index/<first 2 hex>/<sha256 hex>.json   a pack's index: which file at which offset
 *     datasets/<dtype>/<name>/<tag>.json         tag manifests
 *     raw/<dtype>/<file name>                    raw files, plain objects
 *     index.json                                 what `ls` shows, for readers without LIST (bucketIndex.ts)
 *     shares/<expiry>-<id>.json                  share links' grants (share.ts); gc removes expired ones
 *     index.html                                 the catalog page (catalog/), written by `cloud catalog`
 *
 * Every key read back from a bucket goes through a `parse*` function here;
 * a key that does not follow the layout yields `null` and is ignored, so
 * nothing in the bucket can steer a read or write elsewhere.
 *
 * @example
 *   objectKey("ab12...")                     // "objects/sha256/ab/ab12..."
 *   parseManifestKey("datasets/Cohort/T/v1.json") // { dtype: "Cohort", name: "T", tag: "v1" }
 */
import { checkDtype, checkName, checkRawName, checkTag } from "../names.js";

/** The layout marker (see marker.ts). */
export const MARKER_KEY = "minus80.json";
export const OBJECTS_PREFIX = "objects/sha256/";
export const DATASETS_PREFIX = "datasets/";
export const RAW_PREFIX = "raw/";
/** The listing index (bucketIndex.ts). */
export const INDEX_KEY = "index.json";
export const SHARES_PREFIX = "shares/";
/** The catalog page (catalog/catalog.ts). */
export const CATALOG_KEY = "index.html";
/** Pack objects (layout version 2), under their own sha256. */
export const PACKS_PREFIX = "packs/sha256/";
/** Pack indexes: one small JSON per pack, named by the pack's sha256. */
export const PACK_INDEX_PREFIX = "packs/index/";
/** The layout roots `nuke` clears (nothing else in a shared bucket is touched). */
export const LAYOUT_ROOTS = [OBJECTS_PREFIX, PACKS_PREFIX, PACK_INDEX_PREFIX, DATASETS_PREFIX, RAW_PREFIX, SHARES_PREFIX, INDEX_KEY, CATALOG_KEY] as const;

const SHA256_RE = /^[0-9a-f]{64}$/;
const MANIFEST_SUFFIX = ".json";

export function objectKey(sha256: string): string {
  return `${OBJECTS_PREFIX}${sha256.slice(0, 2)}/${sha256}`;
}

/** A pack's key: `packs/sha256/<2 hex>/<sha256 of the pack's bytes>`. @example packKey("ab12...") // "packs/sha256/ab/ab12..." */
export function packKey(sha256: string): string {
  return `${PACKS_PREFIX}${sha256.slice(0, 2)}/${sha256}`;
}

/** The key of a pack's index. @example packIndexKey("ab12...") // "packs/index/ab/ab12....json" */
export function packIndexKey(packSha256: string): string {
  return `${PACK_INDEX_PREFIX}${packSha256.slice(0, 2)}/${packSha256}${MANIFEST_SUFFIX}`;
}

/** The sha256 of a `packs/sha256/` key, or null if the key is not one. @example parsePackKey("packs/sha256/ab/ab12...") // "ab12..." */
export function parsePackKey(key: string): string | null {
  return parseShardedKey(key, PACKS_PREFIX, "");
}

/** The pack sha256 of a `packs/index/` key, or null if the key is not one. @example parsePackIndexKey(packIndexKey(sha)) // sha */
export function parsePackIndexKey(key: string): string | null {
  return parseShardedKey(key, PACK_INDEX_PREFIX, MANIFEST_SUFFIX);
}

function parseShardedKey(key: string, prefix: string, suffix: string): string | null {
  if (!key.startsWith(prefix) || !key.endsWith(suffix)) return null;
  const rest = key.slice(prefix.length, key.length - suffix.length).split("/");
  if (rest.length !== 2) return null;
  const [shard, sha] = rest as [string, string];
  return SHA256_RE.test(sha) && sha.slice(0, 2) === shard ? sha : null;
}

/** The listing prefix of the objects whose hash starts with these two hex digits. */
export function objectShardPrefix(sha256: string): string {
  return `${OBJECTS_PREFIX}${sha256.slice(0, 2)}/`;
}

export function datasetPrefix(dtype?: string, name?: string): string {
  if (dtype === undefined) return DATASETS_PREFIX;
  if (name === undefined) return `${DATASETS_PREFIX}${dtype}/`;
  return `${DATASETS_PREFIX}${dtype}/${name}/`;
}

export function manifestKey(dtype: string, name: string, tag: string): string {
  return `${datasetPrefix(dtype, name)}${tag}${MANIFEST_SUFFIX}`;
}

export function rawPrefix(dtype?: string): string {
  return dtype === undefined ? RAW_PREFIX : `${RAW_PREFIX}${dtype}/`;
}

export function rawKey(dtype: string, file: string): string {
  return `${RAW_PREFIX}${dtype}/${file}`;
}

/** A share object's key: its expiry (seconds since 1970) first, so gc judges it by its key alone. */
export function shareKey(expires: Date, id: string): string {
  return `${SHARES_PREFIX}${Math.ceil(expires.getTime() / 1000)}-${id}.json`;
}

/** The expiry of a `shares/` key, or null if the key is not one. */
export function parseShareKey(key: string): Date | null {
  const m = /^shares\/(\d{1,12})-[0-9a-f]{16,64}\.json$/.exec(key);
  return m ? new Date(Number(m[1]) * 1000) : null;
}

/** The sha256 of an `objects/` key, or null if the key is not one. */
export function parseObjectKey(key: string): string | null {
  return parseShardedKey(key, OBJECTS_PREFIX, "");
}

/** dtype, name and tag of a manifest key, or null if the key is not one. */
export function parseManifestKey(key: string): { dtype: string; name: string; tag: string } | null {
  if (!key.startsWith(DATASETS_PREFIX) || !key.endsWith(MANIFEST_SUFFIX)) return null;
  const parts = key.slice(DATASETS_PREFIX.length, -MANIFEST_SUFFIX.length).split("/");
  if (parts.length !== 3) return null;
  const [dtype, name, tag] = parts as [string, string, string];
  return valid(() => (checkDtype(dtype), checkName(name), checkTag(tag))) ? { dtype, name, tag } : null;
}

/** dtype and file name of a raw key, or null if the key is not one. */
export function parseRawKey(key: string): { dtype: string; file: string } | null {
  if (!key.startsWith(RAW_PREFIX)) return null;
  const rest = key.slice(RAW_PREFIX.length);
  const slash = rest.indexOf("/");
  if (slash === -1) return null;
  const dtype = rest.slice(0, slash);
  const file = rest.slice(slash + 1);
  return valid(() => (checkDtype(dtype), checkRawName(file))) ? { dtype, file } : null;
}

function valid(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}
