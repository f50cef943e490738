/**
 * Large transfers: file bodies sent as parallel multipart parts straight
 * from the file, and large objects fetched as parallel ranged reads hashed
 * in order. Runs on the embedded s3rver, and on the environment's S3
 * endpoint (Ceph in CI) when given — the "no upload left behind" claim
 * rests on a server that lists uploads (s3rver lists none).
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { expectCode } from "../../helpers/assertions.js";
import type { Backend, GetOptions, GetResult, RangeReadOptions, RangeSink } from "../../../src/cloud/backends/backend.js";
import { GET_PART_SIZE, PART_SIZE, S3Backend } from "../../../src/cloud/backends/s3/s3Backend.js";
import { uploadFile } from "../../../src/cloud/transfer/upload.js";
import { CloudData } from "../../../src/cloud/cloudData.js";
import { objectKey, rawKey } from "../../../src/cloud/layout.js";
import { RetryingBackend } from "../../../src/cloud/retry.js";
import { UnreachableError } from "../../../src/errors.js";
import { envTarget, s3rverTarget, type CloudTarget } from "../../helpers/s3servers.js";
import { useTargetSession } from "../../helpers/targetSession.js";
import { treeDigest } from "../contract.js";

const MiB = 1024 * 1024;
const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 50, maxAttempts: 3 };
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");


const targets: Array<[string, () => Promise<CloudTarget>]> = [["an embedded s3rver", s3rverTarget]];
const fromEnv = envTarget();
if (fromEnv) targets.push([fromEnv.name, async () => fromEnv]);

describe.each(targets)("large transfers on %s", (_label, start) => {
  const session = useTargetSession(start);
  const backends: Backend[] = [];
  afterEach(() => {
    for (const b of backends.splice(0)) b.close();
  });

  function s3(): S3Backend {
    const b = new S3Backend({ ...session.settings, prefix: `${session.settings.prefix}/`, pathStyle: true });
    backends.push(b);
    return b;
  }

  async function open(machine = "a", backend?: Backend): Promise<CloudData> {
    const c = await CloudData.open({ configFile: session.env.configFile, basedir: path.join(session.env.root, `freezer-${machine}`), ...session.settings, retry: FAST_RETRY, ...(backend ? { backend } : {}) });
    session.opened.push(c);
    return c;
  }

  function bigFile(name: string, size: number): { file: string; content: Buffer } {
    const file = path.join(session.env.root, name);
    const content = randomBytes(size);
    fs.writeFileSync(file, content);
    return { file, content };
  }

  async function uploadsLeft(b: Backend): Promise<string[]> {
    const left: string[] = [];
    for await (const u of b.listUploads("")) left.push(u.key);
    return left;
  }

  it("a multipart upload failing mid-way (a part keeps failing) is aborted: no object, no upload left behind", async () => {
    const inner = s3();
    const { file } = bigFile("big.bin", 3 * PART_SIZE + 123);
    let partCalls = 0;
    // Part 3 fails with a server error on every try; the others succeed.
    (inner as unknown as { client: { middlewareStack: { add: (...a: unknown[]) => void } } }).client.middlewareStack.add(
      (next: (a: unknown) => Promise<unknown>, ctx: { commandName?: string }) => async (args: { input: { PartNumber?: number } }) => {
        if (ctx.commandName === "UploadPartCommand") {
          partCalls++;
          if (args.input.PartNumber === 3) throw Object.assign(new Error("injected"), { name: "InternalError", $metadata: { httpStatusCode: 500 } });
        }
        return next(args);
      },
      { step: "initialize", priority: "high" },
    );
    const b = new RetryingBackend(inner, FAST_RETRY);
    await b.ensureBucket();
    const err = await expectCode(uploadFile(b, "raw/x/big.bin", { file }, { size: fs.statSync(file).size }), "CLOUD");
    expect(err.data.transient).toBe(true);
    expect(b.stats.retries).toBe(FAST_RETRY.maxAttempts - 1); // the part was retried on its own, the whole file was not sent again
    expect(partCalls).toBeLessThanOrEqual(4 + FAST_RETRY.maxAttempts - 1);
    await expectCode(b.head("raw/x/big.bin"), "OBJECT_NOT_FOUND");
    expect(await uploadsLeft(b)).toEqual([]);
  });

  it("a file whose bytes do not hash as promised, or that changes while sent, is INTEGRITY and leaves no upload", async () => {
    const b = new RetryingBackend(s3(), FAST_RETRY);
    await b.ensureBucket();
    const { file, content } = bigFile("big.bin", 2 * PART_SIZE + 1);
    const size = content.length;
    await expectCode(uploadFile(b, "objects/a", { file, sha256: "0".repeat(64) }, { size }), "INTEGRITY");
    const st = fs.statSync(file);
    const stamp = { size: st.size, mtimeMs: st.mtimeMs - 1000, ctimeMs: st.ctimeMs }; // as if hashed before a change
    await expectCode(uploadFile(b, "objects/b", { file, stamp }, { size }), "INTEGRITY");
    for (const k of ["objects/a", "objects/b"]) await expectCode(b.head(k), "OBJECT_NOT_FOUND");
    expect(await uploadsLeft(b)).toEqual([]);
    await uploadFile(b, "objects/c", { file, sha256: sha256(content) }, { size });
    expect((await b.head("objects/c")).size).toBe(size);
    await b.delete("objects/c");
  });

  it("a small file (read whole, one PUT) that does not hash as promised, changed, or is not its size is INTEGRITY and not stored", async () => {
    const b = new RetryingBackend(s3(), FAST_RETRY);
    await b.ensureBucket();
    const { file, content } = bigFile("small.bin", 4096);
    const size = content.length;
    await expectCode(uploadFile(b, "objects/s1", { file, sha256: "0".repeat(64) }, { size }), "INTEGRITY");
    const st = fs.statSync(file);
    await expectCode(uploadFile(b, "objects/s2", { file, stamp: { size, mtimeMs: st.mtimeMs - 1000, ctimeMs: st.ctimeMs } }, { size }), "INTEGRITY");
    await expectCode(uploadFile(b, "objects/s3", { file, sha256: sha256(content) }, { size: size + 1 }), "INTEGRITY");
    for (const k of ["objects/s1", "objects/s2", "objects/s3"]) await expectCode(b.head(k), "OBJECT_NOT_FOUND");
    await uploadFile(b, "objects/s4", { file, sha256: sha256(content) }, { size });
    expect((await b.head("objects/s4")).size).toBe(size);
    await b.delete("objects/s4");
  });

  it.each(["get", "readRange"] as const)("a raw multipart object is pulled as parallel ranged reads through %s, byte-identical; a broken range resumes", async (path_) => {
    const a = await open("a");
    const { file, content } = bigFile("big.fastq", 4 * GET_PART_SIZE + 4321);
    expect(await a.put(file, "fastq", { raw: true })).toMatchObject({ uploaded: 1, sha256: sha256(content) });

    // Count the ranged reads, and break one range mid-way once (a transient error).
    const inner = (a.backend as RetryingBackend).inner;
    if (path_ === "readRange" && !inner.readRange) return expect(session.target.kind === "s3" && session.settings.endpoint?.startsWith("http:")).toBe(false);
    const ranges: GetOptions[] = [];
    const rangedCalls = { get: 0, readRange: 0 };
    let broke = false;
    const cut = () => new UnreachableError("injected cut", { transient: true });
    const counting = Object.create(inner) as Backend;
    counting.get = async (key: string, o?: GetOptions): Promise<GetResult> => {
      ranges.push({ ...o });
      if (o?.end !== undefined) rangedCalls.get++;
      const r = await inner.get(key, o);
      if (!broke && o?.end !== undefined && (o.offset ?? 0) === GET_PART_SIZE) {
        broke = true;
        const body = new PassThrough();
        let n = 0;
        r.body.on("data", (c: Buffer) => {
          n += c.length;
          if (n > MiB) {
            r.body.destroy();
            body.destroy(cut());
          } else body.write(c);
        });
        return { ...r, body };
      }
      return r;
    };
    if (path_ === "get") Object.defineProperty(counting, "readRange", { value: undefined });
    else {
      counting.readRange = async (key: string, o: RangeReadOptions, sink: RangeSink) => {
        ranges.push({ ...o });
        rangedCalls.readRange++;
        let n = 0;
        const breakHere = !broke && o.offset === GET_PART_SIZE;
        return inner.readRange!(key, o, (bytes) => {
          n += bytes.length;
          if (breakHere && n > MiB) {
            broke = true;
            throw cut();
          }
          return sink(bytes);
        });
      };
    }
    const b = await open("b", new RetryingBackend(counting, FAST_RETRY));
    const out = path.join(session.env.root, "out", "big.fastq");
    const got = await b.get("big.fastq", "fastq", { raw: true, output: out });
    expect(got).toMatchObject({ downloaded: 1, bytes: content.length, verified: "sha256", sha256: sha256(content) });
    expect(fs.readFileSync(out).equals(content)).toBe(true);
    expect(ranges.filter((r) => r.end !== undefined).length).toBeGreaterThanOrEqual(5);
    // Every range went through the path under test (the other one saw none).
    expect(rangedCalls[path_]).toBeGreaterThanOrEqual(5);
    expect(rangedCalls[path_ === "get" ? "readRange" : "get"]).toBe(0);
    expect(broke).toBe(true);
    const resumed = ranges.find((r) => r.end === 2 * GET_PART_SIZE && (r.offset ?? 0) > GET_PART_SIZE);
    expect(resumed?.ifMatch).toBeTruthy();
    expect(fs.readdirSync(path.dirname(out))).toEqual(["big.fastq"]);
  });

  it("a corrupted large object fails with INTEGRITY and leaves nothing (raw pull and dataset pull)", async () => {
    const a = await open("a");
    const { file, content } = bigFile("big.fastq", 3 * GET_PART_SIZE);
    await a.put(file, "fastq", { raw: true });
    const flipped = Buffer.from(content);
    flipped[2 * GET_PART_SIZE + 5] = flipped[2 * GET_PART_SIZE + 5]! ^ 0xff;
    // Same size, same claimed sha256, one byte flipped.
    await a.backend.put(rawKey("fastq", "big.fastq"), flipped, { size: flipped.length, metadata: { sha256: sha256(content) } });
    const outDir = path.join(session.env.root, "out");
    fs.mkdirSync(outDir);
    const err = await expectCode(a.get("big.fastq", "fastq", { raw: true, output: outDir }), "INTEGRITY");
    expect(err.message).toContain(rawKey("fastq", "big.fastq"));
    expect(fs.readdirSync(outDir)).toEqual([]);

    // A dataset object, the same way.
    const ds = a.freezer.dataset("Cohort", "Big");
    ds.ensureCreated();
    fs.writeFileSync(path.join(ds.thawedDir, "big.bin"), content);
    await ds.freeze("v1");
    await a.put("Big", "Cohort", { tag: "v1" });
    await a.backend.put(objectKey(sha256(content)), flipped, { size: flipped.length });
    const c = await open("c");
    const before = treeDigest(c.freezer.basedir);
    const e2 = await expectCode(c.get("Big", "Cohort", { tag: "v1" }), "INTEGRITY");
    expect(e2.message).toContain(objectKey(sha256(content)));
    expect(treeDigest(c.freezer.basedir)).toEqual(before);
    expect(c.freezer.datasets()).toEqual([]);

    // Restored, it arrives (parallel ranges), byte-identical.
    await uploadFile(a.backend, objectKey(sha256(content)), { file }, { size: content.length });
    await c.get("Big", "Cohort", { tag: "v1" });
    expect(fs.readFileSync(path.join(c.freezer.dataset("Cohort", "Big").thawedDir, "big.bin")).equals(content)).toBe(true);
  });
});
