/**
 * Retries for transient failures, in one place: `RetryingBackend` wraps any
 * Backend and retries what may succeed the second time (5xx, throttling,
 * reset or stalled connections — errors the backends mark `transient`),
 * with bounded exponential back-off and full jitter. It never retries a
 * refused key, a missing object, a conflict or an integrity failure.
 *
 * - A put is retried by sending the body again: a `Buffer` as is, a body
 *   factory by reopening the source. A bare stream cannot be replayed, so
 *   it is tried once.
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
import { Minus80Error } from "../errors.js";
import {
  isFileBody,
  isTransient,
  type Backend,
  type GetOptions,
  type GetResult,
  type HeadResult,
  type ListOptions,
  type ObjectInfo,
  type PendingUpload,
  type PutBody,
  type PutOptions,
  type RangedReadHint,
} from "./backends/backend.js";

/** Tries per operation, the first included. */
export const MAX_ATTEMPTS = 5;
/** First back-off; doubles each retry. */
export const BASE_DELAY_MS = 250;
/** Longest single back-off. */
export const MAX_DELAY_MS = 10_000;

export interface RetryPolicy {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** uniform in [0, 1); replaceable for reproducible tests */
  random: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: MAX_ATTEMPTS,
  baseDelayMs: BASE_DELAY_MS,
  maxDelayMs: MAX_DELAY_MS,
  random: Math.random,
};

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

/** Wraps an error already retried to exhaustion, so an outer retry does not start over. */
class GaveUp extends Error {
  constructor(readonly error: Minus80Error) {
    super(error.message);
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn`, retrying transient failures per `policy`.
 *
 * @example await retry("head", () => backend.head(key), DEFAULT_RETRY_POLICY)
 */
export async function retry<T>(
  op: string,
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  onRetry?: (e: RetryEvent) => void,
  key?: string,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isTransient(err) || attempt >= policy.maxAttempts) throw err;
      const delayMs = backoffDelay(attempt, policy);
      onRetry?.({ op, key, attempt, delayMs, error: err as Minus80Error });
      await sleep(delayMs);
    }
  }
}

export class RetryingBackend implements Backend {
  readonly policy: RetryPolicy;
  readonly stats: RetryStats = { retries: 0, gaveUp: 0, byCause: {} };

  constructor(
    readonly inner: Backend,
    policy: Partial<RetryPolicy> = {},
    private readonly onRetry?: (e: RetryEvent) => void,
  ) {
    this.policy = { ...DEFAULT_RETRY_POLICY, ...policy };
  }

  get location(): string {
    return this.inner.location;
  }

  private async run<T>(op: string, key: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await retry(op, fn, this.policy, (e) => this.count(e), key);
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

  ensureBucket(): Promise<{ created: boolean }> {
    return this.run("ensure bucket", undefined, () => this.inner.ensureBucket());
  }

  get rangedReads(): RangedReadHint | undefined {
    return this.inner.rangedReads;
  }

  put(key: string, body: PutBody, opts: PutOptions): Promise<void> {
    if (isFileBody(body)) {
      // Each request of a multipart upload (one part, say) is retried on its
      // own; once one has used up its tries, sending the whole file again
      // would only multiply them. A single PUT is retried whole.
      const exhausted = new WeakSet<object>();
      const retryStep = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
        try {
          return await this.run(op, key, fn);
        } catch (err) {
          if (typeof err === "object" && err !== null) exhausted.add(err);
          throw err;
        }
      };
      return this.run("put", key, async () => {
        try {
          return await this.inner.put(key, body, { ...opts, retryStep });
        } catch (err) {
          if (typeof err === "object" && err !== null && exhausted.has(err) && isTransient(err)) throw new GaveUp(err as Minus80Error);
          throw err;
        }
      }).catch((err: unknown) => {
        throw err instanceof GaveUp ? err.error : err;
      });
    }
    const replayable = Buffer.isBuffer(body) || typeof body === "function";
    if (!replayable) return this.inner.put(key, body, opts);
    return this.run("put", key, () => this.inner.put(key, body, opts));
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const first = await this.run("get", key, () => this.inner.get(key, opts));
    return { ...first, body: this.resumable(key, first, opts.offset ?? 0, opts.end) };
  }

  head(key: string): Promise<HeadResult> {
    return this.run("head", key, () => this.inner.head(key));
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    let after = opts.startAfter;
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const o of this.inner.list(prefix, after === undefined ? {} : { startAfter: after })) {
          after = o.key;
          attempt = 1; // progress was made: the budget is per stall, not per listing
          yield o;
        }
        return;
      } catch (err) {
        if (!isTransient(err) || attempt >= this.policy.maxAttempts) {
          if (isTransient(err)) this.stats.gaveUp++;
          throw err;
        }
        const delayMs = backoffDelay(attempt, this.policy);
        this.count({ op: "list", key: prefix, attempt, delayMs, error: err as Minus80Error });
        await sleep(delayMs);
      }
    }
  }

  delete(key: string): Promise<void> {
    return this.run("delete", key, () => this.inner.delete(key));
  }

  deleteMany(keys: readonly string[]): Promise<void> {
    return this.run("delete", keys[0], () => this.inner.deleteMany(keys));
  }

  touch(key: string): Promise<Date | undefined> {
    return this.run("refresh", key, () => this.inner.touch(key));
  }

  async *listUploads(prefix: string): AsyncIterable<PendingUpload> {
    // Upload listings cannot resume by key alone: take them whole, with retries.
    const all = await this.run("list uploads", prefix, async () => {
      const out: PendingUpload[] = [];
      for await (const u of this.inner.listUploads(prefix)) out.push(u);
      return out;
    });
    yield* all;
  }

  abortUpload(upload: PendingUpload): Promise<void> {
    return this.run("abort upload", upload.key, () => this.inner.abortUpload(upload));
  }

  isNotFound(err: unknown): boolean {
    return this.inner.isNotFound(err);
  }

  close(): void {
    this.inner.close();
  }

  /**
   * The object's bytes from `start`; when the connection breaks with a
   * transient error, reopens at the next byte (same version: If-Match) and
   * carries on. Each break gets the full retry budget only if bytes flowed
   * since the last one.
   */
  private resumable(key: string, first: GetResult, start: number, end?: number): Readable {
    const out = new PassThrough();
    let offset = start;
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
      if (!isTransient(err) || attempt >= this.policy.maxAttempts || offset >= Math.min(end ?? first.size, first.size)) {
        if (isTransient(err)) this.stats.gaveUp++;
        out.destroy(err as Error);
        return;
      }
      const delayMs = backoffDelay(attempt, this.policy);
      this.count({ op: "get", key, attempt, delayMs, error: err as Minus80Error });
      await sleep(delayMs);
      if (out.destroyed) return;
      try {
        const next = await this.inner.get(key, { offset, ...(end !== undefined ? { end } : {}), ...(first.etag ? { ifMatch: first.etag } : {}) });
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
