/**
 * Picks the backend for a configured endpoint: `file:///path` is the folder
 * backend, anything else (http/https) the S3 backend.
 *
 * @example
 *   const backend = new RetryingBackend(await createBackend(loadConfig().cloud));   // retries are a wrapper
 */
import { fileURLToPath } from "node:url";
import type { CloudConfig } from "../../config/config.js";
import { ConfigError } from "../../errors.js";
import type { Backend } from "./backend.js";
import { FolderBackend } from "./folder/folderBackend.js";

/** Bucket names as S3 allows them (and as safe folder names). */
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
export const BUCKET_RULE = "3-63 characters of lower-case letters, digits, '.' and '-', starting and ending with a letter or digit";

export interface BackendTuning {
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

export async function createBackend(cloud: CloudConfig, tuning: BackendTuning = {}): Promise<Backend> {
  if (!BUCKET_RE.test(cloud.bucket) || cloud.bucket.includes("..")) {
    throw new ConfigError(`invalid bucket name ${JSON.stringify(cloud.bucket)} (cloud.bucket or CLOUD_BUCKET): a bucket name is ${BUCKET_RULE}`, {
      key: "cloud.bucket",
      value: cloud.bucket,
      expected: BUCKET_RULE,
    });
  }
  if (/^file:/i.test(cloud.endpoint)) {
    let root: string;
    try {
      root = fileURLToPath(cloud.endpoint);
    } catch {
      throw new ConfigError(`invalid folder endpoint ${JSON.stringify(cloud.endpoint)}: expected file:///absolute/path`, {
        key: "cloud.endpoint",
        value: cloud.endpoint,
        expected: "file:///absolute/path",
      });
    }
    return new FolderBackend({ root, bucket: cloud.bucket, prefix: cloud.prefix });
  }
  // Loaded only when needed: the AWS SDK takes about half a second to import,
  // which local commands and folder endpoints should not pay.
  const { S3Backend } = await import("./s3/s3Backend.js");
  return new S3Backend({
    endpoint: cloud.endpoint,
    bucket: cloud.bucket,
    prefix: cloud.prefix,
    region: cloud.region,
    pathStyle: cloud.pathStyle,
    accessKey: cloud.accessKey,
    secretKey: cloud.secretKey,
    concurrency: cloud.concurrency,
    ...tuning,
  });
}
