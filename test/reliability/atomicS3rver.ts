/**
 * s3rver with atomic writes, as every real S3 implementation has them.
 *
 * s3rver (a mock) writes an upload straight into the object's file while
 * the body arrives and keeps whatever arrived when the connection breaks:
 * an interrupted PUT leaves a truncated object, a late-finishing broken
 * attempt can truncate the object a retry has just written, and a reader
 * can see a multipart upload half-assembled. AWS S3, Ceph RGW and MinIO
 * discard a body shorter than its Content-Length and make an object (and
 * its metadata) visible at once, and minus80 relies on exactly that; the
 * randomized fault runs found these s3rver artifacts, not minus80 bugs.
 *
 * `makeS3rverAtomic()` patches s3rver's filesystem store in THIS process
 * (tests only) so that PutObject and UploadPart write to a temporary file,
 * refuse a body shorter or longer than the request's Content-Length, and
 * publish the bytes and their metadata together under a per-key lock that
 * readers take too; and so that CompleteMultipartUpload of an upload that
 * is gone (aborted, or already completed) is NoSuchUpload instead of an
 * unhandled ENOENT that kills the process. Everything else is s3rver's own.
 *
 * @example
 *   makeS3rverAtomic();                 // before starting s3rver
 *   const target = await s3rverTarget();
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";

interface S3ObjectLike {
  bucket: string;
  key: string;
  content: Readable | Buffer;
  metadata: Record<string, string>;
}

interface StoreProto {
  rootDirectory: string;
  getResourcePath(bucket: string, key: string | undefined, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: S3ObjectLike): Promise<{ size: number; md5: string }>;
  putPart(bucket: string, uploadId: string, partNumber: number, content: Readable): Promise<{ size: number; md5: string }>;
  putObjectMultipart(bucket: string, uploadId: string, parts: Array<{ number: number }>): Promise<{ size: number; md5: string }>;
  getMetadata(bucket: string, key: string): Promise<unknown>;
  getObject(bucket: string, key: string, options?: unknown): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<unknown>;
}

let patched = false;

/** Patches s3rver's store (idempotent). Returns counters of what the patch refused. */
export function makeS3rverAtomic(): { refusedIncompleteBodies: number } {
  const stats = atomicStats;
  if (patched) return stats;
  patched = true;
  const req = createRequire(import.meta.url);
  const Store = req("s3rver/lib/stores/filesystem.js") as { prototype: StoreProto };
  const proto = Store.prototype;
  const original = { getMetadata: proto.getMetadata, getObject: proto.getObject, deleteObject: proto.deleteObject };
  const locks = new Map<string, Promise<void>>();

  async function withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    locks.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (locks.get(key) === tail) locks.delete(key);
    }
  }

  /** Streams `content` into a temporary file; refuses a request body of the wrong length. */
  async function receive(store: StoreProto, bucket: string, content: Readable | Buffer): Promise<{ tmp: string; size: number; md5: string }> {
    // Inside the bucket's folder (same filesystem, so rename is atomic); s3rver lists only its own suffixed files.
    const dir = path.join(store.rootDirectory, bucket, ".atomic-uploads");
    await fsp.mkdir(dir, { recursive: true });
    const tmp = path.join(dir, randomBytes(8).toString("hex"));
    const md5 = createHash("md5");
    let size = 0;
    const count = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        md5.update(chunk);
        size += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      if (Buffer.isBuffer(content)) {
        await fsp.writeFile(tmp, content);
        md5.update(content);
        size = content.length;
      } else {
        await pipeline(content, count, fs.createWriteStream(tmp));
      }
      const declared = (content as Partial<IncomingMessage>).headers?.["content-length"];
      const incomplete = (content as Partial<IncomingMessage>).complete === false;
      if (incomplete || (declared !== undefined && Number(declared) !== size)) {
        throw Object.assign(new Error(`incomplete body: ${size} of ${declared} bytes`), { code: "IncompleteBody" });
      }
      return { tmp, size, md5: md5.digest("hex") };
    } catch (err) {
      stats.refusedIncompleteBodies++; // cut short (or broken): nothing is published
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  proto.putObject = async function (this: StoreProto, object: S3ObjectLike) {
    const objectPath = this.getResourcePath(object.bucket, object.key, "object");
    await fsp.mkdir(path.dirname(objectPath), { recursive: true });
    const got = await receive(this, object.bucket, object.content);
    await withKeyLock(objectPath, async () => {
      await fsp.rename(got.tmp, objectPath);
      await this.putMetadata(object.bucket, object.key, object.metadata, got.md5);
    });
    return { size: got.size, md5: got.md5 };
  };

  proto.putPart = async function (this: StoreProto, bucket: string, uploadId: string, partNumber: number, content: Readable) {
    const partPath = path.join(this.getResourcePath(bucket, undefined, "uploads"), uploadId, partNumber.toString());
    await fsp.mkdir(path.dirname(partPath), { recursive: true });
    const got = await receive(this, bucket, content);
    await fsp.rename(got.tmp, partPath);
    await fsp.writeFile(`${partPath}.md5`, got.md5);
    return { size: got.size, md5: got.md5 };
  };

  // CompleteMultipartUpload: s3rver concatenates the part files with streams whose errors nobody
  // handles, so a completion racing an abort (or repeated after its upload was already completed)
  // crashes the process with ENOENT. Here a missing upload is NoSuchUpload, as on S3, and a part
  // that cannot be read fails the request.
  const S3Object = req("s3rver/lib/models/object.js") as new (bucket: string, key: string, content: Readable, metadata: Record<string, string>) => S3ObjectLike;
  const S3Error = req("s3rver/lib/models/error.js") as new (code: string, message: string) => Error;
  proto.putObjectMultipart = async function (this: StoreProto, bucket: string, uploadId: string, parts: Array<{ number: number }>) {
    const uploadDir = path.join(this.getResourcePath(bucket, undefined, "uploads"), uploadId);
    let key: string;
    let metadata: Record<string, string>;
    try {
      key = (await fsp.readFile(path.join(uploadDir, "key"))).toString();
      metadata = JSON.parse((await fsp.readFile(path.join(uploadDir, "metadata"))).toString()) as Record<string, string>;
    } catch {
      throw new S3Error("NoSuchUpload", "The specified upload does not exist.");
    }
    const sorted = [...parts].sort((a, b) => a.number - b.number);
    async function* concat(): AsyncGenerator<Buffer> {
      for (const part of sorted) yield* fs.createReadStream(path.join(uploadDir, part.number.toString())) as AsyncIterable<Buffer>;
    }
    const result = await this.putObject(new S3Object(bucket, key, Readable.from(concat()), metadata));
    await fsp.rm(uploadDir, { recursive: true, force: true });
    return result;
  };

  proto.getMetadata = function (this: StoreProto, bucket: string, key: string) {
    return withKeyLock(this.getResourcePath(bucket, key, "object"), () => original.getMetadata.call(this, bucket, key));
  };
  proto.getObject = function (this: StoreProto, bucket: string, key: string, options?: unknown) {
    // s3rver's getObject calls getMetadata itself: lock once here, call the unlocked one inside.
    return withKeyLock(this.getResourcePath(bucket, key, "object"), () => {
      const self = Object.create(this) as StoreProto;
      self.getMetadata = (b, k) => original.getMetadata.call(this, b, k);
      return original.getObject.call(self, bucket, key, options);
    });
  };
  proto.deleteObject = function (this: StoreProto, bucket: string, key: string) {
    return withKeyLock(this.getResourcePath(bucket, key, "object"), () => original.deleteObject.call(this, bucket, key));
  };
  return stats;
}

const atomicStats = { refusedIncompleteBodies: 0 };
