/**
 * `verify`: re-reads what the bucket holds and checks it against what the
 * manifests promise, without writing anything anywhere.
 *
 * - Every selected tag manifest is read and validated (paths, hashes,
 *   sizes, total); one that does not parse is reported `invalid_manifest`.
 * - Every object those manifests reference is downloaded once, streamed
 *   through sha256 (memory stays bounded whatever the size) and counted:
 *   absent is `missing`, other bytes than its sha256 is `damaged`, the right
 *   bytes but another size than a manifest records is `size_mismatch`
 *   (the manifest lies).
 * - Every pack they reference is read once and hashed whole, and each
 *   file in it at its offset (packs/verifyPacks.ts): a damaged pack is
 *   reported per damaged file, naming its path and tags.
 * - Raw files (when verifying everything) are re-hashed against the sha256
 *   they carry; one without a recorded sha256 cannot be checked and is
 *   listed as unverifiable, not as a problem.
 *
 * Each problem names the bucket key and the tags (slugs) that reference it.
 * Network and credential failures are not problems of the data: they are
 * thrown, as everywhere else.
 *
 * @example
 *   const report = await verify(ctx, { dtype: "Cohort", name: "TestCohort", tag: "v1" });
 *   report.ok                 // false
 *   report.problems[0]        // { kind: "damaged", key: "objects/sha256/ab/ab12...", tags: ["Cohort.TestCohort:v1"], ... }
 */
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DatasetNotFoundError, hasCode, InvalidArgumentError, TagNotFoundError } from "../errors.js";
import { HashingStream } from "../integrity/hashingStream.js";
import { forEachLimit } from "../limits.js";
import { checkDtype, checkName, checkTag, formatSlug } from "../names.js";
import { TransferMeter, type ProgressListener } from "../progress.js";
import { isObjectNotFound } from "./backends/errors.js";
import { datasetPrefix, manifestKey, objectKey, parseManifestKey, parseRawKey, rawPrefix } from "./layout.js";
import { SHA256_METADATA } from "./raw.js";
import { addPackedRef, packedBytes, verifyPacks, type PackRefs } from "./packs/verifyPacks.js";
import { fetchManifest, remoteTags, type CloudContext, type OperationOptions } from "./remote.js";

export interface VerifyOptions extends OperationOptions {
  /** only this dtype (default: every dataset) */
  dtype?: string;
  /** only this dataset (needs `dtype`) */
  name?: string;
  /** only this tag (needs `dtype` and `name`) */
  tag?: string;
  /** also re-hash raw files (of `dtype` when given); default: only when verifying everything (no dtype) */
  raw?: boolean;
  onProgress?: ProgressListener;
}

export type VerifyProblemKind = "missing" | "damaged" | "size_mismatch" | "invalid_manifest";

export interface VerifyProblem {
  kind: VerifyProblemKind;
  /** the bucket key concerned (an object, a manifest or a raw file) */
  key: string;
  /** what is wrong, in words */
  message: string;
  /** the tags referencing it, as slugs (`Cohort.TestCohort:v1`), sorted */
  tags: string[];
  /** what the manifests (or a raw file's metadata, which records no size) promise */
  expected?: { sha256: string; size?: number };
  /** what the bucket holds */
  actual?: { sha256: string; size: number };
}

export interface VerifyReport {
  /** true when there is no problem */
  ok: boolean;
  /** where the data is (safe to print) */
  location: string;
  /** tag manifests read, valid or not */
  manifests: number;
  /** datasets those belong to */
  datasets: number;
  /** distinct objects checked */
  objects: number;
  /** packs checked (layout version 2) */
  packs: number;
  /** files checked inside those packs */
  packedFiles: number;
  /** raw files checked */
  rawFiles: number;
  /** bytes read and re-hashed */
  bytes: number;
  /** raw files that carry no sha256 (uploaded by another tool): their bytes cannot be checked */
  unverifiable: string[];
  /** every problem found, sorted by key */
  problems: VerifyProblem[];
}

