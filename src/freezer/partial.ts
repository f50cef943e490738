/**
 * A partial working copy: a pull with filters (`--include`, `--accessions`,
 * `--where`) thaws only some files of a tag. The dataset's MANIFEST.json
 * then records `partial: { tag, absent }`: the tag the copy came from and
 * the paths of that tag the working copy does not hold. Those files count
 * as present with the tag's contents, so `fileChanges` and
 * `refuseUnsaved` do not see them as deleted, and a `freeze` keeps their
 * entries (the objects need not be local). A full thaw or pull clears it.
 *
 * @example
 *   const files = withAbsentFiles(await snapshot(), m.partial, m.tags);   // what the working copy stands for
 *   m.partial = partialRecord(target, only);                              // after thawing `only` of `target`
 */
import { IntegrityError } from "../errors.js";
import { emptyFileMap, sortPaths, type FileEntry, type TagManifest } from "./manifest.js";

/** What MANIFEST.json records of a partial working copy. */
export interface PartialCopy {
  /** the tag the working copy was (partly) thawed from, or last frozen as */
  tag: string;
  /** the tag's paths the working copy does not hold, sorted */
  absent: string[];
}

/**
 * The files the working copy stands for: its own, plus the absent files of
 * the partial tag it does not hold (with the tag's contents).
 *
 * @example withAbsentFiles(await ds.snapshot(), m.partial, m.tags)["reads/S2/R1.fq"]  // the tag's entry
 */
export function withAbsentFiles(now: Record<string, FileEntry>, partial: PartialCopy | undefined, tags: Record<string, TagManifest>): Record<string, FileEntry> {
  const from = partial && tags[partial.tag];
  if (!from) return now;
  const out = emptyFileMap();
  for (const p of sortPaths([...Object.keys(now), ...partial.absent.filter((a) => !Object.hasOwn(now, a) && Object.hasOwn(from.files, a))])) {
    out[p] = Object.hasOwn(now, p) ? now[p]! : from.files[p]!;
  }
  return out;
}

/** The record after thawing `only` (all when undefined) of `target`: undefined when nothing is absent. @example partialRecord(v1, new Set(["db.sqlite"]))  // { tag: "v1", absent: [...] } */
export function partialRecord(target: TagManifest, only?: ReadonlySet<string>): PartialCopy | undefined {
  if (!only) return undefined;
  const absent = sortPaths(Object.keys(target.files).filter((p) => !only.has(p)));
  return absent.length === 0 ? undefined : { tag: target.tag, absent };
}

/** The record after freezing `now` (the working files) as `frozen` from a partial copy: the absent files not in `now`. @example partialAfterFreeze(v2, now)  // undefined for a full copy */
export function partialAfterFreeze(frozen: TagManifest, now: Record<string, FileEntry>): PartialCopy | undefined {
  return partialRecord(frozen, new Set(Object.keys(now)));
}

/** Reads `partial` from MANIFEST.json's JSON; INTEGRITY when it is malformed. @example parsePartial(json.partial, manifestPath, tags) */
export function parsePartial(json: unknown, source: string, tags: Record<string, TagManifest>): PartialCopy | undefined {
  if (json === undefined || json === null) return undefined;
  const p = json as Partial<PartialCopy>;
  if (typeof p.tag !== "string" || !(p.tag in tags) || !Array.isArray(p.absent) || !p.absent.every((a) => typeof a === "string")) {
    throw new IntegrityError(`local manifest ${source} is invalid: field partial is not {tag, absent} of one of its tags`, { path: source });
  }
  return { tag: p.tag, absent: sortPaths(p.absent) };
}

/**
 * INTEGRITY for a thaw of a tag whose objects are not all local: the
 * dataset was pulled partially; a pull without filters fetches the rest.
 *
 * @example throw notAllLocalError("Cohort.RNA", v1, ["reads/S2/R1.fq"])
 */
export function notAllLocalError(slug: string, target: TagManifest, missing: string[]): IntegrityError {
  const how = `minus80 cloud pull ${target.dtype} ${target.name} --tag ${target.tag}`;
  return new IntegrityError(
    `cannot thaw ${slug}:${target.tag}: ${missing.length} of its files (${missing.slice(0, 3).join(", ")}${missing.length > 3 ? ", ..." : ""}) are not in the local store: ` +
      `the dataset was pulled partially (with --include, --accessions or --where)`,
    { slug, tag: target.tag, partial: true, missing, hint: `run \`${how}\` without filters to fetch the rest` },
  );
}
