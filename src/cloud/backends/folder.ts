/**
 * The folder backend, for `file:///path` endpoints (a shared filesystem):
 * the same keys as in a bucket, as plain files under `<folder>/<bucket>/`.
 *
 *     <folder>/<bucket>/<prefix><key>                 the object's bytes (a plain file)
 *     <folder>/.minus80/meta/<bucket>/<prefix><key>   its metadata (JSON sidecar, never listed)
 *     <folder>/.minus80/tmp/<bucket>/<prefix>/        uploads in progress (renamed into place)
 *
 * Writes go to a temporary file and are renamed into place, so a reader
 * sees the old object or the new one, never a part. A create-only put links
 * the temporary file to its name, which fails if the name exists: the
 * filesystem's equivalent of `If-None-Match: *`. A sidecar records the
 * inode of the bytes it describes, so a sidecar left behind by an
 * interrupted overwrite is recognised as stale and ignored.
 *
 * @example
 *   const b = new FolderBackend({ root: "/mnt/shared/minus80", bucket: "lab", prefix: "" });
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Minus80Error } from "../../errors.js";
import { fileBodyStream } from "./fileBody.js";
import { backendError, isFileBody, isNotFoundError, type Backend, type GetOptions, type GetResult, type HeadResult, type ListOptions, type ObjectInfo, type PendingUpload, type PutBody, type PutOptions } from "./backend.js";

export interface FolderBackendOptions {
  /** the folder of the `file://` endpoint */
  root: string;
  bucket: string;
  /** `""` or `a/b/` */
  prefix: string;
}

interface Sidecar {
  ino: number;
  size: number;
  metadata: Record<string, string>;
}

/** The directory (beside the buckets) holding sidecars and temporary files. */
export const FOLDER_STATE_DIR = ".minus80";

export class FolderBackend implements Backend {
  readonly location: string;
  private readonly dataRoot: string;
  private readonly metaRoot: string;
  private readonly tmpRoot: string;

  constructor(private readonly opts: FolderBackendOptions) {
    this.dataRoot = path.join(opts.root, opts.bucket);
    this.metaRoot = path.join(opts.root, FOLDER_STATE_DIR, "meta", opts.bucket);
    // One temporary folder per bucket prefix, so gc/nuke of one prefix never touches another's writes.
    this.tmpRoot = path.join(opts.root, FOLDER_STATE_DIR, "tmp", opts.bucket, opts.prefix === "" ? "_" : encodeURIComponent(opts.prefix));
    this.location = `folder ${this.dataRoot}${opts.prefix ? ` prefix ${opts.prefix}` : ""}`;
  }

  async ensureBucket(): Promise<{ created: boolean }> {
    try {
      const existed = fs.existsSync(this.dataRoot);
      await fsp.mkdir(this.dataRoot, { recursive: true });
      await fsp.mkdir(this.tmpRoot, { recursive: true });
      await fsp.access(this.dataRoot, fs.constants.W_OK | fs.constants.R_OK);
      return { created: !existed };
    } catch (err) {
      throw this.classify(err, "create the bucket folder");
    }
  }

