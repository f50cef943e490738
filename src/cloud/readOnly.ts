/**
 * Read-only locations, `--from <URL>` (`CloudData.open({ from })`): a
 * minus80 layout read anonymously with GET and HEAD only, never LIST.
 *
 * - a **public location**: an S3 bucket path allowing anonymous reads
 *   (`https://s3.example.org/bucket[/prefix]`, or virtual-host
 *   `https://bucket.s3.example.org[/prefix]`), or any static web server
 *   serving a copy of a bucket or a folder remote's bucket folder. Its
 *   listing comes from the bucket's `index.json` (bucketIndex.ts).
 * - a **share link** (a URL carrying `X-Amz-Signature`): the share object
 *   names one tag and the presigned URLs of its manifest and objects
 *   (share.ts); the backend serves those keys and refuses every other.
 *
 * @example
 *   const { backend, grant } = await openFrom("http://127.0.0.1:8000/", { signal });
 *   grant   // undefined for a public location; { dtype, name, tag, expires } for a link
 */
import { BucketError, InvalidArgumentError, LinkInvalidError, ReadOnlyError } from "../errors.js";
import type { Backend, GetOptions, HeadResult, ListOptions, ObjectInfo, PendingUpload, RequestOptions } from "./backends/backend.js";
import { HttpBackend, safeUrl } from "./backends/http/httpBackend.js";
import { readIndex, type BucketIndex } from "./bucketIndex.js";
import { datasetPrefix, DATASETS_PREFIX, manifestKey, MARKER_KEY, parseManifestKey, parseRawKey, rawKey, RAW_PREFIX } from "./layout.js";
import { isObjectNotFound } from "./backends/errors.js";
import { SHA256_METADATA } from "./raw.js";
import { readSmallObject } from "./remote.js";
import { RetryingBackend, type RetryPolicy } from "./retry.js";
import { parseShareDocument } from "./share.js";

/** What a share link grants. */
export interface ShareGrant {
  dtype: string;
  name: string;
  tag: string;
  /** ISO 8601 */
  expires: string;
}

/** The pseudo-key a link's share object is read under (messages name it). */
const SHARE_DOC_KEY = "share.json";
const MAX_SHARE_BYTES = 64 * 1024 * 1024;

/** True for a share link (a presigned URL) rather than a public location. */
export function isShareLink(url: URL): boolean {
  return url.searchParams.has("X-Amz-Signature") || url.searchParams.has("X-Amz-Credential");
}

export { safeUrl };

function parseFrom(from: string): URL {
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw new InvalidArgumentError(`--from ${JSON.stringify(safeUrl(from))} is not a URL: expected http(s)://host/bucket[/prefix] or a share link`, { value: safeUrl(from) });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`--from ${safeUrl(from)}: only http:// and https:// locations can be read without keys (a file:// folder is a cloud.endpoint)`, { value: safeUrl(from) });
  }
  return url;
}

/**
 * Opens a `--from` URL: the backend to read it through (retries included),
 * and for a link what it grants.
 *
 * @example const { backend } = await openFrom("https://s3.example.org/lab/team", {})
 */
