/**
 * The folder backend, for `file:///path` endpoints (a shared filesystem):
 * the same keys as in a bucket, as plain files under `<folder>/<bucket>/`
 * (the layout: `folderFiles.ts`).
 *
 * Writes go to a temporary file and are renamed into place, so a reader
 * sees the old object or the new one, never a part. A create-only write
 * links the temporary file to its name, which fails if the name exists:
 * the filesystem's equivalent of `If-None-Match: *`. A multipart upload
 * keeps its parts as files in a folder of its own and joins them on
 * completion. The verbs exist so that every backend passes one contract;
 * large files still go to a folder as one stream (no `multipartWrites`).
 *
 * @example
 *   const b = new FolderBackend({ root: "/mnt/shared/minus80", bucket: "lab", prefix: "" });
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CloudError, FileExistsError, throwIfCancelled, UploadNotFoundError } from "../../../errors.js";
import type { Backend, CompleteUploadOptions, GetOptions, GetResult, HeadResult, ListOptions, ObjectInfo, PendingUpload, PutBody, PutOptions, RequestOptions, StartUploadOptions } from "../backend.js";
import { classifyFolderError } from "./classify.js";
import { etagOf, FolderFiles, isPlainName, type FolderBackendOptions } from "./folderFiles.js";

/** Tries of a commit whose folder a concurrent delete pruned away. */
const COMMIT_ATTEMPTS = 5;
/** The file holding an upload's key and metadata, inside its folder. */
const UPLOAD_INFO = "upload.json";

export class FolderBackend implements Backend {
  readonly location: string;
  private readonly files: FolderFiles;

  constructor(opts: FolderBackendOptions) {
    this.files = new FolderFiles(opts);
    this.location = `folder ${this.files.dataRoot}${opts.prefix ? ` prefix ${opts.prefix}` : ""}`;
  }

  async ensureBucket(opts: RequestOptions = {}): Promise<{ created: boolean }> {
    throwIfCancelled(opts.signal);
    try {
      const existed = fs.existsSync(this.files.dataRoot);
      await fsp.mkdir(this.files.dataRoot, { recursive: true });
      await fsp.mkdir(this.files.tmpRoot, { recursive: true });
      await fsp.access(this.files.dataRoot, fs.constants.W_OK | fs.constants.R_OK);
      return { created: !existed };
    } catch (err) {
      throw this.classify(err, "create the bucket folder");
    }
  }

