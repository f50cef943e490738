/**
 * Retries for transient failures, in one place: `RetryingBackend` wraps any
 * Backend and retries each call that may succeed the second time (5xx,
 * throttling, reset or stalled connections — errors the backends mark
 * `transient`), with bounded exponential back-off and full jitter. It never
 * retries a refused key, a missing object, a conflict, an integrity failure
 * or a cancelled call, and it stops waiting as soon as the call's signal
 * is aborted.
 *
 * - Every verb is retried on its own, the parts of a multipart upload
 *   included: a failed part is sent again, not the whole file (the
 *   upload's steps are scheduled above, in `transfer/multipart.ts`).
 * - A body is sent again as it is (a Buffer) or reopened (a factory).
 * - A read that breaks mid-way resumes where it stopped (a ranged read of
 *   the same object version), so a flaky link does not restart a 50 GiB
 *   download; the caller's sha256 check covers the joined bytes.
 * - A listing that breaks mid-way resumes after the last key it yielded.
 *
 * @example
 *   const backend = new RetryingBackend(new S3Backend(opts), { maxAttempts: 5 });
 *   backend.stats.retries   // how many requests were retried
 */
import { PassThrough, type Readable } from "node:stream";
import type { Minus80Error } from "../errors.js";
import { sleep } from "../limits.js";
import type { Backend, CompleteUploadOptions, GetOptions, GetResult, HeadResult, ListOptions, ObjectInfo, PartsHint, PendingUpload, PutBody, PutOptions, RangeReadOptions, RangeSink, RequestOptions, StartUploadOptions } from "./backends/backend.js";
import { isTransient } from "./backends/errors.js";

export interface RetryPolicy {
  /** tries per operation, the first included */
  maxAttempts: number;
  /** the first back-off; it doubles each retry */
  baseDelayMs: number;
  /** the longest single back-off */
  maxDelayMs: number;
  /** uniform in [0, 1); replaceable for reproducible tests */
  random: () => number;
}

/** Five tries; full-jitter back-off from 250 ms, doubling, capped at 10 s (at most 3.75 s of waiting per call). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 250, maxDelayMs: 10_000, random: Math.random };

export interface RetryEvent {
  op: string;
  key?: string;
  /** the attempt that failed (1 = the first) */
  attempt: number;
  delayMs: number;
  error: Minus80Error;
}

export interface RetryStats {
  /** requests retried (each retry counts once) */
  retries: number;
  /** operations that failed after every attempt */
  gaveUp: number;
  /** retries by the error's `data.provider` or `data.network` (or its code) */
  byCause: Record<string, number>;
}

/**
 * The wait before retry number `attempt` (1-based): full jitter over an
 * exponentially growing, capped window, so many clients spread out.
 *
 * @example backoffDelay(3, DEFAULT_RETRY_POLICY) // somewhere in [0, 1000) ms
 */
export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const window = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.floor(policy.random() * window);
}

/**
 * Runs `fn`, retrying transient failures per `policy`.
 *
 * @example await retry("head", () => backend.head(key), { policy: DEFAULT_RETRY_POLICY })
 */
export async function retry<T>(
  op: string,
  fn: (attempt: number) => Promise<T>,
  opts: { policy?: RetryPolicy; onRetry?: (e: RetryEvent) => void; key?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const policy = opts.policy ?? DEFAULT_RETRY_POLICY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransient(err) || attempt >= policy.maxAttempts || opts.signal?.aborted) throw err;
      const delayMs = backoffDelay(attempt, policy);
      opts.onRetry?.({ op, ...(opts.key !== undefined ? { key: opts.key } : {}), attempt, delayMs, error: err as Minus80Error });
      await sleep(delayMs, opts.signal);
    }
  }
}

