/**
 * V8 heap settings for the `minus80` process, applied before any other
 * module loads (main.ts imports this first). They are the CLI's choice, not
 * the library's: a program embedding minus80 keeps its own.
 *
 * Why: a push or pull of many small files allocates a stream of short-lived
 * buffers and strings, and V8's defaults grow the young generation to
 * 16 MiB semi-spaces and let the old generation run far past what is live.
 * Measured on 50,000 files (BENCHMARKS.md, scenario F) the live heap stays
 * near 50 MB while the process peaked at 392-418 MiB RSS; with these two
 * settings it stays near the live size, and the transfers were no slower.
 *
 * Flags the user sets (NODE_OPTIONS or the node command line) win: a flag
 * named there is not touched. The process also frees dead I/O buffers
 * early (bufferCollector.ts).
 *
 * @example import "./heapTuning.js";   // first import of the CLI entry
 */
import v8 from "node:v8";
import { startBufferCollector } from "./bufferCollector.js";
import { cliHeapFlags } from "./heapFlags.js";

for (const flag of cliHeapFlags()) v8.setFlagsFromString(flag);
// Dead socket and file buffers are freed as they pile up (see bufferCollector.ts).
startBufferCollector();
