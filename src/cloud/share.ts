/**
 * Share links: one https URL that lets anyone, without keys, fetch exactly
 * one tag (or one raw file) until it expires.
 *
 * A tag's link is the presigned URL of a small share object the command
 * writes, `shares/<expiry>-<random id>.json`:
 *
 *     {"format": "minus80-share", "version": 1, "dtype", "name", "tag", "total",
 *      "created": ISO 8601, "expires": ISO 8601,
 *      "urls": {"datasets/<dtype>/<name>/<tag>.json": presigned URL, "objects/sha256/..": presigned URL,
 *               "packs/sha256/..": presigned URL (layout 2: the packs holding its packed files), ...}}
 *
 * Every URL in it, and the link, is signed at the same instant for the
 * same time, so all expire together. A reader GETs the share object, then
 * the manifest, then the objects: nothing else, as nothing else is signed
 * (another tag, dataset or a listing would need another signature, and
 * changing a URL breaks its signature). S3 allows at most 7 days. `gc`
 * deletes share objects whose expiry (in their key) has passed. A raw
 * file's link is the presigned URL of the raw object itself.
 *
 * @example
 *   const link = await createShare(ctx, "Cohort", "TestCohort", { tag: "v1", expires: "2h" });
 *   link.url   // https://s3.example.org/lab/shares/1767000000-ab12....json?X-Amz-...
 */
import { randomBytes } from "node:crypto";
import { InvalidArgumentError, LinkInvalidError, RawFileNotFoundError, TagNotFoundError, DatasetNotFoundError } from "../errors.js";
import { LATEST_TAG } from "../freezer/manifest.js";
import { checkDtype, checkName, checkRawName, checkTag, formatSlug } from "../names.js";
import type { Backend } from "./backends/backend.js";
import { isObjectNotFound } from "./backends/errors.js";
import { MAX_PRESIGN_SECONDS } from "./backends/s3/presign.js";
import { manifestKey, objectKey, packKey, parseObjectKey, parsePackKey, rawKey, shareKey } from "./layout.js";
import { packsOf } from "./packs/format.js";
import { fetchManifest, headOrUndefined, remoteTags, uniqueObjects, type CloudContext, type OperationOptions } from "./remote.js";

export const SHARE_FORMAT = "minus80-share";
export const SHARE_VERSION = 1;
/** A link lasts this long unless told otherwise: 7 days, the most S3 presigned requests allow. */
export const DEFAULT_SHARE_SECONDS = MAX_PRESIGN_SECONDS;

export interface ShareOptions extends OperationOptions {
  /** the tag to share (default `latest`) */
  tag?: string;
  /** how long the link works: seconds, or a duration such as `30s`, `90m`, `2h`, `7d` (default and most: 7 days) */
  expires?: number | string;
}

/** What `cloud share` gives: the URL, what it grants, and when it expires. */
export interface ShareLink {
  url: string;
  /** `Cohort.TestCohort:v1`, or for a raw file `raw/<dtype>/<file>` */
  grants: string;
  kind: "tag" | "raw";
  expires: string;
  /** the share object written (a tag's link) */
  key?: string;
}

/** The share object (see above). */
export interface ShareDocument {
  format: typeof SHARE_FORMAT;
  version: number;
  dtype: string;
  name: string;
  tag: string;
  total: string;
  created: string;
  expires: string;
  urls: Record<string, string>;
}

/**
 * Seconds of a duration: a number of seconds, or `<n>s|m|h|d`. More than 7
 * days, or malformed, is refused (INVALID_ARGUMENT).
 *
 * @example parseDuration("2h")  // 7200
 */
export function parseDuration(d: number | string): number {
  const m = typeof d === "number" ? [String(d), String(d), "s"] : /^\s*(\d+)\s*([smhd]?)\s*$/.exec(d);
  const unit = { s: 1, m: 60, h: 3600, d: 86400, "": 1 }[(m?.[2] ?? "") as "s"];
  const seconds = m ? Number(m[1]) * unit : NaN;
  if (!Number.isInteger(seconds) || seconds < 1) {
    throw new InvalidArgumentError(`invalid expiry ${JSON.stringify(String(d))}: expected a duration such as 30s, 90m, 2h or 7d`, { value: String(d), hint: "--expires takes a whole number and s, m, h or d (at most 7d)" });
  }
  if (seconds > MAX_PRESIGN_SECONDS) {
    throw new InvalidArgumentError(`expiry ${String(d)} is longer than 7 days, the most S3 presigned requests allow (a link is signed once and cannot be renewed)`, {
      value: String(d),
      max: "7d",
      hint: "give --expires 7d or less, and share again when it runs out; for longer, make the bucket anonymously readable (README, \"Sharing\")",
    });
  }
  return seconds;
}

function signer(backend: Backend): NonNullable<Backend["presignGet"]> {
  const sign = backend.presignGet;
  if (!sign) {
    throw new InvalidArgumentError(`${backend.location} cannot make share links: only an S3 endpoint signs URLs. Serve the folder with a web server and pull with --from <URL> instead (README, "Sharing")`, {
      location: backend.location,
      hint: "serve the folder with any web server and give readers its URL: minus80 cloud pull --from <URL>",
    });
  }
  return sign;
}