interface ManifestRef {
  dtype: string;
  name: string;
  tag: string;
}

/** One object and who references it with which size. */
interface ObjectRefs {
  sha256: string;
  /** recorded size -> slugs of the tags recording it */
  sizes: Map<number, Set<string>>;
}

/**
 * Checks the selected manifests, the objects they reference, and (when
 * verifying everything) the raw files.
 */
export async function verify(ctx: CloudContext, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const { backend } = ctx;
  const { signal } = opts;
  const refs = await selectManifests(ctx, opts);
  const problems: VerifyProblem[] = [];
  const objects = new Map<string, ObjectRefs>();
  const packRefs: PackRefs = new Map();

  await forEachLimit(refs, ctx.concurrency, async (ref) => {
    const slug = formatSlug(ref.dtype, ref.name, ref.tag);
    let files;
    try {
      files = (await fetchManifest(backend, ref.dtype, ref.name, ref.tag, signal)).files;
    } catch (err) {
      if (isObjectNotFound(err)) return; // removed meanwhile
      if (hasCode(err, "INTEGRITY")) {
        problems.push({ kind: "invalid_manifest", key: manifestKey(ref.dtype, ref.name, ref.tag), message: err.message, tags: [slug] });
        return;
      }
      throw err;
    }
    for (const [p, e] of Object.entries(files)) {
      if (e.pack !== undefined) {
        addPackedRef(packRefs, e, slug, p);
        continue;
      }
      let o = objects.get(e.sha256);
      if (!o) objects.set(e.sha256, (o = { sha256: e.sha256, sizes: new Map() }));
      let slugs = o.sizes.get(e.size);
      if (!slugs) o.sizes.set(e.size, (slugs = new Set()));
      slugs.add(slug);
    }
  }, signal);

  // Raw files are listed up front so the progress total covers them too.
  const rawKeys: string[] = [];
  let rawBytes = 0;
  if (opts.raw ?? opts.dtype === undefined) {
    for await (const o of backend.list(rawPrefix(opts.dtype), { signal })) {
      if (!parseRawKey(o.key)) continue;
      rawKeys.push(o.key);
      rawBytes += o.size;
    }
  }

  const expectedBytes = [...objects.values()].reduce((n, o) => n + Math.min(...o.sizes.keys()), rawBytes + packedBytes(packRefs));
  const meter = new TransferMeter("verify", expectedBytes, opts.onProgress);
  let bytes = 0;
  await forEachLimit([...objects.values()], ctx.concurrency, async (o) => {
    const key = objectKey(o.sha256);
    const allTags = sortedTags([...o.sizes.values()]);
    const sizes = [...o.sizes.keys()];
    const got = await rehash(ctx, key, (n) => meter.add(key, n), signal);
    if (!got) {
      problems.push({ kind: "missing", key, message: `object ${key} is missing`, tags: allTags, expected: { sha256: o.sha256, size: sizes[0]! } });
      return;
    }
    bytes += got.size;
    if (got.sha256 !== o.sha256) {
      const what = got.size === sizes[0] ? "same size, other bytes" : `${got.size} bytes where ${sizes.join(" or ")} were recorded`;
      problems.push({
        kind: "damaged",
        key,
        message: `object ${key} is damaged (${what}): its sha256 is ${got.sha256}`,
        tags: allTags,
        expected: { sha256: o.sha256, size: sizes[0]! },
        actual: { sha256: got.sha256, size: got.size },
      });
      return;
    }
    for (const [size, slugs] of o.sizes) {
      if (size === got.size) continue;
      problems.push({
        kind: "size_mismatch",
        key,
        message: `object ${key} is intact (${got.size} bytes, sha256 matches) but the manifest records ${size} bytes`,
        tags: sortedTags([slugs]),
        expected: { sha256: o.sha256, size },
        actual: { sha256: got.sha256, size: got.size },
      });
    }
  });

  const packed = await verifyPacks(ctx, packRefs, (n) => meter.add("packs", n), signal);
  problems.push(...packed.problems);
  bytes += packed.bytes;

  const unverifiable: string[] = [];
  let rawFiles = 0;
  await forEachLimit(rawKeys, ctx.concurrency, async (key) => {
    const got = await rehash(ctx, key, (n) => meter.add(key, n), signal);
    if (!got) return; // removed meanwhile
    rawFiles++;
    bytes += got.size;
    const claimed = got.metadata[SHA256_METADATA]?.toLowerCase();
    if (!claimed || !/^[0-9a-f]{64}$/.test(claimed)) {
      unverifiable.push(key);
      return;
    }
    if (claimed !== got.sha256) {
      problems.push({
        kind: "damaged",
        key,
        message: `raw file ${key} is damaged: it records sha256 ${claimed}, its bytes hash to ${got.sha256} (${got.size} bytes)`,
        tags: [],
        expected: { sha256: claimed },
        actual: { sha256: got.sha256, size: got.size },
      });
    }
  }, signal);
  meter.done();

  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.kind.localeCompare(b.kind)));
  return {
    ok: problems.length === 0,
    location: backend.location,
    manifests: refs.length,
    datasets: new Set(refs.map((r) => `${r.dtype}/${r.name}`)).size,
    objects: objects.size,
    packs: packRefs.size,
    packedFiles: packed.files,
    rawFiles,
    bytes,
    unverifiable: unverifiable.sort(),
    problems,
  };
}

