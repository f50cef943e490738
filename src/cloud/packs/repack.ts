/**
 * `gc --repack`: packs whose files are mostly unreferenced (their tags were
 * removed) are rewritten, so that gc can reclaim their dead bytes. The live
 * files of such packs are read (each checked against its sha256), packed
 * anew, and every manifest naming the old packs is rewritten to name the
 * new ones (only `pack` and `offset` change; the files, their sha256 and
 * the tag's checksum stay the same). Nothing is deleted here: the old
 * packs are refreshed first (so a pull that read the old manifest has the
 * whole grace period to finish) and lose their index (so no push reuses
 * them); a later gc deletes them once they are old and unreferenced.
 *
 * Safe beside a push: only packs older than the grace period are repacked,
 * and a push that reuses one refreshes it and names it in its own manifest,
 * which gc then keeps. A crash half-way leaves some manifests naming the new
 * packs and some the old: both exist, so every tag stays whole.
 *
 * @example
 *   await repackPacks(ctx, { listing, live, users, cutoff, dryRun: false }, result, signal);
 */
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FileEntry, TagManifest } from "../../freezer/manifest.js";
import { tagManifestBody } from "../../freezer/manifest.js";
import { writeNewFileSync } from "../../freezer/files.js";
import { checkBytes } from "../../integrity/hashingStream.js";
import { forEachLimit } from "../../limits.js";
import { manifestKey, packIndexKey, packKey } from "../layout.js";
import { fetchManifest, headOrUndefined, type CloudContext } from "../remote.js";
import { PACK_TARGET_BYTES, type PackRef } from "./format.js";
import type { PackListing } from "./gcPacks.js";
import { fetchFromPack, type PackedFile } from "./reader.js";
import { writePack } from "./writer.js";

/** A pack whose referenced files fill less than this share of its bytes is repacked. */
export const REPACK_LIVE_SHARE = 0.5;

/** What gc learnt from the manifests, for repacking. */
export interface RepackInput {
  listing: PackListing;
  /** pack sha256 -> the files of it some manifest references (sha256 -> where) */
  live: Map<string, Map<string, PackedFile>>;
  /** pack sha256 -> the manifests naming it ("dtype/name/tag" as parsed keys) */
  users: Map<string, Array<{ dtype: string; name: string; tag: string }>>;
  /** packs last modified after this (ms) are too young: a push may be reusing them */
  cutoff: number;
  dryRun: boolean;
}

/** What repacking counts into gc's result. */
export interface RepackCounts {
  /** old packs whose live files were packed anew (or would be) */
  packsRepacked: number;
  /** new packs written */
  packsWritten: number;
  /** manifests rewritten to name the new packs */
  manifestsRewritten: number;
  /** bytes a later gc frees once the repacked packs are old (or would free) */
  repackFreeable: number;
}

/** Which packs to repack: old ones whose live bytes are below REPACK_LIVE_SHARE of their size. */
export function repackCandidates(input: RepackInput): string[] {
  const out: string[] = [];
  for (const [pack, files] of input.live) {
    const o = input.listing.packs.get(pack);
    if (!o || o.lastModified.getTime() > input.cutoff) continue;
    let bytes = 0;
    for (const f of files.values()) bytes += f.size;
    if (bytes < o.size * REPACK_LIVE_SHARE) out.push(pack);
  }
  return out.sort();
}

/** Repacks the candidates (see the top of this file); with dryRun, only counts. */
export async function repackPacks(ctx: CloudContext, input: RepackInput, result: RepackCounts, signal?: AbortSignal): Promise<void> {
  const candidates = repackCandidates(input);
  const liveOf = (pack: string) => [...input.live.get(pack)!.values()];
  const freeable = (pack: string) => input.listing.packs.get(pack)!.size;
  if (candidates.length === 0) return;
  if (input.dryRun) {
    result.packsRepacked += candidates.length;
    for (const p of candidates) result.repackFreeable += freeable(p);
    return;
  }
  const { backend } = ctx;
  // Refreshed first: readers of the old manifests keep the whole grace period, and gc keeps them meanwhile.
  for (const pack of candidates) await backend.touch(packKey(pack), { signal });

  const moved = new Map<string, PackRef>();
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "minus80-repack-"));
  try {
    const fileOf = (sha: string) => path.join(dir, sha);
    let batch: FileEntry[] = [];
    const taken = new Set<string>();
    let bytes = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const index = await writePack(ctx, batch, { sourceOf: (sha) => ({ file: fileOf(sha), sha256: sha }), ...(signal ? { signal } : {}) });
      for (const f of index.files) moved.set(f.sha256, { pack: index.pack, offset: f.offset });
      result.packsWritten++;
      await Promise.all(batch.map((e) => fsp.rm(fileOf(e.sha256), { force: true })));
      batch = [];
      bytes = 0;
    };
    for (const pack of candidates) {
      const wanted = liveOf(pack).filter((f) => !taken.has(f.sha256));
      await fetchFromPack(backend, pack, wanted, (entry, data) => {
        checkBytes(data, entry, `file ${entry.sha256} of pack ${pack}`);
        writeNewFileSync(fileOf(entry.sha256), data, 0o600);
      }, { pathsOf: (sha) => [sha], ...(signal ? { signal } : {}) });
      for (const f of wanted) {
        taken.add(f.sha256);
        batch.push({ sha256: f.sha256, size: f.size });
        bytes += f.size;
      }
      if (bytes >= PACK_TARGET_BYTES) await flush();
    }
    await flush();
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }

  const repacked = new Set(candidates);
  const manifests = new Map<string, { dtype: string; name: string; tag: string }>();
  for (const pack of candidates) for (const u of input.users.get(pack) ?? []) manifests.set(manifestKey(u.dtype, u.name, u.tag), u);
  await forEachLimit([...manifests.values()], ctx.concurrency, async ({ dtype, name, tag }) => {
    const key = manifestKey(dtype, name, tag);
    const m = await fetchManifest(backend, dtype, name, tag, signal).catch(() => undefined);
    if (!m) return; // removed meanwhile
    const next = relocated(m, repacked, moved);
    if (!next) return;
    const body = tagManifestBody(next);
    if (!(await headOrUndefined(backend, key, signal))) return; // removed meanwhile: not brought back
    await backend.put(key, body.open, { size: body.size, signal });
    result.manifestsRewritten++;
  }, signal);

  // No push finds the old packs any more; a later gc deletes them once old and unreferenced.
  for (const pack of candidates) {
    await backend.delete(packIndexKey(pack), { signal });
    result.packsRepacked++;
    result.repackFreeable += freeable(pack);
  }
}

/** `m` with its files in repacked packs pointed at their new places; undefined when it names none. */
function relocated(m: TagManifest, repacked: ReadonlySet<string>, moved: ReadonlyMap<string, PackRef>): TagManifest | undefined {
  let changed = false;
  const files: TagManifest["files"] = {};
  for (const [p, e] of Object.entries(m.files)) {
    if (e.pack === undefined || !repacked.has(e.pack)) {
      files[p] = e;
      continue;
    }
    const to = moved.get(e.sha256);
    // A file gc did not see as live (its tag was pushed again since): it stays where it is, and so does its pack.
    if (!to) {
      files[p] = e;
      continue;
    }
    files[p] = { ...e, pack: to.pack, offset: to.offset };
    changed = true;
  }
  return changed ? { ...m, files } : undefined;
}
