/**
 * What the cloud operations share: their context, and reading what the
 * bucket holds about datasets — manifests (with a size cap, validated),
 * the tags of a dataset, an object's HEAD when it may be absent.
 *
 * @example
 *   const m = await fetchManifest(ctx.backend, "Cohort", "TestCohort", "v1");
 *   const h = await headOrUndefined(ctx.backend, objectKey(sha));   // undefined when absent
 */
import { createHash } from "node:crypto";
import { IntegrityError } from "../errors.js";
import type { Freezer } from "../freezer/freezer.js";
import { parseTagManifest, type FileEntry, type ManifestSummary, type TagManifest } from "../freezer/manifest.js";
import type { Backend, HeadResult } from "./backends/backend.js";
import { isObjectNotFound } from "./backends/errors.js";
import { datasetPrefix, manifestKey, parseManifestKey } from "./layout.js";

/** A manifest larger than this is refused as damaged (a real one is ~100 bytes per file). */
export const MAX_MANIFEST_BYTES = 256 * 1024 * 1024;

/** What the cloud operations of one `CloudData` share. */
export interface CloudContext {
  backend: Backend;
  freezer: Freezer;
  /** transfers in flight at once */
  concurrency: number;
  /** gc's grace period; pushes rely on it (see gc.ts) */
  gcGraceMs: number;
  /**
   * Create-only manifests this process wrote and read back, by key: what the
   * index needs of each, so the index refresh after a push does not download
   * and parse a manifest the push just held (many MB for a large tag).
   */
  committed?: Map<string, { size: number; summary: ManifestSummary }>;
}


/** Options every cloud operation takes. */
export interface OperationOptions {
  /** aborting it cancels the operation (CANCELLED), undoing what it did */
  signal?: AbortSignal;
}

/** The object's HEAD, or undefined when it does not exist. */
export async function headOrUndefined(backend: Backend, key: string, signal?: AbortSignal): Promise<HeadResult | undefined> {
  try {
    return await backend.head(key, { signal });
  } catch (err) {
    if (isObjectNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * A small object's bytes, read whole; INTEGRITY when it is larger than
 * `maxBytes` (it is then not what it claims to be). OBJECT_NOT_FOUND when absent.
 */
export async function readSmallObject(backend: Backend, key: string, maxBytes: number, signal?: AbortSignal): Promise<{ data: Buffer; etag?: string }> {
  const r = await backend.get(key, { signal });
  const tooLarge = () => new IntegrityError(`${key} is implausibly large (over ${maxBytes} bytes)`, { key });
  if (r.size > maxBytes) {
    r.body.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of r.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > maxBytes) {
      r.body.destroy();
      throw tooLarge();
    }
    chunks.push(c);
  }
  const data = Buffer.concat(chunks);
  return r.etag === undefined ? { data } : { data, etag: r.etag };
}

/**
 * Whether the object holds exactly the bytes of `expected` (its size and
 * sha256), hashed as they stream in (no copy of them is gathered): how a
 * writer reads its own write back. OBJECT_NOT_FOUND when absent.
 *
 * @example if (!(await holdsExactly(backend, key, { size: body.size, sha256: body.sha256 }))) ... // someone else's bytes are there
 */
export async function holdsExactly(backend: Backend, key: string, expected: { size: number; sha256: string }, signal?: AbortSignal): Promise<boolean> {
  const r = await backend.get(key, { signal });
  if (r.size !== expected.size) {
    r.body.destroy();
    return false;
  }
  const hash = createHash("sha256");
  let n = 0;
  for await (const c of r.body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > expected.size) {
      r.body.destroy();
      return false;
    }
    hash.update(c);
  }
  return n === expected.size && hash.digest("hex") === expected.sha256;
}

/**
 * Reads and validates a tag's manifest. OBJECT_NOT_FOUND when absent,
 * INTEGRITY when it is damaged or describes another tag.
 */
export async function fetchManifest(backend: Backend, dtype: string, name: string, tag: string, signal?: AbortSignal): Promise<TagManifest> {
  return (await fetchManifestVersion(backend, dtype, name, tag, signal)).manifest;
}

/** As `fetchManifest`, with the version read (its ETag, when the backend has one). */
export async function fetchManifestVersion(
  backend: Backend,
  dtype: string,
  name: string,
  tag: string,
  signal?: AbortSignal,
): Promise<{ manifest: TagManifest; etag?: string }> {
  const key = manifestKey(dtype, name, tag);
  const { data, etag } = await readSmallObject(backend, key, MAX_MANIFEST_BYTES, signal);
  const manifest = parseTagManifest(data.toString("utf8"), key, { dtype, name, tag });
  return etag === undefined ? { manifest } : { manifest, etag };
}

/** The tags of one dataset in the bucket (from the manifest keys), sorted. */
export async function remoteTags(backend: Backend, dtype: string, name: string, signal?: AbortSignal): Promise<string[]> {
  const tags: string[] = [];
  for await (const o of backend.list(datasetPrefix(dtype, name), { signal })) {
    const m = parseManifestKey(o.key);
    if (m && m.dtype === dtype && m.name === name) tags.push(m.tag);
  }
  return tags.sort();
}

/** Unique contents of a manifest, by sha256. */
export function uniqueObjects(m: TagManifest): Map<string, FileEntry> {
  const out = new Map<string, FileEntry>();
  for (const e of Object.values(m.files)) out.set(e.sha256, e);
  return out;
}
