/**
 * Sharing on a real S3 server (MINUS80_TEST_S3_ENDPOINT; CI: Ceph RGW):
 *
 * - a public bucket whose policy allows anonymous s3:GetObject only (not
 *   ListBucket): `cloud ls` and `cloud pull --from <bucket URL>` in a fresh
 *   HOME with no config list and pull a Cohort byte-identical; the same
 *   bucket without the policy is NOT_PUBLIC, with a hint;
 * - share links: a link pulls its one tag in a fresh HOME and nothing else
 *   (another tag, another dataset, a listing, a tampered link: refused);
 *   a 2-second link fails as expired after 3 s; `--expires 30d` exits 2; a
 *   raw link is fetched byte-identical by curl; gc removes the share
 *   objects of expired links; no signature appears in any error output.
 *
 * Without the endpoint it is reported NOT RUN (a skipped test saying so).
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CloudData } from "../../src/cloud/cloudData.js";
import { expectCode } from "../helpers/assertions.js";
import { runCliAsync } from "../helpers/cliAsync.js";
import { configYaml, ENV_TARGET_HELP, envTarget, type TargetSettings } from "../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { treeDigest } from "./contract.js";

const target = envTarget();

if (!target) {
  console.warn(`sharing (public buckets, share links) on an S3 endpoint: NOT RUN; ${ENV_TARGET_HELP}`);
  describe("sharing on an S3 endpoint from the environment", () => {
    it.skip(`NOT RUN: no S3 endpoint given; ${ENV_TARGET_HELP}`, () => {});
  });
} else {
  describe(`sharing on ${target.name}`, () => {
    let env: TempEnv;
    let s: TargetSettings;
    const opened: CloudData[] = [];
    const stderrs: string[] = [];

    beforeEach(() => {
      env = makeTempEnv();
      s = { ...target.freshBucket(), prefix: "team" };
      fs.writeFileSync(env.configFile, configYaml(s, env.basedir), { mode: 0o600 });
    });
    afterEach(async () => {
      await opened.at(-1)?.nuke().catch(() => undefined);
      for (const c of opened.splice(0)) c.close();
      // No output of any command may carry a signature: a link is a credential.
      for (const e of stderrs.splice(0)) expect(e).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
      env.cleanup();
    });

    const s3 = () =>
      new S3Client({ endpoint: s.endpoint, region: s.region, forcePathStyle: true, credentials: { accessKeyId: s.accessKey!, secretAccessKey: s.secretKey! }, requestChecksumCalculation: "WHEN_REQUIRED" });

    /** Runs the CLI as a stranger: a fresh HOME, no config, no keys, no minus80 variables. */
    async function stranger(args: string[], home = fs.mkdtempSync(path.join(env.root, "stranger-"))) {
      const r = await runCliAsync(args, { env: { HOME: home, PATH: process.env.PATH } });
      stderrs.push(r.stderr);
      return { ...r, home, thawed: (name: string) => path.join(home, ".minus80", "datasets", "Cohort", name, "thawed") };
    }

    async function owner(args: string[]) {
      const r = await runCliAsync(args, { env: env.env });
      stderrs.push(r.stderr);
      return r;
    }

    /** Pushes Cohort.<name> tags v1 and v2 with keys; returns each tag's working-copy digest. */
    async function pushed(name: string): Promise<Record<"v1" | "v2", Record<string, string>>> {
      const cloud = await CloudData.open({ configFile: env.configFile });
      opened.push(cloud);
      const ds = cloud.freezer.dataset("Cohort", name);
      ds.ensureCreated();
      fs.mkdirSync(path.join(ds.thawedDir, "reads"), { recursive: true });
      fs.writeFileSync(path.join(ds.thawedDir, "reads", "S1_R1.fastq"), randomBytes(300_000));
      fs.writeFileSync(path.join(ds.thawedDir, "notes.txt"), "v1");
      // Enough small files to be packed (layout version 2): pulls read them with ranged GETs of the pack.
      fs.mkdirSync(path.join(ds.thawedDir, "small"), { recursive: true });
      for (let i = 0; i < 40; i++) fs.writeFileSync(path.join(ds.thawedDir, "small", `s${i}.txt`), `small file ${i}\n`.repeat(i + 1));
      await ds.freeze("v1");
      const v1 = treeDigest(ds.thawedDir);
      fs.writeFileSync(path.join(ds.thawedDir, "notes.txt"), "v2");
      await ds.freeze("v2");
      const v2 = treeDigest(ds.thawedDir);
      await cloud.push("Cohort", name, { tag: "v1" });
      await cloud.push("Cohort", name, { tag: "v2" });
      return { v1, v2 };
    }

    it("a bucket allowing anonymous GetObject only: ls and pull --from with no config, byte-identical; without the policy NOT_PUBLIC", async () => {
      const { v1 } = await pushed("PublicCohort");
      const url = `${s.endpoint}/${s.bucket}/team`;
      const refused = await stranger(["cloud", "ls", "--from", url]);
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(`error: ${url} refuses anonymous reads`);
      expect(refused.stderr).toMatch(/hint: .*bucket policy allowing anonymous s3:GetObject/);

      const policy = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: "*", Action: ["s3:GetObject"], Resource: [`arn:aws:s3:::${s.bucket}/*`] }] };
      const client = s3();
      await client.send(new PutBucketPolicyCommand({ Bucket: s.bucket, Policy: JSON.stringify(policy) }));
      try {
        // Readable, not listable.
        expect((await fetch(`${s.endpoint}/${s.bucket}?prefix=team/`)).status).toBe(403);
        const ls = await stranger(["cloud", "ls", "--tags", "--json", "--from", url]);
        expect(ls.status, ls.stderr).toBe(0);
        expect(JSON.parse(ls.stdout).Cohort.PublicCohort.map((t: { tag: string }) => t.tag)).toEqual(["v1", "v2"]);
        const plain = await stranger(["cloud", "ls", "--from", url]);
        expect(plain.stdout).toBe("-----Cohort------\nPublicCohort\n");
        const pull = await stranger(["cloud", "pull", "Cohort", "PublicCohort", "--tag", "v1", "--from", url]);
        expect(pull.status, pull.stderr).toBe(0);
        expect(treeDigest(pull.thawed("PublicCohort"))).toEqual(v1);
        const verify = await stranger(["cloud", "verify", "Cohort", "PublicCohort", "--from", url]);
        expect(verify.status, verify.stderr).toBe(0);
        // A tag that is not there: the bucket answers 403 (no ListBucket), minus80 says what is missing.
        const missing = await stranger(["cloud", "pull", "Cohort", "PublicCohort", "--tag", "v9", "--from", url]);
        expect(missing.status).toBe(1);
        expect(missing.stderr).toContain("tags there: v1, v2");
        expect((await stranger(["cloud", "push", "Cohort", "PublicCohort", "--from", url])).status).toBe(2);
      } finally {
        await client.send(new DeleteBucketPolicyCommand({ Bucket: s.bucket })).catch(() => undefined);
        client.destroy();
      }
    });

    it("a share link pulls its one tag with no config, and nothing else; a tampered link is refused", async () => {
      const { v1 } = await pushed("Shared");
      await pushed("Other");
      const made = await owner(["cloud", "share", "Cohort", "Shared", "--tag", "v1", "--expires", "1h", "--json"]);
      expect(made.status, made.stderr).toBe(0);
      const link = JSON.parse(made.stdout) as { url: string; grants: string; expires: string; kind: string };
      expect(link).toMatchObject({ grants: "Cohort.Shared:v1", kind: "tag" });
      expect(Math.abs(new Date(link.expires).getTime() - Date.now() - 3600_000)).toBeLessThan(60_000);

      const pull = await stranger(["cloud", "pull", "--from", link.url]);
      expect(pull.status, pull.stderr).toBe(0);
      expect(pull.stdout).toContain("Pulled Cohort.Shared:v1");
      expect(treeDigest(pull.thawed("Shared"))).toEqual(v1);

      for (const args of [["pull", "Cohort", "Shared", "--tag", "v2"], ["pull", "Cohort", "Other", "--tag", "v1"], ["ls"], ["verify"]]) {
        const r = await stranger(["cloud", ...args, "--from", link.url]);
        expect(r.status, args.join(" ")).toBe(1);
        expect(r.stderr).toMatch(/does not grant|grants Cohort\.Shared:v1 only/);
        expect(r.stderr).toMatch(/hint: /);
      }
      const tampered = link.url.replace(/\/shares\/(\d+)-/, (_m, t: string) => `/shares/${Number(t) + 1}-`);
      const t = await stranger(["cloud", "pull", "--from", tampered]);
      expect(t.status).toBe(1);
      expect(t.stderr).toMatch(/refused the share link/);
      expect(t.stderr).toContain(`${s.endpoint}/${s.bucket}/team/shares/`); // the URL, without its query
    });

    it("the library: cloud.share gives a link; CloudData.open({ from: link }) knows its grant and pulls it", async () => {
      const { v2 } = await pushed("Lib");
      const cloud = opened[0]!;
      const link = await cloud.share("Cohort", "Lib", { tag: "v2", expires: "10m" });
      expect(link).toMatchObject({ grants: "Cohort.Lib:v2", kind: "tag" });
      const reader = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "reader"), from: link.url });
      try {
        expect(reader.grant).toMatchObject({ dtype: "Cohort", name: "Lib", tag: "v2", expires: link.expires });
        expect(reader.from).not.toContain("X-Amz-Signature");
        await reader.pull("Cohort", "Lib", { tag: "v2" });
        expect(treeDigest(reader.freezer.dataset("Cohort", "Lib").thawedDir)).toEqual(v2);
        await expectCode(reader.pull("Cohort", "Lib", { tag: "v1" }), "LINK_INVALID");
        await expectCode(reader.listDatasets(), "LINK_INVALID");
      } finally {
        reader.close();
      }
      await expectCode(cloud.share("Cohort", "Lib", { expires: "8d" }), "INVALID_ARGUMENT");
    });

    it("a 2-second link fails as expired after 3 s (exit 1, saying when); 30d exits 2; gc removes the expired share object", async () => {
      await pushed("Brief");
      const made = await owner(["cloud", "share", "Cohort", "Brief", "--tag", "v1", "--expires", "2s", "--json"]);
      const link = JSON.parse(made.stdout) as { url: string; expires: string };
      await new Promise((r) => setTimeout(r, 3000));
      const late = await stranger(["cloud", "pull", "--from", link.url]);
      expect(late.status).toBe(1);
      expect(late.stderr).toContain(`expired at ${link.expires}`);
      expect(late.stderr).toMatch(/hint: ask whoever shared it for a new link/);

      const long = await owner(["cloud", "share", "Cohort", "Brief", "--tag", "v1", "--expires", "30d"]);
      expect(long.status).toBe(2);
      expect(long.stderr).toMatch(/longer than 7 days/);
      expect((await owner(["cloud", "share", "Cohort", "Brief", "--expires", "soon"])).status).toBe(2);

      const kept = JSON.parse((await owner(["cloud", "share", "Cohort", "Brief", "--tag", "v1", "--json"])).stdout) as { key: string };
      const gc = await owner(["cloud", "gc", "--json"]);
      expect(JSON.parse(gc.stdout).sharesExpired).toBe(1);
      const cloud = await CloudData.open({ configFile: env.configFile });
      opened.push(cloud);
      const shares: string[] = [];
      for await (const o of cloud.backend.list("shares/")) shares.push(o.key);
      expect(shares).toEqual([kept.key]);
    });

    it("a raw link is fetched byte-identical by curl; a folder remote cannot make links", async () => {
      const file = path.join(env.root, "R1.fastq");
      fs.writeFileSync(file, randomBytes(200_000));
      const cloud = await CloudData.open({ configFile: env.configFile });
      opened.push(cloud);
      await cloud.pushRaw("fastq", file);
      const made = await owner(["cloud", "share", "fastq", "R1.fastq", "--raw", "--expires", "10m", "--json"]);
      const link = JSON.parse(made.stdout) as { url: string; grants: string };
      expect(link.grants).toBe("raw/fastq/R1.fastq");
      const out = path.join(env.root, "got.fastq");
      const curl = spawnSync("curl", ["-sf", "-o", out, link.url]);
      expect(curl.status).toBe(0);
      expect(fs.readFileSync(out).equals(fs.readFileSync(file))).toBe(true);

      fs.writeFileSync(env.configFile, configYaml({ endpoint: `file://${path.join(env.root, "remote")}`, bucket: "lab", prefix: "", region: "us-east-1" }, env.basedir));
      await owner(["cloud", "push", "fastq", file, "--raw"]);
      const folder = await owner(["cloud", "share", "fastq", "R1.fastq", "--raw"]);
      expect(folder.status).toBe(2);
      expect(folder.stderr).toMatch(/cannot make share links/);
    });
  });
}
