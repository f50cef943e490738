import { InvalidArgumentError } from "./errors.js";

/** Runs `fn` over `items` with at most `limit` in flight; the first error wins after all settle. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  if (limit < 1) throw new InvalidArgumentError(`concurrency limit must be at least 1, got ${limit}`, { value: limit });
  let next = 0;
  let failure: unknown;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
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
