import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { PIECE_CHARS, prettyJsonBody, prettyJsonPieces } from "../../src/freezer/jsonChunks.js";

const expected = (v: unknown) => JSON.stringify(v, null, 2) + "\n";
const joined = (v: unknown) => [...prettyJsonPieces(v)].join("");

/** An object with many members (the path the pieces take apart), holding `inner` values. */
const wide = (inner: fc.Arbitrary<unknown>) =>
  fc.dictionary(fc.string({ unit: "grapheme" }), inner, { minKeys: 70, maxKeys: 200 });

describe("prettyJsonPieces", () => {
  it("joins to exactly JSON.stringify(value, null, 2) for any JSON value", () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => {
        expect(joined(v)).toBe(expected(v));
      }));
  });

  it("matches on wide objects and long arrays, nested, with unicode keys", () => {
    const leaf = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ sha256: fc.string({ unit: fc.constantFrom(..."0123456789abcdef") }), size: fc.nat() }));
    fc.assert(
      fc.property(wide(fc.oneof(leaf, wide(leaf))), fc.array(leaf, { minLength: 70, maxLength: 150 }), (obj, arr) => {
        const v = { format: "x", files: obj, list: arr, nested: { deeper: obj } };
        expect(joined(v)).toBe(expected(v));
      }),
      { numRuns: 30 },
    );
  });

  it("drops what JSON.stringify drops and calls toJSON", () => {
    const files: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) files[`f${i}`] = i % 3 === 0 ? undefined : i % 3 === 1 ? new Date(i * 1e9) : () => i;
    const v = { files, arr: Array.from({ length: 80 }, (_, i) => (i % 2 ? undefined : Symbol("s"))), gone: undefined };
    expect(joined(v)).toBe(expected(v));
    expect(joined({ only: Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, undefined])) })).toBe(expected({ only: {} }));
  });

  it("hands out a large value in pieces of bounded size", () => {
    const files = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`dir/${i}.txt`, { sha256: "ab".repeat(32), size: i }]));
    const parts = [...prettyJsonPieces({ files })];
    expect(parts.length).toBeGreaterThan(20);
    for (const p of parts) expect(p.length).toBeLessThan(PIECE_CHARS + 4096);
  });
});

const streamed = async (body: { open(): NodeJS.ReadableStream }) => {
  const chunks: Buffer[] = [];
  for await (const c of body.open()) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

describe("prettyJsonBody", () => {
  it("measures, hashes and streams the UTF-8 bytes of the pretty-printed value, the same on every open", async () => {
    await fc.assert(
      fc.asyncProperty(wide(fc.jsonValue({ maxDepth: 2 })), async (v) => {
        const want = Buffer.from(expected(v));
        const body = prettyJsonBody(v);
        expect(body.size).toBe(want.length);
        expect(body.sha256).toBe(createHash("sha256").update(want).digest("hex"));
        expect((await streamed(body)).equals(want)).toBe(true);
        expect((await streamed(body)).equals(want)).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it("fails the stream rather than send other bytes than measured when the value changed meanwhile", async () => {
    const value: Record<string, string> = {};
    for (let i = 0; i < 100; i++) value[`k${i}`] = "x".repeat(100);
    const body = prettyJsonBody(value);
    value.k50 = "y".repeat(100); // same size, other bytes
    await expect(streamed(body)).rejects.toThrow(/other than the \d+ measured/);
    value.k50 = "x".repeat(5000); // longer
    await expect(streamed(body)).rejects.toThrow(/other than the \d+ measured/);
  });
});
