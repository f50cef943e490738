/** The V8 heap flags the CLI sets for itself, unless the user set them. */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { CLI_HEAP_FLAGS, cliHeapFlags } from "../../src/cli/heapFlags.js";

describe("CLI heap flags", () => {
  it("sets every flag when the user set none", () => {
    expect(cliHeapFlags("")).toEqual(Object.entries(CLI_HEAP_FLAGS).map(([f, v]) => `--${f}=${v}`));
    expect(cliHeapFlags("--max-old-space-size=4096 --enable-source-maps")).toHaveLength(Object.keys(CLI_HEAP_FLAGS).length);
  });

  it("leaves a flag the user named, in NODE_OPTIONS or node's arguments, with - or _", () => {
    expect(cliHeapFlags("--heap-growing-percent=50")).toEqual(["--semi-space-growth-factor=1"]);
    expect(cliHeapFlags("--trace-gc --heap_growing_percent=50 --semi-space-growth-factor=2")).toEqual([]);
    // A longer flag that merely starts with the name is not the flag.
    expect(cliHeapFlags("--heap-growing-percent-max=9")).toContain("--heap-growing-percent=20");
  });

  it("is applied by the command's entry before any other module", () => {
    const main = fs.readFileSync(new URL("../../src/cli/main.ts", import.meta.url), "utf8");
    expect(main.match(/^import .*$/m)?.[0]).toBe('import "./heapTuning.js";');
  });
});
