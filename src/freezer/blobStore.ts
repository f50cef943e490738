/**
 * The local content-addressed store: `<basedir>/objects/sha256/<2 hex>/<sha256>`.
 * Every dataset and tag shares it, so a content is stored once however many
 * tags or datasets hold it. Objects are read-only and only ever appear under
 * their final name once complete and verified.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform, type Readable } from "node:stream";
import { IntegrityError } from "../errors.js";
import { hashFile, isTempName, tempPathFor, type HashResult } from "./files.js";
import { hashPool } from "./hashPool.js";

/** What shows a file changed: mtime can be set back, ctime cannot. */
export interface FileStamp {
  mtimeMs: number;
  ctimeMs: number;
}

export class BlobStore {
  constructor(readonly root: string) {}

  /** `objects/sha256/ab/ab12...` under the store root */
  pathOf(sha256: string): string {
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await fsp.access(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stores a copy of `file` (hashing it unless `known` is given) and returns
   * its hash and size. Content already present is not copied again.
   */
  async addFile(file: string, known?: HashResult & FileStamp): Promise<HashResult & { added: boolean }> {
    // The stamp must be taken before hashing: `known` carries the one its hash was made under.
    const before: FileStamp = known ?? (await fsp.stat(file));
    const h = known ?? (await hashFile(file));
    if (await this.has(h.sha256)) return { ...h, added: false };
    const target = this.pathOf(h.sha256);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const tmp = tempPathFor(target);
    try {
      await fsp.copyFile(file, tmp, fs.constants.COPYFILE_FICLONE); // a reflink where the file system can, else a copy
      // Re-hashing the copy would read the file a second time; a file changed between
      // hashing and copying shows in its size, mtime or ctime instead (ctime cannot be faked).
      const after = await fsp.stat(file);
      if (after.size !== h.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) {
        throw new IntegrityError(`file ${file} changed while it was being frozen; freeze again when it is no longer being written`, { path: file });
      }
      await fsp.chmod(tmp, 0o444);
      await fsp.rename(tmp, target);
    } finally {
      await fsp.rm(tmp, { force: true });
    }
    return { ...h, added: true };
  }

  /**
   * Hashes `file` and stores it in one read (the copy is made while hashing,
   * on a worker thread). `before` is the file's stamp taken before the call:
   * if the file changes meanwhile, nothing is stored and INTEGRITY is thrown.
   */
  async ingest(file: string, before: FileStamp): Promise<HashResult & { added: boolean }> {
    await fsp.mkdir(this.root, { recursive: true });
    const tmp = tempPathFor(path.join(this.root, "ingest"));
    try {
      const h = await hashPool().hashAndCopy(file, tmp);
      const after = await fsp.stat(file);
      if (after.size !== h.size || after.mtimeMs !== before.mtimeMs || after.ctimeMs !== before.ctimeMs) {
        throw new IntegrityError(`file ${file} changed while it was being frozen; freeze again when it is no longer being written`, { path: file });
      }
      if (await this.has(h.sha256)) return { ...h, added: false };
      const target = this.pathOf(h.sha256);
      await fsp.mkdir(path.dirname(target), { recursive: true });
      await fsp.rename(tmp, target);
      return { ...h, added: true };
    } finally {
      await fsp.rm(tmp, { force: true });
    }
  }

  /**
   * Writes a stream into the store, checking its sha256 and size while it
   * flows. On a mismatch nothing is stored and INTEGRITY names `source`.
   */
  async addStream(
    body: Readable,
    expect: HashResult,
    source: string,
    onBytes?: (n: number) => void,
  ): Promise<void> {
    const target = this.pathOf(expect.sha256);
    await this.ensureShardDir(target);
    const tmp = tempPathFor(target);
    const hash = createHash("sha256");
    let size = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        size += chunk.length;
        if (size > expect.size) {
          cb(new IntegrityError(`object ${source} is larger than its manifest says (${expect.size} bytes)`, { key: source, expected: expect.size }));
          return;
        }
        onBytes?.(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, fs.createWriteStream(tmp, { mode: 0o444 }));
      const sha256 = hash.digest("hex");
      if (size !== expect.size || sha256 !== expect.sha256) {
        throw new IntegrityError(
          `object ${source} is damaged: expected sha256 ${expect.sha256} (${expect.size} bytes), got ${sha256} (${size} bytes)`,
          { key: source, expected: expect.sha256, actual: sha256 },
        );
      }
      await fsp.rename(tmp, target);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  /** Shard folders known to exist (created by this process or found), so each costs one mkdir. */
  private readonly shardDirs = new Set<string>();

  private async ensureShardDir(target: string): Promise<void> {
    const dir = path.dirname(target);
    if (this.shardDirs.has(dir)) return;
    await fsp.mkdir(dir, { recursive: true });
    this.shardDirs.add(dir);
  }

  /** Every stored hash. */
  async list(): Promise<string[]> {
    const out: string[] = [];
    let dirs: string[];
    try {
      dirs = await fsp.readdir(this.root);
    } catch {
      return out;
    }
    for (const d of dirs) {
      const names = await fsp.readdir(path.join(this.root, d)).catch(() => [] as string[]);
      for (const n of names) if (!isTempName(n)) out.push(n);
    }
    return out;
  }

  /** Removes every object not in `keep`; returns how many and how many bytes. */
  async sweep(keep: Set<string>): Promise<{ removed: number; bytes: number }> {
    let removed = 0;
    let bytes = 0;
    for (const sha of await this.list()) {
      if (keep.has(sha)) continue;
      const p = this.pathOf(sha);
      const st = await fsp.stat(p).catch(() => null);
      await fsp.rm(p, { force: true });
      removed++;
      bytes += st?.size ?? 0;
    }
    return { removed, bytes };
  }
}
