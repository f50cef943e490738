/**
 * The read-only HTTP backend: objects read anonymously with GET (whole or a
 * Range) and HEAD over plain HTTP(S), from an S3 bucket allowing anonymous
 * reads, any static web server serving a copy of a bucket or a folder
 * remote, or the presigned URLs of a share link. It never LISTs and never
 * writes: `list` and every write verb fail with READ_ONLY (listings come
 * from the bucket's index, one layer up: `../../readOnly.ts`).
 *
 * Answers are classified like the other backends' (`../errors.ts`):
 * 404 is OBJECT_NOT_FOUND; 401/403 on a public location is NOT_PUBLIC
 * until one read has succeeded there — after that it is OBJECT_NOT_FOUND,
 * since a bucket that allows GET but not LIST answers 403 for a missing
 * key; on a link it is LINK_EXPIRED (past the URL's expiry, or the
 * server's "Request has expired") or LINK_INVALID. Messages name the URL
 * without its query: a link's signature is a credential and never appears.
 *
 * @example
 *   const b = new HttpBackend({ kind: "public", location: "https://s3.example.org/lab", urlOf: (k) => `https://s3.example.org/lab/${k}` });
 *   const r = await b.get("minus80.json");
 */
import { PassThrough, Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { CancelledError, CloudError, LinkExpiredError, LinkInvalidError, type Minus80Error, NotPublicError, ObjectNotFoundError, ReadOnlyError } from "../../../errors.js";
import type { Backend, GetOptions, GetResult, HeadResult, ObjectInfo, PendingUpload, RequestOptions } from "../backend.js";
import { networkError } from "../errors.js";
import { presignedExpiry } from "../s3/presign.js";

/** Giving up on a server that sends no answer (headers) for this long. */
export const HTTP_ANSWER_TIMEOUT_MS = 60_000;

export interface HttpBackendOptions {
  /** "public": an anonymous location; "link": the presigned URLs of a share link */
  kind: "public" | "link";
  /** where the data is, safe to print: a URL without its query */
  location: string;
  /** the URL of a key, or undefined when this location does not serve it (a link grants only its own keys) */
  urlOf(key: string): string | undefined;
  answerTimeoutMs?: number;
}

/** A URL without its query and fragment (where a link's signature is): safe to print. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    const redacted = u.search ? "?…" : "";
    u.search = "";
    u.hash = "";
    u.username = "";
    u.password = "";
    return u.toString() + redacted;
  } catch {
    return "(invalid URL)";
  }
}

export class HttpBackend implements Backend {
  readonly location: string;
  /** a read succeeded here: anonymous reads are allowed, so a later 403 is a missing key */
  private readable = false;

  constructor(private readonly opts: HttpBackendOptions) {
    this.location = opts.location;
  }

  async ensureBucket(): Promise<{ created: boolean }> {
    return { created: false };
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const offset = opts.offset ?? 0;
    const ranged = offset > 0 || opts.end !== undefined;
    const headers: Record<string, string> = {};
    if (ranged) headers.range = `bytes=${offset}-${opts.end !== undefined ? opts.end - 1 : ""}`;
    if (opts.ifMatch) headers["if-match"] = opts.ifMatch;
    const res = await this.request("GET", key, headers, opts.signal);
    let size = Number(res.headers.get("content-length") ?? 0);
    if (ranged) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.headers.get("content-range") ?? "");
      if (res.status !== 206 || !m || Number(m[1]) !== offset) {
        void res.body?.cancel().catch(() => undefined);
        throw new CloudError(`${this.location} did not honour a ranged read of ${key} (bytes ${offset}-${opts.end ?? ""})`, { key, transient: false, rangeRefused: true });
      }
      size = Number(m[3]);
    }
    const body = new PassThrough();
    if (!res.body) body.end();
    else {
      const web = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      web.on("error", (err) => body.destroy(this.classify(err, key, opts.signal)));
      body.on("close", () => {
        if (!web.readableEnded) web.destroy();
      });
      web.pipe(body);
    }
    return { ...describe(res), size, body };
  }

  async head(key: string, opts: RequestOptions = {}): Promise<HeadResult> {
    const res = await this.request("HEAD", key, {}, opts.signal);
    return { ...describe(res), size: Number(res.headers.get("content-length") ?? 0) };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    throw this.readOnly(`list ${prefix || "the bucket"}`);
  }

  async *listUploads(): AsyncIterable<PendingUpload> {
    throw this.readOnly("list uploads");
  }

  async put(key: string): Promise<void> {
    throw this.readOnly(`write ${key}`);
  }
  async delete(key: string): Promise<void> {
    throw this.readOnly(`delete ${key}`);
  }
  async deleteMany(keys: readonly string[]): Promise<void> {
    throw this.readOnly(`delete ${keys[0] ?? "objects"}`);
  }
  async touch(key: string): Promise<Date | undefined> {
    throw this.readOnly(`refresh ${key}`);
  }
  async startUpload(key: string): Promise<PendingUpload> {
    throw this.readOnly(`upload ${key}`);
  }
  async uploadPart(upload: PendingUpload): Promise<string> {
    throw this.readOnly(`upload ${upload.key}`);
  }
  async completeUpload(upload: PendingUpload): Promise<void> {
    throw this.readOnly(`upload ${upload.key}`);
  }
  async abortUpload(upload: PendingUpload): Promise<void> {
    throw this.readOnly(`abort the upload of ${upload.key}`);
  }

  close(): void {}

  private readOnly(what: string): ReadOnlyError {
    return new ReadOnlyError(`${this.location} is read-only (${this.opts.kind === "link" ? "a share link" : "a public location, read with GET and HEAD only"}): cannot ${what}`, {
      location: this.location,
    });
  }

  /** One request; any answer but 200/206 becomes a classified error. */
  private async request(method: "GET" | "HEAD", key: string, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const url = this.opts.urlOf(key);
    if (url === undefined) {
      throw new LinkInvalidError(`the share link ${this.location} does not grant ${key}: a link grants its one tag and nothing else`, { key, location: this.location });
    }
    if (this.opts.kind === "link") this.refuseExpired(url, key);
    if (signal?.aborted) throw new CancelledError(`read ${key}`, { key });
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), this.opts.answerTimeoutMs ?? HTTP_ANSWER_TIMEOUT_MS);
    let res: Response;
    try {
      res = await fetch(url, { method, headers, redirect: "follow", signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal });
    } catch (err) {
      if (timeout.signal.aborted && !signal?.aborted) {
        throw new CloudError(`${this.location} sent no answer for ${key} in ${(this.opts.answerTimeoutMs ?? HTTP_ANSWER_TIMEOUT_MS) / 1000} s`, { key, transient: true });
      }
      throw this.classify(err, key, signal);
    } finally {
      clearTimeout(timer);
    }
    if (res.status === 200 || res.status === 206) {
      this.readable = true;
      return res;
    }
    const text = method === "GET" ? await res.text().catch(() => "") : "";
    throw this.statusError(res.status, text.slice(0, 4096), url, key);
  }

  private refuseExpired(url: string, key: string): void {
    const expires = presignedExpiry(new URL(url));
    if (expires && expires.getTime() <= Date.now()) throw expired(this.location, key, expires);
  }

  private statusError(status: number, text: string, url: string, key: string): Minus80Error {
    const provider = /<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1];
    const data = { key, status, location: this.location, transient: false, ...(provider ? { provider } : {}) };
    const answer = `HTTP ${status}${provider ? ` ${provider}` : ""}`;
    if (status === 404) return new ObjectNotFoundError(`${key} does not exist at ${this.location}`, data);
    if (status === 401 || status === 403) {
      if (this.opts.kind === "link") {
        if (/expired/i.test(text)) return expired(this.location, key, presignedExpiry(new URL(url)));
        return new LinkInvalidError(`${this.location} refused the share link for ${key} (${answer}): it was changed, or its keys were revoked`, data);
      }
      if (this.readable) return new ObjectNotFoundError(`${key} does not exist at ${this.location} (${answer}: a location that refuses listing answers so for a missing key)`, data);
      return new NotPublicError(`${this.location} refuses anonymous reads (${answer} for ${key})`, data);
    }
    if (status === 412) return new CloudError(`${key} changed at ${this.location} while it was being read`, { ...data, changed: true });
    if (status === 429 || status >= 500) return new CloudError(`${this.location} failed to send ${key}: ${answer}`, { ...data, transient: true });
    return new CloudError(`unexpected answer from ${this.location} for ${key}: ${answer}`, data);
  }

  private classify(err: unknown, key: string, signal?: AbortSignal): Minus80Error {
    if (signal?.aborted) return new CancelledError(`read ${key}`, { key });
    if (err instanceof CloudError || err instanceof CancelledError) return err;
    return networkError(err, this.location, key) ?? new CloudError(`cannot read ${key} from ${this.location}: ${err instanceof Error ? err.name : "error"}`, { key, transient: true });
  }
}

function expired(location: string, key: string, when: Date | undefined): LinkExpiredError {
  return new LinkExpiredError(`the share link ${location} expired${when ? ` at ${when.toISOString()}` : ""} (reading ${key})`, {
    key,
    location,
    ...(when ? { expired: when.toISOString() } : {}),
  });
}

function describe(res: Response): Omit<HeadResult, "size"> {
  const metadata: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k.startsWith("x-amz-meta-")) metadata[k.slice("x-amz-meta-".length)] = v;
  });
  const modified = res.headers.get("last-modified");
  const etag = res.headers.get("etag") ?? undefined;
  return { lastModified: modified ? new Date(modified) : new Date(0), metadata, ...(etag ? { etag } : {}) };
}
