/**
 * Randomized network faults between minus80 and a real S3 server: the
 * fault proxy (test/helpers/faultProxy.ts) sits in front of an embedded
 * s3rver (always) and the S3 endpoint from the environment (Ceph RGW in CI,
 * when MINUS80_TEST_S3_ENDPOINT is set). Each run builds a fresh state,
 * runs ONE command (push or pull; a dataset or a raw file; small or
 * multipart-sized) while the proxy injects random faults on its
 * connections (cuts after N bytes either way, stalls against a short idle
 * timeout, 500 / 503 SlowDown answers), then checks:
 *
 *   - the bucket never shows a tag whose objects are missing (polled while
 *     the command runs, and after it), nor a raw file that is neither the
 *     old nor the new version;
 *   - the local working copy (or output file) is the old state or the new
 *     one, never a mix, and a failed pull wrote nothing;
 *   - a failure has an expected code (UNREACHABLE, CLOUD), and no command
 *     hangs (a stall ends as UNREACHABLE);
 *   - the same command re-run without faults completes and re-sends exactly
 *     what was missing; nothing is lost (bytes re-hashed);
 *   - no multipart upload is left behind, or gc cleans it (servers that
 *     list uploads; s3rver does not).
 *
 * Knobs: MINUS80_SEED (default fixed; "random"), MINUS80_FAULT_RUNS (per
 * op, default 50), MINUS80_FAULT_SLOTS (runs in parallel, default 4),
 * MINUS80_FAULT_RUN=<op>:<index> (replay one run, with the same MINUS80_SEED),
 * MINUS80_FAULT_DEADLINE_MS (per op and server: stop starting runs after
 * this long; the soak), MINUS80_FAULT_IDLE_MS, MINUS80_FIGURES_DIR.
 * Connections are shared by concurrent requests, so a replay repeats the
 * run's data, options and fault plan, not necessarily each fault's timing.
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PART_SIZE } from "../../src/cloud/backends/s3/s3Backend.js";
import { CloudData } from "../../src/cloud/cloudData.js";
import { fetchManifest, remoteTags, uniqueObjects } from "../../src/cloud/remote.js";
import { isObjectNotFound } from "../../src/cloud/backends/errors.js";
import { DATASETS_PREFIX, objectKey, parseManifestKey, rawKey } from "../../src/cloud/layout.js";
import type { Backend } from "../../src/cloud/backends/backend.js";
import type { RetryEvent } from "../../src/cloud/retry.js";
import { Minus80Error } from "../../src/errors.js";
import { LATEST_TAG, type FileEntry, type TagManifest } from "../../src/freezer/manifest.js";
import { cutAfter, httpError, pass, Rng, slowDown, stall, startFaultProxy, type Fault, type FaultProxy, type Plan } from "../helpers/faultProxy.js";
import type { CloudTarget, TargetSettings } from "../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { SEED } from "../property/fcConfig.js";
import { makeS3rverAtomic } from "./atomicS3rver.js";
import { bump, checkState, countBytes, figuresDir, newFigures, violation, writeFigures, type Figures } from "./figures.js";
import { DTYPE, frozen, MiB, openCloud, pseudoRandomBytes, serverName, sha256, sleep, targets, treeDigest } from "./support.js";

const intEnv = (name: string, dflt: number) => {
  const v = process.env[name];
  const n = v === undefined || v === "" ? dflt : Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
};
const RUNS = intEnv("MINUS80_FAULT_RUNS", 50);
const SLOTS = Math.max(1, intEnv("MINUS80_FAULT_SLOTS", 4));
const DEADLINE_MS = intEnv("MINUS80_FAULT_DEADLINE_MS", 0);
const ONLY = process.env.MINUS80_FAULT_RUN; // e.g. "push:17"
/** A connection silent this long fails (UNREACHABLE after the retries). */
const IDLE_MS = intEnv("MINUS80_FAULT_IDLE_MS", 1000);
/** Retry policy of the faulted commands (each run picks maxAttempts 1, 2 or 4, so failures happen too). */
const RETRY = { maxAttempts: 4, baseDelayMs: 10, maxDelayMs: 100 };
/** A faulted command still running after this long is a hang. */
const HANG_MS = 90_000;
/** The error codes a command may end with when the network fails it. */
const EXPECTED_CODES = new Set(["UNREACHABLE", "CLOUD"]);
const NAME = "Faulty";
const RAW_DTYPE = "fastq";

