/**
 * Ctrl-C and SIGTERM at random moments of `cloud push` and `cloud pull`
 * (the built CLI, a child process), on every target: the command exits
 * 130 (143 for SIGTERM), or 0 when it finished before the signal; either
 * way no multipart upload is left open, no temporary file is left in the
 * freezer, the local freezer is as it was before the command or has the
 * command complete, the bucket holds the tag whole or not at all, and the
 * same command run again succeeds. A second Ctrl-C exits at once.
 *
 * The moments are drawn from a fixed seed (`MINUS80_CANCEL_SEED` to vary
 * it), spread over the measured length of an uncancelled run.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CloudData } from "../../src/cloud/cloudData.js";
import { useTargetSession } from "../helpers/targetSession.js";
import { cliWithSignal, leftovers, moment, prng, STARTUP_MS } from "./signals.js";
import { DTYPE, frozen, manifestDigest, MiB, openCloud, pseudoRandomBytes, targets, treeDigest } from "./support.js";

const SEED = Number(process.env.MINUS80_CANCEL_SEED ?? 20261202);
const RUNS = 4;
const NAME = "Cancel";

/** The freezer's files, leaving out what only caches what the server can do (`cache/`). */
function freezerDigest(basedir: string): Record<string, string> {
  return Object.fromEntries(Object.entries(treeDigest(basedir)).filter(([rel]) => !rel.startsWith("cache/")));
}

async function openUploads(cloud: CloudData): Promise<string[]> {
  const out: string[] = [];
  for await (const u of cloud.backend.listUploads("")) out.push(u.key);
  return out;
}

describe.each(targets())("cancelling push and pull on %s", (_label, start) => {
  const session = useTargetSession(start);

  it("Ctrl-C or SIGTERM at random moments leaves nothing half-done, and the command run again succeeds", async () => {
    const root = session.env.root;
    const random = prng(SEED);
    const a = await openCloud(session.env.configFile, session.settings, path.join(root, "a"));
    session.opened.push(a);
    // A large file (multipart on S3) and many small ones.
    const files: Record<string, Buffer> = { "reads/big.fastq": pseudoRandomBytes(SEED, 40 * MiB + 12345) };
    for (let i = 0; i < 60; i++) files[`tables/t${i}.tsv`] = pseudoRandomBytes(SEED + i + 1, 2000 + i * 97);

    let pushMs = 0;
    let pullMs = 0;
    for (let run = 0; run < RUNS; run++) {
      const tag = `v${run}`;
      const m = (await frozen(a, NAME, { ...files, [`run-${run}.txt`]: Buffer.from(`run ${run}`) }, tag))!;
      const signal: NodeJS.Signals = run % 2 === 0 ? "SIGINT" : "SIGTERM";
      const expectStatus = signal === "SIGINT" ? 130 : 143;

      // push, cancelled somewhere in its length (the first run measures it, uncancelled)
      const before = freezerDigest(path.join(root, "a"));
      const push = await cliWithSignal(root, session.settings, path.join(root, "a"), ["cloud", "push", DTYPE, NAME, "--tag", tag, "--quiet"], run === 0 ? 1e9 : moment(random(), pushMs), [signal]);
      if (run === 0) pushMs = push.ms;
      expect([0, expectStatus], push.stderr).toContain(push.status);
      expect(await openUploads(a)).toEqual([]);
      expect(leftovers(path.join(root, "a"))).toEqual([]);
      expect(freezerDigest(path.join(root, "a"))).toEqual(before);
      const there = (await a.listDatasets())[DTYPE]?.includes(NAME) ? (await a.listTags({ dtype: DTYPE, name: NAME }))[DTYPE]![NAME]!.map((t) => t.tag) : [];
      if (push.status === 0) expect(there).toContain(tag);
      if (there.includes(tag)) expect((await a.verify({ dtype: DTYPE, name: NAME, tag })).ok).toBe(true);
      const again = await cliWithSignal(root, session.settings, path.join(root, "a"), ["cloud", "push", DTYPE, NAME, "--tag", tag, "--quiet"], 1e9);
      expect(again.status, again.stderr).toBe(0);
      expect((await a.verify({ dtype: DTYPE, name: NAME, tag })).ok).toBe(true);

      // pull into another freezer, cancelled somewhere in its length
      const bdir = path.join(root, `b${run}`);
      const pull = await cliWithSignal(root, session.settings, bdir, ["cloud", "pull", DTYPE, NAME, "--tag", tag, "--quiet"], run === 0 ? 1e9 : moment(random(), pullMs), [signal]);
      if (run === 0) pullMs = pull.ms;
      expect([0, expectStatus], pull.stderr).toContain(pull.status);
      if (leftovers(bdir).length) console.error("PULL LEFT", pull.status, pull.ms, pull.stderr);
      expect(leftovers(bdir)).toEqual([]);
      const thawed = path.join(bdir, "datasets", DTYPE, NAME, "thawed");
      if (pull.status === 0) expect(treeDigest(thawed)).toEqual(manifestDigest(m));
      else if (fs.existsSync(thawed)) expect([manifestDigest(m), {}]).toContainEqual(treeDigest(thawed));
      const pulled = await cliWithSignal(root, session.settings, bdir, ["cloud", "pull", DTYPE, NAME, "--tag", tag, "--quiet"], 1e9);
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(treeDigest(thawed)).toEqual(manifestDigest(m));
    }
  });

  it("a second Ctrl-C exits at once with 130", async () => {
    const root = session.env.root;
    const a = await openCloud(session.env.configFile, session.settings, path.join(root, "a"));
    session.opened.push(a);
    await frozen(a, NAME, { "big.bin": pseudoRandomBytes(7, 160 * MiB) }, "v1");
    const signalsAt = STARTUP_MS + 100;
    const r = await cliWithSignal(root, session.settings, path.join(root, "a"), ["cloud", "push", DTYPE, NAME, "--tag", "v1", "--quiet"], signalsAt, ["SIGINT", "SIGINT"], 20);
    expect([0, 130], r.stderr).toContain(r.status);
    if (r.status === 130) expect(r.ms - signalsAt, "exits at once, not after cleaning up").toBeLessThan(1500);
  });

});
