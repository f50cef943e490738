/**
 * Concurrency limits, written once: `forEachLimit` runs a function over
 * items with a bounded number in flight; a `Limiter` bounds how many
 * callers are inside a section at once, across call sites (e.g. how many
 * large uploads run at once in the process).
 *
 * @example
 *   await forEachLimit(files, 8, async (f) => copy(f));
 *   const largeUploads = new Limiter(2);
 *   await largeUploads.run(() => upload(file));
 */
import fs from "node:fs";
import { setMaxListeners } from "node:events";
import { CancelledError, InvalidArgumentError, throwIfCancelled } from "./errors.js";

/** Abort listeners each call in flight may add to a signal (its requests, its streams). */
const LISTENERS_PER_CALL = 8;

/**
 * Runs `fn` over `items` with at most `limit` in flight. The first error wins,
 * after every call in flight has settled (so nothing runs on after it
 * returns); no new item starts once one failed or `signal` is aborted.
 */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  if (limit < 1) throw new InvalidArgumentError(`concurrency limit must be at least 1, got ${limit}`, { value: limit });
  // Every call in flight listens to the signal: more than Node's default of 10 is expected, not a leak.
  if (signal) raiseListenerLimit(signal, limit * LISTENERS_PER_CALL);
  let next = 0;
  let failure: unknown;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        throwIfCancelled(signal);
        await fn(items[i]!, i);
      } catch (err) {
        if (!failed) {
          failed = true;
          failure = err;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failure;
}

/** At most `limit` callers inside `run` at once; the others wait in order. */
export class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly limit: number) {
    if (limit < 1) throw new InvalidArgumentError(`concurrency limit must be at least 1, got ${limit}`, { value: limit });
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/** Lets `signal` have `n` listeners without Node's leak warning (never lowers a limit set to 0, "unlimited"). */
export function raiseListenerLimit(signal: AbortSignal, n: number): void {
  const current = (signal as unknown as Record<symbol, unknown>)[MAX_LISTENERS] as number | undefined;
  if (current === 0 || (current ?? 0) >= n) return;
  setMaxListeners(n, signal);
  (signal as unknown as Record<symbol, unknown>)[MAX_LISTENERS] = n;
}

/** The limit this module set on a signal (Node's getMaxListeners does not accept an AbortSignal on every version). */
const MAX_LISTENERS = Symbol("minus80.maxListeners");

/**
 * Waits `ms`, or ends early with CANCELLED when `signal` is aborted.
 *
 * @example await sleep(backoff, signal)
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Descriptors left for Node.js itself, the hash workers, SQLite, locks and logs. */
export const RESERVED_DESCRIPTORS = 32;
/** Descriptors one transfer holds at once: a socket (or the cloud folder's file), the local file, one to spare. */
export const DESCRIPTORS_PER_TRANSFER = 3;

/**
 * How many transfers fit in the process's limit of open files (Linux's
 * `/proc/self/limits`), so a low `ulimit -n` slows a pull down instead of
 * failing it with EMFILE; undefined where the limit cannot be read or is
 * unlimited.
 *
 * @example const concurrency = Math.min(configured, transfersWithinFileLimit() ?? configured);
 */
export function transfersWithinFileLimit(): number | undefined {
  try {
    const line = fs.readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.trim().split(/\s+/)[3]);
    if (!Number.isFinite(soft)) return undefined;
    const open = fs.readdirSync("/proc/self/fd").length;
    return Math.max(1, Math.floor((soft - open - RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_TRANSFER));
  } catch {
    return undefined;
  }
}
