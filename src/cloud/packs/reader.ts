/**
 * Reading files out of packs: the files a pull wants from one pack are
 * read with as few GETs as moving few extra bytes allows — neighbours
 * closer than PACK_RANGE_GAP are read in one ranged GET (gap included),
 * so a pull wanting most of a pack reads it in one request, and a pull
 * wanting a few files reads just those. Each file (small by construction:
 * below PACK_FILE_THRESHOLD) is read into memory and handed to the caller,
 * which checks it against its sha256 before it is named
 * (blobStore.addBytes). A damaged pack is reported once, as
 * INTEGRITY naming every damaged file in it the pull wanted.
 *
 * @example
 *   rangesOf(entries)        // [{ start: 0, end: 40960, members: [...] }]
 *   await fetchFromPack(backend, pack, entries, store, { pathsOf, signal });
 */
import fsp from "node:fs/promises";
import type { Readable } from "node:stream";
import { IntegrityError, isMinus80Error } from "../../errors.js";
import type { FileEntry } from "../../freezer/manifest.js";
import { checkBytes } from "../../integrity/hashingStream.js";
import type { Backend } from "../backends/backend.js";
import { isObjectNotFound } from "../backends/errors.js";
import { packKey } from "../layout.js";

/**
 * Files of one pack closer than this are read in one GET, the gap with
 * them: about what a connection moves in the time a request costs.
 */
export const PACK_RANGE_GAP = 1024 * 1024;

/** A file in a pack, as a pull wants it. */
export interface PackedFile extends FileEntry {
  pack: string;
  offset: number;
}

/** One ranged GET: bytes [start, end) of the pack, holding these files. */
export interface PackRange {
  start: number;
  end: number;
  members: PackedFile[];
}

/** The GETs that read `files` (all of one pack). @example rangesOf(files).length   // requests */
export function rangesOf(files: readonly PackedFile[], gap = PACK_RANGE_GAP): PackRange[] {
  const sorted = [...files].sort((a, b) => a.offset - b.offset);
  const out: PackRange[] = [];
  for (const f of sorted) {
    const last = out.at(-1);
    if (last && f.offset - last.end <= gap) {
      last.members.push(f);
      last.end = Math.max(last.end, f.offset + f.size);
    } else out.push({ start: f.offset, end: f.offset + f.size, members: [f] });
  }
  return out;
}

export interface FetchFromPackOptions {
  /** the paths a file has in the tag, for messages */
  pathsOf(sha256: string): string[];
  signal?: AbortSignal;
}

/**
 * Reads `files` (of pack `pack`) and hands each one's bytes to `store`,
 * which verifies and keeps it (or throws INTEGRITY). Every file is tried;
 * damaged ones (and ones the pack ends before) are reported together at
 * the end.
 *
 * @example await fetchFromPack(backend, pack, files, (e, data) => blobs.addBytes(e, data), { pathsOf })
 */
