/**
 * Which of a push's missing files go into packs and which stay single
 * objects, and the manifest the bucket gets: the local one plus, for each
 * packed file, its pack and offset (manifest version 2).
 *
 * @example
 *   const { groups, single } = splitForPacks(missing, wanted);
 *   const remote = remoteManifest(manifest, refs);   // version 2 when refs name any of its files
 */
import { emptyFileMap, MANIFEST_VERSION_PACKED, type FileEntry, type TagManifest } from "../../freezer/manifest.js";
import { PACK_FILE_THRESHOLD, PACK_MIN_FILES, type PackRef } from "./format.js";
import { groupForPacks } from "./writer.js";

export interface PackSplit {
  /** files to pack, one group per pack */
  groups: FileEntry[][];
  /** sha256s to send as single objects */
  single: string[];
}

/**
 * Small files (below PACK_FILE_THRESHOLD) are packed when there are at
 * least PACK_MIN_FILES of them; the rest are single objects.
 *
 * @example splitForPacks(["ab.."], wanted)   // { groups: [], single: ["ab.."] }: too few to pack
 */
export function splitForPacks(missing: readonly string[], wanted: ReadonlyMap<string, FileEntry>): PackSplit {
  const small: FileEntry[] = [];
  const single: string[] = [];
  for (const sha of missing) {
    const e = wanted.get(sha)!;
    if (e.size < PACK_FILE_THRESHOLD) small.push({ sha256: e.sha256, size: e.size });
    else single.push(sha);
  }
  if (small.length < PACK_MIN_FILES) return { groups: [], single: [...single, ...small.map((e) => e.sha256)] };
  return { groups: groupForPacks(small), single };
}

/**
 * The manifest to write to the bucket: `manifest`'s files, each packed one
 * with its pack and offset. Without packed files it is `manifest` itself
 * (version 1, readable by a minus80 from before packs).
 *
 * @example remoteManifest(local, new Map([[sha, { pack, offset: 0 }]])).version   // 2
 */
export function remoteManifest(manifest: TagManifest, refs: ReadonlyMap<string, PackRef>): TagManifest {
  let any = false;
  const files = emptyFileMap();
  for (const [p, e] of Object.entries(manifest.files)) {
    const ref = refs.get(e.sha256);
    if (ref) any = true;
    files[p] = ref ? { sha256: e.sha256, size: e.size, pack: ref.pack, offset: ref.offset } : { sha256: e.sha256, size: e.size };
  }
  if (!any) return manifest;
  // Same paths in the same order, same total (it covers paths and sha256 only).
  return { ...manifest, version: MANIFEST_VERSION_PACKED, files };
}
