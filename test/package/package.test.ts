/**
 * The npm package, as a user gets it.
 *
 * `npm pack` runs on a clean copy of the repository (its tracked and new,
 * non-ignored files: what a fresh clone holds, with no node_modules and no
 * `dist/`), so `prepack` (install the locked dependencies, build) is what is
 * tested, and the checkout's own `dist/`, which the other suites run, is
 * never cleaned under them. The tarball is then
 * installed globally into an empty prefix and as a project's dependency, and
 * the installed `minus80` runs as a user would: `--version`, `--help`,
 * import → freeze → push → pull → thaw against a `file://` folder, and
 * `cloud ls`/`push` against an S3 endpoint with the AWS SDK's Node.js-version
 * warning left switched on, checking that nothing at all reaches stderr.
 *
 * better-sqlite3 (13+) ships N-API binaries in its npm package, so no install
 * compiles anything: with the npm cache warm after `npm ci`, this file costs
 * about 40 s of CPU (three installs from the cache and one tsc build; 20-75 s
 * of wall time here, depending on the load), so it runs in every `npm test`
 * on every Node.js line rather than in a separate CI step.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedS3, type EmbeddedS3 } from "../../src/demo/embeddedS3.js";
import { MIN_NODE_MAJOR } from "../../src/cli/main.js";
import { VERSION } from "../../src/version.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as PackageJson;
/** The Node.js range minus80 supports, as the README states it. */
const SUPPORTED_NODE = ">=22";

interface PackageJson {
  name: string;
  version: string;
  type: string;
  main: string;
  types: string;
  exports: Record<string, string | Record<string, string>>;
  bin: Record<string, string>;
  files: string[];
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): Run {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 240_000, ...opts });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Runs a command that must succeed, and returns its stdout. */
function ok(cmd: string, args: string[], opts: SpawnSyncOptions = {}): string {
  const r = run(cmd, args, opts);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`);
  return r.stdout;
}

/**
 * The environment of a nested npm: without the variables `npm test` sets for
 * its own script (npm_package_*, npm_lifecycle_*, INIT_CWD), which would
 * describe this checkout instead of the copy.
 */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) {
    if (/^npm_(package|lifecycle)_/i.test(k) || ["INIT_CWD", "npm_command", "npm_config_local_prefix"].includes(k)) delete env[k];
  }
  return env;
}

/** A user's environment: an empty HOME, none of the settings the suites use, the SDK's version warning not silenced. */
function userEnv(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = npmEnv();
  for (const k of Object.keys(env)) {
    if (/^(MINUS80_|CLOUD_|AWS_)/.test(k) || k === "NODE_OPTIONS" || k === "VITEST" || k.startsWith("VITEST_")) delete env[k];
  }
  // s3.ts only sets the SDK's switch when it is unset; "false" keeps the
  // warning on, so this proves the SDK itself has nothing to warn about here.
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "false";
  return { ...env, HOME: home, PATH: `${path.join(prefixDir, "bin")}${path.delimiter}${env.PATH ?? ""}`, ...extra };
}

let tmp: string;
let copyDir: string;
let prefixDir: string;
let tarball: string;
let unpacked: string;
let packedFiles: string[];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-package-"));
  copyDir = path.join(tmp, "clone");
  prefixDir = path.join(tmp, "prefix");
  // A clean copy: the files a clone would have, without node_modules or dist/
  // (prepack installs the locked dependencies, from the npm cache, and builds).
  const listed = ok("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: ROOT }).split("\0").filter(Boolean);
  for (const rel of listed) {
    const from = path.join(ROOT, rel);
    if (!fs.existsSync(from) || !fs.statSync(from).isFile()) continue; // deleted in the work tree, or a submodule
    fs.mkdirSync(path.dirname(path.join(copyDir, rel)), { recursive: true });
    fs.copyFileSync(from, path.join(copyDir, rel));
  }
  expect(fs.existsSync(path.join(copyDir, "dist"))).toBe(false);
  expect(fs.existsSync(path.join(copyDir, "node_modules"))).toBe(false);

  const out = path.join(tmp, "out");
  fs.mkdirSync(out);
  const packed = JSON.parse(ok("npm", ["pack", "--json", "--pack-destination", out], { cwd: copyDir, env: npmEnv() })) as Array<{ filename: string; files: Array<{ path: string; mode: number }> }>;
  tarball = path.join(out, packed[0]!.filename);
  packedFiles = packed[0]!.files.map((f) => f.path).sort();
  unpacked = path.join(tmp, "unpacked");
  fs.mkdirSync(unpacked);
  ok("tar", ["-xzf", tarball, "-C", unpacked]);
}, 240_000);

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe("package.json", () => {
  it("names the supported Node.js range in engines, and the README says the same", () => {
    expect(PKG.engines).toEqual({ node: SUPPORTED_NODE });
    expect(SUPPORTED_NODE).toBe(`>=${MIN_NODE_MAJOR}`); // the CLI warns below it
    const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
    expect(readme).toContain("Node.js 22");
    expect(readme).toMatch(/## Supported Node\.js/);
    // The running Node.js is one the range covers (CI runs this file on each line).
    expect(Number(process.versions.node.split(".")[0])).toBeGreaterThanOrEqual(22);
  });

  it("is an ESM package whose main, types, exports and bin point into what `files` ships", () => {
    expect(PKG.type).toBe("module");
    expect(PKG.files).toEqual(["dist/src", "!dist/src/demo", "!dist/**/*.map", "CHANGELOG.md"]);
    expect(PKG.main).toBe("dist/src/index.js");
    expect(PKG.types).toBe("dist/src/index.d.ts");
    expect(PKG.exports).toEqual({
      ".": { types: "./dist/src/index.d.ts", import: "./dist/src/index.js" },
      "./package.json": "./package.json",
    });
    expect(PKG.bin).toEqual({ minus80: "dist/src/cli/main.js" });
  });

  it("has the version the CLI prints, with a CHANGELOG section for it", () => {
    expect(PKG.version).toBe(VERSION);
    const changelog = fs.readFileSync(path.join(ROOT, "CHANGELOG.md"), "utf8");
    expect(changelog).toMatch(/^## \[Unreleased\]/m);
    expect(changelog).toContain(`## [${VERSION}]`);
  });

  it("builds before packing (prepack), from a clean tree", () => {
    const scripts = (PKG as unknown as { scripts: Record<string, string> }).scripts;
    expect(scripts.prepack).toBe("node scripts/prepack.mjs");
  });
});

