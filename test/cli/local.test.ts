import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
});
afterEach(() => t.cleanup());

const YAML_V1 = `10F:
    files:
        - ssh://user@hostname.edu/path/to/file/10_F_S66_R1_001.fastq.gz
        - ssh://user@hostname.edu/path/to/file/10_F_S66_R2_001.fastq.gz
    metadata:
        seqtype: novaseq
10M:
    files:
        - ssh://user@hostname.edu/path/to/file/10_M_S10_R1_001.fastq.gz
    metadata:
        seqtype: hiseq
`;
const YAML_MORE = `20F:
    files:
        - /data/20_F_R1.fastq.gz
    metadata:
        seqtype: novaseq
`;

function cli(...args: string[]) {
  return runCli(args, { env: t.env });
}

function snapshotTree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, rel);
    if (fs.statSync(p).isFile()) out[rel] = fs.readFileSync(p).toString("base64");
  }
  return out;
}

describe("the local CLI, as a new user uses it", () => {
  it("import, list, freeze, edit, refused thaw naming the file, forced thaw back to v1 byte for byte, delete", () => {
    const yaml = path.join(t.root, "acc.yaml");
    fs.writeFileSync(yaml, YAML_V1);
    const empty = cli("ls");
    expect(empty.status).toBe(0);
    expect(empty.stdout).toMatch(/Nothing in the local freezer yet/);

    const imp = cli("cohort", "import", "TestCohort", yaml);
    expect(imp.stderr).toBe("");
    expect(imp.status).toBe(0);
    expect(imp.stdout).toContain("2 accessions");

    const ls = cli("ls");
    expect(ls.stdout).toBe("-----Cohort------\nTestCohort\n");

    const show = cli("cohort", "show", "TestCohort", "--json");
    expect(show.status).toBe(0);
    const shown = JSON.parse(show.stdout);
    expect(shown.accessions.map((a: { name: string }) => a.name)).toEqual(["10F", "10M"]);
    expect(shown.accessions[0].metadata).toEqual({ seqtype: "novaseq" });

    expect(cli("freeze", "Cohort.TestCohort:v1").status).toBe(0);
    const thawedDir = path.join(t.basedir, "datasets", "Cohort", "TestCohort", "thawed");
    const v1Bytes = snapshotTree(thawedDir);

    const more = path.join(t.root, "more.yaml");
    fs.writeFileSync(more, YAML_MORE);
    expect(cli("cohort", "import", "TestCohort", more).stdout).toContain("3 accessions");

    const refused = cli("thaw", "Cohort.TestCohort:v1");
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain("unsaved changes");
    expect(refused.stderr).toContain("db.sqlite");

    const forced = cli("thaw", "Cohort.TestCohort:v1", "--force");
    expect(forced.status).toBe(0);
    expect(snapshotTree(thawedDir)).toEqual(v1Bytes);
    expect(JSON.parse(cli("cohort", "show", "TestCohort", "--json").stdout).size).toBe(2);

    const tags = cli("ls", "--tags", "--json");
    expect(JSON.parse(tags.stdout)[0].tags.map((x: { tag: string }) => x.tag)).toEqual(["v1"]);

    expect(cli("delete", "Cohort", "TestCohort").status).toBe(2); // no terminal, no --force
    const del = cli("delete", "Cohort", "TestCohort", "--force");
    expect(del.status).toBe(0);
    expect(del.stdout).toContain("Deleted 1 dataset");
    expect(cli("ls").stdout).toMatch(/Nothing in the local freezer yet/);
    expect(snapshotTree(path.join(t.basedir, "objects"))).toEqual({});
  });

  it.each([
    ["freeze", "Cohort.Test/Cohort:v1"],
    ["freeze", "Cohort.TestCohort:.."],
    ["freeze", "Cohort.TestCohort"],
    ["freeze", "Co hort.x:v1"],
    ["thaw", "Cohort..x:v1"],
    ["thaw", "Cohort.x:a:b"],
    ["delete", "Cohort", "../x"],
    ["cohort", "show", "bad.name"],
    ["cohort", "import", "bad:name", "/dev/null"],
    ["ls", "--dtype", "../etc"],
  ])("refuses %s %s with exit status 2 before anything is written", (...args: string[]) => {
    const before = snapshotTree(t.basedir);
    const r = cli(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/error: invalid/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    expect(snapshotTree(t.basedir)).toEqual(before);
  });

  it("reports a missing dataset or tag with exit status 1", () => {
    expect(cli("freeze", "Cohort.Nope:v1").status).toBe(1);
    const yaml = path.join(t.root, "acc.yaml");
    fs.writeFileSync(yaml, YAML_V1);
    cli("cohort", "import", "TestCohort", yaml);
    const r = cli("thaw", "Cohort.TestCohort:v9");
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Cohort.TestCohort:v9");
  });

  it("a usage error (unknown option) exits 2 and --help exits 0", () => {
    expect(cli("ls", "--bogus").status).toBe(2);
    for (const cmd of [["ls"], ["freeze"], ["thaw"], ["delete"], ["cohort", "import"], ["config", "show"], ["cloud", "push"]]) {
      const r = cli(...cmd, "--help");
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("Usage: minus80");
    }
  });

  it("config path and config show tell where the file is and what is in force, without secrets", () => {
    const p = cli("config", "path");
    expect(p.stdout.trim()).toBe(t.configFile);
    fs.writeFileSync(t.configFile, "cloud:\n  secret_key: topsecretvalue\n", { mode: 0o600 });
    const s = cli("config", "show");
    expect(s.status).toBe(0);
    expect(s.stdout).toContain("bucket: minus80");
    expect(s.stdout).not.toContain("topsecretvalue");
  });

  it("a malformed config file gives exit status 2 naming the file", () => {
    fs.writeFileSync(t.configFile, "cloud: [\n");
    const r = cli("ls");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(t.configFile);
    expect(fs.readFileSync(t.configFile, "utf8")).toBe("cloud: [\n");
  });
});
