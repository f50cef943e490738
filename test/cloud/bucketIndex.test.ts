/**
 * The listing index (`index.json`) stays current when writers race: on the
 * folder backend always, and on the S3 endpoint from the environment when
 * given (Ceph RGW in CI). Pushes of several datasets at once all end up in
 * it; a remove drops its tag; an index that drifted is repaired by the next
 * write and by `rebuildIndex`.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readIndex } from "../../src/cloud/bucketIndex.js";
import { CloudData } from "../../src/cloud/cloudData.js";
import { INDEX_KEY, manifestKey } from "../../src/cloud/layout.js";
import { envTarget, folderTarget, type CloudTarget } from "../helpers/s3servers.js";
import { useTargetSession } from "../helpers/targetSession.js";

const targets: Array<[string, () => Promise<CloudTarget>]> = [["folder", folderTarget]];
const env = envTarget();
if (env) targets.push([env.name, async () => env]);
else console.warn("index races on an S3 endpoint: NOT RUN; set MINUS80_TEST_S3_ENDPOINT, MINUS80_TEST_S3_ACCESS_KEY and MINUS80_TEST_S3_SECRET_KEY to run them");

describe.each(targets)("the listing index on %s", (_label, start) => {
  const session = useTargetSession(start);

  async function machine(n: string): Promise<CloudData> {
    const c = await CloudData.open({ configFile: session.env.configFile, basedir: path.join(session.env.root, `freezer-${n}`), ...session.settings });
    session.opened.push(c);
    return c;
  }

  async function frozen(c: CloudData, name: string, tag: string): Promise<void> {
    const ds = c.freezer.dataset("Cohort", name);
    ds.ensureCreated();
    fs.writeFileSync(path.join(ds.thawedDir, "data.txt"), `${name} ${tag}`);
    await ds.freeze(tag);
  }

  const indexed = async (c: CloudData) => {
    const i = await readIndex(c.backend);
    return Object.fromEntries(Object.entries(i.datasets.Cohort ?? {}).map(([n, tags]) => [n, Object.keys(tags).sort()]));
  };

  it("four writers pushing at once all end up in the index, with their summaries (three rounds)", async () => {
    const names = ["A", "B", "C", "D"];
    const writers = await Promise.all(names.map((n) => machine(n)));
    const tags: string[] = [];
    // A writer that only merged its own entry and wrote (last writer wins) loses one here, most rounds.
    for (const tag of ["v1", "v2", "v3"]) {
      tags.push(tag);
      await Promise.all(writers.map((c, i) => frozen(c, names[i]!, tag)));
      await Promise.all(writers.map((c, i) => c.push("Cohort", names[i]!, { tag })));
      expect(await indexed(writers[0]!)).toEqual({ A: tags, B: tags, C: tags, D: tags });
    }
    const summary = (await readIndex(writers[0]!.backend)).datasets.Cohort!.A!.v1!;
    expect(summary).toMatchObject({ files: 1, size: "A v1".length, parent: null });
    expect(summary.checksum).toMatch(/^[0-9a-f]{12}$/);
  });

  it("the index refresh after a push takes the new tag's summary from the push: its manifest is read once, by the read-back", async () => {
    const plain = await machine("plain");
    const keys: string[] = [];
    const counted = Object.create(plain.backend) as typeof plain.backend;
    // The GETs that found an object (the push first asks whether the tag is there: not found).
    counted.get = async (key, o) => {
      const r = await plain.backend.get(key, o);
      keys.push(key);
      return r;
    };
    const c = await CloudData.open({ configFile: session.env.configFile, basedir: path.join(session.env.root, "freezer-counted"), ...session.settings, backend: counted });
    session.opened.push(c);
    await frozen(c, "Once", "v1");
    await c.push("Cohort", "Once", { tag: "v1" });
    expect(keys.filter((k) => k === manifestKey("Cohort", "Once", "v1"))).toHaveLength(1);
    const summary = (await readIndex(c.backend)).datasets.Cohort!.Once!.v1!;
    expect(summary).toMatchObject({ files: 1, size: "Once v1".length, parent: null, checksum: c.freezer.dataset("Cohort", "Once").tag("v1").total.slice(0, 12) });
    // Another process (no summary of its own) reads the manifest to index it, and finds the same.
    await plain.rebuildIndex();
    expect((await readIndex(plain.backend)).datasets.Cohort!.Once!.v1).toMatchObject({ files: 1, checksum: summary.checksum });
  });

  it("a remove drops its tag; a drifted index is repaired by the next write and by rebuildIndex", async () => {
    const c = await machine("a");
    await frozen(c, "Kept", "v1");
    await frozen(c, "Gone", "v1");
    await c.push("Cohort", "Kept", { tag: "v1" });
    await c.push("Cohort", "Gone", { tag: "v1" });
    await c.removeDataset("Cohort", "Gone");
    expect(await indexed(c)).toEqual({ Kept: ["v1"] });

    // Drift: a writer killed between its commit and its index update.
    const stale = Buffer.from(JSON.stringify({ format: "minus80-index", version: 1, updated: "", datasets: {}, raw: {} }));
    await c.backend.put(INDEX_KEY, stale, { size: stale.length });
    expect(await indexed(c)).toEqual({});
    await frozen(c, "Kept", "v2");
    await c.push("Cohort", "Kept", { tag: "v2" });
    expect(await indexed(c)).toEqual({ Kept: ["v1", "v2"] });

    await c.backend.delete(INDEX_KEY);
    const rebuilt = await c.rebuildIndex();
    expect(Object.keys(rebuilt.datasets.Cohort!)).toEqual(["Kept"]);
    expect(await indexed(c)).toEqual({ Kept: ["v1", "v2"] });
  });
});
