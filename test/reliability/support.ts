/**
 * Shared pieces of the reliability tests: the storage targets, opening a
 * CloudData on one, building datasets, hashing trees, running the CLI.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { CloudData, type CloudOpenOptions } from "../../src/cloud/cloudData.js";
import type { TagManifest } from "../../src/freezer/manifest.js";
import { runCliAsync } from "../helpers/cliAsync.js";
import type { CliResult } from "../helpers/cli.js";
import { configYaml, envTarget, folderTarget, s3rverTarget, type CloudTarget, type TargetSettings } from "../helpers/s3servers.js";

export const DTYPE = "Cohort";
export const MiB = 1024 * 1024;
/** Quick retries, so failing tests fail fast. */
export const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 50 };

export const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");

export type TargetKind = "folder" | "s3rver" | "env";

/** [label, start] for each wanted target that can run here (env only when MINUS80_TEST_S3_* is set). */
export function targets(kinds: TargetKind[] = ["folder", "s3rver", "env"]): Array<[string, () => Promise<CloudTarget>]> {
  const out: Array<[string, () => Promise<CloudTarget>]> = [];
  if (kinds.includes("folder")) out.push(["folder", folderTarget]);
  if (kinds.includes("s3rver")) out.push(["s3rver", s3rverTarget]);
  const env = kinds.includes("env") ? envTarget() : undefined;
  if (env) out.push([serverName(env), async () => env]);
  return out;
}

/** A short server name for figures: "s3rver", "folder", or MINUS80_TEST_S3_NAME / the endpoint. */
export function serverName(t: CloudTarget): string {
  if (t.name.startsWith("env ")) return `${process.env.MINUS80_TEST_S3_NAME ?? "S3"} ${t.name.slice(4)}`;
  return t.name;
}

/** Opens a CloudData on `settings` with its own base directory. */
export function openCloud(configFile: string, settings: TargetSettings, basedir: string, extra: Partial<CloudOpenOptions> = {}): Promise<CloudData> {
  return CloudData.open({ configFile, basedir, ...settings, retry: FAST_RETRY, ...extra });
}

/** Writes files into a dataset's working copy (creating it) and freezes them as `tag` when given. */
export async function frozen(cloud: CloudData, name: string, files: Record<string, string | Buffer>, tag?: string, remove: string[] = []): Promise<TagManifest | undefined> {
  const ds = cloud.freezer.dataset(DTYPE, name);
  ds.ensureCreated();
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(ds.thawedDir, rel)), { recursive: true });
    fs.writeFileSync(path.join(ds.thawedDir, rel), content);
  }
  for (const rel of remove) fs.rmSync(path.join(ds.thawedDir, rel), { force: true });
  return tag === undefined ? undefined : ds.freeze(tag);
}

/** Every file under `dir` -> sha256 (symlinks as "link:<target>"), leaving out the working copy's hash cache. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
    const p = path.join(dir, rel);
    if (path.basename(p) === "statcache.json") continue;
    const st = fs.lstatSync(p);
    if (st.isSymbolicLink()) out[rel] = `link:${fs.readlinkSync(p)}`;
    else if (st.isFile()) out[rel] = sha256(fs.readFileSync(p));
  }
  return out;
}

/** The expected working copy of a tag: relative path -> sha256. */
export function manifestDigest(m: TagManifest): Record<string, string> {
  return Object.fromEntries(Object.entries(m.files).map(([p, e]) => [p, e.sha256]));
}

export { expectCode } from "../helpers/assertions.js";


/** Runs the built CLI with a config file for `settings` (written 0600 into `dir`). */
export function cliOn(dir: string, settings: TargetSettings, basedir: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const cfg = path.join(dir, `cli-${sha256(JSON.stringify(settings) + basedir).slice(0, 8)}.conf`);
  fs.writeFileSync(cfg, configYaml(settings, basedir), { mode: 0o600 });
  return runCliAsync(args, { env: { ...env, MINUS80_CONFIG: cfg, MINUS80_BASEDIR: basedir }, cwd: dir });
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for MiBs. */
export function pseudoRandomBytes(seed: number, size: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, size);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