/**
 * Writes a share object for one tag and returns the link to it.
 *
 * @example await createShare(ctx, "Cohort", "TestCohort", { tag: "v1", expires: "1d" })
 */
export async function createShare(ctx: CloudContext, dtype: string, name: string, opts: ShareOptions = {}): Promise<ShareLink> {
  checkDtype(dtype);
  checkName(name);
  const tag = checkTag(opts.tag ?? LATEST_TAG);
  const { backend } = ctx;
  const { signal } = opts;
  const sign = signer(backend);
  const expiresInSeconds = parseDuration(opts.expires ?? DEFAULT_SHARE_SECONDS);
  let manifest;
  try {
    manifest = await fetchManifest(backend, dtype, name, tag, signal);
  } catch (err) {
    if (!isObjectNotFound(err)) throw err;
    const tags = await remoteTags(backend, dtype, name, signal);
    if (tags.length === 0) throw new DatasetNotFoundError(formatSlug(dtype, name), "cloud");
    throw new TagNotFoundError(formatSlug(dtype, name), tag, "cloud", tags);
  }
  // Whole seconds: the expiry in the share object's key, and the signatures', agree.
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const expires = new Date(signedAt.getTime() + expiresInSeconds * 1000);
  const at = { signedAt, expiresInSeconds, signal };
  const urls: Record<string, string> = {};
  // The manifest, its single objects, and the packs holding its packed files (read with ranged GETs).
  const singles = [...uniqueObjects(manifest).values()].filter((e) => e.pack === undefined).map((e) => objectKey(e.sha256));
  for (const key of [manifestKey(dtype, name, tag), ...singles, ...[...packsOf(manifest)].map(packKey)]) urls[key] = await sign(key, at);
  const doc: ShareDocument = { format: SHARE_FORMAT, version: SHARE_VERSION, dtype, name, tag, total: manifest.total, created: signedAt.toISOString(), expires: expires.toISOString(), urls };
  const key = shareKey(expires, randomBytes(16).toString("hex"));
  const body = Buffer.from(JSON.stringify(doc) + "\n");
  await backend.put(key, body, { size: body.length, signal });
  return { url: await sign(key, at), grants: formatSlug(dtype, name, tag), kind: "tag", expires: expires.toISOString(), key };
}

/**
 * A link to one raw file: its presigned URL, which curl or a browser fetch as the file itself.
 *
 * @example await createRawShare(ctx, "fastq", "R1.fastq", { expires: "2h" })
 */
export async function createRawShare(ctx: CloudContext, dtype: string, file: string, opts: Omit<ShareOptions, "tag"> = {}): Promise<ShareLink> {
  checkDtype(dtype);
  checkRawName(file);
  const sign = signer(ctx.backend);
  const expiresInSeconds = parseDuration(opts.expires ?? DEFAULT_SHARE_SECONDS);
  const key = rawKey(dtype, file);
  if (!(await headOrUndefined(ctx.backend, key, opts.signal))) throw new RawFileNotFoundError(`raw file ${dtype}/${file} does not exist in the cloud`, { key });
  const signedAt = new Date(Math.floor(Date.now() / 1000) * 1000);
  const url = await sign(key, { signedAt, expiresInSeconds, signal: opts.signal });
  return { url, grants: key, kind: "raw", expires: new Date(signedAt.getTime() + expiresInSeconds * 1000).toISOString() };
}

/**
 * Checks a share object read from a link: a known format, valid names, and
 * URLs only for the tag's manifest and objects. LINK_INVALID otherwise.
 *
 * @example const doc = parseShareDocument(text, "https://s3.example.org/lab/shares/…")
 */
export function parseShareDocument(text: string, location: string): ShareDocument {
  const bad = (why: string) => new LinkInvalidError(`${location} is not a minus80 share link: ${why}`, { location });
  let d: Partial<ShareDocument>;
  try {
    d = JSON.parse(text) as Partial<ShareDocument>;
  } catch {
    throw bad("it does not hold JSON");
  }
  if (d.format !== SHARE_FORMAT) throw bad(`its format is not ${SHARE_FORMAT}`);
  if (d.version !== SHARE_VERSION) throw bad(`it is of version ${String(d.version)}, this minus80 reads ${SHARE_VERSION}`);
  try {
    checkDtype(String(d.dtype));
    checkName(String(d.name));
    checkTag(String(d.tag));
  } catch {
    throw bad("it names no valid dataset and tag");
  }
  if (!d.urls || typeof d.urls !== "object" || typeof d.expires !== "string") throw bad("it grants nothing");
  const manifest = manifestKey(d.dtype!, d.name!, d.tag!);
  for (const [k, u] of Object.entries(d.urls)) {
    if ((k !== manifest && !parseObjectKey(k) && !parsePackKey(k)) || typeof u !== "string" || !/^https?:\/\//.test(u)) throw bad(`it grants an unexpected key ${k}`);
  }
  if (!d.urls[manifest]) throw bad("it grants no manifest");
  return d as ShareDocument;
}