export async function openFrom(from: string, opts: RequestOptions & { retry?: Partial<RetryPolicy> } = {}): Promise<{ backend: Backend; grant?: ShareGrant }> {
  const url = parseFrom(from);
  const location = safeUrl(url.toString());
  if (!isShareLink(url)) {
    const base = url.toString().replace(/[?#].*$/, "").replace(/\/+$/, "");
    const urlOf = (key: string) => `${base}/${key.split("/").map(encodeURIComponent).join("/")}`;
    const backend = new IndexListing(new RetryingBackend(new HttpBackend({ kind: "public", location: base, urlOf }), opts.retry));
    // The first read says whether anonymous reads are allowed (NOT_PUBLIC) and whether this is a minus80 layout.
    await backend.head(MARKER_KEY, opts).catch((err: unknown) => {
      if (!isObjectNotFound(err)) throw err;
      throw new BucketError(`${base} holds no minus80 layout (no ${MARKER_KEY} there): check the URL, it names the bucket (and prefix) a push wrote to`, {
        location: base,
        key: MARKER_KEY,
        hint: "give the URL of the bucket (and prefix) itself, e.g. https://s3.example.org/bucket/prefix, or of the folder a web server serves",
      });
    });
    return { backend };
  }
  const docReader = new RetryingBackend(new HttpBackend({ kind: "link", location, urlOf: (k) => (k === SHARE_DOC_KEY ? url.toString() : undefined) }), opts.retry);
  const read = await readSmallObject(docReader, SHARE_DOC_KEY, MAX_SHARE_BYTES, opts.signal).catch((err: unknown) => {
    if (!isObjectNotFound(err)) throw err;
    throw new LinkInvalidError(`the share link ${location} was revoked: its share object is no longer there`, { location });
  });
  const doc = parseShareDocument(read.data.toString("utf8"), location);
  const backend = new RetryingBackend(new HttpBackend({ kind: "link", location, urlOf: (k) => doc.urls[k] }), opts.retry);
  return { backend: new IndexListing(backend, doc), grant: { dtype: doc.dtype, name: doc.name, tag: doc.tag, expires: doc.expires } };
}

/**
 * A read-only backend whose `list` is served from `index.json` (datasets
 * and raw files; nothing else can be listed over GET) or, for a share
 * link, from what the link grants: its one manifest.
 */
class IndexListing implements Backend {
  private index?: Promise<BucketIndex>;

  constructor(
    private readonly inner: Backend,
    private readonly link?: { dtype: string; name: string; tag: string },
  ) {}

  get location(): string {
    return this.inner.location;
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const keys = this.link ? this.linkKeys(prefix) : await this.indexKeys(prefix, opts.signal);
    for (const o of keys.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
      if (o.key.startsWith(prefix) && (opts.startAfter === undefined || o.key > opts.startAfter)) yield o;
    }
  }

  private linkKeys(prefix: string): ObjectInfo[] {
    const { dtype, name, tag } = this.link!;
    // Only the granted dataset's own tags may be asked for (pull and verify do): the link names one.
    if (!prefix.startsWith(datasetPrefix(dtype, name))) {
      throw new LinkInvalidError(`the share link ${this.location} grants ${dtype}.${name}:${tag} only: it lists nothing (no other tag, dataset or listing)`, {
        location: this.location,
        hint: `pull what it grants: minus80 cloud pull --from '<link>' (or ask for a public location to list)`,
      });
    }
    return [{ key: manifestKey(dtype, name, tag), size: 0, lastModified: new Date(0) }];
  }

  private async indexKeys(prefix: string, signal?: AbortSignal): Promise<ObjectInfo[]> {
    const datasets = prefix.startsWith(DATASETS_PREFIX) || DATASETS_PREFIX.startsWith(prefix);
    const raw = prefix.startsWith(RAW_PREFIX) || RAW_PREFIX.startsWith(prefix);
    if (!datasets && !raw) throw new ReadOnlyError(`${this.location} is read with GET only: ${prefix} cannot be listed (its index lists datasets and raw files)`, { location: this.location });
    const index = await this.readIndex(signal);
    const out: ObjectInfo[] = [];
    for (const [dtype, names] of Object.entries(index.datasets)) {
      for (const [name, tags] of Object.entries(names)) {
        for (const [tag, t] of Object.entries(tags)) {
          const key = manifestKey(dtype, name, tag);
          if (parseManifestKey(key)) out.push({ key, size: t.manifest.size, lastModified: new Date(t.manifest.modified) });
        }
      }
    }
    for (const [dtype, files] of Object.entries(index.raw)) {
      for (const [file, f] of Object.entries(files)) {
        const key = rawKey(dtype, file);
        if (parseRawKey(key)) out.push({ key, size: f.size, lastModified: new Date(f.lastModified) });
      }
    }
    return out;
  }

  get rangedReads() {
    return this.inner.rangedReads;
  }
  ensureBucket(opts?: RequestOptions) {
    return this.inner.ensureBucket(opts);
  }
  /** The index, read once (a failed read is tried again next time). */
  private readIndex(signal?: AbortSignal): Promise<BucketIndex> {
    this.index ??= readIndex(this.inner, signal);
    this.index.catch(() => (this.index = undefined));
    return this.index;
  }

  /**
   * A web server sends no `x-amz-meta-*` headers: a raw file's sha256 then
   * comes from the index (which recorded the object's own metadata), for
   * the same size, so a pull still verifies it.
   */
  private async withIndexedSha<T extends HeadResult>(key: string, r: T, signal?: AbortSignal): Promise<T> {
    const raw = this.link ? null : parseRawKey(key);
    if (!raw || r.metadata[SHA256_METADATA]) return r;
    const known = (await this.readIndex(signal).catch(() => undefined))?.raw[raw.dtype]?.[raw.file];
    if (known?.sha256 && known.size === r.size) r.metadata = { ...r.metadata, [SHA256_METADATA]: known.sha256 };
    return r;
  }

  async get(key: string, opts: GetOptions = {}) {
    return this.withIndexedSha(key, await this.inner.get(key, opts), opts.signal);
  }
  async head(key: string, opts: RequestOptions = {}) {
    return this.withIndexedSha(key, await this.inner.head(key, opts), opts.signal);
  }
  put(...a: Parameters<Backend["put"]>) {
    return this.inner.put(...a);
  }
  delete(key: string, opts?: RequestOptions) {
    return this.inner.delete(key, opts);
  }
  deleteMany(keys: readonly string[], opts?: RequestOptions) {
    return this.inner.deleteMany(keys, opts);
  }
  touch(key: string, opts?: RequestOptions) {
    return this.inner.touch(key, opts);
  }
  startUpload(...a: Parameters<Backend["startUpload"]>) {
    return this.inner.startUpload(...a);
  }
  uploadPart(...a: Parameters<Backend["uploadPart"]>) {
    return this.inner.uploadPart(...a);
  }
  completeUpload(...a: Parameters<Backend["completeUpload"]>) {
    return this.inner.completeUpload(...a);
  }
  abortUpload(upload: PendingUpload, opts?: RequestOptions) {
    return this.inner.abortUpload(upload, opts);
  }
  listUploads(prefix: string, opts?: RequestOptions) {
    return this.inner.listUploads(prefix, opts);
  }
  close(): void {
    this.inner.close();
  }
}
