/**
 * The local content-addressed store: `<basedir>/objects/sha256/<2 hex>/<sha256>`.
 * Every dataset and tag shares it, so a content is stored once however many
 * tags or datasets hold it. Objects are read-only and only ever appear under
 * their final name once complete and verified.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { checkUnchanged, type FileStamp } from "../integrity/fileStamp.js";
import { checkBytes, mismatchError, type HashResult } from "../integrity/hashingStream.js";
import { hashFile, isTempName, tempPathFor, writeNewFileSync } from "./files.js";
import { hashPool } from "./hashPool.js";

/** Stored objects are read-only: nothing edits a content-addressed file in place. */
const READ_ONLY_MODE = 0o444;

/** Fills a temporary file with an object's bytes and returns what they hash to. */
export type FillObject = (tmpFile: string) => Promise<HashResult>;

export class BlobStore {
  constructor(readonly root: string) {}

  /** `objects/sha256/ab/ab12...` under the store root */
  pathOf(sha256: string): string {
    return path.join(this.root, sha256.slice(0, 2), sha256);
  }

  /** The stored object as a file to send, and the sha256 it must still hash to (see integrity/checkedFile.ts). */
  sourceOf(sha256: string): { file: string; sha256: string } {
    return { file: this.pathOf(sha256), sha256 };
  }

  /**
   * Whether the store holds `sha256`. A synchronous stat under the promise:
   * planning asks this of every file of a tag, and for tens of thousands of
   * files the thread pool's round trips cost far more than the stats
   * (BENCHMARKS.md, scenario F).
   */
  async has(sha256: string): Promise<boolean> {
    return this.sizeOf(sha256) !== undefined;
  }

  /** The stored object's size, or undefined when the store lacks it. @example blobs.sizeOf(sha) ?? "absent" */
  sizeOf(sha256: string): number | undefined {
    return fs.statSync(this.pathOf(sha256), { throwIfNoEntry: false })?.size;
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
      await checkUnchanged(file, { ...before, size: h.size }, "while it was being frozen");
      await fsp.chmod(tmp, READ_ONLY_MODE);
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
      await checkUnchanged(file, { ...before, size: h.size }, "while it was being frozen");
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
   * Stores an object fetched from elsewhere: `fill` writes its bytes to a
   * temporary file in the store; they get their final name only if they
   * hash to `expect`, else INTEGRITY and nothing is stored.
   *
   * @example await blobs.addFetched({ sha256, size }, (tmp) => downloadObject(backend, key, tmp, ...))
   */
  async addFetched(expect: HashResult, fill: FillObject): Promise<void> {
    const target = this.pathOf(expect.sha256);
    await this.ensureShardDir(target);
    const tmp = tempPathFor(target);
    try {
      const got = await fill(tmp);
      if (got.sha256 !== expect.sha256 || got.size !== expect.size) throw mismatchError(`object ${expect.sha256}`, expect, got);
      await fsp.chmod(tmp, READ_ONLY_MODE);
      await fsp.rename(tmp, target);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  /**
   * Stores a small object whose bytes are in memory (a file read out of a
   * pack): it gets its name only if the bytes hash to `expect`, else
   * INTEGRITY and nothing is stored. Synchronous on purpose: for files of
   * a few KiB, the thread pool's round trips (open, write, close, chmod,
   * rename) cost several times the writes themselves.
   *
   * @example blobs.addBytes({ sha256, size: data.length }, data)
   */
  addBytes(expect: HashResult, data: Buffer): void {
    checkBytes(data, expect, `object ${expect.sha256}`);
    const target = this.pathOf(expect.sha256);
    const dir = path.dirname(target);
    if (!this.shardDirs.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      this.shardDirs.add(dir);
    }
    const tmp = tempPathFor(target);
    try {
      writeNewFileSync(tmp, data, READ_ONLY_MODE);
      fs.renameSync(tmp, target);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }

  /** Removes these objects (the caller holds the store lock and knows no tag references them). */
  async remove(shas: Iterable<string>): Promise<void> {
    for (const sha of shas) await fsp.rm(this.pathOf(sha), { force: true });
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