type Op = "push" | "pull";
interface Spec {
  op: Op;
  index: number;
  seed: number;
  kind: "dataset" | "raw";
  multipart: boolean;
  /** probability that a new connection gets a fault */
  p: number;
  /** tries per request (1: no retry, so the first fault fails the command) */
  attempts: number;
  /** dataset: push/pull `--tag v2` (else: put without a tag / pull latest) */
  withTag: boolean;
  /** push: the bucket already holds v1 (raw: an older version, replaced with force); pull: the local side holds v1 (raw: an older file) */
  oldState: boolean;
}

function makeSpec(op: Op, index: number): Spec {
  const seed = (SEED + (op === "push" ? 0 : 0x9e3779b1) + index * 7919) >>> 0;
  const rng = new Rng(seed);
  return {
    op,
    index,
    seed,
    kind: rng.next() < 0.6 ? "dataset" : "raw",
    multipart: rng.next() < 0.25,
    p: rng.pick([0.1, 0.3, 0.5, 0.7, 0.9]),
    attempts: rng.pick([1, 2, 4]),
    withTag: rng.next() < 0.7,
    oldState: rng.next() < 0.5,
  };
}

const label = (s: Spec) => `${s.op} #${s.index} (replay: MINUS80_SEED=${SEED} MINUS80_FAULT_RUN=${s.op}:${s.index}; ${s.kind}${s.multipart ? " multipart" : ""}, p=${s.p}, ${s.attempts} tries${s.withTag ? "" : ", no tag"}${s.oldState ? ", old state" : ""})`;
const kindLabel = (s: Spec) => `${s.op} ${s.kind} ${s.multipart ? "multipart" : "small"}`;

/** Each new connection: a fault with probability p, of a random kind and place. */
function faultPlan(spec: Spec, transferBytes: number): Plan {
  return {
    seed: spec.seed ^ 0x5eed,
    choose: ({ rng }): Fault => {
      if (rng.next() >= spec.p) return pass();
      const direction = rng.next() < 0.5 ? "up" : "down";
      const somewhere = rng.int(Math.max(1, transferBytes));
      switch (rng.int(6)) {
        case 0:
          return cutAfter(somewhere, { direction, reset: rng.next() < 0.5 });
        case 1:
          return cutAfter(rng.int(2048), { direction }); // a request or an answer lost early
        case 2:
          return stall("forever", { afterBytes: somewhere, direction });
        case 3:
          return stall(rng.int(2 * IDLE_MS), { afterBytes: rng.int(4096), direction }); // may or may not outlast the idle timeout
        case 4:
          return slowDown(1 + rng.int(3));
        default:
          return httpError(rng.pick([500, 503]), { count: 1 + rng.int(2) });
      }
    },
  };
}

/** A few small files, some in subdirectories, one duplicate content. */
function genFiles(rng: Rng, prefix: string, n: number): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (let i = 0; i < n; i++) {
    const rel = rng.next() < 0.3 ? `sub/${prefix}${i}.bin` : `${prefix}${i}.bin`;
    out[rel] = pseudoRandomBytes(rng.int(2 ** 31), 1 + rng.int(48 * 1024));
  }
  const first = Object.values(out)[0];
  if (first && rng.next() < 0.5) out[`${prefix}dup.bin`] = first;
  return out;
}

interface Slot {
  proxy: FaultProxy;
}

