/** `minus80 freeze <dtype>.<name>:<tag>` and `minus80 thaw <dtype>.<name>:<tag> [--force]`. */
import type { Command } from "commander";
import { Freezer } from "../../freezer/freezer.js";
import { totalSize } from "../../freezer/manifest.js";
import { parseSlug } from "../../names.js";
import { commandSignal } from "../cancel.js";
import { formatBytes, println, progressReporter } from "../output.js";

export function registerFreezeCommands(program: Command): void {
  program
    .command("freeze")
    .description("freeze a dataset's working copy as an immutable tag")
    .argument("<slug>", "<dtype>.<name>:<tag>, e.g. Cohort.TestCohort:v1")
    .option("--quiet", "no progress bars")
    .action(async (slug: string, opts: { quiet?: boolean }) => {
      const { dtype, name, tag } = parseSlug(slug, { requireTag: true });
      const ds = Freezer.open().existing(dtype, name);
      const progress = progressReporter({ quiet: opts.quiet });
      try {
        const m = await ds.freeze(tag!, { onProgress: progress.listener, signal: commandSignal() });
        progress.stop();
        println(`Froze ${slug}: ${Object.keys(m.files).length} files, ${formatBytes(totalSize(m.files))}, checksum ${m.total.slice(0, 12)}`);
      } finally {
        progress.stop();
      }
    });

  program
    .command("thaw")
    .description("restore a dataset's working copy to a tag")
    .argument("<slug>", "<dtype>.<name>:<tag>, e.g. Cohort.TestCohort:v1")
    .option("--force", "discard unsaved changes in the working copy")
    .option("--quiet", "no progress bars")
    .action(async (slug: string, opts: { force?: boolean; quiet?: boolean }) => {
      const { dtype, name, tag } = parseSlug(slug, { requireTag: true });
      const ds = Freezer.open().existing(dtype, name);
      const progress = progressReporter({ quiet: opts.quiet });
      try {
        await ds.thaw(tag!, { force: opts.force, onProgress: progress.listener, signal: commandSignal() });
      } finally {
        progress.stop();
      }
      println(`Thawed ${slug}`);
    });
}
