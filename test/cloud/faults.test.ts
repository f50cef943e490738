/**
 * Network faults between minus80 and a real S3 server, injected by a TCP
 * relay: a stalled connection times out as UNREACHABLE instead of hanging;
 * a read that stalls or is reset once resumes and completes byte-identical;
 * an upload cut once is sent again. Runs on the embedded s3rver, and on the
 * environment's S3 endpoint (Ceph in CI) when given.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CloudData } from "../../src/cloud/cloudData.js";
import { Minus80Error } from "../../src/errors.js";
import { startFaultRelay, type FaultRelay } from "../helpers/netFaultRelay.js";
import { envTarget, s3rverTarget, type CloudTarget, type TargetSettings } from "../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const MiB = 1024 * 1024;
/** Short timeouts so a stall is noticed quickly in tests. */
const IDLE_MS = 1500;
const FAST_RETRY = { baseDelayMs: 10, maxDelayMs: 100, maxAttempts: 4 };
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

const targets: Array<[string, () => Promise<CloudTarget>]> = [["an embedded s3rver", s3rverTarget]];
const fromEnv = envTarget();
if (fromEnv) targets.push([fromEnv.name, async () => fromEnv]);

describe.each(targets)("network faults in front of %s", (_label, start) => {
  let target: CloudTarget;
  let proxy: FaultRelay;
  let env: TempEnv;
  let settings: TargetSettings;
  const opened: CloudData[] = [];

  beforeAll(async () => {
    target = await start();
    const u = new URL(target.settings().endpoint);
    proxy = await startFaultRelay(u.hostname, Number(u.port));
  });
  afterAll(async () => {
    await proxy?.stop();
    await target?.stop();
  });
  beforeEach(() => {
    env = makeTempEnv();
    settings = { ...target.settings(), endpoint: proxy.endpoint };
    proxy.plan = [];
    proxy.injected = 0;
  });
  afterEach(async () => {
    proxy.plan = [];
    await opened.at(-1)?.nuke().catch(() => undefined);
    for (const c of opened.splice(0)) c.close();
    env.cleanup();
  });

  async function open(): Promise<CloudData> {
    const c = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "freezer"), ...settings, retry: FAST_RETRY, idleTimeoutMs: IDLE_MS });
    opened.push(c);
    return c;
  }

  it("a server that stops answering gives UNREACHABLE within the retry budget, not a hang", async () => {
    proxy.plan = [{ direction: "down", after: 0, action: "stall", always: true }];
    const started = Date.now();
    const err = (await open().catch((e: unknown) => e)) as Minus80Error;
    expect(err).toBeInstanceOf(Minus80Error);
    expect(err.code).toBe("UNREACHABLE");
    expect(err.message).toMatch(/stalled|timed out/);
    expect(Date.now() - started).toBeLessThan(FAST_RETRY.maxAttempts * (IDLE_MS + 3500) + 2000);
  });

  it("a download that stalls, then is reset, resumes and arrives byte-identical", async () => {
    const cloud = await open();
    const file = path.join(env.root, "reads.fastq");
    const content = randomBytes(12 * MiB);
    fs.writeFileSync(file, content);
    await cloud.put(file, "fastq", { raw: true });
    proxy.plan = [
      { direction: "down", after: 3 * MiB, action: "stall" },
      { direction: "down", after: 2 * MiB, action: "reset" },
    ];
    const out = path.join(env.root, "out.fastq");
    const got = await cloud.get("reads.fastq", "fastq", { raw: true, output: out });
    expect(got).toMatchObject({ downloaded: 1, verified: "sha256" });
    expect(proxy.injected).toBe(2);
    expect(sha256(fs.readFileSync(out))).toBe(sha256(content));
  });

  it("an upload cut mid-way is sent again and the tag is complete", async () => {
    const cloud = await open();
    const ds = cloud.freezer.dataset("Cohort", "Cut");
    ds.ensureCreated();
    const big = randomBytes(10 * MiB);
    fs.writeFileSync(path.join(ds.thawedDir, "big.bin"), big);
    fs.writeFileSync(path.join(ds.thawedDir, "small.txt"), "small");
    await ds.freeze("v1");
    proxy.plan = [{ direction: "up", after: 4 * MiB, action: "reset" }];
    expect(await cloud.put("Cut", "Cohort", { tag: "v1" })).toMatchObject({ uploaded: 2, manifests: 1 });
    expect(proxy.injected).toBe(1);
    await cloud.freezer.delete("Cohort", "Cut");
    await cloud.get("Cut", "Cohort", { tag: "v1" });
    expect(sha256(fs.readFileSync(path.join(ds.thawedDir, "big.bin")))).toBe(sha256(big));
  });
});
