/**
 * The V8 heap flags the `minus80` command runs with (applied by
 * heapTuning.ts, see there for why), minus any the user set.
 *
 * @example cliHeapFlags("--heap-growing-percent=50")   // ["--semi-space-growth-factor=1"]
 */

/** Each flag and its value: the young generation stays at its starting size, and old-generation GC starts after 20% growth. */
export const CLI_HEAP_FLAGS: Readonly<Record<string, string>> = {
  "semi-space-growth-factor": "1",
  "heap-growing-percent": "20",
};

/** The flags not already named in `userOptions` (NODE_OPTIONS and node's own arguments), as `--name=value`; V8 reads `-` and `_` alike. */
export function cliHeapFlags(userOptions: string = [process.env.NODE_OPTIONS ?? "", ...process.execArgv].join(" ")): string[] {
  const named = (flag: string) => new RegExp(`--${flag.replace(/-/g, "[-_]")}(=|\\s|$)`).test(userOptions);
  return Object.entries(CLI_HEAP_FLAGS)
    .filter(([flag]) => !named(flag))
    .map(([flag, value]) => `--${flag}=${value}`);
}
