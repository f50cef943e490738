/**
 * Keeping the packs a push relies on alive beside gc (the rule of gc.ts):
 * a reused pack older than half the grace period is refreshed (touched)
 * before the push commits; one that cannot be refreshed, or is gone, is
 * given up before the commit (its files are sent again); after the commit,
 * a refreshed pack that a racing gc deleted anyway is sent again from the
 * local store when every file of it is local, else INTEGRITY names it.
 *
 * @example
 *   const kept = await refreshPacks(ctx, ["ab12..."], signal);   // the packs refreshed; the others were given up
 */
import { CredentialsError, hasCode, IntegrityError, UnreachableError } from "../../errors.js";
import { forEachLimit } from "../../limits.js";
import { packKey } from "../layout.js";
import { headOrUndefined, type CloudContext } from "../remote.js";
import type { PackIndex } from "./format.js";
import type { UsedPack } from "./lookup.js";
import { writePack } from "./writer.js";

/** Refreshes `stale` packs; returns those refreshed and those to give up (not refreshable, or gone). */
export async function refreshPacks(ctx: CloudContext, stale: Iterable<string>, known: ReadonlyMap<string, UsedPack>, signal?: AbortSignal): Promise<{ refreshed: string[]; lost: string[] }> {
  const refreshed: string[] = [];
  const lost: string[] = [];
  await forEachLimit([...stale], ctx.concurrency, async (pack) => {
    try {
      const touched = await ctx.backend.touch(packKey(pack), { signal });
      const before = known.get(pack)?.remote.lastModified.getTime() ?? 0;
      if (touched && touched.getTime() <= before) lost.push(pack); // the server ignored the refresh
      else refreshed.push(pack);
    } catch (err) {
      if (err instanceof CredentialsError || err instanceof UnreachableError || hasCode(err, "CANCELLED")) throw err;
      lost.push(pack);
    }
  }, signal);
  return { refreshed, lost };
}

/**
 * For a later pass of a long push: which used packs are gone now, and
 * which are older than half the grace period.
 *
 * @example const { gone, stale } = await recheckPacks(ctx, used, Date.now());
 */
export async function recheckPacks(ctx: CloudContext, used: Map<string, UsedPack>, now: number, signal?: AbortSignal): Promise<{ gone: string[]; stale: string[] }> {
  const gone: string[] = [];
  const stale: string[] = [];
  await forEachLimit([...used.keys()], ctx.concurrency, async (pack) => {
    const h = await headOrUndefined(ctx.backend, packKey(pack), signal);
    if (!h || h.size !== used.get(pack)!.index.size) gone.push(pack);
    else {
      used.get(pack)!.remote = { size: h.size, lastModified: h.lastModified };
      if (now - h.lastModified.getTime() > ctx.gcGraceMs / 2) stale.push(pack);
    }
  }, signal);
  return { gone, stale };
}

/**
 * After the commit: each of `packs` must still be there; one a racing gc
 * deleted is rebuilt from the local store (same files, same bytes, same
 * key), else INTEGRITY naming it.
 *
 * @example await ensurePacksThere(ctx, indexes, signal)
 */
export async function ensurePacksThere(ctx: CloudContext, packs: Iterable<PackIndex>, slug: string, signal?: AbortSignal): Promise<void> {
  await forEachLimit([...packs], ctx.concurrency, async (idx) => {
    const h = await headOrUndefined(ctx.backend, packKey(idx.pack), signal);
    if (h && h.size === idx.size) return;
    for (const f of idx.files) {
      if (!(await ctx.freezer.blobs.has(f.sha256))) {
        throw new IntegrityError(
          `${slug} was committed, but a gc running beside the push deleted pack ${packKey(idx.pack)} it refreshed, and the local store lacks file ${f.sha256} to send it again; push the tag's files again from a freezer that holds the datasets sharing that pack`,
          { key: packKey(idx.pack), sha256: f.sha256, slug },
        );
      }
    }
    const again = await writePack(ctx, idx.files, signal ? { signal } : {});
    if (again.pack !== idx.pack) throw new IntegrityError(`pack ${packKey(idx.pack)} could not be rebuilt byte for byte (got ${again.pack})`, { key: packKey(idx.pack), slug });
  }, signal);
}
