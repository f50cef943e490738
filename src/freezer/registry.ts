/**
 * Module-level helpers of the original, on the configured freezer.
 *
 * @example
 *   datasets("Cohort")                 // [{ dtype: "Cohort", name: "TestCohort" }]
 *   exists("Cohort", "TestCohort")     // true
 *   await deleteDatasets("Cohort", "Test*")  // 1
 */
import type { ConfigOverrides } from "../config/config.js";
import { Freezer, type DatasetId } from "./freezer.js";

/** Datasets matching the (glob) dtype and name. */
export function datasets(dtype?: string, name?: string, opts: ConfigOverrides = {}): DatasetId[] {
  return Freezer.open(opts).datasets(dtype, name);
}

export function exists(dtype: string, name: string, opts: ConfigOverrides = {}): boolean {
  return Freezer.open(opts).exists(dtype, name);
}

/** Deletes the matching datasets; returns how many were removed. */
export function deleteDatasets(dtype: string, name: string, opts: ConfigOverrides = {}): Promise<number> {
  return Freezer.open(opts).delete(dtype, name);
}
