/**
 * Public read-only locations over a static web server: a folder remote
 * pushed with the CLI, its bucket folder served by `python3 -m http.server`,
 * then read by the CLI in a fresh HOME with no config and no keys
 * (`env -i HOME=... PATH=...`): `cloud ls`, `cloud pull` and `cloud verify`
 * with `--from`, byte-identical, the server seeing only GET and HEAD;
 * writes with `--from` exit 2.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CloudData } from "../../src/cloud/cloudData.js";
import { expectCode } from "../helpers/assertions.js";
import { runCliAsync } from "../helpers/cliAsync.js";
import { configYaml } from "../helpers/s3servers.js";
import { startStaticServer, type StaticServer } from "../helpers/staticServer.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { treeDigest } from "./contract.js";

describe("cloud ls|pull|verify --from a static web server over a folder remote", () => {
  let env: TempEnv;
  let web: StaticServer | undefined;
  let remote: string;

  beforeEach(() => {
    env = makeTempEnv();
    remote = path.join(env.root, "remote");
    fs.writeFileSync(env.configFile, configYaml({ endpoint: `file://${remote}`, bucket: "lab", prefix: "", region: "us-east-1" }, env.basedir));
  });
  afterEach(async () => {
    await web?.stop();
    web = undefined;
    env.cleanup();
  });

  /** A fresh machine: a HOME with nothing in it, and no minus80 variables. */
  function stranger(): { home: string; env: NodeJS.ProcessEnv } {
    const home = fs.mkdtempSync(path.join(env.root, "stranger-"));
    return { home, env: { HOME: home, PATH: process.env.PATH } };
  }

  async function pushed(): Promise<Record<string, string>> {
    const cloud = await CloudData.open({ configFile: env.configFile });
    const ds = cloud.freezer.dataset("Cohort", "Public");
    ds.ensureCreated();
    fs.mkdirSync(path.join(ds.thawedDir, "reads"), { recursive: true });
    fs.writeFileSync(path.join(ds.thawedDir, "reads", "S1_R1.fastq"), "@r1\nACGT\n+\nIIII\n".repeat(500));
    fs.writeFileSync(path.join(ds.thawedDir, "notes.txt"), "v1 notes");
    // Enough small files to be packed (layout version 2): pulls read them with ranged GETs of the pack.
    fs.mkdirSync(path.join(ds.thawedDir, "small"), { recursive: true });
    for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(ds.thawedDir, "small", `s${i}.txt`), `small file ${i}\n`.repeat(i + 1));
    await ds.freeze("v1");
    await cloud.push("Cohort", "Public", { tag: "v1" });
    fs.writeFileSync(path.join(ds.thawedDir, "notes.txt"), "v2 notes");
    await ds.freeze("v2");
    await cloud.push("Cohort", "Public", { tag: "v2" });
    await ds.thaw("v1");
    cloud.close();
    return treeDigest(ds.thawedDir);
  }

  it("lists from the index and pulls byte-identical with GET and HEAD only; verify is clean", async () => {
    const v1 = await pushed();
    web = await startStaticServer(path.join(remote, "lab"));
    const me = stranger();
    const ls = await runCliAsync(["cloud", "ls", "--from", web.url], { env: me.env });
    expect(ls.stderr).toBe("");
    expect(ls).toMatchObject({ status: 0, stdout: "-----Cohort------\nPublic\n" });
    const tags = await runCliAsync(["cloud", "ls", "--tags", "--json", "--from", `${web.url}/`], { env: me.env });
    expect(JSON.parse(tags.stdout).Cohort.Public.map((t: { tag: string }) => t.tag)).toEqual(["v1", "v2"]);
    const pull = await runCliAsync(["cloud", "pull", "Cohort", "Public", "--tag", "v1", "--from", web.url], { env: me.env });
    expect(pull.stderr).toBe("");
    expect(pull.status).toBe(0);
    expect(treeDigest(path.join(me.home, ".minus80", "datasets", "Cohort", "Public", "thawed"))).toEqual(v1);
    const verify = await runCliAsync(["cloud", "verify", "--from", web.url], { env: me.env });
    expect(verify.stdout).toContain("No problems found.");
    expect(verify.status).toBe(0);
    const methods = web.methods();
    expect(methods.length).toBeGreaterThan(5);
    expect(new Set(methods)).toEqual(new Set(["GET", "HEAD"]));
  });

  it("the library: CloudData.open({ from }) lists and pulls; every write is READ_ONLY", async () => {
    const v1 = await pushed();
    web = await startStaticServer(path.join(remote, "lab"));
    const reader = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "reader"), from: `${web.url}/` });
    try {
      expect(reader.from).toBe(web.url);
      expect(reader.grant).toBeUndefined();
      expect(await reader.listDatasets()).toEqual({ Cohort: ["Public"] });
      expect((await reader.listTags()).Cohort!.Public!.map((t) => t.tag)).toEqual(["v1", "v2"]);
      await reader.pull("Cohort", "Public", { tag: "v1" });
      expect(treeDigest(reader.freezer.dataset("Cohort", "Public").thawedDir)).toEqual(v1);
      await expectCode(reader.push("Cohort", "Public", { tag: "v1" }), "READ_ONLY");
      await expectCode(reader.removeDataset("Cohort", "Public"), "READ_ONLY");
      await expectCode(reader.gc(), "READ_ONLY");
      await expectCode(reader.share("Cohort", "Public"), "READ_ONLY");
      await expectCode(reader.rebuildIndex(), "READ_ONLY");
    } finally {
      reader.close();
    }
  });

  it("writes with --from exit 2 (READ_ONLY) and touch nothing; a missing tag names the tags there", async () => {
    await pushed();
    web = await startStaticServer(path.join(remote, "lab"));
    const me = stranger();
    const before = treeDigest(path.join(remote, "lab"));
    for (const args of [["push", "Cohort", "Public"], ["remove", "Cohort", "Public"], ["gc"], ["nuke", "--yes"], ["share", "Cohort", "Public"], ["index", "--rebuild"]]) {
      const r = await runCliAsync(["cloud", ...args, "--from", web.url], { env: me.env });
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(/read-only/);
      expect(r.stderr).toMatch(/hint: /);
    }
    expect(treeDigest(path.join(remote, "lab"))).toEqual(before);
    const missing = await runCliAsync(["cloud", "pull", "Cohort", "Public", "--tag", "v9", "--from", web.url], { env: me.env });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("tags there: v1, v2");
    expect(new Set(web.methods())).toEqual(new Set(["GET", "HEAD"]));
  });

  it("raw files: listed with their sha256 from the index, pulled and verified against it (a web server sends no metadata)", async () => {
    await pushed();
    const file = path.join(env.root, "R1.fastq");
    fs.writeFileSync(file, "@r\nACGT\n+\nIIII\n".repeat(1000));
    expect((await runCliAsync(["cloud", "push", "fastq", file, "--raw"], { env: env.env })).status).toBe(0);
    web = await startStaticServer(path.join(remote, "lab"));
    const me = stranger();
    const ls = await runCliAsync(["cloud", "ls", "--raw", "--tags", "--json", "--from", web.url], { env: me.env });
    const [listed] = JSON.parse(ls.stdout).fastq as Array<{ name: string; sha256: string | null }>;
    expect(listed!.name).toBe("R1.fastq");
    expect(listed!.sha256).toMatch(/^[0-9a-f]{64}$/);
    const out = path.join(me.home, "got.fastq");
    const pull = await runCliAsync(["cloud", "pull", "fastq", "R1.fastq", "--raw", "--output", out, "--from", web.url], { env: me.env });
    expect(pull.status, pull.stderr).toBe(0);
    expect(pull.stdout).toContain("sha256 verified");
    expect(fs.readFileSync(out).equals(fs.readFileSync(file))).toBe(true);
    expect(new Set(web.methods())).toEqual(new Set(["GET", "HEAD"]));
  });

  it("a URL that holds no minus80 layout says so, naming the URL, with a hint", async () => {
    await pushed();
    web = await startStaticServer(remote);
    const r = await runCliAsync(["cloud", "ls", "--from", `${web.url}/nothing-here`], { env: stranger().env });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`${web.url}/nothing-here holds no minus80 layout`);
    expect(r.stderr).toMatch(/hint: give the URL of the bucket/);
    // The folder itself, one level up, is the bucket's parent: the bucket's URL works.
    expect((await runCliAsync(["cloud", "ls", "--from", `${web.url}/lab`], { env: stranger().env })).stdout).toContain("Public");
  });
});
