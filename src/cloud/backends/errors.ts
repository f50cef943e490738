/**
 * What every backend shares in classifying failures: the `data` fields of
 * a backend error, Node network failures (refused, unknown host, reset,
 * stalled), and scrubbing secrets from messages.
 *
 * @example
 *   catch (err) { throw networkError(err, "http://127.0.0.1:7480", key) ?? new CloudError(...); }
 */
import { hasCode, Minus80Error, UnreachableError, type ErrorData } from "../../errors.js";

/** The extra fields of a backend error's `data`. */
export interface BackendErrorData extends ErrorData {
  /** retrying the same request may succeed (5xx, throttling, reset or stalled connections) */
  transient?: boolean;
  /** the provider's own error code, e.g. `SignatureDoesNotMatch` */
  provider?: string;
  status?: number;
  key?: string;
}

/** True when `err` is a classified error that may succeed if retried. */
export function isTransient(err: unknown): boolean {
  return err instanceof Minus80Error && err.data.transient === true;
}

/** True for a key that is not in the bucket. */
export function isObjectNotFound(err: unknown): boolean {
  return hasCode(err, "OBJECT_NOT_FOUND");
}

/** Node network error codes: refused or unknown host (do not retry) vs. lost connection (retry). */
export const UNREACHABLE_CODES: ReadonlySet<string> = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL", "ERR_INVALID_URL"]);
export const CONNECTION_LOST_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "ECONNABORTED",
  "EAI_AGAIN",
  "ESOCKETTIMEDOUT",
  "ERR_STREAM_PREMATURE_CLOSE",
  "UND_ERR_SOCKET",
]);

/**
 * Finds a Node network error code on `err`, its `cause` or (Node's
 * happy-eyeballs connect) its `AggregateError.errors`.
 */
export function networkCode(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || typeof err !== "object" || err === null) return undefined;
  const e = err as { code?: unknown; cause?: unknown; errors?: unknown; message?: unknown; name?: unknown };
  if (typeof e.code === "string" && (UNREACHABLE_CODES.has(e.code) || CONNECTION_LOST_CODES.has(e.code))) return e.code;
  if (e.name === "TimeoutError") return "ETIMEDOUT";
  if (typeof e.message === "string") {
    if (e.message === "socket hang up" || e.message === "aborted") return "ECONNRESET";
    if (/socket timed out|timed out after/i.test(e.message)) return "ETIMEDOUT";
  }
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const c = networkCode(inner, depth + 1);
      if (c) return c;
    }
  }
  return networkCode(e.cause, depth + 1);
}

/**
 * Classifies a Node network failure while talking to `where`, or returns
 * undefined when `err` is not one.
 */
export function networkError(err: unknown, where: string, key?: string): Minus80Error | undefined {
  const code = networkCode(err);
  if (!code) return undefined;
  if (UNREACHABLE_CODES.has(code)) {
    const why = code === "ENOTFOUND" ? "the host name is unknown" : code === "ECONNREFUSED" ? "the connection was refused" : "the host cannot be reached";
    return new UnreachableError(`cannot reach ${where}: ${why} (${code})`, { network: code, transient: false, ...(key ? { key } : {}) });
  }
  const why = code === "ETIMEDOUT" || code === "ESOCKETTIMEDOUT" ? "the connection stalled and timed out" : "the connection was lost";
  return new UnreachableError(`${why} while talking to ${where}${key ? ` (key ${key})` : ""} (${code})`, {
    network: code,
    transient: true,
    ...(key ? { key } : {}),
  });
}

/** Removes every occurrence of the given secrets from `text`. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join("***");
  return out;
}
