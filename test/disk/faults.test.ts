/**
 * Local faults named by their errno: each code, its message naming the
 * path, and a hint (the free space for a full disk). Errors a real file
 * system cannot be made to give here (EACCES to root, EDQUOT, EMFILE) are
 * built as Node.js builds them.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { localFault, withLocalFaults } from "../../src/disk/faults.js";
import { assertSpace, spaceNeeded, SPACE_MARGIN_BYTES } from "../../src/disk/space.js";
import { Minus80Error } from "../../src/errors.js";
import { userMessage } from "../../src/cli/errorMessages.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

const errno = (code: string, p?: string, syscall = "open") => Object.assign(new Error(`${code}: failed, ${syscall}${p ? ` '${p}'` : ""}`), { code, syscall, ...(p ? { path: p } : {}) });

describe("local faults", () => {
  let t: TempEnv;
  beforeEach(() => {
    t = makeTempEnv();
  });
  afterEach(() => t.cleanup());

  it.each([
    ["ENOSPC", "DISK_FULL", /no space left on the file system of/],
    ["EDQUOT", "DISK_FULL", /disk quota is used up/],
    ["EROFS", "READ_ONLY_FILESYSTEM", /read-only file system/],
    ["EACCES", "PERMISSION_DENIED", /permission denied on/],
    ["EPERM", "PERMISSION_DENIED", /permission denied on/],
    ["EMFILE", "TOO_MANY_OPEN_FILES", /too many open files/],
    ["ENFILE", "TOO_MANY_OPEN_FILES", /too many open files/],
  ])("%s is %s, naming what was being done, with a hint, and the CLI exits 1 without calling it a bug", (code, want, message) => {
    const f = localFault(errno(code, path.join(t.root, "x")), { dir: t.root, op: "pull Cohort.A:v1" })!;
    expect(f.code).toBe(want);
    expect(f.message).toMatch(message);
    expect(f.message).toContain("while trying to pull Cohort.A:v1");
    if (code !== "EMFILE" && code !== "ENFILE") expect(f.message).toContain(t.root);
    const m = userMessage(f);
    expect(m.exitStatus).toBe(1);
    expect(m.hint).toBeTruthy();
    expect(m.hint).not.toMatch(/bug/);
  });

  it("a full disk's hint says how much is free there", () => {
    const f = localFault(errno("ENOSPC"), { dir: t.root })!;
    expect(f.data.available).toBeGreaterThan(0);
    expect(String(f.data.hint)).toMatch(/^[\d.]+ (B|KiB|MiB|GiB|TiB) free there/);
  });

  it("the CLI names a raw errno fault that reached it unconverted, instead of calling it a bug", () => {
    const m = userMessage(errno("ENOSPC", "/data/x", "write"));
    expect(m.message).toMatch(/no space left/);
    expect(m.hint).not.toMatch(/bug/);
  });

  it("other errors pass through unchanged", async () => {
    expect(localFault(errno("ENOENT", "/nope"))).toBeUndefined();
    const boom = new Error("boom");
    await expect(withLocalFaults({ dir: t.root }, async () => Promise.reject(boom))).rejects.toBe(boom);
  });

  it("a recursive mkdir's ENOENT under a parent that refuses is reported as that parent's cause", async () => {
    const file = path.join(t.root, "a-file");
    fs.writeFileSync(file, "x");
    // mkdir under a regular file: the real cause (ENOTDIR) is not a local fault, so ENOENT-style errors stay as they are
    const err = await withLocalFaults({ dir: t.root }, () => fs.promises.mkdir(path.join(file, "b", "c"), { recursive: true })).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(Minus80Error);
  });

  it("the space check counts whole blocks plus the margin and fails naming both figures", async () => {
    const need = await spaceNeeded(t.root, [1, 1]);
    expect(need.needed).toBe(2 * need.blockSize + SPACE_MARGIN_BYTES);
    expect(() => assertSpace({ ...need, available: 1000 }, { op: "thaw Cohort.A:v1" })).toThrow(/not enough space to thaw Cohort\.A:v1: it needs [\d.]+ (KiB|MiB) in .*, and that file system has 1000 B free/);
    expect(() => assertSpace(need, { op: "thaw" })).not.toThrow();
  });
});
