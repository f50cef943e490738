/**
 * A real Ceph RGW refusing for reasons that are not the keys, through the
 * CLI: a bucket quota, a read-only key (a bucket policy granting reads
 * only), and a bucket that is another user's. Needs the admin tool of the
 * Ceph the tests run against: `MINUS80_TEST_CEPH_CONF` (set by
 * `npm run test:all` when it starts Ceph) names its ceph.conf.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { PutBucketPolicyCommand, S3Client } from "@aws-sdk/client-s3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { configYaml, envTarget, type TargetSettings } from "../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const MB = 1_000_000;
const cephConf = process.env.MINUS80_TEST_CEPH_CONF;
const target = envTarget();
const admin = (args: string[]) => execFileSync("radosgw-admin", ["--conf", cephConf!, ...args], { encoding: "utf8", timeout: 60_000 });

/** A new RGW user; its keys. */
function makeUser(): { accessKey: string; secretKey: string; uid: string } {
  const uid = `m80-${randomBytes(4).toString("hex")}`;
  const info = JSON.parse(admin(["user", "create", `--uid=${uid}`, `--display-name=${uid}`])) as { keys: { access_key: string; secret_key: string }[] };
  return { uid, accessKey: info.keys[0]!.access_key, secretKey: info.keys[0]!.secret_key };
}

describe.skipIf(!cephConf || !target)("Ceph RGW refusals that are not about the keys (needs MINUS80_TEST_CEPH_CONF)", () => {
  let t: TempEnv;
  let owner: TargetSettings;
  const users: string[] = [];

  beforeEach(() => {
    t = makeTempEnv();
    owner = { ...target!.freshBucket(), prefix: "" };
  });
  afterEach(() => {
    for (const uid of users.splice(0)) admin(["user", "rm", `--uid=${uid}`]);
    t.cleanup();
  });

  /** Runs the CLI with a config for `s`. */
  function cli(s: TargetSettings, args: string[]) {
    const configFile = path.join(t.root, `config-${s.accessKey}.yaml`);
    fs.writeFileSync(configFile, configYaml(s, path.join(t.root, `freezer-${s.accessKey}`)));
    return runCli(args, { env: { ...t.env, MINUS80_CONFIG: configFile, MINUS80_BASEDIR: path.join(t.root, `freezer-${s.accessKey}`) } });
  }
  function rawFile(name: string, bytes: number): string {
    const f = path.join(t.root, name);
    fs.writeFileSync(f, randomBytes(bytes));
    return f;
  }
  const expectOk = (r: { status: number; stderr: string }) => expect(r.status, r.stderr).toBe(0);

  it("a push over a bucket quota names the quota, not the keys", () => {
    expectOk(cli(owner, ["cloud", "push", "fastq", rawFile("small.fastq", 1000), "--raw"]));
    admin(["quota", "set", "--quota-scope=bucket", `--bucket=${owner.bucket}`, `--max-size=${5 * MB}`]);
    admin(["quota", "enable", "--quota-scope=bucket", `--bucket=${owner.bucket}`]);
    const r = cli(owner, ["cloud", "push", "fastq", rawFile("big.fastq", 20 * MB), "--raw"]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/quota/i);
    expect(r.stderr).toMatch(/QuotaExceeded/);
    expect(r.stderr).not.toMatch(/credentials|access_key|secret_key/);
    expect(r.stderr).toMatch(/hint: .*storage admin/);
    expect(cli(owner, ["cloud", "ls", "--raw"]).stdout).not.toMatch(/big\.fastq/);
  });

  it("a read-only key (a bucket policy granting reads only) may list and pull, and a push is denied naming the missing write permission", async () => {
    expectOk(cli(owner, ["cloud", "push", "fastq", rawFile("shared.fastq", 1000), "--raw"]));
    const reader = makeUser();
    users.push(reader.uid);
    const s3 = new S3Client({ endpoint: owner.endpoint, region: owner.region, forcePathStyle: true, credentials: { accessKeyId: owner.accessKey!, secretAccessKey: owner.secretKey! } });
    const policy = {
      Version: "2012-10-17",
      Statement: [
        { Effect: "Allow", Principal: { AWS: [`arn:aws:iam:::user/${reader.uid}`] }, Action: ["s3:GetObject", "s3:ListBucket"], Resource: [`arn:aws:s3:::${owner.bucket}`, `arn:aws:s3:::${owner.bucket}/*`] },
      ],
    };
    await s3.send(new PutBucketPolicyCommand({ Bucket: owner.bucket, Policy: JSON.stringify(policy) }));
    s3.destroy();
    const asReader = { ...owner, accessKey: reader.accessKey, secretKey: reader.secretKey };
    const ls = cli(asReader, ["cloud", "ls", "--raw"]);
    expectOk(ls);
    expect(ls.stdout).toMatch(/shared\.fastq/);
    const out = path.join(t.root, "pulled.fastq");
    expectOk(cli(asReader, ["cloud", "pull", "fastq", "shared.fastq", "--raw", "--output", out]));
    expect(fs.readFileSync(out).equals(fs.readFileSync(path.join(t.root, "shared.fastq")))).toBe(true);
    const r = cli(asReader, ["cloud", "push", "fastq", rawFile("mine.fastq", 1000), "--raw"]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/keys are valid/);
    expect(r.stderr).toMatch(/may not write/);
    expect(r.stderr).not.toMatch(/check cloud\.(access|secret)_key/);
  });

  it("a bucket that is another user's is named as such, not as wrong keys", () => {
    expectOk(cli(owner, ["cloud", "push", "fastq", rawFile("theirs.fastq", 1000), "--raw"]));
    const other = makeUser();
    users.push(other.uid);
    const r = cli({ ...owner, accessKey: other.accessKey, secretKey: other.secretKey }, ["cloud", "ls"]);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`bucket ${owner.bucket} .*exists but your key may not use it`));
    expect(r.stderr).toMatch(/hint: .*choose another cloud\.bucket/);
  });
});
