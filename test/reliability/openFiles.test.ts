/**
 * A low limit of open files (`ulimit -n 64`) slows a push and a pull of
 * many files down instead of failing them with EMFILE: the concurrency is
 * capped to what the limit allows (limits.ts, transfersWithinFileLimit).
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { transfersWithinFileLimit } from "../../src/limits.js";
import { CLI } from "../helpers/cli.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { pseudoRandomBytes, treeDigest } from "./support.js";

const FILES = 400;
const LOW_LIMIT = 64;

describe("a low limit of open files", () => {
  let t: TempEnv;
  beforeEach(() => {
    t = makeTempEnv();
  });
  afterEach(() => t.cleanup());

  /** The CLI under `ulimit -n LOW_LIMIT`. */
  function limited(basedir: string, args: string[]) {
    const env = { ...t.env, MINUS80_BASEDIR: basedir, CLOUD_ENDPOINT: `file://${path.join(t.root, "remote")}`, CLOUD_BUCKET: "open-files" };
    const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    return spawnSync("bash", ["-c", `ulimit -n ${LOW_LIMIT} && exec ${quoted}`], { env, encoding: "utf8", timeout: 300_000 });
  }

  it("is read from the process, and caps the transfers", () => {
    const n = transfersWithinFileLimit();
    if (fs.existsSync("/proc/self/limits")) expect(n).toBeGreaterThanOrEqual(1);
  });

  it(`push and pull ${FILES} files under ulimit -n ${LOW_LIMIT} succeed, byte-identical`, () => {
    const a = path.join(t.root, "a");
    const sheet = path.join(t.root, "s.yaml");
    fs.writeFileSync(sheet, "S1:\n  metadata:\n    tissue: leaf\n");
    expect(limited(a, ["cohort", "import", "Many", sheet]).status).toBe(0);
    const thawed = path.join(a, "datasets/Cohort/Many/thawed");
    for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(thawed, `t${i}.tsv`), pseudoRandomBytes(i + 1, 1000 + i));
    for (const args of [["freeze", "Cohort.Many:v1"], ["cloud", "push", "Cohort", "Many", "--tag", "v1"]]) {
      const r = limited(a, args);
      expect(r.status, r.stderr).toBe(0);
    }
    const b = path.join(t.root, "b");
    const r = limited(b, ["cloud", "pull", "Cohort", "Many", "--tag", "v1"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/EMFILE|too many open files/);
    expect(treeDigest(path.join(b, "datasets/Cohort/Many/thawed"))).toEqual(treeDigest(thawed));
  });
});
