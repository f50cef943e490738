/**
 * The page's data (catalog/gather.ts): the tags and their summaries come
 * from the manifests; rewriting the page reads again only the manifests
 * that changed, reusing the summaries of the page already there.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Backend } from "../../../src/cloud/backends/backend.js";
import { FolderBackend } from "../../../src/cloud/backends/folder/folderBackend.js";
import { CloudData } from "../../../src/cloud/cloudData.js";
import { Accession } from "../../../src/types/accession.js";
import { Cohort } from "../../../src/types/cohort.js";
import { configYaml } from "../../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../../helpers/tempEnv.js";

let t: TempEnv;
let remote: string;
beforeEach(() => {
  t = makeTempEnv();
  remote = path.join(t.root, "remote");
  fs.writeFileSync(t.configFile, configYaml({ endpoint: `file://${remote}`, bucket: "lab", prefix: "", region: "us-east-1" }, t.basedir));
});
afterEach(() => t.cleanup());

/** A folder backend that records the keys it was asked to GET. */
function counting(): { backend: Backend; gets: string[] } {
  const folder = new FolderBackend({ root: remote, bucket: "lab", prefix: "" });
  const gets: string[] = [];
  const backend = new Proxy(folder, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (prop === "get") return (key: string, ...rest: unknown[]) => (gets.push(key), (v as (...a: unknown[]) => unknown).call(target, key, ...rest));
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { backend, gets };
}

describe("gathering the catalog's data", () => {
  it("a rewrite reads only the manifests that changed since the page in the bucket; summaries stay on the page", async () => {
    const { backend, gets } = counting();
    const cloud = await CloudData.open({ configFile: t.configFile, backend });
    const c = Cohort.fromAccessions("Trial", [new Accession("S1", { metadata: { tissue: "leaf" } })], { freezer: cloud.freezer });
    await c.freeze("v1");
    await cloud.push("Cohort", "Trial", { tag: "v1" });
    await cloud.catalog();
    const manifests = () => gets.splice(0).filter((k) => k.startsWith("datasets/"));
    manifests();
    c.add(new Accession("S2", { metadata: { tissue: "root" } }));
    await c.freeze("v2");
    c.close();
    await cloud.push("Cohort", "Trial", { tag: "v2" });
    manifests();
    await cloud.catalog();
    expect(manifests()).toEqual(["datasets/Cohort/Trial/v2.json"]);
    const html = fs.readFileSync(path.join(remote, "lab", "index.html"), "utf8");
    expect(html).toContain('"name":"S1","values":["leaf"]');
    expect(html).toContain('"name":"S2","values":["root"]');
    expect(html.match(/"kind":"accessions"/g)).toHaveLength(2);
    // A page that is not one minus80 wrote: every manifest is read.
    fs.writeFileSync(path.join(remote, "lab", "index.html"), "<html>someone else's page</html>");
    await cloud.catalog();
    expect(manifests().sort()).toEqual(["datasets/Cohort/Trial/v1.json", "datasets/Cohort/Trial/v2.json"]);
    cloud.close();
  });
});