  async put(key: string, body: PutBody, opts: PutOptions): Promise<void> {
    throwIfCancelled(opts.signal);
    this.files.pathOf(key); // refuses a key that cannot be stored, before anything is written
    const tmp = this.files.tempName();
    try {
      await fsp.mkdir(this.files.tmpRoot, { recursive: true });
      const loaded = await writeBody(tmp, body, opts.signal);
      if (loaded !== opts.size) throw new CloudError(`upload of ${key} sent ${loaded} bytes, expected ${opts.size}`, { key, transient: false });
      await this.commit(tmp, key, opts.metadata, opts.ifNoneMatch ?? false);
    } catch (err) {
      throw this.classify(err, "write", key, opts.signal);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  /** Gives the complete temporary file `tmp` its name (create-only: link, which refuses an existing name). */
  private async commit(tmp: string, key: string, metadata: Record<string, string> | undefined, createOnly: boolean): Promise<void> {
    const target = this.files.pathOf(key);
    const st = await fsp.stat(tmp);
    // A delete of the folder's last key prunes the emptied folder (pruneParents): one racing this
    // write can remove the folder between its mkdir and its rename, so an ENOENT is tried again.
    for (let attempt = 1; ; attempt++) {
      try {
        await fsp.mkdir(path.dirname(target), { recursive: true });
        await this.files.writeSidecar(key, st.ino, st.size, metadata);
        if (!createOnly) return await fsp.rename(tmp, target);
        return await fsp.link(tmp, target);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EEXIST" && createOnly) throw new FileExistsError(`${key} already exists in ${this.location}`, { key, transient: false });
        if (code !== "ENOENT" || attempt >= COMMIT_ATTEMPTS) throw err;
      }
    }
  }

  async get(key: string, opts: GetOptions = {}): Promise<GetResult> {
    throwIfCancelled(opts.signal);
    try {
      // Open first, then describe what was opened: a concurrent rename cannot mix two versions.
      const fh = await fsp.open(this.files.pathOf(key), "r");
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
        const etag = etagOf(st);
        if (opts.ifMatch !== undefined && opts.ifMatch !== etag) {
          throw new CloudError(`${key} changed in ${this.location} while it was being read`, { key, transient: false, changed: true });
        }
        const metadata = await this.files.readSidecar(key, st);
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

  async head(key: string, opts: RequestOptions = {}): Promise<HeadResult> {
    throwIfCancelled(opts.signal);
    try {
      const st = await fsp.stat(this.files.pathOf(key));
      if (!st.isFile()) throw Object.assign(new Error("not a file"), { code: "ENOENT" });
      return { size: st.size, lastModified: st.mtime, metadata: await this.files.readSidecar(key, st), etag: etagOf(st) };
    } catch (err) {
      throw this.classify(err, "check", key);
    }
  }

  async *list(prefix: string, opts: ListOptions = {}): AsyncIterable<ObjectInfo> {
    const own = this.files.opts.prefix;
    const full = own + prefix;
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
          if (st) found.push({ key: k.slice(own.length), size: st.size, lastModified: st.mtime });
        }
      }
    };
    throwIfCancelled(opts.signal);
    if (dirPart.split("/").some((s, i, a) => (s === "" && i < a.length - 1) || s === "." || s === "..")) return;
    await visit(path.join(this.files.dataRoot, dirPart), dirPart);
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const o of found) if (opts.startAfter === undefined || o.key > opts.startAfter) yield o;
  }

  async delete(key: string, opts: RequestOptions = {}): Promise<void> {
    throwIfCancelled(opts.signal);
    try {
      await fsp.rm(this.files.pathOf(key), { force: true });
      await fsp.rm(this.files.sidecarPath(key), { force: true });
      await this.files.pruneParents(key);
    } catch (err) {
      throw this.classify(err, "delete", key);
    }
  }

  async deleteMany(keys: readonly string[], opts: RequestOptions = {}): Promise<void> {
    for (const k of keys) await this.delete(k, opts);
  }

  async touch(key: string, opts: RequestOptions = {}): Promise<Date | undefined> {
    throwIfCancelled(opts.signal);
    try {
      const now = new Date();
      await fsp.utimes(this.files.pathOf(key), now, now);
      return now;
    } catch (err) {
      throw this.classify(err, "refresh", key);
    }
  }

  async startUpload(key: string, opts: StartUploadOptions = {}): Promise<PendingUpload> {
    throwIfCancelled(opts.signal);
    this.files.pathOf(key); // refuses a key that cannot be stored, before anything is written
    const dir = this.files.tempName("upload-");
    try {
      await fsp.mkdir(dir, { recursive: true });
      await fsp.writeFile(path.join(dir, UPLOAD_INFO), JSON.stringify({ key, metadata: opts.metadata ?? {} }));
    } catch (err) {
      throw this.classify(err, "start an upload of", key, opts.signal);
    }
    return { key, uploadId: path.basename(dir), initiated: new Date() };
  }

