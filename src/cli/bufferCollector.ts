/**
 * Frees dead I/O buffers early, for the `minus80` process (started by
 * heapTuning.ts; the CLI's choice, not the library's).
 *
 * Why: every socket read and every file-stream read is a new ArrayBuffer
 * outside V8's heap, dead a few milliseconds later but freed only when a
 * collection runs, and V8 lets tens of MiB of them pile up before it
 * collects. Measured on a 1 GiB pull from Ceph RGW (BENCHMARKS.md): 65-95
 * MiB of buffers held at once, peak RSS 193-200 MiB; with a young-generation
 * collection (about a millisecond) whenever more than HELD_BUFFERS_LIMIT is
 * held, 173-175 MiB, in about the same time. 24 MiB since 2026-12-06: the
 * F push (50,000 files through 1 MiB pack reads) peaked at 195-205 MiB with
 * 48 and 179-193 with 24, and the A pull spent the same CPU with 48, 32 and
 * 16 (6.4-6.9 CPU-s each, 3 runs; an earlier run had put 0.4 s on 32).
 *
 * @example const collector = startBufferCollector();  ...; collector.stop()
 */
import v8 from "node:v8";
import vm from "node:vm";

/** Buffer bytes held outside the heap above which a collection runs. */
export const HELD_BUFFERS_LIMIT = 24 * 1024 * 1024;
/** How often the held bytes are looked at (a cheap heap-statistics read). */
export const CHECK_EVERY_MS = 20;

type GcFunction = (options?: { type?: "minor" | "major"; execution?: "sync" | "async" }) => void;

export interface BufferCollector {
  /** young-generation collections run so far */
  readonly collections: number;
  stop(): void;
}

/** Starts the watcher (an unref'd timer: it never keeps the process alive); a no-op when this Node.js cannot collect on request. */
export function startBufferCollector(limit = HELD_BUFFERS_LIMIT, everyMs = CHECK_EVERY_MS): BufferCollector {
  const gc = gcFunction();
  const state = { collections: 0, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    if (!gc || v8.getHeapStatistics().external_memory <= limit) return;
    state.collections++;
    gc({ type: "minor", execution: "sync" });
  }, everyMs);
  timer.unref();
  return state;
}

/** V8's `gc`: the global one when node runs with --expose-gc, else exposed for a fresh context. */
function gcFunction(): GcFunction | undefined {
  const global = (globalThis as { gc?: GcFunction }).gc;
  if (typeof global === "function") return global;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    return typeof gc === "function" ? (gc as GcFunction) : undefined;
  } catch {
    return undefined;
  }
}
