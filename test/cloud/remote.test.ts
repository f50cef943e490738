/**
 * Reading a writer's own object back (remote.ts `holdsExactly`): true only
 * for exactly the bytes written (their size and sha256), hashed as they stream in.
 */
import { createHash } from "node:crypto";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FolderBackend } from "../../src/cloud/backends/folder/folderBackend.js";
import { holdsExactly } from "../../src/cloud/remote.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

let t: TempEnv;
let backend: FolderBackend;
beforeEach(() => {
  t = makeTempEnv();
  backend = new FolderBackend({ root: path.join(t.root, "remote"), bucket: "lab", prefix: "" });
});
afterEach(() => t.cleanup());

const put = (key: string, body: Buffer) => backend.put(key, body, { size: body.length });

describe("holdsExactly", () => {
  // Larger than one read chunk, so the comparison spans several chunks.
  const body = Buffer.alloc(3 * 1024 * 1024 + 17, "m");
  const written = { size: body.length, sha256: createHash("sha256").update(body).digest("hex") };

  it("is true for the very bytes written", async () => {
    await put("a.json", body);
    expect(await holdsExactly(backend, "a.json", written)).toBe(true);
  });

  it("is false when one byte differs, even the last", async () => {
    const other = Buffer.from(body);
    other[other.length - 1] = 0x21;
    await put("a.json", other);
    expect(await holdsExactly(backend, "a.json", written)).toBe(false);
  });

  it("is false for a shorter or a longer object", async () => {
    await put("short.json", body.subarray(0, body.length - 1));
    await put("long.json", Buffer.concat([body, Buffer.from("x")]));
    expect(await holdsExactly(backend, "short.json", written)).toBe(false);
    expect(await holdsExactly(backend, "long.json", written)).toBe(false);
  });

  it("fails with OBJECT_NOT_FOUND when nothing is there", async () => {
    await expect(holdsExactly(backend, "absent.json", written)).rejects.toMatchObject({ code: "OBJECT_NOT_FOUND" });
  });
});
