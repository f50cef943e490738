/**
 * SigV4 query-string presigning of a GET (AWS "Authenticating Requests:
 * Using Query Parameters"), with node:crypto alone: the URL lets anyone
 * GET one key, and nothing else, until `signedAt + expiresInSeconds`.
 * Changing anything in it (the key, the expiry) breaks the signature.
 *
 * @example
 *   presignGetUrl({ endpoint: "http://127.0.0.1:7480", bucket: "lab", key: "shares/x.json", region: "us-east-1",
 *     pathStyle: true, credentials, signedAt: new Date(), expiresInSeconds: 3600 })
 */
import { createHash, createHmac } from "node:crypto";

/** The longest a SigV4 presigned URL may live: 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface PresignCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface PresignRequest {
  endpoint: string;
  bucket: string;
  /** the full object key (the bucket prefix included) */
  key: string;
  region: string;
  pathStyle: boolean;
  credentials: PresignCredentials;
  signedAt: Date;
  expiresInSeconds: number;
}

/** RFC 3986 encoding, as SigV4 wants it (`/` kept in paths). */
function encode(s: string, keepSlash = false): string {
  const e = encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? e.replace(/%2F/g, "/") : e;
}

const hmac = (key: Buffer | string, data: string) => createHmac("sha256", key).update(data).digest();

export function presignGetUrl(r: PresignRequest): string {
  const base = new URL(r.endpoint);
  const host = r.pathStyle ? base.host : `${r.bucket}.${base.host}`;
  const basePath = base.pathname.replace(/\/$/, "");
  const path = `${basePath}${r.pathStyle ? `/${encode(r.bucket)}` : ""}/${encode(r.key, true)}`;
  const amzDate = r.signedAt.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${r.region}/s3/aws4_request`;
  const params: Record<string, string> = {
    "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
    "X-Amz-Credential": `${r.credentials.accessKeyId}/${scope}`,
    "X-Amz-Date": amzDate,
    "X-Amz-Expires": String(r.expiresInSeconds),
    "X-Amz-SignedHeaders": "host",
    ...(r.credentials.sessionToken ? { "X-Amz-Security-Token": r.credentials.sessionToken } : {}),
  };
  const query = Object.keys(params)
    .sort()
    .map((k) => `${encode(k)}=${encode(params[k]!)}`)
    .join("&");
  const canonical = ["GET", path, query, `host:${host}`, "", "host", "UNSIGNED-PAYLOAD"].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");
  const key = hmac(hmac(hmac(hmac(`AWS4${r.credentials.secretAccessKey}`, day), r.region), "s3"), "aws4_request");
  const signature = createHmac("sha256", key).update(toSign).digest("hex");
  return `${base.protocol}//${host}${path}?${query}&X-Amz-Signature=${signature}`;
}

/** When a presigned URL expires, or undefined when it is not one. */
export function presignedExpiry(url: URL): Date | undefined {
  const date = url.searchParams.get("X-Amz-Date");
  const expires = url.searchParams.get("X-Amz-Expires");
  const m = date ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date) : null;
  if (!m || !expires || !/^\d+$/.test(expires)) return undefined;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + Number(expires) * 1000);
}
