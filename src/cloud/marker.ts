/**
 * The layout marker, `minus80.json` at the layout's root: it says that the
 * keys under this bucket prefix follow minus80's layout, and which
 * version. Version 1: every file a single object; version 2: small files
 * may be in packs (`packs/`, see packs/format.ts). A push writes it once
 * (create-only: another writer's is as good) at version 1, and moves it to
 * version 2 before it writes its first pack or a manifest naming one, so a
 * minus80 that reads version 1 only refuses the bucket before it meets a
 * pack. Opening a bucket refuses a prefix whose marker is not ours or is
 * from a newer minus80, before anything is read or written there.
 *
 * @example
 *   await checkMarker(backend);    // BUCKET when the prefix is not a minus80 layout this version reads
 *   await ensureMarker(ctx, signal, PACKED_LAYOUT_VERSION);
 */
import { BucketError, hasCode } from "../errors.js";
import type { Backend } from "./backends/backend.js";
import { isObjectNotFound } from "./backends/errors.js";
import { MARKER_KEY } from "./layout.js";
import { createProtocol } from "./createOnly.js";
import { headOrUndefined, readSmallObject, type CloudContext } from "./remote.js";

export const LAYOUT_FORMAT = "minus80";
/** The layout a bucket without packs keeps (what minus80 before packs reads). */
export const LAYOUT_VERSION = 1;
/** The layout with packs. */
export const PACKED_LAYOUT_VERSION = 2;
/** The layout versions this minus80 reads. */
export const READABLE_LAYOUT_VERSIONS: readonly number[] = [LAYOUT_VERSION, PACKED_LAYOUT_VERSION];
export const MARKER_BODY = markerBody(LAYOUT_VERSION);

function markerBody(version: number): string {
  return JSON.stringify({ format: LAYOUT_FORMAT, version }) + "\n";
}
/** A marker is a line of JSON; anything larger is not one. */
const MAX_MARKER_BYTES = 64 * 1024;

/**
 * Writes the layout marker once per bucket prefix (create-only; another
 * writer's is as good), or moves it up to `version` (2 before the first
 * pack; it never moves down).
 *
 * @example await ensureMarker(ctx, signal)   // version 1 unless it is already higher
 */
export async function ensureMarker(ctx: CloudContext, signal?: AbortSignal, version: number = LAYOUT_VERSION): Promise<void> {
  const { backend } = ctx;
  if (await headOrUndefined(backend, MARKER_KEY, signal)) {
    if (version === LAYOUT_VERSION || (await markerVersion(backend, signal)) >= version) return;
    const up = Buffer.from(markerBody(version));
    await backend.put(MARKER_KEY, up, { size: up.length, signal });
    return;
  }
  const body = Buffer.from(markerBody(version));
  const protocol = await createProtocol(ctx, signal);
  try {
    // Every writer's marker of a version is the same: a read-back server may take it plainly.
    await backend.put(MARKER_KEY, body, { size: body.length, ifNoneMatch: protocol === "conditional", signal });
  } catch (err) {
    if (!hasCode(err, "FILE_EXISTS")) throw err;
    if (version !== LAYOUT_VERSION) await ensureMarker(ctx, signal, version); // another writer's v1 came first: move it up
  }
}

/** The version the marker records (0 when absent or unreadable). */
async function markerVersion(backend: Backend, signal?: AbortSignal): Promise<number> {
  try {
    const text = (await readSmallObject(backend, MARKER_KEY, MAX_MARKER_BYTES, signal)).data.toString("utf8");
    const v = (JSON.parse(text) as { version?: unknown }).version;
    return typeof v === "number" ? v : 0;
  } catch (err) {
    if (isObjectNotFound(err) || err instanceof SyntaxError) return 0;
    throw err;
  }
}

/**
 * Refuses a bucket prefix whose layout marker is not ours, or of a layout
 * version this minus80 does not read (`readable`; a test passes `[1]` to
 * be a minus80 from before packs); no marker is fine.
 *
 * @example await checkMarker(backend, signal)   // BUCKET naming both versions when the bucket is newer
 */
export async function checkMarker(backend: Backend, signal?: AbortSignal, readable: readonly number[] = READABLE_LAYOUT_VERSIONS): Promise<void> {
  let text: string;
  try {
    text = (await readSmallObject(backend, MARKER_KEY, MAX_MARKER_BYTES, signal)).data.toString("utf8");
  } catch (err) {
    if (isObjectNotFound(err)) return;
    if (!hasCode(err, "INTEGRITY")) throw err;
    text = "";
  }
  let marker: { format?: unknown; version?: unknown } = {};
  try {
    marker = JSON.parse(text) as typeof marker;
  } catch {
    /* handled below */
  }
  if (marker.format !== LAYOUT_FORMAT) {
    throw new BucketError(`${backend.location}: ${MARKER_KEY} is not a minus80 layout marker; use another cloud.bucket or cloud.prefix`, { key: MARKER_KEY });
  }
  if (typeof marker.version !== "number" || !readable.includes(marker.version)) {
    const reads = readable.length === 1 ? `version ${readable[0]}` : `versions ${readable.join(" and ")}`;
    throw new BucketError(
      `${backend.location} holds minus80 layout version ${String(marker.version)}, written by a newer minus80; this minus80 reads layout ${reads} only: upgrade minus80 to read or write there`,
      { key: MARKER_KEY, version: marker.version, readable: [...readable], hint: "upgrade minus80 (npm install -g minus80@latest); nothing was read or written" },
    );
  }
}

/** Deletes the marker; returns 1 when there was one. */
export async function deleteMarker(backend: Backend, signal?: AbortSignal): Promise<number> {
  if (!(await headOrUndefined(backend, MARKER_KEY, signal))) return 0;
  await backend.delete(MARKER_KEY, { signal });
  return 1;
}
