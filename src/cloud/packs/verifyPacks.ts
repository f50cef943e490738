/**
 * `verify` of packs: each pack a manifest references is read once, whole,
 * streamed through sha256 (its key's hash) while each referenced file in it
 * is hashed at its offset. A missing pack names its files; a damaged one
 * is reported per damaged file (its path and tags), or as the pack alone
 * when only bytes no manifest references differ.
 *
 * @example
 *   const refs: PackRefs = new Map();
 *   addPackedRef(refs, entry, "Cohort.T:v1", "a.txt");
 *   const { problems, bytes } = await verifyPacks(ctx, refs, (n) => meter.add("packs", n));
 */
import { createHash } from "node:crypto";
import { forEachLimit } from "../../limits.js";
import type { FileEntry } from "../../freezer/manifest.js";
import { isObjectNotFound } from "../backends/errors.js";
import { packKey } from "../layout.js";
import type { CloudContext } from "../remote.js";

/** A problem found in a pack (the shape of verify.ts's PackProblem). */
export interface PackProblem {
  kind: "missing" | "damaged";
  key: string;
  message: string;
  tags: string[];
  expected?: { sha256: string; size?: number };
  actual?: { sha256: string; size: number };
}

/** One file of a pack as the manifests reference it. */
interface PackedRef {
  sha256: string;
  offset: number;
  size: number;
  /** a path it has (for messages) */
  path: string;
  slugs: Set<string>;
}

/** pack sha256 -> "<sha256>@<offset>+<size>" -> the file */
export type PackRefs = Map<string, Map<string, PackedRef>>;

/** Records that tag `slug` references the packed file `e` at `path`. @example addPackedRef(refs, e, slug, "a.txt") */
export function addPackedRef(refs: PackRefs, e: FileEntry, slug: string, path: string): void {
  if (e.pack === undefined || e.offset === undefined) return;
  let files = refs.get(e.pack);
  if (!files) refs.set(e.pack, (files = new Map()));
  const id = `${e.sha256}@${e.offset}+${e.size}`;
  let f = files.get(id);
  if (!f) files.set(id, (f = { sha256: e.sha256, offset: e.offset, size: e.size, path, slugs: new Set() }));
  f.slugs.add(slug);
}

/** Bytes the packed files take (for a progress total). @example packedBytes(refs) */
export function packedBytes(refs: PackRefs): number {
  let n = 0;
  for (const files of refs.values()) for (const f of files.values()) n += f.size;
  return n;
}

const sorted = (s: Iterable<string>) => [...s].sort();

/** Checks every referenced pack and file. @example (await verifyPacks(ctx, refs, () => {})).problems */
export async function verifyPacks(ctx: CloudContext, refs: PackRefs, onBytes: (n: number) => void, signal?: AbortSignal): Promise<{ problems: PackProblem[]; bytes: number; files: number }> {
  const problems: PackProblem[] = [];
  let bytes = 0;
  let files = 0;
  await forEachLimit([...refs], ctx.concurrency, async ([pack, members]) => {
    const key = packKey(pack);
    const list = [...members.values()].sort((a, b) => a.offset - b.offset);
    files += list.length;
    const allTags = sorted(new Set(list.flatMap((f) => [...f.slugs])));
    let body;
    try {
      body = (await ctx.backend.get(key, { signal })).body;
    } catch (err) {
      if (!isObjectNotFound(err)) throw err;
      const paths = list.map((f) => f.path);
      problems.push({ kind: "missing", key, message: `pack ${key} is missing; it holds ${paths.length} file(s) of these tags: ${paths.slice(0, 20).join(", ")}`, tags: allTags, expected: { sha256: pack } });
      return;
    }
    const whole = createHash("sha256");
    // Files may overlap only if a manifest lies; each is hashed from its own offset.
    const open = new Map<PackedRef, ReturnType<typeof createHash>>();
    let pos = 0;
    let next = 0;
    for await (const chunk of body as AsyncIterable<Buffer>) {
      whole.update(chunk);
      const end = pos + chunk.length;
      while (next < list.length && list[next]!.offset < end) open.set(list[next]!, createHash("sha256")), next++;
      for (const [f, h] of open) {
        const from = Math.max(f.offset, pos);
        const to = Math.min(f.offset + f.size, end);
        if (to > from) h.update(chunk.subarray(from - pos, to - pos));
      }
      pos = end;
      onBytes(chunk.length);
      for (const [f, h] of open) if (f.offset + f.size <= pos) (check(f, h.digest("hex"), f.size), open.delete(f));
    }
    bytes += pos;
    // Files past the end of the pack (a truncated pack): what was read of them is all there is.
    for (const [f, h] of open) check(f, h.digest("hex"), Math.max(0, pos - f.offset));
    for (const f of list.slice(next)) check(f, createHash("sha256").digest("hex"), 0);
    const got = whole.digest("hex");
    if (got !== pack && !problems.some((p) => p.key === key)) {
      problems.push({ kind: "damaged", key, message: `pack ${key} is damaged (its sha256 is ${got}), though every file a tag references in it is intact`, tags: allTags, expected: { sha256: pack }, actual: { sha256: got, size: pos } });
    }

    function check(f: PackedRef, sha: string, size: number): void {
      if (sha === f.sha256 && size === f.size) return;
      problems.push({
        kind: "damaged",
        key,
        message: `file ${f.path} (sha256 ${f.sha256}) in pack ${key} at byte ${f.offset} is damaged: ${size} bytes there hash to ${sha}`,
        tags: sorted(f.slugs),
        expected: { sha256: f.sha256, size: f.size },
        actual: { sha256: sha, size },
      });
    }
  }, signal);
  return { problems, bytes, files };
}
