/**
 * The layout marker, `minus80.json` at the layout's root: it says that the
 * keys under this bucket prefix follow minus80's layout, and which
 * version. A push writes it once (create-only: another writer's is as
 * good); opening a bucket refuses a prefix whose marker is not ours or is
 * from a newer minus80, before anything is read or written there.
 *
 * @example
 *   await checkMarker(backend);    // BUCKET when the prefix is not a minus80 layout this version reads
 *   await ensureMarker(backend);
 */
import { BucketError, hasCode } from "../errors.js";
import type { Backend } from "./backends/backend.js";
import { isObjectNotFound } from "./backends/errors.js";
import { MARKER_KEY } from "./layout.js";
import { createProtocol } from "./createOnly.js";
import { headOrUndefined, readSmallObject, type CloudContext } from "./remote.js";

export const LAYOUT_FORMAT = "minus80";
export const LAYOUT_VERSION = 1;
export const MARKER_BODY = JSON.stringify({ format: LAYOUT_FORMAT, version: LAYOUT_VERSION }) + "\n";
/** A marker is a line of JSON; anything larger is not one. */
const MAX_MARKER_BYTES = 64 * 1024;

/** Writes the layout marker once per bucket prefix (create-only; another writer's is as good). */
export async function ensureMarker(ctx: CloudContext, signal?: AbortSignal): Promise<void> {
  const { backend } = ctx;
  if (await headOrUndefined(backend, MARKER_KEY, signal)) return;
  const body = Buffer.from(MARKER_BODY);
  const protocol = await createProtocol(ctx, signal);
  try {
    // Every writer's marker is the same: a read-back server may take it plainly.
    await backend.put(MARKER_KEY, body, { size: body.length, ifNoneMatch: protocol === "conditional", signal });
  } catch (err) {
    if (!hasCode(err, "FILE_EXISTS")) throw err;
  }
}

/** Refuses a bucket prefix whose layout marker is not ours (or from a newer minus80); no marker is fine. */
export async function checkMarker(backend: Backend, signal?: AbortSignal): Promise<void> {
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
  if (marker.version !== LAYOUT_VERSION) {
    throw new BucketError(`${backend.location} holds minus80 layout version ${String(marker.version)}, this minus80 reads version ${LAYOUT_VERSION}: upgrade minus80`, {
      key: MARKER_KEY,
      version: marker.version,
    });
  }
}

/** Deletes the marker; returns 1 when there was one. */
export async function deleteMarker(backend: Backend, signal?: AbortSignal): Promise<number> {
  if (!(await headOrUndefined(backend, MARKER_KEY, signal))) return 0;
  await backend.delete(MARKER_KEY, { signal });
  return 1;
}