describe.each(targets(["s3rver", "env"]))("randomized network faults in front of %s", (_label, start) => {
  let target: CloudTarget;
  let env: TempEnv;
  let fig: Figures;
  let runLog: string;
  const slots: Slot[] = [];

  let shim: { refusedIncompleteBodies: number } | undefined;

  beforeAll(async () => {
    // s3rver keeps the truncated body of an interrupted upload; real servers discard it (see atomicS3rver.ts).
    if (_label === "s3rver") shim = makeS3rverAtomic();
    target = await start();
    env = makeTempEnv();
    fig = newFigures("faults.random", shim ? "s3rver (atomic-write shim)" : serverName(target), SEED);
    fig.multipart.listingSupported = target.listsUploads;
    fig.extra.idleTimeoutMs = IDLE_MS;
    fig.extra.maxAttemptsPicked = "1, 2 or 4 per run";
    fig.extra.slots = SLOTS;
    const u = new URL(target.settings().endpoint);
    for (let i = 0; i < SLOTS; i++) slots.push({ proxy: await startFaultProxy({ upstreamHost: u.hostname, upstreamPort: Number(u.port || 80) }) });
    runLog = path.join(figuresDir(), "reliability", `faults.random--${fig.server.replace(/[^A-Za-z0-9._-]+/g, "-").replace(/^-|-$/g, "").toLowerCase()}.runs.jsonl`);
    fs.mkdirSync(path.dirname(runLog), { recursive: true });
    fs.writeFileSync(runLog, "");
  });
  afterAll(async () => {
    if (fig && shim) fig.extra.truncatedUploadsRefusedByShim = shim.refusedIncompleteBodies;
    if (fig) writeFigures(fig);
    for (const s of slots) await s.proxy.close();
    env?.cleanup();
    await target?.stop();
  });

  const open = (s: TargetSettings, basedir: string, extra: Parameters<typeof openCloud>[3] = {}) => openCloud(env.configFile, s, basedir, extra);

  /**
   * Runs `cmd` on a CloudData opened through the slot's proxy under the
   * run's fault plan (the open itself included, as in the CLI), while
   * `watch` polls the bucket. Counts what the proxy and the retries did.
   */
  async function faulted<T>(
    slot: Slot,
    spec: Spec,
    s: TargetSettings,
    basedir: string,
    transferBytes: number,
    cmd: (c: CloudData) => Promise<T>,
    watch?: () => Promise<void>,
  ): Promise<{ ok: true; value: T; ms: number; retries: number } | { ok: false; error: unknown; ms: number; retries: number }> {
    const { proxy } = slot;
    proxy.resetCounters();
    proxy.setPlan(faultPlan(spec, transferBytes));
    const jitter = new Rng(spec.seed ^ 0x3177);
    let retries = 0;
    const onRetry = (e: RetryEvent) => {
      retries++;
      bump(fig.retriesByCause, String(e.error.data.provider ?? e.error.data.network ?? e.error.code));
    };
    let cloud: CloudData | undefined;
    const t0 = Date.now();
    const run = (async () => {
      cloud = await open({ ...s, endpoint: proxy.url }, basedir, {
        retry: { ...RETRY, maxAttempts: spec.attempts, random: () => jitter.next() },
        onRetry,
        idleTimeoutMs: IDLE_MS,
        connectTimeoutMs: 2000,
      });
      return cmd(cloud);
    })().then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    let watching = !!watch;
    const watcher = (async () => {
      while (watching) {
        await watch!();
        await sleep(10);
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const hang = new Promise<"hang">((r) => (timer = setTimeout(() => r("hang"), HANG_MS)));
    let outcome = await Promise.race([run, hang]);
    clearTimeout(timer);
    const ms = Date.now() - t0;
    if (outcome === "hang") {
      fig.hangs++;
      violation(fig, `${label(spec)}: the command did not return within ${HANG_MS} ms`);
      proxy.dropConnections();
      const settled = await Promise.race([run, sleep(30_000).then(() => "still hanging" as const)]);
      outcome = settled === "still hanging" ? { ok: false as const, error: new Error(`hung for ${HANG_MS + 30_000} ms, even after its connections were dropped`) } : settled;
    }
    watching = false;
    await watcher;
    (cloud as CloudData | undefined)?.close();
    proxy.setPlan(pass());
    proxy.dropConnections();

    const c = proxy.counters;
    fig.faultsInjected.cutAfter += c.faults.cutAfter;
    fig.faultsInjected.stall += c.faults.stall;
    fig.faultsInjected.httpError += c.faults.httpError;
    for (const [status, n] of Object.entries(c.httpErrorsByStatus)) bump(fig.httpErrorsByStatus, status, n);
    fig.retries += retries;
    if (retries > 0) fig.commandsRetried++;
    fig.maxCommandMs = Math.max(fig.maxCommandMs, ms);
    if (outcome.ok) fig.completedUnderFaults++;
    else {
      const code = outcome.error instanceof Minus80Error ? outcome.error.code : `not a Minus80Error: ${String(outcome.error)}`;
      bump(fig.errorsByCode, code);
      if (!EXPECTED_CODES.has(code)) violation(fig, `${label(spec)}: failed with ${code}: ${(outcome.error as Error).message}`);
    }
    fs.appendFileSync(
      runLog,
      JSON.stringify({ ...spec, ok: outcome.ok, error: outcome.ok ? null : ((outcome.error as Minus80Error).code ?? String(outcome.error)), ms, retries, faults: c.faults, connections: c.connections }) + "\n",
    );
    return { ...outcome, ms, retries };
  }

  /**
   * The bucket invariant: every listed manifest parses and each of its
   * objects exists with the recorded size; a raw file, if present, is one
   * of the allowed versions (sha256 metadata and size). Returns what is wrong.
   */
  async function bucketProblems(backend: Backend, raw?: { key: string; versions: Map<string, number>; deep: boolean }): Promise<string[]> {
    const wrong: string[] = [];
    for await (const o of backend.list(DATASETS_PREFIX)) {
      const m = parseManifestKey(o.key);
      if (!m) continue;
      let man: TagManifest;
      try {
        man = await fetchManifest(backend, m.dtype, m.name, m.tag);
      } catch (err) {
        if (isObjectNotFound(err)) continue;
        wrong.push(`manifest ${o.key} unreadable: ${(err as Error).message}`);
        continue;
      }
      for (const [sha, e] of uniqueObjects(man)) {
        try {
          const h = await backend.head(objectKey(sha));
          if (h.size !== e.size) wrong.push(`tag ${m.tag} is visible but object ${sha} has ${h.size} of ${e.size} bytes`);
        } catch (err) {
          if (!isObjectNotFound(err)) throw err;
          wrong.push(`tag ${m.tag} is visible but object ${sha} is missing`);
        }
      }
    }
    if (raw) {
      try {
        const h = raw.deep ? await backend.get(raw.key) : await backend.head(raw.key);
        let size = h.size;
        let sha = h.metadata.sha256;
        if ("body" in h) {
          const chunks: Buffer[] = [];
          for await (const ch of h.body as AsyncIterable<Buffer>) chunks.push(ch);
          const all = Buffer.concat(chunks);
          size = all.length;
          if (sha256(all) !== sha) wrong.push(`raw file ${raw.key}: its bytes do not match its sha256 ${sha}`);
        }
        if (!sha || raw.versions.get(sha) !== size) wrong.push(`raw file ${raw.key} is neither the old nor the new version (sha256 ${sha}, ${size} bytes)`);
      } catch (err) {
        if (!isObjectNotFound(err)) throw err;
        if (raw.versions.size > 1) wrong.push(`raw file ${raw.key} vanished while being replaced`);
      }
    }
    return wrong;
  }

  async function pendingUploads(backend: Backend): Promise<number> {
    let n = 0;
    for await (const _ of backend.listUploads("")) n++;
    return n;
  }

  /** Multipart uploads: left after the command (and its re-run), cleaned by gc (grace 0), left after gc. */
  async function checkUploads(spec: Spec, s: TargetSettings, basedir: string, direct: CloudData): Promise<void> {
    if (!target.listsUploads) return;
    const left = await pendingUploads(direct.backend);
    fig.multipart.leftAfterCommand += left;
    if (left === 0) return;
    const gcer = await open(s, basedir, { gcGraceMs: 0 });
    try {
      fig.multipart.cleanedByGc += (await gcer.gc()).uploadsAborted;
    } finally {
      gcer.close();
    }
    const after = await pendingUploads(direct.backend);
    fig.multipart.leftAfterGc += after;
    if (after > 0) violation(fig, `${label(spec)}: ${after} multipart upload(s) left after gc`);
  }

  // ------------------------------------------------------------------ push

  async function pushRun(slot: Slot, spec: Spec): Promise<void> {
    const rng = new Rng(spec.seed);
    const s = target.settings();
    const base = path.join(env.root, `${spec.op}-${spec.index}`);
    fs.mkdirSync(base, { recursive: true });
    const direct = await open(s, path.join(base, "a"));
    try {
      const big = spec.multipart ? pseudoRandomBytes(spec.seed, PART_SIZE + 1 + rng.int(MiB)) : undefined;
      let transfer = 0;
      let cmd: (c: CloudData) => Promise<unknown>;
      let localBefore: Record<string, string>;
      let rawCheck: { key: string; versions: Map<string, number>; deep: boolean } | undefined;
      let localFile = "";
      if (spec.kind === "dataset") {
        await frozen(direct, NAME, genFiles(rng, "a", 2 + rng.int(5)), "v1");
        if (spec.oldState) await direct.put(NAME, DTYPE, { tag: "v1" });
        const changes = genFiles(rng, "b", 1 + rng.int(3));
        if (big) changes["big.bin"] = big;
        const v2 = (await frozen(direct, NAME, changes, "v2"))!;
        transfer = Object.values(v2.files).reduce((n, e) => n + e.size, 0);
        const opts = spec.withTag ? { tag: "v2" } : {};
        cmd = (c) => c.put(NAME, DTYPE, opts);
        localBefore = treeDigest(direct.freezer.dataset(DTYPE, NAME).thawedDir);
      } else {
        localFile = path.join(base, "reads.fastq");
        const key = rawKey(RAW_DTYPE, "reads.fastq");
        const versions = new Map<string, number>();
        if (spec.oldState) {
          const old = pseudoRandomBytes(spec.seed + 1, 1 + rng.int(64 * 1024));
          fs.writeFileSync(localFile, old);
          await direct.put(localFile, RAW_DTYPE, { raw: true });
          versions.set(sha256(old), old.length);
        }
        const content = big ?? pseudoRandomBytes(spec.seed + 2, 1 + rng.int(200 * 1024));
        fs.writeFileSync(localFile, content);
        versions.set(sha256(content), content.length);
        transfer = content.length;
        rawCheck = { key, versions, deep: false };
        cmd = (c) => c.put(localFile, RAW_DTYPE, { raw: true, force: spec.oldState });
        localBefore = { file: sha256(content) };
      }

      const watch = async () => {
        const wrong = await bucketProblems(direct.backend, rawCheck);
        checkState(fig, wrong.length === 0, `${label(spec)} while running: ${wrong.join("; ")}`);
      };
      const res = await faulted(slot, spec, s, path.join(base, "a"), transfer, cmd, watch);

      // After: the bucket (deep check of a raw file's bytes), and the local side untouched.
      const after = await bucketProblems(direct.backend, rawCheck && { ...rawCheck, deep: true });
      checkState(fig, after.length === 0, `${label(spec)} after the command (${res.ok ? "ok" : "failed"}): ${after.join("; ")}`);
      const localAfter = spec.kind === "dataset" ? treeDigest(direct.freezer.dataset(DTYPE, NAME).thawedDir) : { file: sha256(fs.readFileSync(localFile)) };
      checkState(fig, JSON.stringify(localAfter) === JSON.stringify(localBefore), `${label(spec)}: a push changed the local working copy`);

      // What the bucket still lacks, then the same command without faults.
      let missing = 0;
      let wanted = new Map<string, FileEntry>();
      if (spec.kind === "dataset") {
        const ds = direct.freezer.dataset(DTYPE, NAME);
        const there = new Set(await remoteTags(direct.backend, DTYPE, NAME));
        const toPush = spec.withTag ? [ds.tag("v2")] : [...ds.tags().filter((t) => t.tag !== LATEST_TAG && !there.has(t.tag)), ds.tag("v2")];
        for (const m of toPush) for (const [sha, e] of uniqueObjects(m)) wanted.set(sha, e);
        for (const [sha, e] of wanted) {
          const h = await direct.backend.head(objectKey(sha)).catch((err: unknown) => {
            if (isObjectNotFound(err)) return undefined;
            throw err;
          });
          if (!h || h.size !== e.size) missing++;
        }
      } else {
        const h = await direct.backend.head(rawCheck!.key).catch(() => undefined);
        const content = fs.readFileSync(localFile);
        if (!h || h.metadata.sha256 !== sha256(content) || h.size !== content.length) missing = 1;
        wanted = new Map([[sha256(content), { sha256: sha256(content), size: content.length }]]);
      }
      const again = await direct.put(spec.kind === "dataset" ? NAME : localFile, spec.kind === "dataset" ? DTYPE : RAW_DTYPE, spec.kind === "dataset" ? (spec.withTag ? { tag: "v2" } : {}) : { raw: true, force: spec.oldState });
      fig.rerunsCompleted++;
      fig.objectsResent += again.uploaded;
      fig.objectsMissingBeforeRerun += missing;
      // Fewer is fine only when the bucket got them meanwhile: a request of the faulted command whose
      // answer was lost can still complete on the server after the command gave up (as on any S3).
      if (again.uploaded > missing) violation(fig, `${label(spec)}: the re-run sent ${again.uploaded} object(s), only ${missing} were missing`);
      else if (again.uploaded < missing) bump(fig.extra as Record<string, number>, "objects a failed command's request stored after it returned", missing - again.uploaded);

      // Nothing lost: re-hash what the bucket now holds.
      const expected = [...wanted.values()].reduce((n, e) => n + e.size, 0);
      if (spec.kind === "dataset") {
        const report = await direct.verify({ dtype: DTYPE, name: NAME });
        const lost = report.problems.filter((p) => p.expected && wanted.has(p.expected.sha256)).reduce((n, p) => n + (p.expected!.size ?? 0), 0);
        countBytes(fig, expected, expected - lost);
        if (!report.ok) violation(fig, `${label(spec)}: verify after the re-run: ${report.problems.map((p) => p.message).join("; ")}`);
      } else {
        const wrong = await bucketProblems(direct.backend, { ...rawCheck!, versions: new Map([...wanted.values()].map((e) => [e.sha256, e.size])), deep: true });
        countBytes(fig, expected, wrong.length === 0 ? expected : 0);
        if (wrong.length > 0) violation(fig, `${label(spec)}: after the re-run: ${wrong.join("; ")}`);
      }
      await checkUploads(spec, s, path.join(base, "a"), direct);
    } finally {
      await direct.nuke().catch(() => undefined);
      direct.close();
      fs.rmSync(base, { recursive: true, force: true });
    }
  }

  // ------------------------------------------------------------------ pull

  async function pullRun(slot: Slot, spec: Spec): Promise<void> {
    const rng = new Rng(spec.seed);
    const s = target.settings();
    const base = path.join(env.root, `${spec.op}-${spec.index}`);
    fs.mkdirSync(base, { recursive: true });
    const a = await open(s, path.join(base, "a"));
    const baseB = path.join(base, "b");
    const b = await open(s, baseB);
    try {
      const big = spec.multipart ? pseudoRandomBytes(spec.seed, PART_SIZE + 1 + rng.int(MiB)) : undefined;
      if (spec.kind === "dataset") {
        await frozen(a, NAME, genFiles(rng, "a", 2 + rng.int(5)), "v1");
        const changes = genFiles(rng, "b", 1 + rng.int(3));
        if (big) changes["big.bin"] = big;
        const v2 = (await frozen(a, NAME, changes, "v2"))!;
        if (spec.withTag) {
          await a.put(NAME, DTYPE, { tag: "v1" });
          await a.put(NAME, DTYPE, { tag: "v2" });
        } else await a.put(NAME, DTYPE); // v1, v2 and latest (= v2's files)
        const tag = spec.withTag ? "v2" : LATEST_TAG;
        if (spec.oldState) await b.get(NAME, DTYPE, { tag: "v1" });
        const ds = b.freezer.dataset(DTYPE, NAME);
        const before = treeDigest(baseB);
        const newState = Object.fromEntries(Object.entries(v2.files).map(([p, e]) => [p, e.sha256]));
        const transfer = Object.values(v2.files).reduce((n, e) => n + e.size, 0);

        const res = await faulted(slot, spec, s, baseB, transfer, (c) => c.get(NAME, DTYPE, { tag }));
        if (res.ok) {
          checkState(fig, JSON.stringify(treeDigest(ds.thawedDir)) === JSON.stringify(newState) && ds.hasTag(tag), `${label(spec)}: completed, but the working copy is not the new tag`);
        } else {
          const after = treeDigest(baseB);
          checkState(fig, JSON.stringify(after) === JSON.stringify(before), `${label(spec)}: failed, and the local freezer changed (${diffKeys(before, after)})`);
        }

        const missing = (await Promise.all([...uniqueObjects(v2).keys()].map((sha) => b.freezer.blobs.has(sha)))).filter((has) => !has).length;
        const again = await b.get(NAME, DTYPE, { tag });
        fig.rerunsCompleted++;
        fig.objectsResent += again.raw ? 0 : again.downloaded;
        fig.objectsMissingBeforeRerun += missing;
        if (!again.raw && again.downloaded !== missing) violation(fig, `${label(spec)}: the re-run fetched ${again.downloaded} object(s), ${missing} were missing`);
        const thawed = treeDigest(ds.thawedDir);
        const expected = Object.values(v2.files).reduce((n, e) => n + e.size, 0);
        const found = Object.entries(v2.files).reduce((n, [p, e]) => n + (thawed[p] === e.sha256 ? e.size : 0), 0);
        countBytes(fig, expected, found);
        if (found !== expected) violation(fig, `${label(spec)}: after the re-run the working copy lacks ${expected - found} bytes`);
      } else {
        const src = path.join(base, "reads.fastq");
        const content = big ?? pseudoRandomBytes(spec.seed + 2, 1 + rng.int(200 * 1024));
        fs.writeFileSync(src, content);
        await a.put(src, RAW_DTYPE, { raw: true });
        const outDir = path.join(base, "out");
        fs.mkdirSync(outDir);
        const out = path.join(outDir, "reads.fastq");
        if (spec.oldState) fs.writeFileSync(out, pseudoRandomBytes(spec.seed + 1, 1 + rng.int(64 * 1024)));
        const before = treeDigest(outDir);
        const res = await faulted(slot, spec, s, baseB, content.length, (c) => c.get("reads.fastq", RAW_DTYPE, { raw: true, output: out, force: spec.oldState }));
        const after = treeDigest(outDir);
        if (res.ok) checkState(fig, JSON.stringify(after) === JSON.stringify({ "reads.fastq": sha256(content) }), `${label(spec)}: completed, but the output is not the new file`);
        else checkState(fig, JSON.stringify(after) === JSON.stringify(before), `${label(spec)}: failed, and the output directory changed (${diffKeys(before, after)})`);

        const missing = after["reads.fastq"] === sha256(content) ? 0 : 1;
        const again = await b.get("reads.fastq", RAW_DTYPE, { raw: true, output: out, force: spec.oldState });
        fig.rerunsCompleted++;
        fig.objectsResent += again.downloaded;
        fig.objectsMissingBeforeRerun += missing;
        if (again.downloaded !== missing) violation(fig, `${label(spec)}: the re-run downloaded ${again.downloaded} file(s), ${missing} missing`);
        const ok = sha256(fs.readFileSync(out)) === sha256(content);
        countBytes(fig, content.length, ok ? content.length : 0);
        if (!ok) violation(fig, `${label(spec)}: after the re-run the output is not the file`);
      }
    } finally {
      await a.nuke().catch(() => undefined);
      a.close();
      b.close();
      fs.rmSync(base, { recursive: true, force: true });
    }
  }

  async function runAll(op: Op): Promise<void> {
    const specs: Spec[] = [];
    for (let i = 0; i < RUNS; i++) specs.push(makeSpec(op, i));
    const chosen = ONLY ? specs.filter((s) => `${s.op}:${s.index}` === ONLY) : specs;
    let next = 0;
    const opStart = Date.now();
    await Promise.all(
      slots.map(async (slot) => {
        while (next < chosen.length) {
          if (DEADLINE_MS > 0 && Date.now() - opStart > DEADLINE_MS) {
            fig.extra.stoppedAtDeadline = true;
            return;
          }
          const spec = chosen[next++]!;
          fig.runs++;
          bump(fig.runsByKind, kindLabel(spec));
          try {
            await (op === "push" ? pushRun(slot, spec) : pullRun(slot, spec));
          } catch (err) {
            violation(fig, `${label(spec)}: the run itself failed: ${(err as Error).stack ?? String(err)}`);
          }
        }
      }),
    );
  }

  /** One per op: budget ~1.2 s per run per slot, plus slack; a soak sets its own deadline. */
  const budget = (runs: number) => (DEADLINE_MS > 0 ? DEADLINE_MS + 120_000 : 60_000 + Math.ceil(runs / SLOTS) * 8_000);

  it(
    `push under random faults (${RUNS} runs): no tag with missing objects is ever visible, the re-run sends exactly what is missing, nothing is lost`,
    async () => {
      await runAll("push");
      expect(fig.violations).toEqual([]);
      expect(fig.hangs).toBe(0);
    },
    budget(RUNS),
  );

  it(
    `pull under random faults (${RUNS} runs): the working copy is the old state or the new one, a failed pull writes nothing, the re-run fetches exactly what is missing`,
    async () => {
      await runAll("pull");
      expect(fig.violations).toEqual([]);
      expect(fig.bytesLost).toBe(0);
      expect(fig.halfVisibleStates).toBe(0);
    },
    budget(RUNS),
  );

  it("a server that stalls every connection mid-transfer ends a push and a pull with UNREACHABLE within the retry budget, not a hang", async () => {
    const s = target.settings();
    const base = path.join(env.root, "stall");
    const a = await open(s, path.join(base, "a"));
    try {
      await frozen(a, NAME, { "x.bin": pseudoRandomBytes(5, 200_000) }, "v1");
      await a.put(NAME, DTYPE, { tag: "v1" });
      await frozen(a, NAME, { "y.bin": pseudoRandomBytes(6, 200_000) }, "v2");
      const bound = RETRY.maxAttempts * (IDLE_MS + RETRY.maxDelayMs) + 10_000;
      const { proxy } = slots[0]!;
      for (const [what, basedir, cmd] of [
        ["push", path.join(base, "a"), (c: CloudData) => c.put(NAME, DTYPE, { tag: "v2" })],
        ["pull", path.join(base, "b"), (c: CloudData) => c.get(NAME, DTYPE, { tag: "v1" })],
      ] as const) {
        // Opening works; then every new connection goes silent after its first bytes.
        const c = await open({ ...s, endpoint: proxy.url }, basedir, { retry: RETRY, idleTimeoutMs: IDLE_MS });
        proxy.setPlan(stall("forever", { afterBytes: 1, direction: what === "push" ? "up" : "down" }));
        proxy.dropConnections();
        const t0 = Date.now();
        const err = await cmd(c).then(
          () => undefined,
          (e: unknown) => e,
        );
        const ms = Date.now() - t0;
        c.close();
        proxy.setPlan(pass());
        proxy.dropConnections();
        fig.runs++;
        bump(fig.runsByKind, `${what} stalled server`);
        expect(err, `${what} should fail`).toBeInstanceOf(Minus80Error);
        bump(fig.errorsByCode, (err as Minus80Error).code);
        expect((err as Minus80Error).code).toBe("UNREACHABLE");
        expect((err as Minus80Error).message).toMatch(/stalled|timed out/);
        expect(ms).toBeLessThan(bound);
        fig.extra[`${what}StallToUnreachableMs`] = ms;
      }
    } finally {
      await a.nuke().catch(() => undefined);
      a.close();
    }
  });
});

function diffKeys(a: Record<string, string>, b: Record<string, string>): string {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].filter((k) => a[k] !== b[k]).slice(0, 5).join(", ");
}
