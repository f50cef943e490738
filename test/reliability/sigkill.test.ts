/**
 * SIGKILL at random moments of freeze, thaw, push and pull (the built CLI, a
 * child process, no chance to clean up): afterwards the freezer still
 * lists, the same command run again succeeds, and every byte comes back.
 * A killed freeze may have landed its tag just before dying: then the tag
 * must hold exactly the working copy (freezing it again is refused as
 * TAG_EXISTS, tags being immutable).
 *
 * The moments are drawn from a fixed seed (`MINUS80_KILL_SEED` to vary it),
 * spread over the measured length of an unkilled run.
 */
import path from "node:path";
import { describe, expect, it } from "vitest";
import { useTargetSession } from "../helpers/targetSession.js";
import { cliWithSignal, prng } from "./signals.js";
import { DTYPE, frozen, manifestDigest, MiB, openCloud, pseudoRandomBytes, targets, treeDigest } from "./support.js";

const SEED = Number(process.env.MINUS80_KILL_SEED ?? 20261203);
const RUNS = 4;
const NAME = "Kill";
const KILLED = 137;
/** The earliest kill after the start. */
const KILL_FROM_MS = 100;

describe.each(targets(["folder", "env"]))("SIGKILL during freeze, thaw, push and pull on %s", (_label, start) => {
  const session = useTargetSession(start);

  it("after a kill at a random moment the freezer lists, the command run again succeeds, and every byte comes back", async () => {
    const root = session.env.root;
    const random = prng(SEED);
    const adir = path.join(root, "a");
    const a = await openCloud(session.env.configFile, session.settings, adir);
    session.opened.push(a);
    const ds = a.freezer.dataset(DTYPE, NAME);
    const run = (basedir: string, args: string[], killAt = 1e9) => cliWithSignal(root, session.settings, basedir, args, killAt, ["SIGKILL"]);
    const lists = async (basedir: string) => {
      const ls = await run(basedir, ["ls", "--tags"]);
      expect(ls.status, ls.stderr).toBe(0);
    };
    const ms = { freeze: 0, thaw: 0, push: 0, pull: 0 };
    // Within the measured length: a SIGKILL needs no handler, so even one during Node's start-up kills.
    const killAt = (op: keyof typeof ms, i: number) => (i === 0 ? 1e9 : KILL_FROM_MS + random() * 0.9 * ms[op]);
    let kills = 0;

    for (let i = 0; i < RUNS; i++) {
      const tag = `v${i}`;
      const files: Record<string, Buffer> = { [`reads/big-${i}.fastq`]: pseudoRandomBytes(SEED + i, 24 * MiB + i) };
      for (let f = 0; f < 30; f++) files[`tables/t${f}.tsv`] = pseudoRandomBytes(SEED * 7 + i * 100 + f, 1500 + f * 37);
      await frozen(a, NAME, files);
      const wanted = treeDigest(ds.thawedDir);

      // freeze
      const freeze = await run(adir, ["freeze", `${DTYPE}.${NAME}:${tag}`], killAt("freeze", i));
      if (i === 0) ms.freeze = freeze.ms;
      expect([0, KILLED], freeze.stderr).toContain(freeze.status);
      if (freeze.status === KILLED) kills++;
      await lists(adir);
      if (!ds.hasTag(tag)) {
        const again = await run(adir, ["freeze", `${DTYPE}.${NAME}:${tag}`]);
        expect(again.status, again.stderr).toBe(0);
      }
      expect(manifestDigest(ds.tag(tag))).toEqual(wanted);

      // thaw the previous tag, then this one again
      if (i > 0) {
        const prev = `v${i - 1}`;
        const thaw = await run(adir, ["thaw", `${DTYPE}.${NAME}:${prev}`, "--force"], killAt("thaw", i - 1));
        if (i === 1) ms.thaw = thaw.ms;
        expect([0, KILLED], thaw.stderr).toContain(thaw.status);
      if (thaw.status === KILLED) kills++;
        await lists(adir);
        const again = await run(adir, ["thaw", `${DTYPE}.${NAME}:${prev}`, "--force"]);
        expect(again.status, again.stderr).toBe(0);
        expect(treeDigest(ds.thawedDir)).toEqual(manifestDigest(ds.tag(prev)));
        const back = await run(adir, ["thaw", `${DTYPE}.${NAME}:${tag}`, "--force"]);
        expect(back.status, back.stderr).toBe(0);
      }

      // push
      const push = await run(adir, ["cloud", "push", DTYPE, NAME, "--tag", tag], killAt("push", i));
      if (i === 0) ms.push = push.ms;
      expect([0, KILLED], push.stderr).toContain(push.status);
      if (push.status === KILLED) kills++;
      await lists(adir);
      const pushed = await run(adir, ["cloud", "push", DTYPE, NAME, "--tag", tag]);
      expect(pushed.status, pushed.stderr).toBe(0);
      expect((await a.verify({ dtype: DTYPE, name: NAME, tag })).ok).toBe(true);

      // pull into a fresh freezer
      const bdir = path.join(root, `b${i}`);
      const pull = await run(bdir, ["cloud", "pull", DTYPE, NAME, "--tag", tag], killAt("pull", i));
      if (i === 0) ms.pull = pull.ms;
      expect([0, KILLED], pull.stderr).toContain(pull.status);
      if (pull.status === KILLED) kills++;
      await lists(bdir);
      const pulled = await run(bdir, ["cloud", "pull", DTYPE, NAME, "--tag", tag]);
      expect(pulled.status, pulled.stderr).toBe(0);
      expect(treeDigest(path.join(bdir, "datasets", DTYPE, NAME, "thawed"))).toEqual(wanted);
    }
    // The seeded moments fall inside the commands, not only after them: the test kills something.
    expect(kills).toBeGreaterThanOrEqual(RUNS);
  });
});
