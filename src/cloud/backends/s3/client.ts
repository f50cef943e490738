/**
 * The S3 client minus80 talks through, and its tuning: one keep-alive
 * socket pool sized for the transfers in flight, connect and idle
 * timeouts, no SDK retries (one retry policy: `../../retry.ts`), no SDK
 * logging, and checksum trailers only where the server takes them.
 *
 * - Keys come from the config; without them the standard AWS credential
 *   chain (AWS_* variables, shared credentials and profile files) is used.
 * - For non-AWS endpoints the SDK's default checksum trailers are turned off
 *   (`WHEN_REQUIRED`): Ceph 16, Swift and s3rver reject or mangle
 *   aws-chunked uploads. minus80 checks sha256 itself on every transfer.
 *
 * @example
 *   const client = makeS3Client({ endpoint: "http://127.0.0.1:7480", region: "us-east-1", pathStyle: true, ... });
 */
import { createHash } from "node:crypto";
import http from "node:http";
import https from "node:https";
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { CloudConfig } from "../../../config/config.js";

/** Giving up on a TCP/TLS connect. */
export const CONNECT_TIMEOUT_MS = 10_000;
/** A connection silent this long (stalled server or network) fails with UNREACHABLE. */
export const IDLE_TIMEOUT_MS = 60_000;
/** Sockets kept per agent, at least this many (more when the concurrency is higher). */
export const MIN_SOCKETS = 32;

/** The cloud settings of the config (`concurrency`: transfers the caller runs at once, sizing the socket pool). */
export interface S3BackendOptions extends Omit<CloudConfig, "concurrency" | "catalogOnPush"> {
  concurrency?: number;
  /** sockets the parallel parts of large transfers need on top of that */
  partSockets?: number;
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** false: large downloads go through the SDK too, not the reused-buffer sockets of `readRange` (default true for http:// endpoints) */
  socketReads?: boolean;
}

/** True for the AWS endpoints, where the SDK's default checksums are fine. */
export function isAwsEndpoint(endpoint: string): boolean {
  try {
    return /(^|\.)amazonaws\.com(\.cn)?$/i.test(new URL(endpoint).hostname);
  } catch {
    return false;
  }
}

/** The endpoint without any user:password part, for messages. */
export function safeEndpoint(endpoint: string): string {
  try {
    const u = new URL(endpoint);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "(invalid endpoint)";
  }
}

export function makeS3Client(opts: S3BackendOptions): S3Client {
  // Enough sockets for every transfer, and for the parts of the large ones in flight.
  const maxSockets = Math.max(MIN_SOCKETS, (opts.concurrency ?? 16) * 2, (opts.partSockets ?? 0) * 2);
  const agentOpts = { keepAlive: true, maxSockets };
  const checksums = isAwsEndpoint(opts.endpoint) ? "WHEN_SUPPORTED" : "WHEN_REQUIRED";
  const config: S3ClientConfig = {
    endpoint: opts.endpoint,
    region: opts.region,
    forcePathStyle: opts.pathStyle,
    maxAttempts: 1,
    // Errors are classified and reported by minus80; the SDK's own console
    // warnings (e.g. on every failed streamed part) would only clutter stderr.
    logger: { debug() {}, info() {}, warn() {}, error() {}, trace() {} },
    requestChecksumCalculation: checksums,
    responseChecksumValidation: checksums,
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent(agentOpts),
      httpsAgent: new https.Agent(agentOpts),
      connectionTimeout: opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      socketTimeout: opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    }),
  };
  if (opts.accessKey && opts.secretKey) {
    config.credentials = { accessKeyId: opts.accessKey, secretAccessKey: opts.secretKey };
  }
  const client = new S3Client(config);
  // No logger is configured, yet this middleware filters every request's input for one
  // (about 40 us of CPU per request, 0.2 s on a push of 5,000 small files).
  client.middlewareStack.remove("loggerMiddleware");
  if (checksums === "WHEN_REQUIRED") addContentMd5ForDeletes(client);
  return client;
}

/**
 * S3 requires an integrity header on DeleteObjects. The SDK sends a CRC32
 * checksum now, which OpenStack Swift's s3api does not know ("Missing
 * required header for this request: Content-MD5"): send the classic
 * Content-MD5 too.
 */
function addContentMd5ForDeletes(client: S3Client): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string>; body?: unknown };
      if (context.commandName === "DeleteObjectsCommand" && request.headers && typeof request.body === "string") {
        request.headers["content-md5"] = createHash("md5").update(request.body).digest("base64");
      }
      return next(args);
    },
    { step: "build", name: "minus80ContentMd5ForDeletes" },
  );
}
