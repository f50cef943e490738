/**
 * `JSON.stringify(value, null, 2) + "\n"`, the same bytes, produced a piece
 * at a time. A 50,000-file manifest is a 7-12 MB string; building it whole,
 * then its UTF-8 copy, is the peak of a large push or pull (BENCHMARKS.md,
 * issue 11). Written in pieces, the file on disk costs one piece of memory
 * and an upload body a piece at a time too.
 *
 * @example for (const piece of prettyJsonPieces(manifest)) out.write(piece);
 * @example const body = prettyJsonBody(manifest);   // body.open() streams the bytes of JSON.stringify(manifest, null, 2) + "\n"
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";

const INDENT = "  ";
/** A value holding fewer objects, arrays and members than this, all told, is stringified whole (one piece). */
const SMALL_NODES = 64;
/** Pieces are gathered up to about this many characters before they are handed out. */
export const PIECE_CHARS = 64 * 1024;

/** The pieces of `JSON.stringify(value, null, 2) + "\n"`, each about PIECE_CHARS long. */
export function* prettyJsonPieces(value: unknown): Generator<string> {
  let pending = "";
  for (const part of pieces(value, "")) {
    pending += part;
    if (pending.length >= PIECE_CHARS) {
      yield pending;
      pending = "";
    }
  }
  yield pending + "\n";
}

/** An upload body that is never held whole: its size and sha256, and a stream of its bytes (opened anew for each attempt). */
export interface StreamedBody {
  size: number;
  sha256: string;
  open(): Readable;
}

/**
 * The bytes of `JSON.stringify(value, null, 2) + "\n"` as a StreamedBody:
 * measured and hashed in one pass, streamed a piece at a time in another.
 * A stream whose bytes come out other than measured (the value changed
 * meanwhile) fails rather than send them.
 */
export function prettyJsonBody(value: unknown): StreamedBody {
  const { size, sha256 } = measure(value);
  return { size, sha256, open: () => Readable.from(checkedPieces(value, size, sha256), { objectMode: false }) };
}

function measure(value: unknown): { size: number; sha256: string } {
  const hash = createHash("sha256");
  let size = 0;
  for (const piece of prettyJsonPieces(value)) {
    size += Buffer.byteLength(piece);
    hash.update(piece);
  }
  return { size, sha256: hash.digest("hex") };
}

function* checkedPieces(value: unknown, size: number, sha256: string): Generator<Buffer> {
  const hash = createHash("sha256");
  let sent = 0;
  for (const piece of prettyJsonPieces(value)) {
    const bytes = Buffer.from(piece);
    sent += bytes.length;
    hash.update(bytes);
    if (sent > size) break;
    yield bytes;
  }
  if (sent !== size || hash.digest("hex") !== sha256) throw new Error(`internal: serialized ${sent} bytes, other than the ${size} measured (the value changed meanwhile)`);
}

function* pieces(value: unknown, indent: string): Generator<string> {
  const v = toJsonValue(value);
  if (v === null || typeof v !== "object" || isSmall(v)) {
    // JSON strings hold no raw newline, so re-indenting the nested lines is exact.
    const whole = JSON.stringify(v, null, 2) ?? "null";
    yield indent === "" ? whole : whole.replaceAll("\n", "\n" + indent);
    return;
  }
  const inner = indent + INDENT;
  if (Array.isArray(v)) {
    yield "[";
    for (let i = 0; i < v.length; i++) {
      yield (i === 0 ? "\n" : ",\n") + inner;
      const item = toJsonValue(v[i]);
      yield* pieces(isOmitted(item) ? null : item, inner);
    }
    yield "\n" + indent + "]";
    return;
  }
  let first = true;
  for (const [k, raw] of Object.entries(v)) {
    const item = toJsonValue(raw);
    if (isOmitted(item)) continue;
    yield (first ? "{\n" : ",\n") + inner + JSON.stringify(k) + ": ";
    first = false;
    yield* pieces(item, inner);
  }
  yield first ? "{}" : "\n" + indent + "}";
}

function toJsonValue(v: unknown): unknown {
  return v !== null && typeof v === "object" && typeof (v as { toJSON?: unknown }).toJSON === "function" ? (v as { toJSON(): unknown }).toJSON() : v;
}

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
function isOmitted(v: unknown): boolean {
  return v === undefined || typeof v === "function" || typeof v === "symbol";
}

/** Whether `v` holds fewer than SMALL_NODES members at every depth (counting stops there). */
function isSmall(v: object): boolean {
  let budget = SMALL_NODES;
  const walk = (x: unknown): boolean => {
    if (x === null || typeof x !== "object") return true;
    for (const k in x) {
      if (!Object.hasOwn(x, k)) continue;
      if (--budget <= 0 || !walk((x as Record<string, unknown>)[k])) return false;
    }
    return true;
  };
  return walk(v);
}
