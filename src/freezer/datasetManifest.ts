/**
 * A dataset's `MANIFEST.json`: every tag of the dataset and the tag its
 * working copy came from. Read validated, written atomically (a reader
 * sees the old file or the new one, never half of one).
 *
 * A `ManifestFile` remembers the manifest it last wrote, with the file's
 * stamp (device, inode, size, change times) just after the write; a read
 * that finds the file still carrying that stamp returns the remembered
 * manifest instead of parsing the file again. Why: a pull records a tag
 * and then thaws it, and the thaw (and its unsaved-changes check) used to
 * read back the 50,000 entries it had just written, while the pull's own
 * copies of them were not yet collected: that was the pull's memory peak
 * (BENCHMARKS.md, scenario F). Every write replaces the file by a rename,
 * so another writer's file has another inode, and a changed file is read.
 *
 * @example
 *   const file = new ManifestFile("/data/datasets/Cohort/RNA/MANIFEST.json", "Cohort", "RNA");
 *   const m = file.read();  m.head = "v1";  await file.write(m);
 */
import fs from "node:fs";
import { IntegrityError } from "../errors.js";
import { tempPathFor, writeJsonAtomic } from "./files.js";
import { parsePartial, type PartialCopy } from "./partial.js";
import { validateTagManifest, type TagManifest } from "./manifest.js";

export interface DatasetManifest {
  format: "minus80-dataset";
  version: 1;
  dtype: string;
  name: string;
  /** the tag the working copy was last frozen as or thawed from */
  head: string | null;
  tags: Record<string, TagManifest>;
  /** set when the working copy holds only some files of a tag (a filtered pull), see partial.ts */
  partial?: PartialCopy;
}

export class ManifestFile {
  /** what this object last wrote, and the file's stamp right after (writes happen under the dataset's lock) */
  private written?: { stamp: string; manifest: DatasetManifest };

  constructor(
    readonly path: string,
    private readonly dtype: string,
    private readonly name: string,
  ) {}

  /** An empty manifest: no tags, no head. */
  empty(): DatasetManifest {
    return { format: "minus80-dataset", version: 1, dtype: this.dtype, name: this.name, head: null, tags: Object.create(null) };
  }

  /** Writes an empty manifest unless one exists (never replacing one made meanwhile). */
  createIfMissing(): void {
    if (fs.existsSync(this.path)) return;
    const tmp = tempPathFor(this.path);
    fs.writeFileSync(tmp, JSON.stringify(this.empty(), null, 2) + "\n");
    try {
      fs.linkSync(tmp, this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /**
   * The manifest, every tag validated (an empty one when there is no file).
   * The caller may change the returned object and its `tags` record; the
   * tag manifests in it are shared and must not be changed.
   */
  read(): DatasetManifest {
    const written = this.written;
    if (written && written.stamp === this.stamp()) return { ...written.manifest, tags: Object.assign(Object.create(null), written.manifest.tags) };
    let text: string;
    try {
      text = fs.readFileSync(this.path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return this.empty();
      throw err;
    }
    let json: DatasetManifest;
    try {
      json = JSON.parse(text) as DatasetManifest;
    } catch {
      throw new IntegrityError(`local manifest ${this.path} is not valid JSON`, { path: this.path });
    }
    const tags: Record<string, TagManifest> = Object.create(null);
    for (const [t, m] of Object.entries(json.tags ?? {})) {
      tags[t] = validateTagManifest(m, `${this.path}#${t}`, { dtype: this.dtype, name: this.name, tag: t });
    }
    const partial = parsePartial(json.partial, this.path, tags);
    return { format: "minus80-dataset", version: 1, dtype: this.dtype, name: this.name, head: json.head ?? null, tags, ...(partial ? { partial } : {}) };
  }

  /** Replaces the file with `m` (the caller holds the dataset's lock). */
  async write(m: DatasetManifest): Promise<void> {
    if (m.partial === undefined) delete m.partial; // a full copy's manifest is as before
    this.written = undefined;
    await writeJsonAtomic(this.path, m);
    const stamp = this.stamp();
    if (stamp) this.written = { stamp, manifest: { ...m, tags: Object.assign(Object.create(null), m.tags) } };
  }

  /** What identifies this version of the file: a rename gives a new inode, a rewrite new change times. */
  private stamp(): string | undefined {
    try {
      const s = fs.statSync(this.path, { bigint: true });
      return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
    } catch {
      return undefined;
    }
  }
}
