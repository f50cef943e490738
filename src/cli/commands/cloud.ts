/**
 * `minus80 cloud ls|push|pull|remove|gc|verify|nuke` (`share` and `index`: cloudShare.ts; `catalog`: cloudCatalog.ts): datasets and raw files in
 * S3-compatible storage (or a shared folder), `<dtype> <name>` as in the
 * library (`CloudData`). Each command passes the run's cancellation signal
 * (Ctrl-C, SIGTERM: see ../cancel.ts) to the library.
 */
import type { Command } from "commander";
import { PROTOCOL_GUARANTEE } from "../../cloud/createOnly.js";
import type { CloudTagListing } from "../../cloud/listing.js";
import type { VerifyReport } from "../../cloud/verify.js";
import { IntegrityError, InvalidArgumentError } from "../../errors.js";
import { LATEST_TAG } from "../../freezer/manifest.js";
import { formatSlug } from "../../names.js";
import { commandSignal } from "../cancel.js";
import { formatBytes, printJson, println, progressReporter } from "../output.js";
import { FROM_HELP, withCloud, withProgress, writeCommand, type Common } from "./cloudCommon.js";
import { formatDatasetListing, formatRawListing, formatVerifyReport, namesOnly } from "./cloudFormat.js";
import { collect, formatPullPlan, formatPushPlan, pullSelection, pulledLine, type SelectionFlags } from "./cloudPlan.js";
import { registerCatalogCommand, reportCatalog } from "./cloudCatalog.js";
import { registerShareCommands } from "./cloudShare.js";

