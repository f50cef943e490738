/**
 * The storage targets the cloud contract suite runs against:
 *
 * - folder:  a `file:///` folder in a temporary directory (always)
 * - s3rver:  an embedded s3rver on 127.0.0.1 (always; a mock: it ignores
 *            secret keys and conditional writes, and lists no uploads)
 * - env:     any S3 endpoint from MINUS80_TEST_S3_ENDPOINT,
 *            MINUS80_TEST_S3_ACCESS_KEY and MINUS80_TEST_S3_SECRET_KEY
 *            (optional MINUS80_TEST_S3_BUCKET, MINUS80_TEST_S3_REGION);
 *            CI points them at Ceph RGW from ../shared/tools/ceph-s3.sh.
 *
 * Every test gets its own prefix in the target's bucket (or a bucket of
 * its own when it needs one), so tests never see each other's keys.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { CreateMultipartUploadCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { startEmbeddedS3 } from "../../src/demo/embeddedS3.js";
import { FOLDER_STATE_DIR } from "../../src/cloud/backends/folder/folderFiles.js";

export interface TargetSettings {
  endpoint: string;
  bucket: string;
  prefix: string;
  region: string;
  accessKey?: string;
  secretKey?: string;
}

export interface CloudTarget {
  name: string;
  kind: "folder" | "s3";
  /** the server verifies secret keys (s3rver does not) */
  checksSecrets: boolean;
  /** the server enforces `If-None-Match: *` (s3rver ignores it) */
  conditionalWrites: boolean;
  /** the server lists (and so gc can abort) unfinished multipart uploads */
  listsUploads: boolean;
  /** a unique prefix in the suite's bucket */
  settings(): TargetSettings;
  /** a bucket that does not exist yet */
  freshBucket(): TargetSettings;
  /** leaves an unfinished upload (multipart, or a stale temporary file) under `s` */
  abandonUpload(s: TargetSettings, key: string): Promise<void>;
  stop(): Promise<void>;
}

export const ENV_TARGET_HELP =
  "set MINUS80_TEST_S3_ENDPOINT, MINUS80_TEST_S3_ACCESS_KEY and MINUS80_TEST_S3_SECRET_KEY (e.g. from `bash ../shared/tools/ceph-s3.sh`) to run it";

const unique = () => `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;

/** A `file:///` folder target. */
export async function folderTarget(): Promise<CloudTarget> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-folder-target-"));
  const bucket = "minus80-test";
  return {
    name: "folder",
    kind: "folder",
    checksSecrets: false,
    conditionalWrites: true,
    listsUploads: true,
    settings: () => ({ endpoint: `file://${root}`, bucket, prefix: `t-${unique()}`, region: "us-east-1" }),
    freshBucket: () => ({ endpoint: `file://${root}`, bucket: `fresh-${unique()}`, prefix: "", region: "us-east-1" }),
    async abandonUpload(s) {
      const dir = path.join(root, FOLDER_STATE_DIR, "tmp", s.bucket, s.prefix === "" ? "_" : encodeURIComponent(s.prefix + "/"));
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, `stale-${unique()}`);
      fs.writeFileSync(file, "partial");
      const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
      fs.utimesSync(file, old, old);
    },
    async stop() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** An s3rver started in this process. */
export async function s3rverTarget(): Promise<CloudTarget> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-s3rver-"));
  const server = await startEmbeddedS3(dir);
  return s3Target("s3rver", { endpoint: server.endpoint, accessKey: server.accessKey, secretKey: server.secretKey, region: "us-east-1", bucket: "minus80-test" }, {
    checksSecrets: false,
    conditionalWrites: false,
    listsUploads: false,
    async stop() {
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** The S3 endpoint from the environment, or undefined when none is given. */
export function envTarget(): CloudTarget | undefined {
  const endpoint = process.env.MINUS80_TEST_S3_ENDPOINT;
  const accessKey = process.env.MINUS80_TEST_S3_ACCESS_KEY;
  const secretKey = process.env.MINUS80_TEST_S3_SECRET_KEY;
  if (!endpoint || !accessKey || !secretKey) return undefined;
  return s3Target(
    `env ${endpoint}`,
    { endpoint, accessKey, secretKey, region: process.env.MINUS80_TEST_S3_REGION ?? "us-east-1", bucket: process.env.MINUS80_TEST_S3_BUCKET ?? `minus80-test-${unique()}` },
    // MINUS80_TEST_S3_CONDITIONAL_WRITES=0 for a server without If-None-Match (OpenStack Swift's s3api).
    { checksSecrets: true, conditionalWrites: process.env.MINUS80_TEST_S3_CONDITIONAL_WRITES !== "0", listsUploads: true, async stop() {} },
  );
}

function s3Target(
  name: string,
  base: { endpoint: string; accessKey: string; secretKey: string; region: string; bucket: string },
  traits: Pick<CloudTarget, "checksSecrets" | "conditionalWrites" | "listsUploads" | "stop">,
): CloudTarget {
  const { bucket, ...conn } = base;
  return {
    name,
    kind: "s3",
    ...traits,
    settings: () => ({ ...conn, bucket, prefix: `t-${unique()}` }),
    freshBucket: () => ({ ...conn, bucket: `minus80-fresh-${unique()}`, prefix: "" }),
    async abandonUpload(s, key) {
      const client = new S3Client({
        endpoint: s.endpoint,
        region: s.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s.accessKey!, secretAccessKey: s.secretKey! },
        requestChecksumCalculation: "WHEN_REQUIRED",
      });
      const full = `${s.prefix ? s.prefix + "/" : ""}${key}`;
      const u = await client.send(new CreateMultipartUploadCommand({ Bucket: s.bucket, Key: full }));
      await client.send(new UploadPartCommand({ Bucket: s.bucket, Key: full, UploadId: u.UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
      client.destroy();
    },
  };
}

/** A minus80 config file's text pointing at `s`, with `basedir`. */
export function configYaml(s: TargetSettings, basedir: string): string {
  return [
    "options:",
    `  basedir: ${basedir}`,
    "cloud:",
    `  endpoint: ${s.endpoint}`,
    `  bucket: ${s.bucket}`,
    `  prefix: "${s.prefix}"`,
    `  region: ${s.region}`,
    "  path_style: true",
    `  access_key: ${s.accessKey ?? "None"}`,
    `  secret_key: ${s.secretKey ?? "None"}`,
    "",
  ].join("\n");
}

/** A port nothing listens on. */
export async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
