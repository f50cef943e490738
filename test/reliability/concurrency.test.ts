/**
 * Concurrent writers on every storage target (folder, embedded s3rver, the
 * S3 endpoint from the environment):
 *
 * - two PROCESSES pushing the same new tag with different contents, their
 *   manifest writes lined up by a barrier: exactly one wins, the other gets
 *   TAG_CONFLICT, and the tag in the bucket is exactly one side's, never a
 *   mix (servers with conditional writes and the folder; s3rver ignores
 *   If-None-Match, so there only "never a mix" is asserted and the races
 *   the read-back missed are counted);
 * - gc running while a push commits (a deterministic interleaving: the
 *   push commits while gc is reading the manifests) and gc looping in one
 *   process while another pushes tags that reuse old unreferenced objects:
 *   no committed manifest ever loses an object;
 * - several first uses of a bucket that does not exist yet, at once.
 *
 * Local freezing/thawing by two processes (lock, stale lock) is covered in
 * test/freezer/freezer.test.ts.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { CloudData } from "../../src/cloud/cloudData.js";
import { fetchManifest } from "../../src/cloud/remote.js";
import { useTargetSession } from "../helpers/targetSession.js";
import { makeS3rverAtomic } from "./atomicS3rver.js";
import { bump, checkState, newFigures, writeFigures, type Figures } from "./figures.js";
import { DTYPE, frozen, manifestDigest, openCloud, pseudoRandomBytes, serverName, sleep, targets } from "./support.js";

const DIST = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dist/src");
const TAG_RACE_ROUNDS = Number(process.env.MINUS80_RACE_ROUNDS ?? 6);

/**
 * A child process that opens the cloud from the built library and runs one
 * command. With `barrier`, its first manifest write waits until the other
 * process has reached its own (both write at the same moment).
 */
function child(script: string, vars: Record<string, unknown>): Promise<{ out: Record<string, unknown>; stderr: string; code: number }> {
  const prelude = `
    const V = JSON.parse(process.env.CHILD_VARS);
    const { CloudData } = await import(${JSON.stringify(`${DIST}/cloud/cloudData.js`)});
    const { createBackend } = await import(${JSON.stringify(`${DIST}/cloud/backends/create.js`)});
    const { RetryingBackend } = await import(${JSON.stringify(`${DIST}/cloud/retry.js`)});
    const { loadConfig } = await import(${JSON.stringify(`${DIST}/config/config.js`)});
    const fs = await import("node:fs");
    const path = await import("node:path");
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    async function barrier() {
      fs.writeFileSync(path.join(V.barrierDir, V.me), "");
      for (let i = 0; i < 2000 && !fs.existsSync(path.join(V.barrierDir, V.other)); i++) await sleep(5);
    }
    async function open(extra = {}) {
      const overrides = { configFile: V.configFile, basedir: V.basedir, ...V.settings };
      const inner = new RetryingBackend(await createBackend(loadConfig(overrides).cloud), { baseDelayMs: 5, maxDelayMs: 50 });
      const hooked = Object.create(inner);
      let waited = false;
      hooked.put = async (key, body, opts) => {
        if (V.barrierDir && !waited && key.startsWith("datasets/")) { waited = true; await barrier(); }
        return inner.put(key, body, opts);
      };
      return CloudData.open({ ...overrides, backend: hooked, ...extra });
    }
    const emit = (o) => process.stdout.write(JSON.stringify(o) + "\\n");
  `;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["--input-type=module", "-e", prelude + script], {
      env: { ...process.env, CHILD_VARS: JSON.stringify(vars) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    p.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("close", (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").at(-1) ?? "";
      let out: Record<string, unknown> = {};
      try {
        out = JSON.parse(last) as Record<string, unknown>;
      } catch {
        out = { unparsed: stdout };
      }
      resolve({ out, stderr, code: code ?? -1 });
    });
  });
}