export async function fetchFromPack(
  backend: Backend,
  pack: string,
  files: readonly PackedFile[],
  store: (entry: PackedFile, data: Buffer) => void,
  opts: FetchFromPackOptions,
): Promise<void> {
  const key = packKey(pack);
  const damaged: PackedFile[] = [];
  const signal = opts.signal ? { signal: opts.signal } : {};
  const get = async (range?: PackRange) => {
    try {
      return (await backend.get(key, { ...(range ? { offset: range.start, end: range.end } : {}), ...signal })).body;
    } catch (err) {
      if (isObjectNotFound(err)) throw damagedPack(key, files, opts, "is missing from the bucket");
      // 416: the pack ends before the range the manifest names (a manifest lying, or a pack cut short).
      if (range && isMinus80Error(err) && (err.data.status === 416 || err.data.provider === "InvalidRange")) throw damagedPack(key, range.members, opts, "ends before the bytes the manifest names");
      throw err;
    }
  };
  /** a web server that ignores Range (e.g. python -m http.server): the whole pack, read once, forward */
  let whole: { body: Readable; cursor: ByteCursor } | undefined;
  try {
    for (const range of rangesOf(files)) {
      let cursor: ByteCursor;
      let body: Readable | undefined;
      if (whole) cursor = whole.cursor;
      else {
        try {
          body = await get(range);
          cursor = new ByteCursor(body, range.start);
        } catch (err) {
          if (!(isMinus80Error(err) && err.data.rangeRefused === true)) throw err;
          const b = await get();
          whole = { body: b, cursor: new ByteCursor(b, 0) };
          cursor = whole.cursor;
        }
      }
      try {
        for (const f of range.members) {
          await cursor.skipTo(f.offset);
          const data = await cursor.read(f.size);
          try {
            store(f, data);
          } catch (err) {
            if (!(isMinus80Error(err) && err.code === "INTEGRITY")) throw err;
            damaged.push(f);
          }
          await cursor.skipTo(f.offset + f.size);
        }
      } finally {
        body?.destroy();
      }
    }
  } finally {
    whole?.body.destroy();
  }
  if (damaged.length > 0) throw damagedPack(key, damaged, opts, "is damaged");
}

function damagedPack(key: string, files: readonly PackedFile[], opts: FetchFromPackOptions, what: string): IntegrityError {
  const paths = [...new Set(files.flatMap((f) => opts.pathsOf(f.sha256)))].sort();
  const shown = paths.slice(0, 20).join(", ") + (paths.length > 20 ? `, and ${paths.length - 20} more` : "");
  return new IntegrityError(`pack ${key} ${what}: ${paths.length} file${paths.length === 1 ? "" : "s"} in it ${paths.length === 1 ? "is" : "are"} not what the manifest records: ${shown}`, {
    key,
    pack: key.split("/").at(-1),
    paths,
    sha256s: files.map((f) => f.sha256),
  });
}

/** A position in a ranged GET's body, read forward only. */
class ByteCursor {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;
  private ended = false;

  constructor(body: Readable, public pos: number) {
    this.it = (body as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  }

  /** Up to `max` next bytes; null at the end of the body. */
  private async next(max: number): Promise<Buffer | null> {
    while (this.buf.length === 0) {
      if (this.ended) return null;
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        return null;
      }
      this.buf = r.value;
    }
    const out = this.buf.subarray(0, max);
    this.buf = this.buf.subarray(out.length);
    this.pos += out.length;
    return out;
  }

  async skipTo(target: number): Promise<void> {
    while (this.pos < target && (await this.next(target - this.pos))) {
      /* discarded */
    }
  }

  /** The next `size` bytes (fewer if the body ends), as one Buffer. */
  async read(size: number): Promise<Buffer> {
    const first = await this.next(size);
    if (!first || first.length === size) return first ?? Buffer.alloc(0);
    // Spans chunks: copied, so the chunks it came from can be freed.
    const out = Buffer.allocUnsafe(size);
    first.copy(out);
    let n = first.length;
    while (n < size) {
      const c = await this.next(size - n);
      if (!c) break;
      c.copy(out, n);
      n += c.length;
    }
    return out.subarray(0, n);
  }
}

/**
 * One packed file into `file`, checked against its sha256 (INTEGRITY naming the pack otherwise).
 *
 * @example await downloadPacked(backend, { sha256, size, pack, offset }, "/tmp/db.sqlite", { path: "db.sqlite" })
 */
export async function downloadPacked(backend: Backend, f: PackedFile, file: string, opts: { path: string; signal?: AbortSignal }): Promise<void> {
  let data: Buffer | undefined;
  await fetchFromPack(
    backend,
    f.pack,
    [f],
    (e, bytes) => {
      checkBytes(bytes, e, `file ${opts.path} in pack ${packKey(f.pack)}`);
      data = bytes;
    },
    { pathsOf: () => [opts.path], ...(opts.signal ? { signal: opts.signal } : {}) },
  );
  await fsp.writeFile(file, data!);
}
