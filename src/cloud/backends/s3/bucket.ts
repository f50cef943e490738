/**
 * Making sure the bucket exists, with the quirks of the servers minus80
 * meets: a refused HEAD carries no reason (ask again with a LIST to learn
 * it), us-east-1 takes no LocationConstraint while Ceph takes only its own
 * or none, and two first uses at once race to create it.
 *
 * @example const { created } = await ensureS3Bucket(client, target, classify);
 */
import { CreateBucketCommand, HeadBucketCommand, ListObjectsCommand, type BucketLocationConstraint, type S3Client } from "@aws-sdk/client-s3";
import { BucketError, type Minus80Error } from "../../../errors.js";
import { isAwsEndpoint } from "./client.js";
import { codeOf, statusOf } from "./classify.js";

export interface BucketTarget {
  /** the configured endpoint (for the AWS check) */
  endpoint: string;
  /** the endpoint safe to print */
  shownEndpoint: string;
  bucket: string;
  prefix: string;
  region: string;
  signal?: AbortSignal;
}

/** Classifies an error of `op` (see classify.ts). */
type Classify = (err: unknown, op: string) => Minus80Error;

export async function ensureS3Bucket(client: S3Client, t: BucketTarget, classify: Classify): Promise<{ created: boolean }> {
  const send = { abortSignal: t.signal };
  try {
    await client.send(new HeadBucketCommand({ Bucket: t.bucket }), send);
    return { created: false };
  } catch (err) {
    if (statusOf(err) === 403) await explainRefusal(client, t, err, classify);
    if (statusOf(err) !== 404 && !["NotFound", "NoSuchBucket"].includes(codeOf(err))) throw classify(err, "check bucket");
  }
  const withRegion = t.region !== "us-east-1";
  try {
    await createBucket(client, t, withRegion);
  } catch (err) {
    // Ceph and others accept only an empty (or their own) LocationConstraint.
    if (withRegion && !isAwsEndpoint(t.endpoint) && ["InvalidLocationConstraint", "IllegalLocationConstraintException", "InvalidArgument"].includes(codeOf(err))) {
      await createBucket(client, t, false).catch((e2: unknown) => rethrowCreate(client, t, e2, classify));
    } else {
      await rethrowCreate(client, t, err, classify);
    }
  }
  return { created: true };
}

/**
 * A refused HEAD has no body, hence no reason: repeat as a LIST to learn
 * whether the key is unknown, the secret wrong or access denied.
 */
async function explainRefusal(client: S3Client, t: BucketTarget, headErr: unknown, classify: Classify): Promise<never> {
  try {
    await client.send(new ListObjectsCommand({ Bucket: t.bucket, Prefix: t.prefix, MaxKeys: 1 }), { abortSignal: t.signal });
  } catch (err) {
    if (codeOf(err)) throw classify(err, "check bucket");
  }
  throw classify(headErr, "check bucket");
}

async function createBucket(client: S3Client, t: BucketTarget, withRegion: boolean): Promise<void> {
  await client.send(
    new CreateBucketCommand({
      Bucket: t.bucket,
      // us-east-1 must be sent without a LocationConstraint.
      ...(withRegion ? { CreateBucketConfiguration: { LocationConstraint: t.region as BucketLocationConstraint } } : {}),
    }),
    { abortSignal: t.signal },
  );
}

async function rethrowCreate(client: S3Client, t: BucketTarget, err: unknown, classify: Classify): Promise<void> {
  const code = codeOf(err);
  if (code === "BucketAlreadyOwnedByYou") return; // created meanwhile by us: fine
  if (code === "BucketAlreadyExists") {
    // Another client created it between our HEAD and CREATE (two first uses at once;
    // some servers answer BucketAlreadyExists even to its owner): usable now means fine.
    const usable = await client.send(new HeadBucketCommand({ Bucket: t.bucket }), { abortSignal: t.signal }).then(
      () => true,
      () => false,
    );
    if (usable) return;
  }
  if (code === "AccessDenied" || statusOf(err) === 403) {
    throw new BucketError(`bucket ${t.bucket} does not exist at ${t.shownEndpoint} and the key may not create it (${code || 403})`, {
      provider: code,
      status: 403,
      bucket: t.bucket,
    });
  }
  throw classify(err, "create bucket");
}