  async uploadPart(upload: PendingUpload, partNumber: number, body: PutBody, size: number, opts: RequestOptions = {}): Promise<string> {
    throwIfCancelled(opts.signal);
    const dir = await this.uploadDir(upload);
    const tmp = path.join(dir, `.part-${partNumber}-${Date.now()}`);
    try {
      const loaded = await writeBody(tmp, body, opts.signal);
      if (loaded !== size) throw new CloudError(`part ${partNumber} of ${upload.key} sent ${loaded} bytes, expected ${size}`, { key: upload.key, transient: false });
      const part = path.join(dir, partName(partNumber));
      await fsp.rename(tmp, part);
      return etagOf(await fsp.stat(part));
    } catch (err) {
      throw this.classify(err, "upload a part of", upload.key, opts.signal);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async completeUpload(upload: PendingUpload, etags: readonly string[], opts: CompleteUploadOptions = {}): Promise<void> {
    throwIfCancelled(opts.signal);
    const dir = await this.uploadDir(upload);
    const tmp = this.files.tempName();
    try {
      const info = JSON.parse(await fsp.readFile(path.join(dir, UPLOAD_INFO), "utf8")) as { metadata: Record<string, string> };
      const out = fs.createWriteStream(tmp, { flush: true });
      for (let i = 0; i < etags.length; i++) {
        const part = path.join(dir, partName(i + 1));
        const st = await fsp.stat(part).catch(() => null);
        if (!st || etagOf(st) !== etags[i]) throw new CloudError(`part ${i + 1} of ${upload.key} is not the one sent (ETag ${etags[i]})`, { key: upload.key, transient: false });
        await pipeline(fs.createReadStream(part), out, { end: false });
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      await this.commit(tmp, upload.key, info.metadata, opts.ifNoneMatch ?? false);
      await fsp.rm(dir, { recursive: true, force: true });
    } catch (err) {
      throw this.classify(err, "complete the upload of", upload.key, opts.signal);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  async abortUpload(upload: PendingUpload, opts: RequestOptions = {}): Promise<void> {
    throwIfCancelled(opts.signal);
    if (!isPlainName(upload.uploadId)) return;
    await fsp.rm(path.join(this.files.tmpRoot, upload.uploadId), { recursive: true, force: true });
  }

  /** Writes in progress or interrupted (any process, this prefix): temporary files and upload folders. */
  async *listUploads(_prefix: string, opts: RequestOptions = {}): AsyncIterable<PendingUpload> {
    throwIfCancelled(opts.signal);
    let names: string[];
    try {
      names = await fsp.readdir(this.files.tmpRoot);
    } catch {
      return;
    }
    for (const n of names) {
      const st = await fsp.stat(path.join(this.files.tmpRoot, n)).catch(() => null);
      if (!st) continue;
      const key = st.isDirectory() ? await this.uploadKey(n) : undefined;
      yield { key: key ?? n, uploadId: n, initiated: st.mtime };
    }
  }

  close(): void {}

  /** The folder of an upload in progress; UPLOAD_NOT_FOUND once it is completed or aborted. */
  private async uploadDir(upload: PendingUpload): Promise<string> {
    const dir = path.join(this.files.tmpRoot, upload.uploadId);
    if (!isPlainName(upload.uploadId) || !(await fsp.stat(dir).catch(() => null))?.isDirectory()) {
      throw new UploadNotFoundError(`upload ${upload.uploadId} of ${upload.key} does not exist in ${this.location}`, { key: upload.key, transient: false });
    }
    return dir;
  }

  private async uploadKey(uploadId: string): Promise<string | undefined> {
    try {
      const info = JSON.parse(await fsp.readFile(path.join(this.files.tmpRoot, uploadId, UPLOAD_INFO), "utf8")) as { key?: unknown };
      return typeof info.key === "string" ? info.key : undefined;
    } catch {
      return undefined;
    }
  }

  private classify(err: unknown, op: string, key?: string, signal?: AbortSignal) {
    return classifyFolderError(err, op, key, { location: this.location, root: this.files.dataRoot }, signal);
  }
}

/** Writes a body to `file`, flushed; returns the bytes written. */
async function writeBody(file: string, body: PutBody, signal?: AbortSignal): Promise<number> {
  const source = Buffer.isBuffer(body) ? Readable.from([body]) : body();
  let loaded = 0;
  source.on("data", (chunk: Buffer) => (loaded += chunk.length));
  await pipeline(source, fs.createWriteStream(file, { flush: true }), ...(signal ? [{ signal }] : []));
  return loaded;
}

function partName(partNumber: number): string {
  return `part-${String(partNumber).padStart(5, "0")}`;
}
