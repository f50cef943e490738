/**
 * Where the folder backend keeps what: the on-disk layout of a `file://`
 * remote, in one place.
 *
 *     <folder>/<bucket>/<prefix><key>                 the object's bytes (a plain file)
 *     <folder>/.minus80/meta/<bucket>/<prefix><key>   its metadata (JSON sidecar, never listed)
 *     <folder>/.minus80/tmp/<bucket>/<prefix>/        writes in progress (renamed into place), and
 *                                                     multipart uploads (a folder of parts each)
 *
 * A sidecar records the inode and size of the bytes it describes, so a
 * sidecar left behind by an interrupted overwrite is recognised as stale
 * and ignored, never trusted.
 *
 * @example
 *   const files = new FolderFiles({ root: "/mnt/shared/minus80", bucket: "lab", prefix: "" });
 *   files.pathOf("objects/sha256/ab/ab12..")   // "/mnt/shared/minus80/lab/objects/sha256/ab/ab12.."
 */
import { randomBytes } from "node:crypto";
import type fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { InvalidArgumentError } from "../../../errors.js";

export interface FolderBackendOptions {
  /** the folder of the `file://` endpoint */
  root: string;
  bucket: string;
  /** `""` or `a/b/` */
  prefix: string;
}

/** The directory (beside the buckets) holding sidecars and temporary files. */
export const FOLDER_STATE_DIR = ".minus80";

interface Sidecar {
  ino: number;
  size: number;
  metadata: Record<string, string>;
}

export class FolderFiles {
  readonly dataRoot: string;
  readonly metaRoot: string;
  readonly tmpRoot: string;

  constructor(readonly opts: FolderBackendOptions) {
    this.dataRoot = path.join(opts.root, opts.bucket);
    this.metaRoot = path.join(opts.root, FOLDER_STATE_DIR, "meta", opts.bucket);
    // One temporary folder per bucket prefix, so gc/nuke of one prefix never touches another's writes.
    this.tmpRoot = path.join(opts.root, FOLDER_STATE_DIR, "tmp", opts.bucket, opts.prefix === "" ? "_" : encodeURIComponent(opts.prefix));
  }

  /** The file of a key; refuses keys that would leave the bucket folder. */
  pathOf(key: string): string {
    return path.join(this.dataRoot, ...this.segments(key));
  }

  sidecarPath(key: string): string {
    return path.join(this.metaRoot, ...this.segments(key));
  }

  /** A fresh name for a write in progress. */
  tempName(kind = ""): string {
    return path.join(this.tmpRoot, `${kind}${Date.now()}-${process.pid}-${randomBytes(6).toString("hex")}`);
  }

  private segments(key: string): string[] {
    const full = this.opts.prefix + key;
    const parts = full.split("/");
    if (full.includes("\0") || full.includes("\\") || parts.some((p) => p === "" || p === "." || p === "..")) {
      throw new InvalidArgumentError(`key ${JSON.stringify(key)} cannot be stored in a folder (empty, '.' or '..' segment, backslash or NUL)`, {
        key,
        transient: false,
      });
    }
    return parts;
  }

  /** Records `metadata` for the bytes now at `key` (inode `ino`, `size` bytes), or removes a stale sidecar. */
  async writeSidecar(key: string, ino: number, size: number, metadata: Record<string, string> | undefined): Promise<void> {
    const file = this.sidecarPath(key);
    if (!metadata || Object.keys(metadata).length === 0) return fsp.rm(file, { force: true });
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify({ ino, size, metadata } satisfies Sidecar));
    await fsp.rename(tmp, file);
  }

  /** The metadata of the bytes `st` describes; `{}` when there is none or it describes other bytes. */
  async readSidecar(key: string, st: fs.Stats): Promise<Record<string, string>> {
    try {
      const s = JSON.parse(await fsp.readFile(this.sidecarPath(key), "utf8")) as Sidecar;
      if (s.ino !== st.ino || s.size !== st.size || typeof s.metadata !== "object" || s.metadata === null) return {};
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.metadata)) if (typeof v === "string") out[k.toLowerCase()] = v;
      return out;
    } catch {
      return {};
    }
  }

  /** Removes directories emptied by a delete, up to the bucket folder. */
  async pruneParents(key: string): Promise<void> {
    for (const root of [this.dataRoot, this.metaRoot]) {
      let dir = path.dirname(path.join(root, ...this.segments(key)));
      while (dir.length > root.length && dir.startsWith(root)) {
        try {
          await fsp.rmdir(dir);
        } catch {
          break;
        }
        dir = path.dirname(dir);
      }
    }
  }
}

/** A version token for the bytes a stat describes. */
export function etagOf(st: fs.Stats): string {
  return `${st.ino}-${st.size}-${Math.trunc(st.mtimeMs)}`;
}

/** A name that stays inside the temporary folder. */
export function isPlainName(name: string): boolean {
  return name !== "" && !name.includes("/") && !name.includes("\\") && !name.startsWith(".");
}