describe.each(targets())("concurrent writers on %s", (_label, start) => {
  let fig: Figures;
  let shimmed = false;
  const session = useTargetSession(start, {
    // s3rver writes a PUT in place: two writers of one key interleave their bytes and a reader
    // can see the mix. Real servers publish a PUT at once; the shim gives s3rver that (atomicS3rver.ts),
    // so here s3rver stands for "a server without conditional writes", nothing worse.
    beforeStart: () => {
      if (_label === "s3rver") shimmed = !!makeS3rverAtomic();
    },
    afterStart: (t) => {
      fig = newFigures("concurrency", shimmed ? "s3rver (atomic-write shim)" : serverName(t));
      fig.extra.conditionalWrites = t.conditionalWrites;
    },
    beforeStop: () => fig && writeFigures(fig),
  });

  async function open(machine: string, extra: Parameters<typeof openCloud>[3] = {}): Promise<CloudData> {
    const c = await openCloud(session.env.configFile, session.settings, path.join(session.env.root, `freezer-${machine}`), extra);
    session.opened.push(c);
    return c;
  }

  it(
    "two processes pushing the same new tag with different contents: exactly one wins, the other gets TAG_CONFLICT, the tag is never a mix",
    async () => {
      const reader = await open("reader");
      for (let round = 0; round < TAG_RACE_ROUNDS; round++) {
        const name = `Race${round}`;
        const sides = ["a", "b"] as const;
        const manifests: Record<string, Record<string, string>> = {};
        const totals: Record<string, string> = {};
        for (const side of sides) {
          const c = await open(`${side}${round}`);
          // A shared file, a file of each side's own, and a file only one side has.
          const files: Record<string, Buffer> = { "shared.txt": Buffer.from("same on both sides"), "data.bin": pseudoRandomBytes(round * 2 + (side === "a" ? 1 : 2), 30_000) };
          if (side === "a") files["only-a.txt"] = Buffer.from("a");
          const m = (await frozen(c, name, files, "v1"))!;
          manifests[side] = manifestDigest(m);
          totals[side] = m.total;
        }
        const barrierDir = fs.mkdtempSync(path.join(session.env.root, "barrier-"));
        const script = `
          const cloud = await open();
          try { await cloud.put(V.name, "Cohort", { tag: "v1" }); emit({ ok: true }); }
          catch (e) { emit({ ok: false, code: e.code, message: e.message }); }
          finally { cloud.close(); }`;
        const results = await Promise.all(
          sides.map((side) =>
            child(script, {
              name,
              me: side,
              other: side === "a" ? "b" : "a",
              barrierDir,
              settings: session.settings,
              configFile: session.env.configFile,
              basedir: path.join(session.env.root, `freezer-${side}${round}`),
            }),
          ),
        );
        fig.runs++;
        bump(fig.runsByKind, "tag race (two processes)");
        const won = sides.filter((_, i) => results[i]!.out.ok === true);
        const lost = sides.filter((_, i) => results[i]!.out.ok === false);
        for (const r of results) if (r.out.ok === false) bump(fig.errorsByCode, String(r.out.code));
        for (const r of results) expect(r.out.ok, `a child did not report: ${JSON.stringify(r.out)} ${r.stderr}`).toBeTypeOf("boolean");

        // The bucket holds exactly one side's tag, complete.
        const there = await fetchManifest(reader.backend, DTYPE, name, "v1");
        const winner = sides.find((s) => totals[s] === there.total);
        checkState(fig, winner !== undefined && JSON.stringify(manifestDigest(there)) === JSON.stringify(manifests[winner]), `round ${round}: the tag is a mix`);
        const report = await reader.verify({ dtype: DTYPE, name });
        checkState(fig, report.ok, `round ${round}: the winning tag misses objects: ${report.problems.map((p) => p.message).join("; ")}`);
        expect(winner).toBeDefined();
        expect(report.ok).toBe(true);

        if (session.target.conditionalWrites) {
          expect(won).toEqual([winner]);
          expect(lost).toHaveLength(1);
          expect(results[sides.indexOf(lost[0]!)]!.out.code).toBe("TAG_CONFLICT");
          bump(fig.runsByKind, "tag race: exactly one winner");
        } else {
          // s3rver ignores If-None-Match: the read-back catches a loser that reads after the other's write.
          expect(won.length + lost.length).toBe(2);
          for (const side of lost) expect(results[sides.indexOf(side)]!.out.code).toBe("TAG_CONFLICT");
          if (won.length === 2) {
            // Counted, not failed: the documented limitation of a server ignoring If-None-Match.
            bump(fig.extra as Record<string, number>, "tag races both reported success (no conditional writes)");
          } else bump(fig.runsByKind, "tag race: exactly one winner");
          if (won.length === 1) expect(won).toEqual([winner]);
        }
      }
    },
    300_000,
  );

  it("gc reading manifests while a push commits a tag that reuses an old unreferenced object does not delete that object", async () => {
    const graceMs = 2000;
    const a = await open("a", { gcGraceMs: graceMs });
    await frozen(a, "Keep", { "k.txt": "kept by a tag" }, "v1");
    await a.put("Keep", DTYPE, { tag: "v1" });
    await frozen(a, "First", { "reused.bin": pseudoRandomBytes(11, 5000) }, "v1");
    await a.put("First", DTYPE, { tag: "v1" });
    await a.remove("First", DTYPE); // its object is now unreferenced...
    await sleep(graceMs + 1500); // ...and older than the grace period (S3 times have 1 s resolution)

    const pusher = await open("p", { gcGraceMs: graceMs });
    await frozen(pusher, "Second", { "again.bin": pseudoRandomBytes(11, 5000), "new.txt": "new" }, "v1");
    // gc lists the objects (the reused one is old and unreferenced), then reads the manifests;
    // while it reads them, the push refreshes the object and commits its tag.
    const g = await open("g", { gcGraceMs: graceMs });
    const inner = g.backend;
    const hooked = Object.create(inner) as typeof inner;
    let pushed = false;
    hooked.get = async (key, opts) => {
      if (key.startsWith("datasets/") && !pushed) {
        pushed = true;
        expect((await pusher.put("Second", DTYPE, { tag: "v1" })).manifests).toBe(1);
      }
      return inner.get(key, opts);
    };
    const gcer = await open("g", { backend: hooked, gcGraceMs: graceMs });
    const r = await gcer.gc();
    expect(pushed).toBe(true);
    fig.runs++;
    bump(fig.runsByKind, "gc while a push commits (interleaved)");
    const report = await a.verify();
    checkState(fig, report.ok, `gc deleted an object a committed tag needs: ${report.problems.map((p) => p.message).join("; ")}`);
    expect(report.problems).toEqual([]);
    expect(r.deleted).toBe(0);
    const b = await open("b");
    await b.get("Second", DTYPE, { tag: "v1" });
  });

  // Two small files per tag stay single objects; twenty are packed (layout version 2).
  for (const [kind, per] of [["objects", 2], ["packs", 20]] as const) it(
    `gc looping in one process while another pushes tags reusing old unreferenced ${kind} never deletes what a committed tag needs`,
    async () => {
      const graceMs = 2000;
      const tags = 6;
      const a = await open("a", { gcGraceMs: graceMs });
      // Old, unreferenced objects, one group per future tag.
      const groups: Record<string, Buffer>[] = [];
      for (let i = 0; i < tags; i++) {
        const files: Record<string, Buffer> = {};
        for (let j = 0; j < per; j++) files[`g${i}-${j + 1}.bin`] = pseudoRandomBytes(100 * (j + 1) + i, 3000 + 1000 * (j % 4));
        groups.push(files);
        await frozen(a, `Old${i}`, files, "v1");
        await a.put(`Old${i}`, DTYPE, { tag: "v1" });
        await a.remove(`Old${i}`, DTYPE);
      }
      await sleep(graceMs + 1500);
      // The pushing side: tag t<i> reuses group i plus something new.
      const pusherBase = path.join(session.env.root, "freezer-pusher");
      const p = await open("pusher");
      for (let i = 0; i < tags; i++) await frozen(p, `New${i}`, { ...groups[i]!, "fresh.txt": `fresh ${i}` }, "v1");
      const common = { settings: session.settings, configFile: session.env.configFile, me: "x", other: "x", barrierDir: "" };
      const pushScript = `
        const cloud = await open({ gcGraceMs: ${graceMs} });
        fs.writeFileSync(V.startFile, "");
        const done = [];
        let uploaded = 0;
        for (let i = 0; i < ${tags}; i++) { uploaded += (await cloud.put("New" + i, "Cohort", { tag: "v1" })).uploaded; done.push(i); await sleep(30); }
        fs.writeFileSync(V.doneFile, "");
        cloud.close();
        emit({ ok: true, done, uploaded });`;
      const gcScript = `
        const cloud = await open({ gcGraceMs: ${graceMs} });
        while (!fs.existsSync(V.startFile)) await sleep(2); // start together with the pushes
        let runs = 0, deleted = 0;
        while (!fs.existsSync(V.doneFile)) { const r = await cloud.gc(); runs++; deleted += r.deleted + r.packsDeleted; }
        const r = await cloud.gc(); runs++; deleted += r.deleted + r.packsDeleted;
        cloud.close();
        emit({ ok: true, runs, deleted });`;
      const doneFile = path.join(session.env.root, "pusher-done");
      const startFile = path.join(session.env.root, "pusher-started");
      const [push, gc] = await Promise.all([
        child(pushScript, { ...common, basedir: pusherBase, doneFile, startFile }),
        child(gcScript, { ...common, basedir: path.join(session.env.root, "freezer-gc"), doneFile, startFile }),
      ]);
      expect(push.out, push.stderr).toMatchObject({ ok: true });
      expect(gc.out, gc.stderr).toMatchObject({ ok: true });
      fig.runs++;
      bump(fig.runsByKind, `gc loop beside a pushing process (${kind})`);
      bump(fig.extra as Record<string, number>, "gc runs beside pushes", Number(gc.out.runs));
      bump(fig.extra as Record<string, number>, "gc deletions beside pushes", Number(gc.out.deleted));
      // Each tag brings one new object; more means reused ones were sent again (gc had taken them, or s3rver ignored the refresh).
      bump(fig.extra as Record<string, number>, `reused ${kind}' files the pushes sent again`, Number(push.out.uploaded) - tags);
      const report = await a.verify();
      checkState(fig, report.ok, `after gc beside pushes: ${report.problems.map((x) => x.message).join("; ")}`);
      expect(report.problems).toEqual([]);
      expect(report.manifests).toBe(tags);
    },
    120_000,
  );

  it("several clients using a bucket that does not exist yet, at once, all succeed", async () => {
    session.settings = session.target.freshBucket();
    const results = await Promise.allSettled([0, 1, 2, 3].map((i) => open(`first${i}`)));
    fig.runs++;
    bump(fig.runsByKind, "first use of a new bucket, 4 at once");
    for (const r of results) if (r.status === "rejected") bump(fig.errorsByCode, String((r.reason as { code?: string }).code));
    expect(results.map((r) => (r.status === "rejected" ? String((r.reason as Error).message) : "ok"))).toEqual(["ok", "ok", "ok", "ok"]);
  });
});
