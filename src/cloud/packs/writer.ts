/**
 * Writing packs: small files of the local blob store concatenated into a
 * temporary file (each file re-read and checked against its sha256 on the
 * way, gathered in one 1 MiB buffer between writes), uploaded under the pack's sha256,
 * then its index. Both before any manifest naming them (push.ts). Memory
 * stays flat whatever the number of files: a pack is built on disk, and
 * its index holds one line per file.
 *
 * @example
 *   for (const group of groupForPacks(smallEntries)) await writePack(ctx, group, { signal });
 */
import { createHash } from "node:crypto";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FileEntry } from "../../freezer/manifest.js";
import { readCheckedFile, type CheckedFile } from "../../integrity/checkedFile.js";
import { packIndexKey, packKey } from "../layout.js";
import type { CloudContext } from "../remote.js";
import { uploadFile } from "../transfer/upload.js";
import { PACK_TARGET_BYTES, serializePackIndex, type PackIndex } from "./format.js";

/**
 * Bytes of members gathered before each write to the pack file. A member
 * that does not fit is written from its own buffer. One per pack in
 * flight: 4 MiB each (before 2026-12-06) was 16 MiB of the F push's peak.
 */
const PACK_WRITE_BUFFER = 1024 * 1024;

/**
 * Splits files into groups of about `target` bytes each, in the order
 * given (a manifest's path order keeps neighbours together, which helps a
 * filtered pull).
 *
 * @example groupForPacks(entries).length   // packs to write
 */
export function groupForPacks(entries: readonly FileEntry[], target = PACK_TARGET_BYTES): FileEntry[][] {
  const groups: FileEntry[][] = [];
  let current: FileEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    current.push(e);
    bytes += e.size;
    if (bytes >= target) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

export interface WritePackOptions {
  signal?: AbortSignal;
  /** bytes of this pack sent so far */
  onBytes?: (n: number) => void;
  /** where a member's bytes are read from (default: the local blob store) */
  sourceOf?: (sha256: string) => CheckedFile;
}

/**
 * Builds one pack of `members` (in this order) from the local blob store,
 * uploads it and its index, and returns the index. Members are read from
 * the local blob store, or from `sourceOf` (repack.ts). The same members give
 * the same pack, byte for byte (so a pack can be sent again).
 *
 * @example const idx = await writePack(ctx, [{ sha256, size }]);  idx.pack // its sha256
 */
export async function writePack(ctx: CloudContext, members: readonly FileEntry[], opts: WritePackOptions = {}): Promise<PackIndex> {
  const { backend, freezer } = ctx;
  const sourceOf = opts.sourceOf ?? ((sha: string) => freezer.blobs.sourceOf(sha));
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "minus80-pack-"));
  try {
    const file = path.join(dir, "pack");
    const hash = createHash("sha256");
    const index: PackIndex = { pack: "", size: 0, files: [] };
    const fh = await fsp.open(file, "w", 0o600);
    // Members are read into one buffer, written out when it fills: one write per MiB or so, and no buffer per file.
    const buf = Buffer.allocUnsafe(PACK_WRITE_BUFFER);
    let buffered = 0;
    const flush = async () => {
      for (let done = 0; done < buffered; ) done += (await fh.write(buf, done, buffered - done)).bytesWritten;
      buffered = 0;
    };
    try {
      for (const m of members) {
        if (buffered + m.size >= buf.length) await flush();
        // Checked against its sha256 as it is read: a damaged local object never enters a pack.
        const fits = m.size < buf.length;
        const data = await readCheckedFile(sourceOf(m.sha256), `a pack (file ${m.sha256})`, m.size, fits ? buf.subarray(buffered) : undefined);
        hash.update(data);
        if (fits) buffered += data.length;
        else await fh.write(data);
        index.files.push({ sha256: m.sha256, offset: index.size, size: m.size });
        index.size += m.size;
      }
      await flush();
    } finally {
      await fh.close();
    }
    index.pack = hash.digest("hex");
    await uploadFile(backend, packKey(index.pack), { file, sha256: index.pack }, { size: index.size, singleRequest: true, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onBytes ? { onBytes: opts.onBytes } : {}) });
    const body = Buffer.from(serializePackIndex(index));
    await backend.put(packIndexKey(index.pack), body, { size: body.length, ...(opts.signal ? { signal: opts.signal } : {}) });
    return index;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
