/**
 * `S3Backend.readRange`: a ranged GetObject sent as a presigned URL over
 * the reused-buffer sockets of `../http/socketGet.ts` (plain http:// only;
 * TLS endpoints use the SDK's `get`). The answer must be the 206 of
 * exactly the asked range; an S3 error answer is classified like the
 * SDK's; an answer that client cannot read (chunked, say) is read again
 * through `get`.
 *
 * @example
 *   const { size } = await readS3Range(deps, "objects/sha256/ab/ab..", { offset: 0, end: 8 << 20, ifMatch: etag }, (b) => copy(b));
 */
import type { Readable } from "node:stream";
import { CloudError, type Minus80Error } from "../../../errors.js";
import type { GetOptions, GetResult, RangeReadOptions, RangeSink } from "../backend.js";
import { SocketPool, UnsupportedAnswerError, type ResponseHead } from "../http/socketGet.js";
import type { S3ErrorContext } from "./classify.js";
import { CONNECT_TIMEOUT_MS, IDLE_TIMEOUT_MS, type S3BackendOptions } from "./client.js";

/** How long the URL of one ranged read stays valid (it is used at once; the margin is for clock skew). */
export const RANGE_URL_SECONDS = 15 * 60;

export interface RangeReadDeps {
  pool: SocketPool;
  /** safe to print */
  endpoint: string;
  /** a presigned GET URL of `key` (relative to the backend's prefix) */
  presign(key: string, signal?: AbortSignal): Promise<string>;
  classify(err: unknown, ctx: Omit<S3ErrorContext, "endpoint" | "bucket" | "secrets">): Minus80Error;
  /** the SDK path, for answers the socket client does not read */
  get(key: string, opts: GetOptions): Promise<GetResult>;
}

/**
 * The reader for an S3 backend with these options: undefined for https://
 * endpoints (and AWS's default) or when `socketReads` is false.
 */
export function socketRangeReader(
  opts: S3BackendOptions,
  deps: Omit<RangeReadDeps, "pool">,
): { pool: SocketPool; readRange: (key: string, o: RangeReadOptions, sink: RangeSink) => Promise<{ size: number }> } | undefined {
  if (!opts.endpoint || new URL(opts.endpoint).protocol !== "http:" || opts.socketReads === false) return undefined;
  const pool = new SocketPool({ connectTimeoutMs: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, idleTimeoutMs: opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS });
  const all = { ...deps, pool };
  return { pool, readRange: (key, o, sink) => readS3Range(all, key, o, sink) };
}

export async function readS3Range(deps: RangeReadDeps, key: string, opts: RangeReadOptions, sink: RangeSink): Promise<{ size: number }> {
  const { offset, end, ifMatch, signal } = opts;
  const ctx = { op: "download", key, ifMatch: !!ifMatch, signal };
  const url = new URL(await deps.presign(key, signal));
  const headers: Record<string, string> = { range: `bytes=${offset}-${end - 1}`, ...(ifMatch ? { "if-match": ifMatch } : {}) };
  let size: number | undefined;
  const accept = (h: ResponseHead): boolean => {
    size = rangeTotal(h, offset, end);
    return size !== undefined;
  };
  // The sink's own failures (a full disk, a bad byte count) pass through unclassified.
  let sinkFailure: unknown;
  const guarded: RangeSink = (bytes) => {
    try {
      return sink(bytes)?.catch((err: unknown) => {
        sinkFailure ??= err;
        throw err;
      });
    } catch (err) {
      sinkFailure ??= err;
      throw err;
    }
  };
  let got;
  try {
    got = await deps.pool.get(url, headers, accept, guarded, signal);
  } catch (err) {
    if (sinkFailure !== undefined) throw sinkFailure;
    if (err instanceof UnsupportedAnswerError && !signal?.aborted) return viaGet(deps, key, opts, sink);
    throw deps.classify(err, ctx);
  }
  if (got.accepted) return { size: size! };
  if (got.status >= 200 && got.status < 300) {
    // A server that ignored the Range header would send the whole object again.
    throw new CloudError(`${deps.endpoint} did not honour a ranged read of ${key} (bytes ${offset}-${end})`, { key, transient: false });
  }
  throw deps.classify(s3ErrorOf(got.status, got.errorBody), ctx);
}

/** The object's size from a 206 for exactly `[offset, end)` (or to the object's end), else undefined. */
function rangeTotal(h: ResponseHead, offset: number, end: number): number | undefined {
  if (h.status !== 206) return undefined;
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(h.headers["content-range"] ?? "");
  if (!m) return undefined;
  const total = Number(m[3]);
  return Number(m[1]) === offset && Number(m[2]) === Math.min(end, total) - 1 ? total : undefined;
}

const CODE_RE = /<Code>([^<]*)<\/Code>/;
const MESSAGE_RE = /<Message>([^<]*)<\/Message>/;

/** An S3 error answer shaped like the SDK's errors (`name`, `$metadata.httpStatusCode`), for classifyS3Error. */
export function s3ErrorOf(status: number, body: Buffer | undefined): { name: string; message: string; $metadata: { httpStatusCode: number } } {
  const xml = body?.toString("utf8") ?? "";
  const code = CODE_RE.exec(xml)?.[1] ?? "";
  return { name: code || String(status), message: MESSAGE_RE.exec(xml)?.[1] ?? "", $metadata: { httpStatusCode: status } };
}

/** The same range through the SDK's `get`, copied into the sink with its back-pressure. */
async function viaGet(deps: RangeReadDeps, key: string, opts: RangeReadOptions, sink: RangeSink): Promise<{ size: number }> {
  const r = await deps.get(key, opts);
  const body: Readable = r.body;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) await sink(chunk);
  } finally {
    body.destroy();
  }
  return { size: r.size };
}
