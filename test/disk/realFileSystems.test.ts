/**
 * Pull, thaw, freeze, raw pull, attach and a folder remote on real small and
 * read-only file systems (tmpfs mounts), through the CLI as a user runs it:
 * exit 1 with a message naming the cause and the path (never "a bug"),
 * nothing left behind on the small file system, and `ls` still works.
 *
 * Mounting needs root (CI runs as root); elsewhere the suite says why it
 * does not run.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "../helpers/cli.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { snapshotTree } from "../helpers/tree.js";

const MiB = 1024 * 1024;
const isRoot = process.getuid?.() === 0;
const canMount = isRoot && fs.existsSync("/bin/mount");

function expectNamedFailure(r: CliResult, cause: RegExp, where: string): void {
  expect(r.status, r.stderr).toBe(1);
  expect(r.stderr).toMatch(cause);
  expect(r.stderr).toContain(where);
  expect(r.stderr).not.toMatch(/bug|unexpected error/i);
}

describe.skipIf(!canMount)("real small and read-only file systems (tmpfs; needs root to mount)", () => {
  let t: TempEnv;
  const mounts: string[] = [];

  beforeEach(() => {
    t = makeTempEnv();
  });
  afterEach(() => {
    for (const m of mounts.splice(0).reverse()) execFileSync("umount", ["-l", m]);
    t.cleanup();
  });

  /** A fresh tmpfs of `bytes` at a new folder of the temp env. */
  function tmpfs(name: string, bytes: number): string {
    const dir = path.join(t.root, name);
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir]);
    mounts.push(dir);
    return dir;
  }
  const readOnly = (dir: string) => execFileSync("mount", ["-o", "remount,ro", dir]);
  const readWrite = (dir: string) => execFileSync("mount", ["-o", "remount,rw", dir]);
  /** Fills `dir` until about `leave` bytes are free. */
  function fillTo(dir: string, leave: number): void {
    const st = fs.statfsSync(dir);
    const fill = st.bavail * st.bsize - leave;
    if (fill > 0) fs.writeFileSync(path.join(dir, "filler"), Buffer.alloc(fill));
  }

  const env = (basedir: string, extra: NodeJS.ProcessEnv = {}) => ({
    ...t.env,
    MINUS80_BASEDIR: basedir,
    CLOUD_ENDPOINT: `file://${path.join(t.root, "remote")}`,
    CLOUD_BUCKET: "tmpfs-test",
    ...extra,
  });
  const cli = (basedir: string, args: string[], extra?: NodeJS.ProcessEnv) => runCli(args, { env: env(basedir, extra) });
  const ok = (basedir: string, args: string[], extra?: NodeJS.ProcessEnv) => {
    const r = cli(basedir, args, extra);
    expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(0);
    return r;
  };

  /** A Cohort whose one accession has an attached read of `bytes` random bytes, frozen as v1 in `basedir`. */
  function cohortWithRead(basedir: string, bytes: number): { read: Buffer } {
    const read = crypto.randomBytes(bytes);
    const readFile = path.join(t.root, "R1.fastq");
    fs.writeFileSync(readFile, read);
    const sheet = path.join(t.root, "samples.yaml");
    fs.writeFileSync(sheet, `S1:\n  files: [${JSON.stringify(readFile)}]\n  metadata:\n    tissue: leaf\n`);
    ok(basedir, ["cohort", "import", "Big", sheet, "--attach"]);
    ok(basedir, ["freeze", "Cohort.Big:v1"]);
    return { read };
  }
  const pushedCohort = (bytes: number) => {
    const source = path.join(t.root, "source");
    const made = cohortWithRead(source, bytes);
    ok(source, ["cloud", "push", "Cohort", "Big", "--tag", "v1"]);
    return made;
  };

  it("a pull that cannot fit fails before writing a byte, naming what it needs and has; --dry-run says so; ls still works", () => {
    pushedCohort(3 * MiB);
    const small = tmpfs("small", 2 * MiB);
    const dry = cli(small, ["cloud", "pull", "Cohort", "Big", "--tag", "v1", "--dry-run"]);
    expect(dry.status, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/NOT ENOUGH ROOM/);
    const r = cli(small, ["cloud", "pull", "Cohort", "Big", "--tag", "v1"]);
    expectNamedFailure(r, /not enough space to pull Cohort\.Big:v1: it needs [\d.]+ MiB/, small);
    expect(r.stderr).toMatch(/free [\d.]+ (KiB|MiB) there/);
    expect(snapshotTree(small)).toEqual({});
    expect(ok(small, ["ls"]).stdout).toMatch(/Nothing in the local freezer yet/);
  });

  it("a pull into a read-only base directory names the read-only file system and the path, not a missing file", () => {
    pushedCohort(64 * 1024);
    const ro = tmpfs("ro", 8 * MiB);
    readOnly(ro);
    const r = cli(ro, ["cloud", "pull", "Cohort", "Big", "--tag", "v1"]);
    expectNamedFailure(r, /read-only file system/, ro);
    expect(r.stderr).not.toMatch(/ENOENT/);
    expect(ok(ro, ["ls"]).status).toBe(0);
  });

  it("a pull that fits on a small file system succeeds, and every byte comes back", () => {
    const { read } = pushedCohort(3 * MiB);
    const small = tmpfs("fits", 12 * MiB);
    ok(small, ["cloud", "pull", "Cohort", "Big", "--tag", "v1"]);
    expect(fs.readFileSync(path.join(small, "datasets/Cohort/Big/thawed/reads/S1/R1.fastq")).equals(read)).toBe(true);
  });

  it("a thaw that cannot fit fails before writing, leaves the freezer as it was, and succeeds once there is room", () => {
    const base = tmpfs("thaw", 16 * MiB);
    const { read } = cohortWithRead(base, 3 * MiB);
    ok(base, ["cohort", "rm", "Big", "S1"]);
    ok(base, ["freeze", "Cohort.Big:v2"]);
    fillTo(base, 2 * MiB);
    const before = snapshotTree(base);
    const r = cli(base, ["thaw", "Cohort.Big:v1"]);
    expectNamedFailure(r, /not enough space to thaw Cohort\.Big:v1/, base);
    expect(snapshotTree(base)).toEqual(before);
    expect(ok(base, ["ls", "--tags"]).stdout).toMatch(/v2/);
    fs.rmSync(path.join(base, "filler"));
    ok(base, ["thaw", "Cohort.Big:v1"]);
    expect(fs.readFileSync(path.join(base, "datasets/Cohort/Big/thawed/reads/S1/R1.fastq")).equals(read)).toBe(true);
  });

  it("a freeze that cannot fit fails before storing anything, and no tag appears", () => {
    const base = tmpfs("freeze", 16 * MiB);
    cohortWithRead(base, 64 * 1024);
    fs.writeFileSync(path.join(base, "datasets/Cohort/Big/thawed/big.bin"), crypto.randomBytes(3 * MiB));
    fillTo(base, 2 * MiB);
    const before = snapshotTree(base);
    const r = cli(base, ["freeze", "Cohort.Big:v2"]);
    expectNamedFailure(r, /not enough space to freeze Cohort\.Big/, base);
    expect(snapshotTree(base)).toEqual(before);
    expect(ok(base, ["ls", "--tags"]).stdout).not.toMatch(/v2/);
  });

  it("a freeze and a thaw on a read-only base directory name it", () => {
    const base = tmpfs("rofreeze", 8 * MiB);
    cohortWithRead(base, 64 * 1024);
    readOnly(base);
    expectNamedFailure(cli(base, ["freeze", "Cohort.Big:v2"]), /read-only file system/, base);
    expectNamedFailure(cli(base, ["thaw", "Cohort.Big:v1", "--force"]), /read-only file system/, base);
    expect(ok(base, ["ls", "--tags"]).stdout).toMatch(/v1/);
    readWrite(base);
  });

  it("a raw pull into a small folder fails before downloading, naming the folder, and leaves no temporary file", () => {
    const source = path.join(t.root, "source");
    const file = path.join(t.root, "reads.fastq");
    fs.writeFileSync(file, crypto.randomBytes(3 * MiB));
    ok(source, ["cloud", "push", "fastq", file, "--raw"]);
    const out = tmpfs("out", 2 * MiB);
    const r = cli(source, ["cloud", "pull", "fastq", "reads.fastq", "--raw", "--output", out]);
    expectNamedFailure(r, /not enough space to pull/, out);
    expect(r.stderr).toMatch(/--output/);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it("cohort import --attach onto a small file system fails before copying, and the Cohort is unchanged", () => {
    const base = tmpfs("attach", 16 * MiB);
    cohortWithRead(base, 64 * 1024);
    const big = path.join(t.root, "R2.fastq");
    fs.writeFileSync(big, crypto.randomBytes(3 * MiB));
    const sheet = path.join(t.root, "more.yaml");
    fs.writeFileSync(sheet, `S2:\n  files: [${JSON.stringify(big)}]\n`);
    fillTo(base, 2 * MiB);
    const before = snapshotTree(base);
    const r = cli(base, ["cohort", "import", "Big", sheet, "--attach"]);
    expectNamedFailure(r, /not enough space to attach/, base);
    expect(snapshotTree(base)).toEqual(before);
    expect(ok(base, ["cohort", "show", "Big"]).stdout).not.toMatch(/S2/);
  });

  it("a push to a cloud folder on a full file system names the folder's full disk, not the keys, and no tag becomes visible", () => {
    const source = path.join(t.root, "source");
    cohortWithRead(source, 3 * MiB);
    const remote = tmpfs("remote", 2 * MiB);
    const r = cli(source, ["cloud", "push", "Cohort", "Big", "--tag", "v1"], { CLOUD_ENDPOINT: `file://${remote}` });
    expectNamedFailure(r, /no space left on the file system of/, remote);
    expect(r.stderr).not.toMatch(/credentials|access_key/);
    const ls = ok(source, ["cloud", "ls", "--tags", "--json"], { CLOUD_ENDPOINT: `file://${remote}` });
    expect(ls.stdout).not.toMatch(/v1/);
  });
});