  async put(key: string, body: PutBody, opts: PutOptions): Promise<void> {
    const target = this.pathOf(key);
    const tmp = path.join(this.tmpRoot, `${Date.now()}-${process.pid}-${randomBytes(6).toString("hex")}`);
    try {
      await fsp.mkdir(this.tmpRoot, { recursive: true });
      await fsp.mkdir(path.dirname(target), { recursive: true });
      const source = Buffer.isBuffer(body)
        ? Readable.from([body])
        : isFileBody(body)
          ? fileBodyStream(body, key, 0, opts.size, { whole: true })
          : typeof body === "function"
            ? body()
            : body;
      let loaded = 0;
      source.on("data", (chunk: Buffer) => {
        loaded += chunk.length;
        opts.onProgress?.(loaded);
      });
      await pipeline(source, fs.createWriteStream(tmp, { flush: true }));
      if (loaded !== opts.size) {
        throw backendError("CLOUD", `upload of ${key} sent ${loaded} bytes, expected ${opts.size}`, { key, transient: false });
      }
      const ino = (await fsp.stat(tmp)).ino;
      if (opts.metadata && Object.keys(opts.metadata).length > 0) {
        await this.writeSidecar(key, { ino, size: loaded, metadata: opts.metadata });
      } else {
        await fsp.rm(this.sidecarPath(key), { force: true });
      }
      if (opts.ifNoneMatch) {
        // link() refuses an existing name: an atomic create-only.
        try {
          await fsp.link(tmp, target);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "EEXIST") {
            throw backendError("FILE_EXISTS", `${key} already exists in ${this.location}`, { key, transient: false });
          }
          throw err;
        }
      } else {
        await fsp.rename(tmp, target);
      }
    } catch (err) {
      throw this.classify(err, "write", key);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    const file = this.pathOf(key);
    try {
      // Open first, then describe what was opened: a concurrent rename cannot mix two versions.
      const fh = await fsp.open(file, "r");
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
        const etag = etagOf(st);
        if (opts.ifMatch !== undefined && opts.ifMatch !== etag) {
          throw backendError("CLOUD", `${key} changed in ${this.location} while it was being read`, { key, transient: false, changed: true });
        }
        const metadata = await this.readSidecar(key, st);
        const body = fh.createReadStream({ start: opts.offset ?? 0, ...(opts.end !== undefined ? { end: opts.end - 1 } : {}), autoClose: true });
        return { body, size: st.size, lastModified: st.mtime, metadata, etag };
      } catch (err) {
        await fh.close();
        throw err;
      }
    } catch (err) {
      throw this.classify(err, "read", key);
    }
  }

  async head(key: string): Promise<HeadResult> {
    try {
      const st = await fsp.stat(this.pathOf(key));
      if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
      return { size: st.size, lastModified: st.mtime, metadata: await this.readSidecar(key, st), etag: etagOf(st) };
    } catch (err) {
      throw this.classify(err, "check", key);
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const full = this.opts.prefix + prefix;
    // Walk the deepest directory the prefix names, then filter and sort like S3 (by key).
    const dirPart = full.includes("/") ? full.slice(0, full.lastIndexOf("/") + 1) : "";
    const found: ObjectInfo[] = [];
    const visit = async (dir: string, rel: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return;
        throw this.classify(err, "list", prefix);
      }
      for (const e of entries) {
        const k = rel + e.name;
        if (e.isDirectory()) {
          if (full.startsWith(k + "/") || (k + "/").startsWith(full)) await visit(path.join(dir, e.name), k + "/");
        } else if (e.isFile() && k.startsWith(full)) {
          const st = await fsp.stat(path.join(dir, e.name)).catch(() => null);
          if (st) found.push({ key: k.slice(this.opts.prefix.length), size: st.size, lastModified: st.mtime });
        }
      }
    };
    if (dirPart.split("/").some((s, i, a) => (s === "" && i < a.length - 1) || s === "." || s === "..")) return;
    await visit(path.join(this.dataRoot, dirPart), dirPart);
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const o of found) if (opts.startAfter === undefined || o.key > opts.startAfter) yield o;
  }

  async delete(key: string): Promise<void> {
    try {
      await fsp.rm(this.pathOf(key), { force: true });
      await fsp.rm(this.sidecarPath(key), { force: true });
      await this.pruneParents(key);
    } catch (err) {
      throw this.classify(err, "delete", key);
    }
  }

  async deleteMany(keys: readonly string[]): Promise<void> {
    for (const k of keys) await this.delete(k);
  }

  async touch(key: string): Promise<Date | undefined> {
    try {
      const now = new Date();
      await fsp.utimes(this.pathOf(key), now, now);
      return now;
    } catch (err) {
      throw this.classify(err, "refresh", key);
    }
  }

  /** Temporary files of writes in progress or interrupted (any process, this prefix). */
  async *listUploads(): AsyncIterable<PendingUpload> {
    let names: string[];
    try {
      names = await fsp.readdir(this.tmpRoot);
    } catch {
      return;
    }
    for (const n of names) {
      const st = await fsp.stat(path.join(this.tmpRoot, n)).catch(() => null);
      if (st) yield { key: n, uploadId: n, initiated: st.mtime };
    }
  }

  async abortUpload(upload: PendingUpload): Promise<void> {
    if (upload.uploadId.includes("/") || upload.uploadId.startsWith(".")) return;
    await fsp.rm(path.join(this.tmpRoot, upload.uploadId), { force: true });
  }

  isNotFound(err: unknown): boolean {
    return isNotFoundError(err);
  }

  close(): void {}

  /** The file of a key; refuses keys that would leave the bucket folder. */
  private pathOf(key: string): string {
    return path.join(this.dataRoot, ...this.segments(key));
  }

  private sidecarPath(key: string): string {
    return path.join(this.metaRoot, ...this.segments(key));
  }

  private segments(key: string): string[] {
    const full = this.opts.prefix + key;
    const parts = full.split("/");
    if (full.includes("\0") || full.includes("\\") || parts.some((p) => p === "" || p === "." || p === "..")) {
      throw backendError("INVALID_ARGUMENT", `key ${JSON.stringify(key)} cannot be stored in a folder (empty, '.' or '..' segment, backslash or NUL)`, {
        key,
        transient: false,
      });
    }
    return parts;
  }

  private async writeSidecar(key: string, s: Sidecar): Promise<void> {
    const file = this.sidecarPath(key);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(s));
    await fsp.rename(tmp, file);
  }

  private async readSidecar(key: string, st: fs.Stats): Promise<Record<string, string>> {
    try {
      const s = JSON.parse(await fsp.readFile(this.sidecarPath(key), "utf8")) as Sidecar;
      // A sidecar for other bytes (an interrupted overwrite) is ignored, never trusted.
      if (s.ino !== st.ino || s.size !== st.size || typeof s.metadata !== "object" || s.metadata === null) return {};
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.metadata)) if (typeof v === "string") out[k.toLowerCase()] = v;
      return out;
    } catch {
      return {};
    }
  }

  /** Removes directories emptied by a delete, up to the bucket folder. */
  private async pruneParents(key: string): Promise<void> {
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

  private classify(err: unknown, op: string, key?: string): Minus80Error {
    if (err instanceof Minus80Error) return err;
    const code = (err as NodeJS.ErrnoException).code ?? "";
    const data = { key, transient: false, errno: code };
    const about = key !== undefined ? ` ${key}` : "";
    if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
      return backendError("NOT_FOUND", `${key ?? "object"} does not exist in ${this.location}`, data);
    }
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
      return backendError("CREDENTIALS", `no permission to ${op}${about} in ${this.location} (${code}): check the folder's permissions`, data);
    }
    if (code === "ENOSPC" || code === "EDQUOT") {
      return backendError("CLOUD", `no space left to ${op}${about} in ${this.location} (${code})`, data);
    }
    if (code === "EIO" || code === "ESTALE" || code === "EAGAIN" || code === "EBUSY") {
      return backendError("CLOUD", `cannot ${op}${about} in ${this.location} (${code})`, { ...data, transient: true });
    }
    return backendError("CLOUD", `cannot ${op}${about} in ${this.location}: ${(err as Error).message ?? String(err)}`, data);
  }
}

function etagOf(st: fs.Stats): string {
  return `${st.ino}-${st.size}-${Math.trunc(st.mtimeMs)}`;
}
