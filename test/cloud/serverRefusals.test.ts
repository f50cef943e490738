/**
 * Server answers that are not about the keys, each named for what it is:
 * a used-up quota, a full server (507), valid keys denied by a policy (a
 * read-only key), and a server that stops reading an upload. The answers
 * are injected by an HTTP fault proxy in front of a real S3 server (the
 * embedded s3rver, and the environment's endpoint when given); the same
 * refusals from a real Ceph RGW are in cephRefusals.test.ts.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createBackend } from "../../src/cloud/backends/create.js";
import { CloudData } from "../../src/cloud/cloudData.js";
import { loadConfig } from "../../src/config/config.js";
import { Minus80Error } from "../../src/errors.js";
import { userMessage } from "../../src/cli/errorMessages.js";
import { httpError, pass, startFaultProxy, type FaultProxy } from "../helpers/faultProxy.js";
import { startFaultRelay, type FaultRelay } from "../helpers/netFaultRelay.js";
import { envTarget, s3rverTarget, type CloudTarget } from "../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const MiB = 1024 * 1024;
const FAST_RETRY = { baseDelayMs: 10, maxDelayMs: 50, maxAttempts: 3 };
/** Short idle timeout so a stalled upload is noticed quickly. */
const IDLE_MS = 1500;

const targets: Array<[string, () => Promise<CloudTarget>]> = [["an embedded s3rver", s3rverTarget]];
const fromEnv = envTarget();
if (fromEnv) targets.push([fromEnv.name, async () => fromEnv]);

describe.each(targets)("server refusals that are not about the keys, in front of %s", (_label, start) => {
  let target: CloudTarget;
  let proxy: FaultProxy;
  let relay: FaultRelay;
  let env: TempEnv;
  let file: string;
  const opened: CloudData[] = [];

  beforeAll(async () => {
    target = await start();
    const u = new URL(target.settings().endpoint);
    proxy = await startFaultProxy({ upstreamHost: u.hostname, upstreamPort: Number(u.port) });
    relay = await startFaultRelay(u.hostname, Number(u.port));
  });
  afterAll(async () => {
    await proxy?.close();
    await relay?.stop();
    await target?.stop();
  });
  beforeEach(() => {
    env = makeTempEnv();
    file = path.join(env.root, "reads.fastq");
    fs.writeFileSync(file, randomBytes(2 * MiB));
    proxy.setPlan(pass());
    relay.plan = [];
  });
  afterEach(async () => {
    proxy.setPlan(pass());
    relay.plan = [];
    for (const c of opened.splice(0)) c.close();
    env.cleanup();
  });

  async function open(endpoint: string): Promise<CloudData> {
    const c = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "freezer"), ...target.settings(), endpoint, retry: FAST_RETRY, idleTimeoutMs: IDLE_MS });
    opened.push(c);
    return c;
  }
  /**
   * A backend through the proxy that answers every request from now on with
   * `status`/`code` (the bucket was made first); then the upload of `key`,
   * the request a push makes that a quota or a policy refuses.
   */
  async function refusedUpload(status: number, code: string): Promise<Minus80Error> {
    const cloud = loadConfig({ configFile: env.configFile, ...target.settings(), endpoint: proxy.url }).cloud;
    const b = await createBackend(cloud, { connectTimeoutMs: 2000 });
    proxy.setPlan(httpError(status, { count: Infinity, code, message: `injected ${code}` }));
    proxy.dropConnections();
    const body = fs.readFileSync(file);
    return failure(b.put("raw/fastq/reads.fastq", body, { size: body.length }));
  }
  const failure = (p: Promise<unknown>) => p.then(() => expect.unreachable("it succeeded"), (e: unknown) => e as Minus80Error);

  it("a used-up quota is QUOTA_EXCEEDED, naming the quota and not the keys, with a hint for the storage admin", async () => {
    const err = await refusedUpload(403, "QuotaExceeded");
    expect(err.code).toBe("QUOTA_EXCEEDED");
    expect(err.message).toMatch(/quota/);
    expect(err.message).not.toMatch(/credential|access_key|secret/i);
    const m = userMessage(err);
    expect(m.exitStatus).toBe(1);
    expect(m.hint).toMatch(/storage admin/);
  });

  it("a full server (507 InsufficientStorage) is STORAGE_FULL, given up at once rather than retried", async () => {
    const c = await open(proxy.url);
    await c.listRawFiles(); // the bucket and its marker are made before the refusals start
    proxy.setPlan(httpError(507, { count: Infinity, code: "InsufficientStorage", message: "injected" }));
    proxy.dropConnections();
    const before = proxy.counters.faults.httpError;
    const err = await failure(c.pushRaw("fastq", file));
    expect(err.code).toBe("STORAGE_FULL");
    expect(err.message).toMatch(/no space left/);
    expect(proxy.counters.faults.httpError - before).toBe(1);
  });

  it("valid keys denied a write by a policy are ACCESS_DENIED, saying the key may not write (a read-only key?), not to check the keys", async () => {
    const err = await refusedUpload(403, "AccessDenied");
    expect(err.code).toBe("ACCESS_DENIED");
    expect(err.message).toMatch(/keys are valid/);
    expect(err.message).toMatch(/read-only key/);
    expect(userMessage(err).hint).toMatch(/bucket's owner/);
  });

  it("wrong keys are still CREDENTIALS", async () => {
    expect((await refusedUpload(403, "InvalidAccessKeyId")).code).toBe("CREDENTIALS");
    expect((await refusedUpload(403, "SignatureDoesNotMatch")).code).toBe("CREDENTIALS");
  });

  it("a server that stops reading an upload ends with UNREACHABLE within the retry budget instead of hanging", async () => {
    const c = await open(relay.endpoint);
    await c.listRawFiles();
    relay.plan = [{ direction: "up", after: 256 * 1024, action: "stall", always: true }];
    const started = Date.now();
    const err = await failure(c.pushRaw("fastq", file));
    expect(err.code).toBe("UNREACHABLE");
    expect(err.message).toMatch(/stalled|timed out/);
    expect(Date.now() - started).toBeLessThan(FAST_RETRY.maxAttempts * (IDLE_MS + 3000) + 5000);
  });
});