/** The manifests the options select; DATASET_NOT_FOUND / TAG_NOT_FOUND when a named one is absent. */
async function selectManifests(ctx: CloudContext, opts: VerifyOptions): Promise<ManifestRef[]> {
  const { backend } = ctx;
  if (opts.dtype !== undefined) checkDtype(opts.dtype);
  if (opts.name !== undefined) {
    if (opts.dtype === undefined) throw new InvalidArgumentError("verify: a dataset name needs its dtype", { name: opts.name });
    checkName(opts.name);
  }
  if (opts.tag !== undefined) {
    if (opts.name === undefined) throw new InvalidArgumentError("verify: a tag needs its dataset's dtype and name", { tag: opts.tag });
    checkTag(opts.tag);
  }
  if (opts.dtype !== undefined && opts.name !== undefined) {
    const { dtype, name } = opts;
    const tags = await remoteTags(backend, dtype, name, opts.signal);
    if (tags.length === 0) throw new DatasetNotFoundError(formatSlug(dtype, name), "cloud");
    if (opts.tag === undefined) return tags.map((tag) => ({ dtype, name, tag }));
    if (!tags.includes(opts.tag)) throw new TagNotFoundError(formatSlug(dtype, name), opts.tag, "cloud", tags);
    return [{ dtype, name, tag: opts.tag }];
  }
  const out: ManifestRef[] = [];
  for await (const o of backend.list(datasetPrefix(opts.dtype), { signal: opts.signal })) {
    const m = parseManifestKey(o.key);
    if (m && (opts.dtype === undefined || m.dtype === opts.dtype)) out.push(m);
  }
  return out;
}

/**
 * Streams an object through sha256 (a broken connection resumes where it
 * stopped, see retry.ts). Undefined when the object does not exist.
 */
async function rehash(
  ctx: CloudContext,
  key: string,
  onBytes: (n: number) => void,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number; metadata: Record<string, string> } | undefined> {
  let r;
  try {
    r = await ctx.backend.get(key, { signal });
  } catch (err) {
    if (isObjectNotFound(err)) return undefined;
    throw err;
  }
  const hash = new HashingStream({ source: key, onChunk: (_o, chunk) => onBytes(chunk.length) });
  const discard = new Writable({ write: (_c, _e, cb) => cb() });
  await pipeline(r.body, hash, discard, ...(signal ? [{ signal }] : []));
  return { ...hash.result(), metadata: r.metadata };
}

function sortedTags(sets: Iterable<Set<string>>): string[] {
  const all = new Set<string>();
  for (const s of sets) for (const t of s) all.add(t);
  return [...all].sort();
}