export function registerCloudCommands(program: Command): void {
  const cloud = program.command("cloud").description("store, list and fetch datasets and raw files in S3-compatible storage");
  registerShareCommands(cloud);
  registerCatalogCommand(cloud);

  cloud
    .command("ls")
    .description("list the datasets (or raw files) in the cloud")
    .option("--dtype <D>", "only this dtype (exact)")
    .option("--name <N>", "only names starting with N")
    .option("--raw", "list raw files instead of datasets")
    .option("--tags", "show each dataset's tags (size, files, created, checksum); with --raw, each file's size and checksum")
    .option("--json", "machine-readable output")
    .option("--from <URL>", FROM_HELP)
    .action(async (opts: { dtype?: string; name?: string; raw?: boolean; tags?: boolean; json?: boolean; from?: string }) => {
      await withCloud(async (c) => {
        const filter = { dtype: opts.dtype, name: opts.name, signal: commandSignal() };
        if (opts.raw) {
          const files = await c.listRawFiles(filter);
          if (opts.json) return printJson(opts.tags ? files : namesOnly(files));
          return void process.stdout.write(formatRawListing(files, !!opts.tags));
        }
        if (opts.tags) {
          const tags = await c.listTags(filter);
          if (opts.json) return printJson(tags);
          return void process.stdout.write(formatDatasetListing(tags, true));
        }
        const names = await c.listDatasets(filter);
        if (opts.json) return printJson(names);
        const asTags: CloudTagListing = {};
        for (const [dtype, list] of Object.entries(names)) asTags[dtype] = Object.fromEntries(list.map((n) => [n, []]));
        process.stdout.write(formatDatasetListing(asTags, false));
      }, opts.from);
    });

  writeCommand(cloud, "push", "store a dataset (its working state as `latest` and every tag the cloud lacks, or one --tag) or, with --raw, a file")
    .argument("<dtype>", "dtype, e.g. Cohort (with --raw: a free category such as fastq)")
    .argument("<name>", "dataset name (with --raw: the file's path)")
    .option("--tag <T>", "push only this frozen tag")
    .option("--raw", "push a raw file")
    .option("--force", "with --raw: replace a different file of the same name")
    .option("--dry-run", "only say what would be sent (files, objects, bytes, requests); change nothing")
    .option("--quiet", "no progress bars")
    .action(async (dtype: string, name: string, opts: Common & { tag?: string; raw?: boolean; force?: boolean; dryRun?: boolean }) => {
      if (opts.force && !opts.raw) throw new InvalidArgumentError("--force applies only with --raw (pushed tags are immutable; push under a new --tag)");
      if (opts.dryRun && opts.raw) throw new InvalidArgumentError("--dry-run applies to datasets, not with --raw");
      await withCloud(async (c) => {
        const signal = commandSignal();
        if (opts.dryRun) {
          const plan = await c.push(dtype, name, { tag: opts.tag, dryRun: true, signal });
          return opts.json ? printJson(plan) : void process.stdout.write(formatPushPlan(plan));
        }
        if (opts.raw) {
          const r = await withProgress(opts, (onProgress) => c.pushRaw(dtype, name, { force: opts.force, onProgress, signal }));
          if (opts.json) return printJson(r);
          println(r.uploaded === 0 ? `${r.key} is already in the cloud with the same content; nothing uploaded` : `Pushed ${r.key} (${formatBytes(r.bytes)}, sha256 ${r.sha256.slice(0, 12)})`);
          return reportCatalog(r.catalog);
        }
        const r = await withProgress(opts, (onProgress) => c.push(dtype, name, { tag: opts.tag, onProgress, signal }));
        if (opts.json) return printJson(r.commit ? { ...r, guarantee: PROTOCOL_GUARANTEE[r.commit] } : r);
        const slug = formatSlug(dtype, name);
        const what = [...r.tags.map((t) => `${t} (new)`), ...r.unchanged.map((t) => `${t} (unchanged)`)].join(", ");
        const packs = r.packs > 0 ? `, the small ones in ${r.packs} pack${r.packs === 1 ? "" : "s"}` : "";
        println(`Pushed ${slug}: ${what || "nothing"}; ${r.uploaded} file${r.uploaded === 1 ? "" : "s"} uploaded (${formatBytes(r.bytes)}${packs}), ${r.skipped} already there`);
        if (r.commit === "read-back") process.stderr.write(`note: ${c.location} does not enforce create-only writes; ${PROTOCOL_GUARANTEE["read-back"]}\n`);
        reportCatalog(r.catalog);
      });
    });

  cloud
    .command("pull")
    .description("fetch a dataset tag (default latest) and thaw it, or with --raw a file")
    .argument("[dtype]", "dtype, e.g. Cohort (with --raw: the file's category; with a share link: the one it grants)")
    .argument("[name]", "dataset name (with --raw: the file's name)")
    .option("--tag <T>", `tag to fetch (default ${LATEST_TAG}, or the tag a share link grants)`)
    .option("--raw", "fetch a raw file")
    .option("--output <P>", "with --raw: where to write it (default: its name in the current directory)")
    .option("--force", "discard unsaved local changes / replace a different local file")
    .option("--include <GLOB>", "fetch only the files matching GLOB (repeatable)", collect)
    .option("--accessions <A,B>", "Cohort: fetch only these accessions' reads, plus the Cohort's tables (repeatable)", collect)
    .option("--where <key=value>", "Cohort: fetch only the reads of accessions whose metadata matches (repeatable, all must hold)", collect)
    .option("--dry-run", "only say what would be fetched (files, objects, bytes, requests, disk room); change nothing")
    .option("--quiet", "no progress bars")
    .option("--json", "machine-readable output")
    .option("--from <URL>", FROM_HELP)
    .action(async (dtypeArg: string | undefined, nameArg: string | undefined, opts: Common & SelectionFlags & { tag?: string; raw?: boolean; output?: string; force?: boolean; dryRun?: boolean }) => {
      if (opts.output !== undefined && !opts.raw) throw new InvalidArgumentError("--output applies only with --raw (a dataset is thawed into the local freezer)");
      if (opts.tag !== undefined && opts.raw) throw new InvalidArgumentError("--tag does not apply with --raw (raw files have no tags)");
      if (opts.dryRun && opts.raw) throw new InvalidArgumentError("--dry-run applies to datasets, not with --raw");
      if (dtypeArg !== undefined && nameArg === undefined) throw new InvalidArgumentError("cloud pull needs <dtype> and <name>");
      // Refused before anything is opened (opening may create the bucket); a share link's dtype is known only once it is read.
      const early = dtypeArg !== undefined ? pullSelection(dtypeArg, opts, opts.raw) : undefined;
      await withCloud(async (c) => {
        const signal = commandSignal();
        const dtype = dtypeArg ?? c.grant?.dtype;
        const name = nameArg ?? c.grant?.name;
        const tag = opts.tag ?? (dtypeArg === undefined ? c.grant?.tag : undefined);
        if (dtype === undefined || name === undefined) throw new InvalidArgumentError("cloud pull needs <dtype> <name> (only a share link, --from '<link>', names its own)");
        const selection = early ?? pullSelection(dtype, opts, opts.raw);
        if (opts.dryRun) {
          const plan = await c.pull(dtype, name, { tag, force: opts.force, ...selection, dryRun: true, signal });
          return opts.json ? printJson(plan) : void process.stdout.write(formatPullPlan(plan));
        }
        if (opts.raw) {
          const r = await withProgress(opts, (onProgress) => c.pullRaw(dtype, name, { output: opts.output, force: opts.force, onProgress, signal }));
          if (opts.json) return printJson({ ...r, raw: true });
          const check = r.verified === "sha256" ? "sha256 verified" : `size verified; the object records no sha256, its sha256 is ${r.sha256}`;
          println(r.downloaded === 0 ? `${r.path} already has the content of ${r.key}; nothing downloaded` : `Pulled ${r.key} to ${r.path} (${formatBytes(r.bytes)}, ${check})`);
          return;
        }
        const r = await withProgress(opts, (onProgress) => c.pull(dtype, name, { tag, force: opts.force, ...selection, onProgress, signal }));
        if (opts.json) return printJson(r);
        println(pulledLine(dtype, name, r));
      }, opts.from);
    });

  writeCommand(cloud, "remove", "remove a dataset's tags (all, or one --tag) or, with --raw, a file from the cloud; `cloud gc` reclaims the space")
    .argument("<dtype>", "dtype (with --raw: the file's category)")
    .argument("<name>", "dataset name (with --raw: the file's name)")
    .option("--tag <T>", "remove only this tag")
    .option("--raw", "remove a raw file")
    .action(async (dtype: string, name: string, opts: { tag?: string; raw?: boolean; json?: boolean }) => {
      await withCloud(async (c) => {
        const signal = commandSignal();
        const r = opts.raw ? await c.removeRaw(dtype, name, { signal }) : await c.removeDataset(dtype, name, { tag: opts.tag, signal });
        if (opts.json) return printJson(r);
        if (opts.raw) println(`Removed raw file ${dtype}/${name}`);
        else println(`Removed ${r.removed} tag${r.removed === 1 ? "" : "s"} of ${formatSlug(dtype, name)}${opts.tag ? ` (${opts.tag})` : ""}; run \`minus80 cloud gc\` to reclaim unused objects`);
      });
    });

  writeCommand(cloud, "gc", "delete objects no tag references (older than 24 h), stale unfinished uploads and the share objects of expired links")
    .option("--dry-run", "only report what would be deleted")
    .option("--repack", "also rewrite old packs that are mostly unreferenced, so that a later gc frees them")
    .action(async (opts: { dryRun?: boolean; repack?: boolean; json?: boolean }) => {
      await withCloud(async (c) => {
        const r = await c.gc({ dryRun: opts.dryRun, repack: opts.repack, signal: commandSignal() });
        if (opts.json) return printJson(r);
        const verb = r.dryRun ? "Would delete" : "Deleted";
        println(
          `${verb} ${r.deleted} unreferenced object${r.deleted === 1 ? "" : "s"} (${formatBytes(r.bytes)}), ${r.uploadsAborted} stale upload${r.uploadsAborted === 1 ? "" : "s"} ` +
            `and ${r.sharesExpired} expired share link${r.sharesExpired === 1 ? "" : "s"}; ` +
            `kept ${r.referenced} referenced by ${r.manifests} tag${r.manifests === 1 ? "" : "s"} and ${r.young} too recent to judge` +
            (r.packsDeleted + r.packsReferenced + r.packsYoung > 0
              ? `; packs: ${r.packsDeleted} ${r.dryRun ? "would be " : ""}deleted, ${r.packsReferenced} referenced, ${r.packsYoung} too recent to judge`
              : "") +
            (opts.repack
              ? `; repack: ${r.packsRepacked} pack${r.packsRepacked === 1 ? "" : "s"} ${r.dryRun ? "would be " : ""}repacked` +
                (r.dryRun ? "" : ` into ${r.packsWritten}, ${r.manifestsRewritten} manifest${r.manifestsRewritten === 1 ? "" : "s"} rewritten`) +
                `, ${formatBytes(r.repackFreeable)} freed by a gc once they are older than the grace period`
              : ""),
        );
      });
    });

  cloud
    .command("verify")
    .description("re-hash what the bucket holds: report every missing or damaged object (and the tags using it) and every invalid manifest; exit 1 if any")
    .argument("[dtype]", "only this dtype (default: every dataset, and the raw files)")
    .argument("[name]", "only this dataset")
    .option("--tag <T>", "only this tag (needs <dtype> <name>)")
    .option("--quiet", "no progress bars")
    .option("--json", "machine-readable output")
    .option("--from <URL>", FROM_HELP)
    .action(async (dtype: string | undefined, name: string | undefined, opts: Common & { tag?: string }) => {
      if (opts.tag !== undefined && name === undefined) throw new InvalidArgumentError("--tag needs <dtype> <name>: cloud verify <dtype> <name> --tag T");
      await withCloud(async (c) => {
        const progress = progressReporter({ quiet: opts.quiet || opts.json, bytesPhases: ["verify"] });
        let r: VerifyReport;
        try {
          r = await c.verify({ dtype, name, tag: opts.tag, onProgress: progress.listener, signal: commandSignal() });
        } finally {
          progress.stop();
        }
        if (opts.json) printJson(r);
        else process.stdout.write(formatVerifyReport(r));
        if (!r.ok) {
          const kinds = new Map<string, number>();
          for (const p of r.problems) kinds.set(p.kind, (kinds.get(p.kind) ?? 0) + 1);
          const list = [...kinds].map(([k, n]) => `${n} ${k.replace("_", " ")}`).join(", ");
          throw new IntegrityError(`verify found ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"} in ${r.location} (${list})`, {
            problems: r.problems.length,
          });
        }
      }, opts.from);
    });

  writeCommand(cloud, "nuke", "delete EVERYTHING minus80 stored under the configured bucket and prefix")
    .option("--yes", "confirm: this cannot be undone")
    .action(async (opts: { yes?: boolean; json?: boolean }) => {
      if (!opts.yes) throw new InvalidArgumentError("refusing to delete everything in the cloud without --yes (this cannot be undone)");
      await withCloud(async (c) => {
        const r = await c.nuke({ signal: commandSignal() });
        if (opts.json) return printJson(r);
        println(`Deleted ${r.deleted} object${r.deleted === 1 ? "" : "s"} from ${c.location}`);
      });
    });
}
