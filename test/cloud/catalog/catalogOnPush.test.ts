/**
 * `cloud.catalog_on_push`: off by default (a push writes no page); on, a
 * push of a tag or a raw file rewrites `index.html` once the tag is
 * visible, and the CLI says where it is; a page that cannot be written is
 * a warning in the push's result, never a failed push. On a folder remote.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Backend } from "../../../src/cloud/backends/backend.js";
import { FolderBackend } from "../../../src/cloud/backends/folder/folderBackend.js";
import { CloudData } from "../../../src/cloud/cloudData.js";
import { CloudError } from "../../../src/errors.js";
import { runCli } from "../../helpers/cli.js";
import { configYaml } from "../../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";

let t: TempEnv;
let remote: string;
let page: string;
beforeEach(() => {
  t = makeTempEnv();
  remote = path.join(t.root, "remote");
  page = path.join(remote, "lab", "index.html");
  fs.writeFileSync(t.configFile, configYaml({ endpoint: `file://${remote}`, bucket: "lab", prefix: "", region: "us-east-1" }, t.basedir));
});
afterEach(() => t.cleanup());

/** A frozen dataset A of dtype Notes, with one file. */
async function frozen(cloud: CloudData, tag: string): Promise<void> {
  const ds = cloud.freezer.dataset("Notes", "A");
  ds.ensureCreated();
  fs.writeFileSync(path.join(ds.thawedDir, "notes.txt"), `notes of ${tag}`);
  await ds.freeze(tag);
}

describe("cloud.catalog_on_push", () => {
  it("off (the default): a push writes no page; `cloud catalog` does, and prints where", async () => {
    const cloud = await CloudData.open({ configFile: t.configFile });
    await frozen(cloud, "v1");
    const r = await cloud.push("Notes", "A", { tag: "v1" });
    cloud.close();
    expect(r.catalog).toBeUndefined();
    expect(fs.existsSync(page)).toBe(false);
    const made = runCli(["cloud", "catalog"], { env: t.env });
    expect(made).toMatchObject({ status: 0, stdout: `${page}\n` });
    expect(fs.readFileSync(page, "utf8")).toContain('"name":"A"');
    const json = runCli(["cloud", "catalog", "--json"], { env: t.env });
    expect(JSON.parse(json.stdout)).toEqual({ page, datasets: 1, tags: 1, raw: 0 });
    const from = runCli(["cloud", "catalog", "--from", "http://127.0.0.1:9/lab"], { env: t.env });
    expect(from.status).toBe(2);
    expect(from.stderr).toContain("read-only");
  });

  it("on: a push of a tag, then of a raw file, rewrites the page with what is now there; the CLI says so on stderr", async () => {
    fs.appendFileSync(t.configFile, "  catalog_on_push: true\n");
    const cloud = await CloudData.open({ configFile: t.configFile });
    expect(cloud.config.cloud.catalogOnPush).toBe(true);
    await frozen(cloud, "v1");
    expect((await cloud.push("Notes", "A", { tag: "v1" })).catalog).toEqual({ page });
    expect(fs.readFileSync(page, "utf8")).toContain('"tag":"v1"');
    const file = path.join(t.root, "R1.fastq");
    fs.writeFileSync(file, "@r\nACGT\n+\nIIII\n");
    expect((await cloud.pushRaw("fastq", file)).catalog).toEqual({ page });
    expect(fs.readFileSync(page, "utf8")).toContain('"file":"R1.fastq"');
    await frozen(cloud, "v2");
    cloud.close();
    const pushed = runCli(["cloud", "push", "Notes", "A", "--tag", "v2"], { env: t.env });
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(pushed.stderr).toContain(`Catalog page updated: ${page}`);
    expect(fs.readFileSync(page, "utf8")).toContain('"tag":"v2"');
  });

  it("on, with a page that cannot be written: the push succeeds and its result says why the page was not rewritten", async () => {
    const folder = new FolderBackend({ root: remote, bucket: "lab", prefix: "" });
    const refusing = new Proxy(folder, {
      get(target, prop, receiver) {
        if (prop === "put") {
          return (key: string, ...rest: Parameters<Backend["put"]> extends [string, ...infer R] ? R : never) =>
            key === "index.html" ? Promise.reject(new CloudError("the server refused index.html", { key })) : target.put(key, ...rest);
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const cloud = await CloudData.open({ configFile: t.configFile, backend: refusing, catalogOnPush: true });
    await frozen(cloud, "v1");
    const r = await cloud.push("Notes", "A", { tag: "v1" });
    expect(r.tags).toEqual(["v1"]);
    expect(r.catalog).toEqual({ error: "the server refused index.html", code: "CLOUD" });
    expect(await cloud.listDatasets()).toEqual({ Notes: ["A"] });
    cloud.close();
  });
});
