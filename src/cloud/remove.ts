/**
 * Removing from the bucket: a dataset's manifests (all its tags, or one)
 * and raw files. Objects no longer referenced stay until `gc` reclaims them
 * (deleting them at once could break a push reusing them).
 *
 * @example
 *   await removeDataset(ctx, "Cohort", "TestCohort", { tag: "v1" })   // { removed: 1 }
 *   await removeRaw(ctx, "fastq", "R1.fastq")                         // { removed: 1 }
 */
import { DatasetNotFoundError, RawFileNotFoundError, TagNotFoundError, throwIfCancelled } from "../errors.js";
import { checkDtype, checkName, checkRawName, checkTag, formatSlug } from "../names.js";
import { manifestKey, rawKey } from "./layout.js";
import { headOrUndefined, remoteTags, type CloudContext, type OperationOptions } from "./remote.js";

export interface RemoveDatasetOptions extends OperationOptions {
  /** remove only this tag (default: every tag of the dataset) */
  tag?: string;
}

export async function removeDataset(ctx: CloudContext, dtype: string, name: string, opts: RemoveDatasetOptions = {}): Promise<{ removed: number }> {
  checkDtype(dtype);
  checkName(name);
  if (opts.tag !== undefined) checkTag(opts.tag);
  const { backend } = ctx;
  const slug = formatSlug(dtype, name);
  const tags = await remoteTags(backend, dtype, name, opts.signal);
  if (tags.length === 0) throw new DatasetNotFoundError(slug, "cloud");
  if (opts.tag !== undefined) {
    if (!tags.includes(opts.tag)) throw new TagNotFoundError(slug, opts.tag, "cloud");
    await backend.delete(manifestKey(dtype, name, opts.tag), { signal: opts.signal });
    return { removed: 1 };
  }
  throwIfCancelled(opts.signal);
  await backend.deleteMany(tags.map((t) => manifestKey(dtype, name, t)), { signal: opts.signal });
  return { removed: tags.length };
}

export async function removeRaw(ctx: CloudContext, dtype: string, name: string, opts: OperationOptions = {}): Promise<{ removed: number }> {
  checkDtype(dtype);
  checkRawName(name);
  const key = rawKey(dtype, name);
  if (!(await headOrUndefined(ctx.backend, key, opts.signal))) throw new RawFileNotFoundError(`raw file ${dtype}/${name} does not exist in the cloud`, { key });
  await ctx.backend.delete(key, { signal: opts.signal });
  return { removed: 1 };
}