export class RetryingBackend implements Backend {
  readonly policy: RetryPolicy;
  readonly stats: RetryStats = { retries: 0, gaveUp: 0, byCause: {} };
  /** The inner backend's `readRange`, resumed where it broke (set only when the inner backend has one). */
  readonly readRange?: (key: string, opts: RangeReadOptions, sink: RangeSink) => Promise<{ size: number }>;

  constructor(
    readonly inner: Backend,
    policy: Partial<RetryPolicy> = {},
    private readonly onRetry?: (e: RetryEvent) => void,
  ) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...policy };
    if (inner.readRange) this.readRange = (key, opts, sink) => this.resumableRange(key, opts, sink);
  }

  get location(): string {
    return this.inner.location;
  }

  private async run<T>(op: string, key: string | undefined, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await retry(op, fn, { policy: this.policy, onRetry: (e) => this.count(e), key, signal });
    } catch (err) {
      if (isTransient(err)) this.stats.gaveUp++;
      throw err;
    }
  }

  private count(e: RetryEvent): void {
    this.stats.retries++;
    const cause = String(e.error.data.provider ?? e.error.data.network ?? e.error.code);
    this.stats.byCause[cause] = (this.stats.byCause[cause] ?? 0) + 1;
    this.onRetry?.(e);
  }

  get rangedReads(): PartsHint | undefined {
    return this.inner.rangedReads;
  }

  get multipartWrites(): PartsHint | undefined {
    return this.inner.multipartWrites;
  }

  ensureBucket(opts: RequestOptions = {}): Promise<{ created: boolean }> {
    return this.run("ensure bucket", undefined, opts.signal, () => this.inner.ensureBucket(opts));
  }

  put(key: string, body: PutBody, opts: PutOptions): Promise<void> {
    return this.run("put", key, opts.signal, () => this.inner.put(key, body, opts));
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const first = await this.run("get", key, opts.signal, () => this.inner.get(key, opts));
    return { ...first, body: this.resumable(key, first, opts) };
  }

  head(key: string, opts: RequestOptions = {}): Promise<HeadResult> {
    return this.run("head", key, opts.signal, () => this.inner.head(key, opts));
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    let after = opts.startAfter;
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const o of this.inner.list(prefix, { ...opts, ...(after === undefined ? {} : { startAfter: after }) })) {
          after = o.key;
          attempt = 1; // progress was made: the budget is per stall, not per listing
          yield o;
        }
        return;
      } catch (err) {
        if (!isTransient(err) || attempt >= this.policy.maxAttempts || opts.signal?.aborted) {
          if (isTransient(err)) this.stats.gaveUp++;
          throw err;
        }
        const delayMs = backoffDelay(attempt, this.policy);
        this.count({ op: "list", key: prefix, attempt, delayMs, error: err as Minus80Error });
        await sleep(delayMs, opts.signal);
      }
    }
  }

  delete(key: string, opts: RequestOptions = {}): Promise<void> {
    return this.run("delete", key, opts.signal, () => this.inner.delete(key, opts));
  }

  deleteMany(keys: readonly string[], opts: RequestOptions = {}): Promise<void> {
    return this.run("delete", keys[0], opts.signal, () => this.inner.deleteMany(keys, opts));
  }

  touch(key: string, opts: RequestOptions = {}): Promise<Date | undefined> {
    return this.run("refresh", key, opts.signal, () => this.inner.touch(key, opts));
  }

  startUpload(key: string, opts: StartUploadOptions = {}): Promise<PendingUpload> {
    return this.run("start upload", key, opts.signal, () => this.inner.startUpload(key, opts));
  }

  uploadPart(upload: PendingUpload, partNumber: number, body: PutBody, size: number, opts: RequestOptions = {}): Promise<string> {
    return this.run("upload part", upload.key, opts.signal, () => this.inner.uploadPart(upload, partNumber, body, size, opts));
  }

  completeUpload(upload: PendingUpload, etags: readonly string[], opts: CompleteUploadOptions = {}): Promise<void> {
    return this.run("complete upload", upload.key, opts.signal, () => this.inner.completeUpload(upload, etags, opts));
  }

  abortUpload(upload: PendingUpload, opts: RequestOptions = {}): Promise<void> {
    return this.run("abort upload", upload.key, opts.signal, () => this.inner.abortUpload(upload, opts));
  }

  async *listUploads(prefix: string, opts: RequestOptions = {}): AsyncIterable<PendingUpload> {
    // Upload listings cannot resume by key alone: take them whole, with retries.
    const all = await this.run("list uploads", prefix, opts.signal, async () => {
      const out: PendingUpload[] = [];
      for await (const u of this.inner.listUploads(prefix, opts)) out.push(u);
      return out;
    });
    yield* all;
  }

  /** Signing is local arithmetic: nothing to retry. Absent when the inner backend cannot sign. */
  get presignGet(): Backend["presignGet"] {
    return this.inner.presignGet?.bind(this.inner);
  }

  close(): void {
    this.inner.close();
  }

  /** A ranged read that, when it breaks, asks again for the bytes after the last one the sink took (as `resumable` does). */
  private async resumableRange(key: string, opts: RangeReadOptions, sink: RangeSink): Promise<{ size: number }> {
    let offset = opts.offset;
    let attempt = 0;
    for (;;) {
      try {
        return await this.inner.readRange!(key, { ...opts, offset }, (bytes) => {
          offset += bytes.length;
          attempt = 0; // bytes flowed: the next break gets the full budget again
          return sink(bytes);
        });
      } catch (err) {
        attempt++;
        if (!isTransient(err) || attempt >= this.policy.maxAttempts || opts.signal?.aborted || offset >= opts.end) {
          if (isTransient(err)) this.stats.gaveUp++;
          throw err;
        }
        const delayMs = backoffDelay(attempt, this.policy);
        this.count({ op: "get", key, attempt, delayMs, error: err as Minus80Error });
        await sleep(delayMs, opts.signal);
      }
    }
  }

  /**
   * The object's bytes from `start`; when the connection breaks with a
   * transient error, reopens at the next byte (same version: If-Match) and
   * carries on. Each break gets the full retry budget only if bytes flowed
   * since the last one.
   */
  private resumable(key: string, first: GetResult, opts: GetOptions): Readable {
    const { end, signal } = opts;
    const out = new PassThrough();
    let offset = opts.offset ?? 0;
    let attempt = 0;
    let current: Readable = first.body;
    let finished = false;
    const attach = (body: Readable) => {
      current = body;
      body.on("data", (chunk: Buffer) => {
        offset += chunk.length;
        attempt = 0;
        if (!out.write(chunk)) {
          body.pause();
          out.once("drain", () => body.resume());
        }
      });
      body.once("end", () => {
        finished = true;
        out.end();
      });
      body.once("error", (err) => void onError(err));
    };
    const onError = async (err: unknown): Promise<void> => {
      current.destroy(); // release the broken connection's resources
      if (finished || out.destroyed) return;
      attempt++;
      if (!isTransient(err) || attempt >= this.policy.maxAttempts || signal?.aborted || offset >= Math.min(end ?? first.size, first.size)) {
        if (isTransient(err)) this.stats.gaveUp++;
        out.destroy(err as Error);
        return;
      }
      const delayMs = backoffDelay(attempt, this.policy);
      this.count({ op: "get", key, attempt, delayMs, error: err as Minus80Error });
      try {
        await sleep(delayMs, signal);
        if (out.destroyed) return;
        const next = await this.inner.get(key, { offset, ...(end !== undefined ? { end } : {}), ...(first.etag ? { ifMatch: first.etag } : {}), ...(signal ? { signal } : {}) });
        attach(next.body);
      } catch (e) {
        await onError(e);
      }
    };
    out.on("close", () => {
      if (!finished) current.destroy();
    });
    attach(first.body);
    return out;
  }
}
