/**
 * Pushing a dataset: one frozen tag, or (without a tag) every local tag
 * the bucket lacks and then the working state as `latest` (each one with
 * `pushTag`, push.ts).
 *
 * @example await pushDataset(ctx, "Cohort", "TestCohort", { tag: "v1" })   // { uploaded: 2, ... }
 */
import { LATEST_TAG } from "../freezer/manifest.js";
import { checkDtype, checkName, checkTag } from "../names.js";
import { emptyPushCounts, pushTag, type PushCounts, type PushOptions } from "./push.js";
import { remoteTags, type CloudContext } from "./remote.js";

export interface PushDatasetOptions extends PushOptions {
  /** push this frozen tag (default: freeze the working state as `latest` and push every tag the cloud lacks) */
  tag?: string;
}

export async function pushDataset(ctx: CloudContext, dtype: string, name: string, opts: PushDatasetOptions = {}): Promise<PushCounts> {
  checkDtype(dtype);
  checkName(name);
  if (opts.tag !== undefined) checkTag(opts.tag);
  const ds = ctx.freezer.existing(dtype, name);
  const counts = emptyPushCounts();
  if (opts.tag !== undefined) {
    await pushTag(ctx, ds.tag(opts.tag), counts, opts);
    return counts;
  }
  await ds.freeze(LATEST_TAG, { onProgress: opts.onProgress, signal: opts.signal });
  const there = new Set(await remoteTags(ctx.backend, dtype, name, opts.signal));
  for (const t of ds.tags()) {
    if (t.tag !== LATEST_TAG && !there.has(t.tag)) await pushTag(ctx, t, counts, opts);
  }
  await pushTag(ctx, ds.tag(LATEST_TAG), counts, opts);
  return counts;
}
