/**
 * The bench's data sets of many small files, deterministic in sizes and
 * names (the bytes are random).
 *
 * @example writeSmallFiles(dir, 5000, { maxKiB: 64, dirs: 50, seed: 42 })   // B: 1-64 KiB
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/** `n` files of 1 to `maxKiB` KiB in `dirs` folders; returns their bytes. */
export function writeSmallFiles(dir: string, n: number, opts: { maxKiB: number; dirs: number; seed: number }): number {
  let seed = opts.seed;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const size = 1024 + Math.floor(rand() * (opts.maxKiB - 1) * 1024);
    const p = path.join(dir, `d${i % opts.dirs}`, `f${i}.dat`);
    if (i < opts.dirs) fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, randomBytes(size));
    total += size;
  }
  return total;
}
