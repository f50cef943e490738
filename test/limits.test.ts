/** The limiter module: forEachLimit and Limiter bound what runs at once, and stop on failure or cancellation. */
import { describe, expect, it } from "vitest";
import { forEachLimit, Limiter } from "../src/limits.js";
import { expectCode } from "./helpers/assertions.js";

const tick = (ms = 2) => new Promise((r) => setTimeout(r, ms));

describe("forEachLimit", () => {
  it("runs every item with at most `limit` in flight", async () => {
    let now = 0;
    let most = 0;
    const done: number[] = [];
    await forEachLimit([...Array(20).keys()], 3, async (i) => {
      most = Math.max(most, ++now);
      await tick();
      now--;
      done.push(i);
    });
    expect(done.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
    expect(most).toBe(3);
  });

  it("throws the first error after the calls in flight settle, and starts no new item", async () => {
    let started = 0;
    let inFlight = 0;
    const err = await forEachLimit([...Array(50).keys()], 4, async (i) => {
      started++;
      inFlight++;
      await tick();
      inFlight--;
      if (i === 5) throw new Error("boom");
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).toBe("boom");
    expect(inFlight).toBe(0);
    expect(started).toBeLessThan(50);
  });

  it("stops starting items once the signal is aborted: CANCELLED", async () => {
    const ctl = new AbortController();
    let started = 0;
    await expectCode(
      forEachLimit([...Array(30).keys()], 2, async (i) => {
        started++;
        if (i === 3) ctl.abort();
        await tick();
      }, ctl.signal),
      "CANCELLED",
    );
    expect(started).toBeLessThan(30);
  });

  it("refuses a limit below 1 (INVALID_ARGUMENT)", async () => {
    await expectCode(forEachLimit([1], 0, async () => undefined), "INVALID_ARGUMENT");
  });
});

describe("Limiter", () => {
  it("lets at most `limit` callers in at once, across call sites, in order", async () => {
    const lim = new Limiter(2);
    let now = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      [...Array(8).keys()].map((i) =>
        lim.run(async () => {
          order.push(i);
          most = Math.max(most, ++now);
          await tick();
          now--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([...Array(8).keys()]);
  });

  it("frees its slot when the section throws", async () => {
    const lim = new Limiter(1);
    await expect(lim.run(async () => Promise.reject(new Error("x")))).rejects.toThrow("x");
    expect(await lim.run(async () => 42)).toBe(42);
  });
});
