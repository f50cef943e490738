/**
 * Random draws of accessions: with or without replacement, reproducible
 * when given a seed (the same seed over the same Cohort draws the same
 * accessions, on any machine).
 */
import { InvalidArgumentError } from "../../errors.js";

export interface RandomOptions {
  /** draw with replacement (the same accession may come back more than once) */
  replace?: boolean;
  /** a source of numbers in [0, 1); default Math.random, or a generator seeded by `seed` */
  random?: () => number;
  /** a whole number: draws are reproducible for the same seed and Cohort */
  seed?: number;
}

export const SEED_RULE = "a whole number between -2^53 and 2^53";

/**
 * A deterministic source of numbers in [0, 1) from a seed (splitmix32 over
 * the seed's two 32-bit halves).
 *
 * @example const r = seededRandom(42); r() === seededRandom(42)() // true
 */
export function seededRandom(seed: number): () => number {
  if (!Number.isSafeInteger(seed)) throw new InvalidArgumentError(`invalid seed ${String(seed)}: a seed is ${SEED_RULE}`, { seed, rule: SEED_RULE });
  let state = (seed | 0) ^ Math.imul(Math.floor(seed / 2 ** 32) | 0, 0x9e3779b9);
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 2 ** 32;
  };
}

/**
 * Picks `n` of `items` at random: without replacement a uniform sample
 * (partial Fisher-Yates) in draw order, with replacement `n` independent draws.
 * INVALID_ARGUMENT for a bad n, or n > items.length without replacement.
 *
 * @example drawItems([1, 2, 3], 2, { seed: 7 }, "Cohort.X") // e.g. [3, 1]
 */
export function drawItems<T>(items: readonly T[], n: number, opts: RandomOptions, what: string): T[] {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new InvalidArgumentError(`the number of accessions to draw must be a whole number >= 0, got ${String(n)}`, { n });
  }
  const random = opts.random ?? (opts.seed !== undefined ? seededRandom(opts.seed) : Math.random);
  const size = items.length;
  const pick = (bound: number) => Math.min(bound - 1, Math.floor(random() * bound));
  if (n > 0 && size === 0) throw new InvalidArgumentError(`cannot draw ${n} accessions from ${what}: it is empty`, { cohort: what, n, size });
  if (opts.replace) return Array.from({ length: n }, () => items[pick(size)]!);
  if (n > size) {
    throw new InvalidArgumentError(
      `cannot draw ${n} accessions from ${what} without replacement: it holds only ${size}; pass { replace: true } (--replace) to allow repeats`,
      { cohort: what, n, size },
    );
  }
  const pool = [...items];
  for (let i = 0; i < n; i++) {
    const j = i + pick(size - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, n);
}
