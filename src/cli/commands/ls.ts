/** `minus80 ls [--dtype D] [--name N] [--tags] [--json]`: the local freezer's datasets. */
import type { Command } from "commander";
import { Freezer } from "../../freezer/freezer.js";
import { summaryOf } from "../../freezer/manifest.js";
import { formatBytes, printJson, println } from "../output.js";

export function registerLsCommand(program: Command): void {
  program
    .command("ls")
    .description("list the datasets in the local freezer")
    .option("--dtype <D>", "only this dtype (glob patterns allowed)")
    .option("--name <N>", "only names matching (glob patterns allowed)")
    .option("--tags", "show each dataset's tags")
    .option("--json", "machine-readable output")
    .action((opts: { dtype?: string; name?: string; tags?: boolean; json?: boolean }) => {
      const freezer = Freezer.open();
      const found = freezer.datasets(opts.dtype, opts.name);
      const rows = found.map((id) => {
        const ds = freezer.dataset(id.dtype, id.name);
        const m = ds.readManifest();
        return {
          dtype: id.dtype,
          name: id.name,
          head: m.head,
          tags: ds.tags().map((t) => ({ tag: t.tag, ...summaryOf(t) })),
        };
      });
      if (opts.json) {
        printJson(rows);
        return;
      }
      if (rows.length === 0) {
        const filtered = opts.dtype !== undefined || opts.name !== undefined;
        println(filtered ? "No dataset in the local freezer matches." : "Nothing in the local freezer yet! Create a dataset, e.g. `minus80 cohort import <name> <accessions.yaml>`.");
        return;
      }
      let dtype = "";
      for (const r of rows) {
        if (r.dtype !== dtype) {
          dtype = r.dtype;
          println(`-----${dtype}------`);
        }
        println(r.name);
        if (opts.tags) {
          if (r.tags.length === 0) println("    (no tags)");
          for (const t of r.tags) {
            const mark = t.tag === r.head ? "*" : " ";
            println(`  ${mark} ${t.tag.padEnd(16)} ${formatBytes(t.size).padStart(10)} ${String(t.files).padStart(6)} files  ${t.created}  ${t.checksum}`);
          }
        }
      }
    });
}
