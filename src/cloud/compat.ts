/**
 * The original minus80's names for `CloudData`: `put/get/remove(name,
 * dtype, {raw})`, name first, one method for datasets and raw files.
 * Each maps onto the method that does the job.
 *
 * @example await compatPut(cloud, "data/R1.fastq", "fastq", { raw: true })   // cloud.pushRaw("fastq", "data/R1.fastq")
 */
import type { CloudData, CloudPullOptions, CloudPushOptions } from "./cloudData.js";
import type { PullCounts } from "./pull.js";
import { emptyPushCounts, type PushCounts } from "./push.js";
import type { RawGetResult } from "./raw.js";

export interface CloudPutOptions extends Omit<CloudPushOptions, "dryRun"> {
  /** `name` is a file path and `dtype` a free category */
  raw?: boolean;
  /** raw: replace a different file of the same name */
  force?: boolean;
}

export interface CloudGetOptions extends Omit<CloudPullOptions, "dryRun"> {
  raw?: boolean;
  /** raw: where to write (default: the file name in the current directory) */
  output?: string;
}

export interface CloudRemoveOptions {
  /** remove only this tag (default: every tag of the dataset) */
  tag?: string;
  raw?: boolean;
  signal?: AbortSignal;
}

/** What a put did: `uploaded === 0` means nothing was sent. */
export type CloudPutResult = PushCounts & { key?: string; sha256?: string };
export type CloudGetResult = (PullCounts & { raw?: false }) | (RawGetResult & { raw: true });

export async function compatPut(cloud: CloudData, name: string, dtype: string, opts: CloudPutOptions): Promise<CloudPutResult> {
  if (!opts.raw) return cloud.push(dtype, name, opts);
  const r = await cloud.pushRaw(dtype, name, opts);
  return { ...emptyPushCounts(), uploaded: r.uploaded, bytes: r.bytes, skipped: r.skipped, key: r.key, sha256: r.sha256 };
}

export async function compatGet(cloud: CloudData, name: string, dtype: string, opts: CloudGetOptions): Promise<CloudGetResult> {
  if (opts.raw) return { ...(await cloud.pullRaw(dtype, name, opts)), raw: true };
  return cloud.pull(dtype, name, opts);
}

export function compatRemove(cloud: CloudData, name: string, dtype: string, opts: CloudRemoveOptions): Promise<{ removed: number }> {
  return opts.raw ? cloud.removeRaw(dtype, name, opts) : cloud.removeDataset(dtype, name, opts);
}
