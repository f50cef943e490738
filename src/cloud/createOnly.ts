/**
 * Create-only writes (a tag's manifest, the layout marker, a new raw
 * file) with the strongest protocol the server allows, found out at run
 * time, once per bucket, and remembered (`<basedir>/cache/servers.json`):
 *
 * - `conditional`: the server enforces `If-None-Match: *` (AWS S3 since
 *   2024, Ceph RGW, MinIO, the folder backend). Of two writers of one new
 *   key exactly one succeeds; the other gets FILE_EXISTS.
 * - `read-back`: the server refuses the header (OpenStack Swift's s3api:
 *   501 NotImplemented; older MinIO, StorageGRID, ECS, IBM COS) or ignores
 *   it (s3rver). The key is checked just before the write, written, and
 *   read back after READ_BACK_SETTLE_MS: a writer whose write was replaced
 *   by another's learns it then and reports a conflict, so a writer is told
 *   "committed" only for what the bucket still holds after the settle. The
 *   window that remains: a second writer that stalls longer than the settle
 *   between its check and its write replaces a tag already reported
 *   committed. What is in the bucket is always one writer's whole write
 *   (a PUT is atomic, and each writer sends its objects first).
 *
 * @example
 *   const protocol = await createProtocol(ctx, signal);            // "conditional" | "read-back"
 *   await writeCreateOnly(ctx, key, (ifNoneMatch) => backend.put(key, body, { size, ifNoneMatch }), signal);
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { FileExistsError, hasCode, isMinus80Error } from "../errors.js";
import { writeFileAtomic } from "../freezer/files.js";
import { sleep } from "../limits.js";
import { headOrUndefined, type CloudContext } from "./remote.js";

export type CreateProtocol = "conditional" | "read-back";

/** How long a read-back writer waits before reading its write back (see above). */
export const READ_BACK_SETTLE_MS = 2000;

/** What each protocol guarantees, for `cloud push --json` and the README. */
export const PROTOCOL_GUARANTEE: Record<CreateProtocol, string> = {
  conditional: "the server enforces If-None-Match: of two writers of one new tag exactly one succeeds, and a committed tag is never replaced",
  "read-back":
    `the server does not enforce If-None-Match: each write is checked before and read back ${READ_BACK_SETTLE_MS / 1000} s after; ` +
    `a tag reported committed can only be replaced by a writer that stalls longer than that between its check and its write`,
};

/** Probe keys live at the layout's root only while a probe runs. */
const PROBE_PREFIX = "minus80-probe-";
/** Where the probes' answers are remembered, under the base directory. */
const CACHE_FILE = path.join("cache", "servers.json");

const memo = new WeakMap<CloudContext, Promise<CreateProtocol>>();

/** The create-only protocol of this bucket: remembered, else probed (two tiny PUTs and a DELETE). */
export function createProtocol(ctx: CloudContext, signal?: AbortSignal): Promise<CreateProtocol> {
  let p = memo.get(ctx);
  if (!p) {
    p = remembered(ctx) ?? probe(ctx, signal);
    memo.set(ctx, p);
    p.catch(() => memo.delete(ctx)); // a failed probe (network, Ctrl-C) is tried again next time
  }
  return p;
}

/**
 * Writes `key` only if it does not exist: `write(true)` where the server
 * enforces If-None-Match, else a check, `write(false)` and the settle. The
 * caller reads back what it needs to compare (its manifest's total, its
 * file's sha256). FILE_EXISTS when the key is there.
 */
export async function writeCreateOnly(ctx: CloudContext, key: string, write: (ifNoneMatch: boolean) => Promise<void>, signal?: AbortSignal): Promise<CreateProtocol> {
  const protocol = await createProtocol(ctx, signal);
  if (protocol === "conditional") {
    await write(true);
    return protocol;
  }
  if (await headOrUndefined(ctx.backend, key, signal)) throw new FileExistsError(`${key} already exists in ${ctx.backend.location}`, { key });
  await write(false);
  await sleep(READ_BACK_SETTLE_MS, signal);
  return protocol;
}

async function probe(ctx: CloudContext, signal?: AbortSignal): Promise<CreateProtocol> {
  const { backend } = ctx;
  const key = `${PROBE_PREFIX}${Date.now()}-${randomBytes(6).toString("hex")}`;
  const body = Buffer.from("{}\n");
  let protocol: CreateProtocol;
  await backend.put(key, body, { size: body.length, signal });
  try {
    await backend.put(key, body, { size: body.length, ifNoneMatch: true, signal });
    protocol = "read-back"; // accepted over an existing key: the header is ignored
  } catch (err) {
    if (hasCode(err, "FILE_EXISTS")) protocol = "conditional";
    else if (refusesHeader(err)) protocol = "read-back";
    else throw err;
  } finally {
    await backend.delete(key).catch(() => undefined);
  }
  await remember(ctx, protocol);
  return protocol;
}

/** A server that does not implement conditional PUTs says so with 501 (Swift: "Conditional object PUTs are not supported"). */
function refusesHeader(err: unknown): boolean {
  if (!isMinus80Error(err)) return false;
  const { provider, status } = err.data as { provider?: string; status?: number };
  return status === 501 || provider === "NotImplemented" || provider === "NotImplementedError";
}

function cachePath(ctx: CloudContext): string {
  return path.join(ctx.freezer.basedir, CACHE_FILE);
}

function remembered(ctx: CloudContext): Promise<CreateProtocol> | undefined {
  try {
    const all = JSON.parse(fs.readFileSync(cachePath(ctx), "utf8")) as Record<string, { createProtocol?: unknown }>;
    const p = all[ctx.backend.location]?.createProtocol;
    return p === "conditional" || p === "read-back" ? Promise.resolve(p) : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort: a read-only base directory only means probing again next time. */
async function remember(ctx: CloudContext, protocol: CreateProtocol): Promise<void> {
  const file = cachePath(ctx);
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    /* none yet */
  }
  all[ctx.backend.location] = { createProtocol: protocol, probed: new Date().toISOString() };
  await writeFileAtomic(file, JSON.stringify(all, null, 2) + "\n").catch(() => undefined);
}
