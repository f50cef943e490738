/** Assertions shared by the suites. */
import { expect } from "vitest";
import { Minus80Error } from "../../src/errors.js";

/**
 * Awaits `p`, expecting a Minus80Error with `code`; returns it.
 *
 * @example const e = await expectCode(cloud.get("Nope", "Cohort"), "DATASET_NOT_FOUND");
 */
export async function expectCode(p: Promise<unknown>, code: string): Promise<Minus80Error> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(Minus80Error);
    expect((err as Minus80Error).code, (err as Error).message).toBe(code);
    return err as Minus80Error;
  }
  throw new Error(`expected ${code}, but it succeeded`);
}

/**
 * Runs `fn`, expecting it to throw a Minus80Error; returns it.
 *
 * @example const e = thrown(() => parseWhere(["x"])); expect(e.code).toBe("INVALID_ARGUMENT");
 */
export function thrown(fn: () => unknown): Minus80Error {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Minus80Error);
    return err as Minus80Error;
  }
  throw new Error("expected a Minus80Error, but nothing was thrown");
}
