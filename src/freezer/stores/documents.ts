/**
 * A small JSON document / key-value store (`thawed/documents.json`) that keeps
 * value types: strings, numbers, booleans, null, arrays, objects, and also
 * Dates and bigints (tagged on disk). Every write replaces the file atomically.
 *
 * @example
 *   ds.docs.set("genome", { build: "GRCh38", date: new Date() });
 *   ds.docs.get("genome")   // a copy: editing it changes nothing stored
 */
import fs from "node:fs";
import path from "node:path";
import { InvalidArgumentError } from "../../errors.js";
import { tempPathFor } from "../files.js";

export type DocumentValue = unknown;

const TAG = "$minus80";

function encode(value: unknown): unknown {
  if (value instanceof Date) return { [TAG]: "date", value: value.toISOString() };
  if (typeof value === "bigint") return { [TAG]: "bigint", value: value.toString() };
  if (Array.isArray(value)) return value.map(encode);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = encode(v);
    return out;
  }
  if (typeof value === "number" && !Number.isFinite(value)) return { [TAG]: "number", value: String(value) };
  if (value === undefined || typeof value === "function" || typeof value === "symbol") {
    throw new InvalidArgumentError(`a ${typeof value} cannot be stored in the document store`, { type: typeof value });
  }
  return value;
}

function decode(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(decode);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (typeof obj[TAG] === "string" && "value" in obj && Object.keys(obj).length === 2) {
      if (obj[TAG] === "date") return new Date(obj.value as string);
      if (obj[TAG] === "bigint") return BigInt(obj.value as string);
      if (obj[TAG] === "number") return Number(obj.value as string);
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = decode(v);
    return out;
  }
  return value;
}

export class DocumentStore {
  constructor(readonly file: string) {}

  private load(): Record<string, unknown> {
    try {
      return JSON.parse(fs.readFileSync(this.file, "utf8")) as Record<string, unknown>;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
      throw err;
    }
  }

  private save(data: Record<string, unknown>): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const tmp = tempPathFor(this.file);
    fs.writeFileSync(tmp, JSON.stringify(data, null, 1) + "\n");
    fs.renameSync(tmp, this.file);
  }

  /** The value under `key` (a fresh copy), or undefined. */
  get<T = DocumentValue>(key: string): T | undefined {
    const data = this.load();
    return key in data ? (decode(data[key]) as T) : undefined;
  }

  set(key: string, value: DocumentValue): void {
    const data = this.load();
    data[key] = encode(value);
    this.save(data);
  }

  has(key: string): boolean {
    return key in this.load();
  }

  delete(key: string): boolean {
    const data = this.load();
    if (!(key in data)) return false;
    delete data[key];
    this.save(data);
    return true;
  }

  keys(): string[] {
    return Object.keys(this.load()).sort();
  }
}
