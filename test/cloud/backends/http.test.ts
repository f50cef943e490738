/**
 * The read parts of the backend contract on the read-only HTTP backend: a
 * location populated by the writable folder backend, served by a static web
 * server (`python3 -m http.server`, GET and HEAD only, no Range). The write
 * parts do not apply: every write verb must be refused (READ_ONLY).
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Backend } from "../../../src/cloud/backends/backend.js";
import { FolderBackend } from "../../../src/cloud/backends/folder/folderBackend.js";
import { HttpBackend, safeUrl } from "../../../src/cloud/backends/http/httpBackend.js";
import { expectCode } from "../../helpers/assertions.js";
import { closedPort } from "../../helpers/s3servers.js";
import { startStaticServer, type StaticServer } from "../../helpers/staticServer.js";

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe("backend contract (read parts) on the HTTP backend over a static web server", () => {
  let root: string;
  let web: StaticServer;
  const data = randomBytes(70_000);
  const http = (base: string): Backend => new HttpBackend({ kind: "public", location: base, urlOf: (k) => `${base}/${k.split("/").map(encodeURIComponent).join("/")}` });

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-http-"));
    const folder = new FolderBackend({ root, bucket: "lab", prefix: "" });
    await folder.ensureBucket();
    await folder.put("a/one.bin", data, { size: data.length });
    await folder.put("a/name with space.txt", Buffer.from("spaced"), { size: 6 });
    web = await startStaticServer(path.join(root, "lab"));
  });
  afterAll(async () => {
    await web?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it("gets an object whole with its size and time; HEAD agrees; keys are URL-encoded", async () => {
    const b = http(web.url);
    const r = await b.get("a/one.bin");
    expect((await readAll(r.body)).equals(data)).toBe(true);
    expect(r.size).toBe(data.length);
    expect(Math.abs(r.lastModified.getTime() - Date.now())).toBeLessThan(5 * 60_000);
    expect((await b.head("a/one.bin")).size).toBe(data.length);
    expect((await readAll((await b.get("a/name with space.txt")).body)).toString()).toBe("spaced");
  });

  it("a missing key is OBJECT_NOT_FOUND for get and head", async () => {
    const b = http(web.url);
    await expectCode(b.get("nope"), "OBJECT_NOT_FOUND");
    await expectCode(b.head("nope"), "OBJECT_NOT_FOUND");
  });

  it("a server that ignores Range is refused, not transient, rather than read from the start", async () => {
    const err = await expectCode(http(web.url).get("a/one.bin", { offset: 10, end: 20 }), "CLOUD");
    expect(err.data.transient).toBe(false);
  });

  it("lists nothing and writes nothing: READ_ONLY for list and every write verb", async () => {
    const b = http(web.url);
    const listing = async () => {
      for await (const _ of b.list("")) void _;
    };
    await expectCode(listing(), "READ_ONLY");
    await expectCode(b.put("x", Buffer.from("x"), { size: 1 }), "READ_ONLY");
    await expectCode(b.delete("a/one.bin"), "READ_ONLY");
    await expectCode(b.deleteMany(["a/one.bin"]), "READ_ONLY");
    await expectCode(b.touch("a/one.bin"), "READ_ONLY");
    await expectCode(b.startUpload("x"), "READ_ONLY");
    expect(fs.existsSync(path.join(root, "lab", "a", "one.bin"))).toBe(true);
    expect(web.methods().every((m) => m === "GET" || m === "HEAD")).toBe(true);
  });

  it("an aborted signal ends a call with CANCELLED; a closed port is UNREACHABLE, not transient", async () => {
    await expectCode(http(web.url).head("a/one.bin", { signal: AbortSignal.abort() }), "CANCELLED");
    const err = await expectCode(http(`http://127.0.0.1:${await closedPort()}`).head("x"), "UNREACHABLE");
    expect(err.data.transient).toBe(false);
  });

  it("never prints a URL's query (a link's signature): safeUrl", () => {
    expect(safeUrl("https://s3.example.org/b/k.json?X-Amz-Signature=abc123&X-Amz-Credential=AK")).toBe("https://s3.example.org/b/k.json?…");
  });
});