describe("the tarball of a clean checkout", () => {
  it("holds the library, its declarations, the CLI, README, CHANGELOG and package.json, and nothing else", () => {
    for (const f of ["package.json", "README.md", "CHANGELOG.md", "dist/src/index.js", "dist/src/index.d.ts", "dist/src/cli/main.js"]) {
      expect(packedFiles).toContain(f);
    }
    const stray = packedFiles.filter(
      (f) => !["package.json", "README.md", "CHANGELOG.md"].includes(f) && !/^dist\/src\/.*\.(js|d\.ts)$/.test(f),
    );
    expect(stray).toEqual([]);
    // No demo (it needs the dev-only s3rver), bench, tests or source maps (their sources are not shipped).
    expect(packedFiles.filter((f) => /^dist\/src\/demo\/|^dist\/bench\/|^test\/|\.map$/.test(f))).toEqual([]);
    // Every module tsc built (but the demo) is shipped, with its declarations.
    const built = (fs.readdirSync(path.join(copyDir, "dist/src"), { recursive: true }) as string[])
      .map((f) => `dist/src/${f.split(path.sep).join("/")}`)
      .filter((f) => /\.(js|d\.ts)$/.test(f) && !f.startsWith("dist/src/demo/"))
      .sort();
    expect(packedFiles.filter((f) => f.startsWith("dist/"))).toEqual(built);
  });

  it("ships an executable CLI with a node shebang, and every relative import resolves inside the package", () => {
    const main = path.join(unpacked, "package/dist/src/cli/main.js");
    expect(fs.readFileSync(main, "utf8").split("\n")[0]).toBe("#!/usr/bin/env node");
    expect(fs.statSync(main).mode & 0o111).toBe(0o111);
    const missing: string[] = [];
    for (const f of packedFiles.filter((p) => p.endsWith(".js") || p.endsWith(".d.ts"))) {
      const text = fs.readFileSync(path.join(unpacked, "package", f), "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
        const target = path.join(path.dirname(path.join(unpacked, "package", f)), m[1]!);
        const candidates = f.endsWith(".d.ts") ? [target, target.replace(/\.js$/, ".d.ts")] : [target];
        if (!candidates.some((c) => fs.existsSync(c))) missing.push(`${f} -> ${m[1]}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("carries the package.json fields unchanged", () => {
    const shipped = JSON.parse(fs.readFileSync(path.join(unpacked, "package/package.json"), "utf8")) as PackageJson;
    for (const k of ["name", "version", "type", "main", "types", "exports", "bin", "files", "engines", "dependencies"] as const) {
      expect(shipped[k]).toEqual(PKG[k]);
    }
  });
});

describe("installed from the tarball", () => {
  let home: string;
  let s3: EmbeddedS3 | undefined;

  beforeAll(() => {
    home = path.join(tmp, "home");
    fs.mkdirSync(home);
    // --prefer-offline: the dependencies `npm ci` just put in the cache are used without asking the registry.
    ok("npm", ["install", "-g", "--prefix", prefixDir, "--prefer-offline", "--no-audit", "--no-fund", tarball], { env: npmEnv() });
  }, 240_000);

  afterAll(async () => {
    await s3?.stop();
  });

  const minus80 = (args: string[], extra: NodeJS.ProcessEnv = {}, cwd = home) =>
    run(path.join(prefixDir, "bin", "minus80"), args, { env: userEnv(home, extra), cwd });

  it("`npm install -g` puts a working minus80 on PATH: --version and --help, silent on stderr", () => {
    const v = minus80(["--version"]);
    expect(v).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: "" });
    const h = minus80(["--help"]);
    expect(h.status).toBe(0);
    expect(h.stderr).toBe("");
    for (const cmd of ["ls", "freeze", "thaw", "cohort", "cloud", "config"]) expect(h.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, "m"));
  });

  it("import → freeze → cloud push → delete → cloud pull, and a raw file, against a file:// folder, with nothing on stderr", () => {
    const cloudDir = path.join(tmp, "cloud");
    const env = { CLOUD_ENDPOINT: `file://${cloudDir}` };
    const yaml = path.join(home, "accessions.yaml");
    fs.writeFileSync(yaml, "S1:\n    files:\n        - /data/S1_R1.fastq.gz\n    metadata:\n        seqtype: novaseq\nS2:\n    files:\n        - /data/S2_R1.fastq.gz\n    metadata:\n        seqtype: hiseq\n");
    const reads = path.join(home, "R1.fastq");
    fs.writeFileSync(reads, "@r1\nACGT\n+\nIIII\n".repeat(1000));
    const steps: Array<[string[], RegExp | null]> = [
      [["cloud", "ls"], /Nothing here yet!/],
      [["cohort", "import", "TestCohort", yaml], /2 accessions/],
      [["freeze", "Cohort.TestCohort:v1"], null],
      [["cloud", "push", "Cohort", "TestCohort", "--tag", "v1"], null],
      [["cloud", "push", "fastq", reads, "--raw"], null],
      [["cloud", "ls"], /-----Cohort------\nTestCohort/],
      [["delete", "Cohort", "TestCohort", "--force"], null],
      [["ls"], /Nothing in the local freezer yet/],
      [["cloud", "pull", "Cohort", "TestCohort", "--tag", "v1"], null],
      [["cloud", "pull", "fastq", "R1.fastq", "--raw", "--output", path.join(home, "R1.back.fastq")], null],
    ];
    for (const [args, expected] of steps) {
      const r = minus80(args, env);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: "" });
      if (expected) expect(r.stdout).toMatch(expected);
    }
    const shown = JSON.parse(minus80(["cohort", "show", "TestCohort", "--json"], env).stdout) as unknown;
    expect(JSON.stringify(shown)).toContain("S1_R1.fastq.gz");
    expect(JSON.stringify(shown)).toContain("hiseq");
    expect(fs.readFileSync(path.join(home, "R1.back.fastq"))).toEqual(fs.readFileSync(reads));
    // The first use wrote the default config into the user's HOME.
    expect(fs.existsSync(path.join(home, ".minus80.conf"))).toBe(true);
  });

  it("`cloud ls` and `cloud push` against an http S3 endpoint print no warning (the AWS SDK's Node.js notice left on)", async () => {
    s3 = await startEmbeddedS3(path.join(tmp, "s3data"));
    const env = { CLOUD_ENDPOINT: s3.endpoint, CLOUD_BUCKET: "pkgtest", CLOUD_ACCESS_KEY: s3.accessKey, CLOUD_SECRET_KEY: s3.secretKey };
    const files = path.join(home, "s3.txt");
    fs.writeFileSync(files, "hello\n");
    for (const args of [["cloud", "ls"], ["cloud", "push", "txt", files, "--raw"], ["cloud", "ls", "--raw"]]) {
      // The CLI runs asynchronously here: the embedded server lives in this process.
      const r = await runAsync(path.join(prefixDir, "bin", "minus80"), args, userEnv(home, env), home);
      expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status: 0, stderr: "" });
    }
  });

  it("as a project's dependency: `npx minus80 --help` runs, and the library imports with its types", () => {
    const proj = path.join(tmp, "project");
    fs.mkdirSync(proj);
    fs.writeFileSync(path.join(proj, "package.json"), JSON.stringify({ name: "user-project", version: "1.0.0", private: true, type: "module" }));
    ok("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], { cwd: proj, env: npmEnv() });
    const env = userEnv(home);
    const h = run("npx", ["--yes=false", "minus80", "--help"], { cwd: proj, env });
    expect(h.status).toBe(0);
    expect(h.stdout).toContain("Usage: minus80");
    expect(h.stdout).toContain("Freeze, tag and share datasets");
    const probe = `import { Cohort, CloudData, Freezable } from "minus80"; console.log(typeof Cohort, typeof CloudData, typeof Freezable);`;
    const imp = run(process.execPath, ["--input-type=module", "-e", probe], { cwd: proj, env });
    expect({ status: imp.status, stdout: imp.stdout, stderr: imp.stderr }).toEqual({ status: 0, stdout: "function function function\n", stderr: "" });
    // The declarations resolve through `exports` under NodeNext, strict, as a TypeScript user compiles.
    fs.writeFileSync(
      path.join(proj, "use.ts"),
      [
        `import { Cohort, Accession, CloudData, type Minus80Error } from "minus80";`,
        `const c: Cohort = new Cohort("T");`,
        `c.add(new Accession("S1", { files: ["/x.fastq"], metadata: { seqtype: "novaseq" } }));`,
        `export async function f(): Promise<Record<string, string[]>> { return (await CloudData.open()).list(); }`,
        `export type E = Minus80Error["code"];`,
      ].join("\n"),
    );
    fs.writeFileSync(
      path.join(proj, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, types: ["node"], typeRoots: [path.join(ROOT, "node_modules/@types")] },
        files: ["use.ts"],
      }),
    );
    // Without skipLibCheck, so minus80's own declarations are checked too (a
    // missing types dependency makes them fail). An error inside another
    // package's declarations is that package's to fix, and not counted here.
    const tsc = run(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json", "--pretty", "false"], { cwd: proj, env });
    const errors = (tsc.stdout + tsc.stderr).split("\n").filter((l) => /error TS\d+/.test(l));
    const ours = errors.filter((l) => l.startsWith("use.ts") || l.startsWith("node_modules/minus80/") || !l.startsWith("node_modules/"));
    expect(ours).toEqual([]);
  });
});

/** spawn, collecting output, without blocking this process's event loop. */
async function runAsync(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<Run> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}
