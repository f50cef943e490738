/** The CLI's collector of dead I/O buffers (src/cli/bufferCollector.ts). */
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { startBufferCollector } from "../../src/cli/bufferCollector.js";

/** Allocates and drops `mib` buffers of 1 MiB outside the heap, a few at a time. */
async function churn(mib: number): Promise<void> {
  for (let i = 0; i < mib; i++) {
    Buffer.allocUnsafeSlow(1024 * 1024).fill(i);
    if (i % 8 === 7) await sleep(5);
  }
}

describe("buffer collector", () => {
  it("collects when more buffer memory than its limit is held", async () => {
    const collector = startBufferCollector(4 * 1024 * 1024, 2);
    try {
      await churn(128);
      await sleep(20);
      expect(collector.collections).toBeGreaterThan(0);
    } finally {
      collector.stop();
    }
  });

  it("does nothing while the held buffers stay under the limit, and nothing once stopped", async () => {
    const idle = startBufferCollector(Number.MAX_SAFE_INTEGER, 2);
    await churn(32);
    await sleep(20);
    expect(idle.collections).toBe(0);
    idle.stop();
    const stopped = startBufferCollector(0, 2);
    stopped.stop();
    await churn(32);
    await sleep(20);
    expect(stopped.collections).toBe(0);
  });
});
