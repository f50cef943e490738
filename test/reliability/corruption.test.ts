/**
 * Damaged bucket content on every storage target: a flipped byte, a
 * truncated or extended object (small and multipart-sized), a manifest
 * whose sizes lie (larger, smaller, enormous; objects already local or
 * not), a raw file whose bytes no longer match its sha256, a pack (layout
 * version 2) with a flipped byte or cut short, and a manifest lying about a
 * packed file's offset or size. Every `get`
 * fails with INTEGRITY naming the object and writes nothing: the local
 * freezer (or the output directory) is byte-identical before and after.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { CloudData } from "../../src/cloud/cloudData.js";
import { manifestKey, objectKey, packKey, rawKey } from "../../src/cloud/layout.js";
import { MANIFEST_VERSION_PACKED, parseTagManifest } from "../../src/freezer/manifest.js";
import { serializeTagManifest, type TagManifest } from "../../src/freezer/manifest.js";
import { useTargetSession } from "../helpers/targetSession.js";
import { bump, checkState, newFigures, writeFigures, type Figures } from "./figures.js";
import { DTYPE, expectCode, frozen, MiB, openCloud, pseudoRandomBytes, serverName, sha256, targets, treeDigest } from "./support.js";

describe.each(targets())("corrupted bucket content on %s", (_label, start) => {
  let fig: Figures;
  const session = useTargetSession(start, {
    afterStart: (t) => (fig = newFigures("corruption", serverName(t))),
    beforeStop: () => fig && writeFigures(fig),
  });

  async function open(machine: string): Promise<CloudData> {
    const c = await openCloud(session.env.configFile, session.settings, path.join(session.env.root, `freezer-${machine}`));
    session.opened.push(c);
    return c;
  }

  /**
   * `get` must fail with INTEGRITY naming `key`, and leave `dir` byte-identical
   * (and, when the dataset was not there before, not create it).
   */
  async function expectRefused(c: CloudData, what: string, get: () => Promise<unknown>, key: string, dir = c.freezer.basedir): Promise<void> {
    const before = treeDigest(dir);
    const hadDataset = c.freezer.datasets().length;
    const err = await expectCode(get(), "INTEGRITY");
    fig.runs++;
    bump(fig.runsByKind, what);
    bump(fig.errorsByCode, err.code);
    expect(err.message).toContain(key);
    const same = JSON.stringify(treeDigest(dir)) === JSON.stringify(before) && c.freezer.datasets().length === hadDataset;
    checkState(fig, same, `${what}: the local tree changed after a refused get`);
    expect(treeDigest(dir)).toEqual(before);
  }

  /** v1 (pulled by b beforehand, when `bHasV1`) and v2 with a new object `damaged.bin` of `size` bytes. */
  async function twoTags(size: number) {
    const a = await open("a");
    await frozen(a, "TestCohort", { "keep.txt": "kept", "damaged.bin": pseudoRandomBytes(1, 1000) }, "v1");
    const payload = pseudoRandomBytes(size, size);
    await frozen(a, "TestCohort", { "damaged.bin": payload, "more.txt": "more" }, "v2");
    await a.put("TestCohort", DTYPE, { tag: "v1" });
    await a.put("TestCohort", DTYPE, { tag: "v2" });
    return { a, payload, key: objectKey(sha256(payload)), v2: a.freezer.dataset(DTYPE, "TestCohort").tag("v2") };
  }

  for (const [label, size] of [
    ["a small object", 10_000],
    ["a multipart-sized object (9 MiB)", 9 * MiB],
  ] as const) {
    it(`${label}: a flipped byte, a truncation and appended bytes each make get fail with INTEGRITY naming it, writing nothing`, async () => {
      const { a, payload, key } = await twoTags(size);
      const withV1 = await open("b");
      await withV1.get("TestCohort", DTYPE, { tag: "v1" });
      const fresh = await open("c");
      const flipped = Buffer.from(payload);
      flipped[size - 3] = flipped[size - 3]! ^ 0x20;
      for (const [what, damaged] of [
        ["flipped byte", flipped],
        ["truncated", payload.subarray(0, size - 1)],
        ["appended", Buffer.concat([payload, Buffer.from("x")])],
      ] as const) {
        await a.backend.put(key, damaged, { size: damaged.length });
        for (const c of [withV1, fresh]) {
          await expectRefused(c, `${what} ${size > MiB ? "multipart" : "small"}`, () => c.get("TestCohort", DTYPE, { tag: "v2" }), key);
          expect(c.freezer.dataset(DTYPE, "TestCohort").hasTag("v2")).toBe(false);
        }
        expect(fresh.freezer.datasets()).toEqual([]);
      }
      // Repaired, the same get succeeds.
      await a.backend.put(key, payload, { size: payload.length });
      await withV1.get("TestCohort", DTYPE, { tag: "v2" });
      expect(sha256(fs.readFileSync(path.join(withV1.freezer.dataset(DTYPE, "TestCohort").thawedDir, "damaged.bin")))).toBe(sha256(payload));
    });
  }

  it("a manifest whose sizes lie (larger, smaller, enormous) makes get fail with INTEGRITY naming the object, also when the object is already local", async () => {
    const { a, key, v2 } = await twoTags(10_000);
    const fresh = await open("c");
    const local = await open("d"); // holds every object already: its check cannot rely on a download
    await local.get("TestCohort", DTYPE, { tag: "v2" });
    const lie = async (tag: string, size: number) => {
      const m: TagManifest = { ...v2, tag, files: { ...v2.files, "damaged.bin": { ...v2.files["damaged.bin"]!, size } } };
      const body = Buffer.from(serializeTagManifest(m));
      await a.backend.put(manifestKey(DTYPE, "TestCohort", tag), body, { size: body.length });
    };
    for (const [tag, size] of [
      ["larger", 10_001],
      ["smaller", 9_999],
      ["enormous", 2 ** 52],
      ["empty", 0],
    ] as const) {
      await lie(tag, size);
      for (const c of [fresh, local]) {
        await expectRefused(c, `manifest size lies (${tag})${c === local ? ", object local" : ""}`, () => c.get("TestCohort", DTYPE, { tag }), key);
        expect(c.freezer.dataset(DTYPE, "TestCohort").hasTag(tag)).toBe(false);
      }
    }
  });

  /** v1 of 40 small files, pushed (so packed); the pack's key and bytes, and the bucket's manifest. */
  async function packedTag() {
    const a = await open("a");
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) files[`s/f${String(i).padStart(2, "0")}.bin`] = pseudoRandomBytes(100 + i, 2000 + 97 * i);
    await frozen(a, "Packed", files, "v1");
    await a.put("Packed", DTYPE, { tag: "v1" });
    const chunks: Buffer[] = [];
    const text = async (key: string) => {
      const parts: Buffer[] = [];
      for await (const c of (await a.backend.get(key)).body as AsyncIterable<Buffer>) parts.push(c);
      return Buffer.concat(parts);
    };
    const m = parseTagManifest((await text(manifestKey(DTYPE, "Packed", "v1"))).toString("utf8"), "v1");
    expect(m.version).toBe(MANIFEST_VERSION_PACKED);
    const key = packKey(m.files["s/f07.bin"]!.pack!);
    chunks.push(await text(key));
    return { a, files, m, key, pack: chunks[0]! };
  }

  it("a pack with a flipped byte or cut short makes get fail with INTEGRITY naming the pack and its damaged files, writing nothing; appended bytes harm no file", async () => {
    const { a, files, m, key, pack } = await packedTag();
    const fresh = await open("c");
    const flipped = Buffer.from(pack);
    const at = m.files["s/f07.bin"]!.offset! + 5;
    flipped[at] = flipped[at]! ^ 0x20;
    const lastOffset = m.files["s/f39.bin"]!.offset!;
    for (const [what, damaged, names] of [
      ["pack flipped byte", flipped, ["s/f07.bin"]],
      ["pack truncated", pack.subarray(0, lastOffset + 10), ["s/f39.bin"]],
    ] as const) {
      await a.backend.put(key, damaged, { size: damaged.length });
      await expectRefused(fresh, what, () => fresh.get("Packed", DTYPE, { tag: "v1" }), key);
      const err = await expectCode(fresh.get("Packed", DTYPE, { tag: "v1" }), "INTEGRITY");
      expect(err.data.paths).toEqual(names);
      expect(fresh.freezer.datasets()).toEqual([]);
      expect((await a.verify({ dtype: DTYPE, name: "Packed" })).problems.map((p) => p.key)).toContain(key);
    }
    // Bytes appended after the last file change no file: the pull succeeds; verify reports the pack.
    await a.backend.put(key, Buffer.concat([pack, Buffer.from("x")]), { size: pack.length + 1 });
    await fresh.get("Packed", DTYPE, { tag: "v1" });
    const dir = fresh.freezer.dataset(DTYPE, "Packed").thawedDir;
    for (const [p, c] of Object.entries(files)) expect(sha256(fs.readFileSync(path.join(dir, p))), p).toBe(sha256(c));
    expect((await a.verify({ dtype: DTYPE, name: "Packed" })).problems).toEqual([expect.objectContaining({ kind: "damaged", key })]);
  });

  it("a manifest lying about a packed file's offset or size makes get fail with INTEGRITY naming the pack", async () => {
    const { a, m, key } = await packedTag();
    const fresh = await open("c");
    const lie = async (tag: string, change: { offset?: number; size?: number }) => {
      const lied: TagManifest = { ...m, tag, files: { ...m.files, "s/f07.bin": { ...m.files["s/f07.bin"]!, ...change } } };
      const body = Buffer.from(serializeTagManifest(lied));
      await a.backend.put(manifestKey(DTYPE, "Packed", tag), body, { size: body.length });
    };
    const e = m.files["s/f07.bin"]!;
    for (const [tag, change] of [
      ["shifted", { offset: e.offset! + 1 }],
      ["past-the-end", { offset: 2 ** 40 }],
      ["larger", { size: e.size + 1 }],
      ["enormous", { size: 2 ** 52 }],
    ] as const) {
      await lie(tag, change);
      await expectRefused(fresh, `packed entry lies (${tag})`, () => fresh.get("Packed", DTYPE, { tag }), key);
      expect(fresh.freezer.dataset(DTYPE, "Packed").hasTag(tag)).toBe(false);
    }
  });

  it("a raw file whose bytes no longer match its recorded sha256 fails with INTEGRITY naming it; the output is neither created nor replaced and no temporary file is left", async () => {
    const a = await open("a");
    const file = path.join(session.env.root, "R1.fastq");
    const content = pseudoRandomBytes(3, 300_000);
    fs.writeFileSync(file, content);
    await a.put(file, "fastq", { raw: true });
    const key = rawKey("fastq", "R1.fastq");
    const head = await a.backend.head(key);
    const flipped = Buffer.from(content);
    flipped[150_000] = flipped[150_000]! ^ 1;
    await a.backend.put(key, flipped, { size: flipped.length, metadata: head.metadata });
    const out = path.join(session.env.root, "out");
    fs.mkdirSync(out);
    await expectRefused(a, "raw flipped byte, new output", () => a.get("R1.fastq", "fastq", { raw: true, output: out }), key, out);
    expect(fs.readdirSync(out)).toEqual([]);
    fs.writeFileSync(path.join(out, "R1.fastq"), "an older local copy");
    await expectRefused(a, "raw flipped byte, forced over a local file", () => a.get("R1.fastq", "fastq", { raw: true, output: out, force: true }), key, out);
    expect(fs.readdirSync(out)).toEqual(["R1.fastq"]);
    expect(fs.readFileSync(path.join(out, "R1.fastq"), "utf8")).toBe("an older local copy");
  });
});
