/**
 * `minus80 cloud catalog [--output DIR]`: writes the catalog page, one
 * self-contained `index.html` at the layout's root in the bucket (or into
 * DIR), and prints where it is. Also how a push reports the page it
 * rewrote with `cloud.catalog_on_push` (a failure there is a warning: the
 * push succeeded).
 */
import type { Command } from "commander";
import type { CatalogOutcome } from "../../cloud/push.js";
import { commandSignal } from "../cancel.js";
import { printJson, println } from "../output.js";
import { withCloud, withProgress, writeCommand, type Common } from "./cloudCommon.js";

export function registerCatalogCommand(cloud: Command): void {
  writeCommand(cloud, "catalog", "write index.html, a page showing what the bucket holds (datasets, tags, a Cohort's samples, raw files) and how to pull it; prints where it is")
    .option("--output <DIR>", "write index.html into this local folder instead of the bucket's root")
    .option("--quiet", "no progress bars")
    .action(async (opts: Common & { output?: string }) => {
      await withCloud(async (c) => {
        const r = await withProgress(opts, (onProgress) => c.catalog({ output: opts.output, onProgress, signal: commandSignal() }));
        if (opts.json) return printJson(r);
        println(r.page);
        process.stderr.write(`The catalog shows ${r.datasets} dataset${r.datasets === 1 ? "" : "s"} (${r.tags} tag${r.tags === 1 ? "" : "s"}) and ${r.raw} raw file${r.raw === 1 ? "" : "s"}.\n`);
      });
    });
}

/** After a push with `cloud.catalog_on_push`: the page's place on stderr, or a warning saying why it was not rewritten. */
export function reportCatalog(outcome: CatalogOutcome | undefined): void {
  if (!outcome) return;
  if ("page" in outcome) process.stderr.write(`Catalog page updated: ${outcome.page}\n`);
  else process.stderr.write(`warning: the push succeeded, but the catalog page was not rewritten (${outcome.code}: ${outcome.error}); run \`minus80 cloud catalog\` to retry\n`);
}
