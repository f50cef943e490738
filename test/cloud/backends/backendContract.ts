/**
 * The backend contract (restic's backend/test style): one set of tests
 * that calls the `Backend` interface itself, which every backend must pass
 * — the folder backend, an embedded s3rver, and any S3 endpoint from the
 * environment (Ceph RGW in CI). Each `<target>.test.ts` beside this file
 * calls `backendContract` with its target. The `CloudData`-level contract
 * (test/cloud/contract.ts) runs on the same targets.
 *
 * Each test gets its own prefix, and leaves nothing behind.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import type { Backend } from "../../../src/cloud/backends/backend.js";
import { createBackend } from "../../../src/cloud/backends/create.js";
import { loadConfig } from "../../../src/config/config.js";
import { expectCode } from "../../helpers/assertions.js";
import { closedPort, type CloudTarget } from "../../helpers/s3servers.js";
import { useTargetSession } from "../../helpers/targetSession.js";

const MiB = 1024 * 1024;
/** S3's smallest part but the last. */
const MIN_PART = 5 * MiB;

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function keysUnder(b: Backend, prefix: string, startAfter?: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of b.list(prefix, startAfter === undefined ? {} : { startAfter })) out.push(o.key);
  return out;
}

export function backendContract(label: string, start: () => Promise<CloudTarget>): void {
  describe(`backend contract on ${label}`, () => {
    const session = useTargetSession(start);
    const opened: Backend[] = [];

    async function open(overrides: { secretKey?: string; endpoint?: string } = {}): Promise<Backend> {
      const cloud = loadConfig({ configFile: session.env.configFile, ...session.settings, ...overrides }).cloud;
      const b = await createBackend(cloud, { connectTimeoutMs: 2000 });
      opened.push(b);
      return b;
    }

    afterEach(async () => {
      if (opened.length === 0) return;
      const b = await open();
      for await (const u of b.listUploads("")) await b.abortUpload(u).catch(() => undefined);
      const keys: string[] = [];
      for await (const o of b.list("")) keys.push(o.key);
      await b.deleteMany(keys).catch(() => undefined);
      for (const x of opened.splice(0)) x.close();
    });

    it("puts an object and gets it back whole, with its size and lower-cased metadata; HEAD agrees", async () => {
      const b = await open();
      await b.ensureBucket();
      const data = randomBytes(70_000);
      await b.put("a/one.bin", data, { size: data.length, metadata: { sha256: "abc", Other: "x" } });
      const r = await b.get("a/one.bin");
      expect((await readAll(r.body)).equals(data)).toBe(true);
      expect(r.size).toBe(data.length);
      expect(r.metadata).toMatchObject({ sha256: "abc", other: "x" });
      const h = await b.head("a/one.bin");
      expect(h.size).toBe(data.length);
      expect(h.metadata.sha256).toBe("abc");
      expect(Math.abs(h.lastModified.getTime() - Date.now())).toBeLessThan(5 * 60_000);
    });

    it("sends a body factory's stream and a Buffer alike; a second put replaces the object", async () => {
      const b = await open();
      await b.ensureBucket();
      await b.put("k", () => Readable.from([Buffer.from("first")]), { size: 5 });
      expect((await readAll((await b.get("k")).body)).toString()).toBe("first");
      await b.put("k", Buffer.from("second!"), { size: 7 });
      expect((await readAll((await b.get("k")).body)).toString()).toBe("second!");
    });

    it("reads byte ranges: [offset, end) and [offset, the end), reporting the whole object's size", async () => {
      const b = await open();
      await b.ensureBucket();
      const data = randomBytes(1000);
      await b.put("r", data, { size: data.length });
      const mid = await b.get("r", { offset: 10, end: 20 });
      expect((await readAll(mid.body)).equals(data.subarray(10, 20))).toBe(true);
      expect(mid.size).toBe(1000);
      const tail = await b.get("r", { offset: 990 });
      expect((await readAll(tail.body)).equals(data.subarray(990))).toBe(true);
    });

    it("readRange: present on S3 over http://; hands [offset, end) to the sink in order, pausing on its promise, with the whole size", async () => {
      const b = await open();
      if (session.target.kind === "s3" && session.settings.endpoint?.startsWith("http:")) {
        expect(b.readRange, "an S3 backend on http:// reads ranges into reused buffers").toBeDefined();
      }
      if (!b.readRange) return; // the folder backend reads files: `get` is its only path
      await b.ensureBucket();
      const data = randomBytes(3 * MiB + 123);
      await b.put("rr", data, { size: data.length });
      const etag = (await b.head("rr")).etag;
      const parts: Buffer[] = [];
      let calls = 0;
      const got = await b.readRange("rr", { offset: 1000, end: data.length - 7, ...(etag ? { ifMatch: etag } : {}) }, (bytes) => {
        parts.push(Buffer.from(bytes));
        if (++calls % 4 === 0) return new Promise((r) => setTimeout(r, 2));
      });
      expect(got.size).toBe(data.length);
      expect(Buffer.concat(parts).equals(data.subarray(1000, data.length - 7))).toBe(true);
      // The sink's own error comes back as it was thrown (a full disk stays a full disk).
      const boom = new Error("no space left (test)");
      await expect(b.readRange("rr", { offset: 0, end: 2 * MiB }, () => { throw boom; })).rejects.toBe(boom);
      // The next read works, and a missing key, a changed version and an abort fail as `get` does.
      const small: Buffer[] = [];
      await b.readRange("rr", { offset: 0, end: 10 }, (bytes) => void small.push(Buffer.from(bytes)));
      expect(Buffer.concat(small).equals(data.subarray(0, 10))).toBe(true);
      await expectCode(b.readRange("nope", { offset: 0, end: 10 }, () => undefined), "OBJECT_NOT_FOUND");
      await expectCode(b.readRange("rr", { offset: 0, end: 10, signal: AbortSignal.abort() }, () => undefined), "CANCELLED");
      if (session.target.conditionalWrites) {
        const err = await b.readRange("rr", { offset: 0, end: 10, ifMatch: '"0123456789abcdef0123456789abcdef"' }, () => undefined).then(
          () => undefined,
          (e: unknown) => e as { data: { transient?: boolean } },
        );
        expect(err, "a ranged read of another version must fail").toBeDefined();
        expect(err!.data.transient).not.toBe(true);
      }
    });

    it("a read of a version that changed fails (If-Match), not transient (where the server has conditional requests)", async () => {
      if (!session.target.conditionalWrites) return; // s3rver ignores If-Match as it ignores If-None-Match
      const b = await open();
      await b.ensureBucket();
      await b.put("v", Buffer.from("one"), { size: 3 });
      const etag = (await b.head("v")).etag;
      expect(etag).toBeTruthy();
      await new Promise((r) => setTimeout(r, 1100)); // a folder's ETag includes the mtime in ms; S3's the content
      await b.put("v", Buffer.from("two!"), { size: 4 });
      const err = await b.get("v", { ifMatch: etag! }).then(
        () => undefined,
        (e: unknown) => e as { data: { transient?: boolean } },
      );
      expect(err, "If-Match on a replaced object must fail").toBeDefined();
      expect(err!.data.transient).not.toBe(true);
    });

    it("a missing key is OBJECT_NOT_FOUND for get and head; deleting it is no error", async () => {
      const b = await open();
      await b.ensureBucket();
      await expectCode(b.get("nope"), "OBJECT_NOT_FOUND");
      await expectCode(b.head("nope"), "OBJECT_NOT_FOUND");
      await b.delete("nope");
      await b.deleteMany(["nope", "nope2"]);
    });

    it("lists keys under a prefix in ascending order, resumes after startAfter, and not beyond the prefix", async () => {
      const b = await open();
      await b.ensureBucket();
      const keys = ["p/b", "p/a/2", "p/a/10", "p/c", "q/x", "pz"];
      for (const k of keys) await b.put(k, Buffer.from(k), { size: k.length });
      expect(await keysUnder(b, "p/")).toEqual(["p/a/10", "p/a/2", "p/b", "p/c"]);
      expect(await keysUnder(b, "p/", "p/a/2")).toEqual(["p/b", "p/c"]);
      expect(await keysUnder(b, "p")).toEqual(["p/a/10", "p/a/2", "p/b", "p/c", "pz"]);
      const sizes = new Map<string, number>();
      for await (const o of b.list("p/")) sizes.set(o.key, o.size);
      expect(sizes.get("p/a/10")).toBe(6);
      await b.deleteMany(["p/b", "p/c"]);
      expect(await keysUnder(b, "p/")).toEqual(["p/a/10", "p/a/2"]);
    });

    it("a create-only put of an existing key is FILE_EXISTS where the server enforces it, refused as unsupported (not transient) where it lacks it", async () => {
      const b = await open();
      await b.ensureBucket();
      await b.put("once", Buffer.from("first"), { size: 5 });
      const err = await b.put("once", Buffer.from("other"), { size: 5, ifNoneMatch: true }).then(
        () => undefined,
        (e: unknown) => e as { code: string; data: { transient?: boolean; unsupported?: boolean } },
      );
      if (session.target.conditionalWrites) {
        expect(err?.code).toBe("FILE_EXISTS");
      } else if (err) {
        // Swift: 501 NotImplemented, said once (no retries), the object untouched.
        expect(err.data.unsupported).toBe(true);
        expect(err.data.transient).toBe(false);
      } else return; // s3rver ignores the header and replaced the object (callers read back)
      expect((await readAll((await b.get("once")).body)).toString()).toBe("first");
    });

    it("touch keeps the bytes and reports a last-modified time no older than before", async () => {
      const b = await open();
      await b.ensureBucket();
      await b.put("t", Buffer.from("bytes"), { size: 5 });
      const before = (await b.head("t")).lastModified;
      await new Promise((r) => setTimeout(r, 1100));
      const touched = await b.touch("t");
      expect((await readAll((await b.get("t")).body)).toString()).toBe("bytes");
      if (touched) expect(touched.getTime()).toBeGreaterThanOrEqual(before.getTime());
      await expectCode(b.touch("not-there"), "OBJECT_NOT_FOUND");
    });

    it("multipart verbs: parts joined in order on completion, invisible until then, listed while pending", async () => {
      const b = await open();
      await b.ensureBucket();
      const p1 = randomBytes(MIN_PART);
      const p2 = randomBytes(1234);
      const up = await b.startUpload("mp/obj", { metadata: { sha256: "x" } });
      // Sent out of order, as parallel parts may be.
      const e2 = await b.uploadPart(up, 2, () => Readable.from([p2]), p2.length);
      const e1 = await b.uploadPart(up, 1, p1, p1.length);
      await expectCode(b.head("mp/obj"), "OBJECT_NOT_FOUND");
      if (session.target.listsUploads) {
        const pending: string[] = [];
        for await (const u of b.listUploads("mp/")) pending.push(u.key);
        expect(pending).toContain("mp/obj");
      }
      await b.completeUpload(up, [e1, e2]);
      const got = await b.get("mp/obj");
      expect((await readAll(got.body)).equals(Buffer.concat([p1, p2]))).toBe(true);
      expect(got.metadata.sha256).toBe("x");
      if (session.target.listsUploads) {
        const left: string[] = [];
        for await (const u of b.listUploads("mp/")) left.push(u.key);
        expect(left).toEqual([]);
      }
    });

    it("an aborted upload leaves no parts and no object; completing it then fails (UPLOAD_NOT_FOUND where the server says so)", async () => {
      const b = await open();
      await b.ensureBucket();
      const part = randomBytes(MIN_PART);
      const up = await b.startUpload("mp/gone");
      const etag = await b.uploadPart(up, 1, part, part.length);
      await b.abortUpload(up);
      await b.abortUpload(up); // twice is fine
      if (session.target.listsUploads) {
        const left: string[] = [];
        for await (const u of b.listUploads("")) left.push(u.key);
        expect(left).toEqual([]);
      }
      if (session.target.name === "s3rver") return; // s3rver has no abort (MethodNotAllowed): nothing more to check there
      // Ceph 16 answers a completion of an aborted upload with InternalError ("completion already in progress"), others NoSuchUpload.
      const err = await b.completeUpload(up, [etag]).then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      expect(err?.code).toMatch(/^(UPLOAD_NOT_FOUND|CLOUD)$/);
      await expectCode(b.head("mp/gone"), "OBJECT_NOT_FOUND");
    });

    it("an aborted signal ends a call with CANCELLED and writes nothing", async () => {
      const b = await open();
      await b.ensureBucket();
      const aborted = AbortSignal.abort();
      await expectCode(b.put("c", Buffer.from("x"), { size: 1, signal: aborted }), "CANCELLED");
      await expectCode(b.head("c", { signal: aborted }), "CANCELLED");
      await expectCode(b.head("c"), "OBJECT_NOT_FOUND");
    });

    it("classifies a wrong secret key as CREDENTIALS and a closed port as UNREACHABLE, naming no secret", async () => {
      if (session.target.kind !== "s3") return; // a folder has neither
      if (session.target.checksSecrets) {
        const wrong = await open({ secretKey: "definitely-wrong-secret-1234" });
        const err = await expectCode(wrong.head("x"), "CREDENTIALS");
        expect(err.message).not.toContain("definitely-wrong-secret-1234");
      }
      const port = await closedPort();
      const nowhere = await open({ endpoint: `http://127.0.0.1:${port}` });
      const err = await expectCode(nowhere.head("x"), "UNREACHABLE");
      expect(err.data.transient).toBe(false);
    });
  });
}
