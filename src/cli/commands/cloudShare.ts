/**
 * `minus80 cloud share` (a link that lets anyone fetch one tag, or one raw
 * file, without keys until it expires) and `minus80 cloud index --rebuild`
 * (the listing readers without LIST see). Both need keys: `--from` is refused.
 * `--json` of share prints the URL, what it grants (`grants`, `kind`) and when it expires.
 */
import type { Command } from "commander";
import { DEFAULT_SHARE_SECONDS } from "../../cloud/share.js";
import { InvalidArgumentError } from "../../errors.js";
import { LATEST_TAG } from "../../freezer/manifest.js";
import { commandSignal } from "../cancel.js";
import { printJson, println } from "../output.js";
import { withCloud, writeCommand } from "./cloudCommon.js";

export function registerShareCommands(cloud: Command): void {
  writeCommand(cloud, "share", "print a URL that lets anyone fetch one tag (or with --raw one file) without keys, until it expires")
    .argument("<dtype>", "dtype, e.g. Cohort (with --raw: the file's category)")
    .argument("<name>", "dataset name (with --raw: the file's name)")
    .option("--tag <T>", `the tag to share (default ${LATEST_TAG})`)
    .option("--raw", "share a raw file: a URL curl or a browser fetch as the file itself")
    .option("--expires <DURATION>", `how long the link works: 30s, 90m, 2h, 7d (default and most: ${DEFAULT_SHARE_SECONDS / 86400}d)`)
    .action(async (dtype: string, name: string, opts: { tag?: string; raw?: boolean; expires?: string; json?: boolean }) => {
      if (opts.raw && opts.tag !== undefined) throw new InvalidArgumentError("--tag does not apply with --raw (raw files have no tags)");
      await withCloud(async (c) => {
        const signal = commandSignal();
        const link = opts.raw ? await c.shareRaw(dtype, name, { expires: opts.expires, signal }) : await c.share(dtype, name, { tag: opts.tag, expires: opts.expires, signal });
        if (opts.json) return printJson(link);
        println(link.url);
        process.stderr.write(`This link grants ${link.grants} to anyone who has it, until ${link.expires}: share it as you would a key.\n`);
      });
    });

  writeCommand(cloud, "index", "rebuild index.json, the listing that `cloud ls --from <URL>` reads (push, remove and gc keep it current)")
    .requiredOption("--rebuild", "rebuild it from a listing of the bucket (`cloud ls --from <URL>` shows what it lists)")
    .action(async (opts: { json?: boolean }) => {
      await withCloud(async (c) => {
        const index = await c.rebuildIndex({ signal: commandSignal() });
        if (opts.json) return printJson(index);
        let tags = 0;
        let datasets = 0;
        for (const names of Object.values(index.datasets)) for (const t of Object.values(names)) (datasets++, (tags += Object.keys(t).length));
        const raw = Object.values(index.raw).reduce((n, f) => n + Object.keys(f).length, 0);
        println(`Rebuilt the index of ${c.location}: ${datasets} dataset${datasets === 1 ? "" : "s"}, ${tags} tag${tags === 1 ? "" : "s"}, ${raw} raw file${raw === 1 ? "" : "s"}`);
      });
    });
}
