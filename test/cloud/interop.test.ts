/**
 * Interoperability with other S3 tools, through the `aws` CLI: a raw file
 * pushed by minus80 is fetched byte-identical by `aws s3 cp`, and a file
 * uploaded by `aws s3 cp` into `raw/<dtype>/` is listed and pulled by
 * minus80. Needs the `aws` command and an S3 endpoint from the environment
 * (MINUS80_TEST_S3_ENDPOINT, ..._ACCESS_KEY, ..._SECRET_KEY); without them
 * the test is reported as NOT RUN (skipped), never as passed.
 */
import { execFile, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CloudData } from "../../src/cloud/cloudData.js";
import { ENV_TARGET_HELP, envTarget, type TargetSettings } from "../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const awsPresent = spawnSync("aws", ["--version"], { encoding: "utf8" }).status === 0;
const target = envTarget();
const why = !awsPresent ? "the `aws` command is not installed" : !target ? `no S3 endpoint given; ${ENV_TARGET_HELP}` : "";

describe("interop with `aws s3 cp`", () => {
  if (why) {
    console.warn(`interop with aws s3 cp: NOT RUN; ${why}`);
    it.skip(`NOT RUN: ${why}`, () => {});
    return;
  }
  let env: TempEnv;
  let settings: TargetSettings;
  let cloud: CloudData;

  beforeEach(async () => {
    env = makeTempEnv();
    settings = target!.settings();
    cloud = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "freezer"), ...settings });
  });
  afterEach(async () => {
    await cloud.nuke().catch(() => undefined);
    cloud.close();
    env.cleanup();
  });

  /** Runs `aws --endpoint-url <endpoint> s3 ...` with this target's keys, and nothing of the user's own AWS setup. */
  async function aws(...args: string[]): Promise<string> {
    const awsEnv: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: env.home,
      AWS_ACCESS_KEY_ID: settings.accessKey,
      AWS_SECRET_ACCESS_KEY: settings.secretKey,
      AWS_DEFAULT_REGION: settings.region,
      AWS_CONFIG_FILE: path.join(env.root, "aws-config-none"),
      AWS_SHARED_CREDENTIALS_FILE: path.join(env.root, "aws-credentials-none"),
      // Newer CLIs add checksum trailers by default, which Ceph 16 rejects (as for our SDK client).
      AWS_REQUEST_CHECKSUM_CALCULATION: "when_required",
      AWS_RESPONSE_CHECKSUM_VALIDATION: "when_required",
    }; // AWS_CA_BUNDLE deliberately absent
    const { stdout } = await run("aws", ["--endpoint-url", settings.endpoint, "s3", ...args, "--only-show-errors"], { env: awsEnv, maxBuffer: 16 * MiB });
    return stdout;
  }
  const s3url = (key: string) => `s3://${settings.bucket}/${settings.prefix}/${key}`;

  it("a raw file pushed by minus80 (single part and multipart) is fetched byte-identical by aws s3 cp", async () => {
    for (const [name, size] of [
      ["small.fastq", 100_000],
      ["big.fastq", 20 * MiB + 3],
    ] as const) {
      const file = path.join(env.root, name);
      const content = randomBytes(size);
      fs.writeFileSync(file, content);
      await cloud.put(file, "fastq", { raw: true });
      const out = path.join(env.root, `aws-${name}`);
      await aws("cp", s3url(`raw/fastq/${name}`), out);
      expect(sha256(fs.readFileSync(out))).toBe(sha256(content));
    }
  });

  it("a file uploaded by aws s3 cp into raw/<dtype>/ is listed and pulled by minus80", async () => {
    const file = path.join(env.root, "from-aws.fastq");
    const content = randomBytes(12 * MiB + 11); // the aws CLI uploads this in parts
    fs.writeFileSync(file, content);
    await aws("cp", file, s3url("raw/fastq/from-aws.fastq"));
    expect(await cloud.list({ raw: true })).toEqual({ fastq: ["from-aws.fastq"] });
    const out = path.join(env.root, "pulled", "from-aws.fastq");
    const got = await cloud.get("from-aws.fastq", "fastq", { raw: true, output: out });
    expect(got).toMatchObject({ downloaded: 1, verified: "size", sha256: sha256(content) });
    expect(sha256(fs.readFileSync(out))).toBe(sha256(content));
  });
});
