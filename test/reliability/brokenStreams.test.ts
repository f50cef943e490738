/**
 * A download whose connection breaks at an awkward moment — right after the
 * response headers, before the local write has started — must fail the
 * command with its error code, never crash the process with an unhandled
 * 'error' event. Found by the randomized fault runs (one try, a cut just
 * after the headers); reproduced here deterministically with a backend
 * whose object bodies break on the next tick.
 */
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Backend } from "../../src/cloud/backends/backend.js";
import { FolderBackend } from "../../src/cloud/backends/folder/folderBackend.js";
import { UnreachableError } from "../../src/errors.js";
import { CloudData } from "../../src/cloud/cloudData.js";
import { RetryingBackend } from "../../src/cloud/retry.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { bump, checkState, newFigures, writeFigures } from "./figures.js";
import { DTYPE, frozen, pseudoRandomBytes, treeDigest } from "./support.js";

const fig = newFigures("broken-streams", "folder (bodies broken on purpose)");

describe("a download that breaks before anyone reads it", () => {
  let env: TempEnv;
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  beforeEach(() => {
    env = makeTempEnv();
    uncaught.length = 0;
    process.on("uncaughtException", onUncaught);
  });
  afterEach(() => {
    process.off("uncaughtException", onUncaught);
    env.cleanup();
    writeFigures(fig);
  });

  /** A folder backend whose object reads break on the next tick, with a transient network error. */
  function breakingBackend(root: string, tries: number): Backend {
    const inner = new FolderBackend({ root, bucket: "bucket", prefix: "" });
    const broken = Object.create(inner) as Backend;
    broken.get = async (key, opts) => {
      const r = await inner.get(key, opts);
      if (!key.startsWith("objects/")) return r;
      r.body.destroy();
      const body = new PassThrough();
      setImmediate(() => body.destroy(new UnreachableError(`the connection was lost while reading ${key} (ECONNRESET)`, { key, network: "ECONNRESET", transient: true })));
      return { ...r, body };
    };
    return new RetryingBackend(broken, { maxAttempts: tries, baseDelayMs: 1, maxDelayMs: 2 });
  }

  for (const tries of [1, 3]) {
    it(`pull fails with UNREACHABLE and leaves the local freezer as it was (${tries} ${tries === 1 ? "try" : "tries"})`, async () => {
      const root = path.join(env.root, "bucket-root");
      const good = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "a"), endpoint: `file://${root}`, bucket: "bucket", prefix: "" });
      await frozen(good, "Broken", { "a.bin": pseudoRandomBytes(1, 50_000), "b.bin": pseudoRandomBytes(2, 70_000) }, "v1");
      await good.put("Broken", DTYPE, { tag: "v1" });
      good.close();

      const b = await CloudData.open({ configFile: env.configFile, basedir: path.join(env.root, "b"), backend: breakingBackend(root, tries) });
      const before = treeDigest(path.join(env.root, "b"));
      const err = await b.get("Broken", DTYPE, { tag: "v1" }).then(
        () => undefined,
        (e: unknown) => e as { code?: string },
      );
      await new Promise((r) => setTimeout(r, 50)); // let any stray 'error' event surface
      b.close();
      fig.runs++;
      bump(fig.runsByKind, `pull, bodies break after the headers, ${tries} ${tries === 1 ? "try" : "tries"}`);
      bump(fig.errorsByCode, err?.code ?? "none");
      bump(fig.extra as Record<string, number>, "uncaught errors", uncaught.length);
      expect(uncaught.map(String)).toEqual([]);
      expect(err?.code).toBe("UNREACHABLE");
      const after = treeDigest(path.join(env.root, "b"));
      const same = JSON.stringify(after) === JSON.stringify(before);
      if (!same) console.error("freezer changed:", before, after);
      checkState(fig, same, "a failed pull changed the local freezer");
      expect(same).toBe(true);
      expect(fs.existsSync(path.join(env.root, "b", "datasets", DTYPE, "Broken"))).toBe(false);
    });
  }
});
