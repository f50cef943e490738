/**
 * Security checks:
 *
 * - secrets (secret key, access key, a password in the endpoint URL) never
 *   appear in the output of any cloud command — failing with a wrong
 *   secret (a real server that checks it), against a server that echoes
 *   the secret back in its error messages, against a closed port — nor in
 *   `config show`;
 * - no shell, child process or eval anywhere in src/ (a source scan);
 * - downloads never write through a symlink planted at the destination:
 *   a raw file's output, or a dataset's working copy.
 *
 * The config file's mode (0600) and the world-readable warning are tested
 * in test/config/config.test.ts; manifests naming `..`, absolute paths and
 * the like in the contract suite and test/property/.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { httpError, startFaultProxy, type FaultProxy } from "../helpers/faultProxy.js";
import { runCliAsync } from "../helpers/cliAsync.js";
import type { CloudTarget, TargetSettings } from "../helpers/s3servers.js";
import { envTarget, s3rverTarget } from "../helpers/s3servers.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { useTargetSession } from "../helpers/targetSession.js";
import { bump, newFigures, writeFigures } from "./figures.js";
import { closedPort, configYaml } from "../helpers/s3servers.js";
import { DTYPE, frozen, openCloud, pseudoRandomBytes, sha256, treeDigest } from "./support.js";

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../src");
const fig = newFigures("security", envTarget() ? `s3rver, ${process.env.MINUS80_TEST_S3_NAME ?? "S3"} ${process.env.MINUS80_TEST_S3_ENDPOINT}` : "s3rver");
afterAll(() => writeFigures(fig));

/** Every cloud command a user may run, with and without --json (each must fail or succeed without leaking). */
const COMMANDS: string[][] = [
  ["cloud", "ls"],
  ["cloud", "ls", "--raw", "--tags", "--json"],
  ["cloud", "ls", "--tags"],
  ["cloud", "push", "Cohort", "Leaky", "--tag", "v1"],
  ["cloud", "push", "Cohort", "Leaky", "--json"],
  ["cloud", "push", "fastq", "R1.fastq", "--raw"],
  ["cloud", "pull", "Cohort", "Leaky", "--tag", "v1"],
  ["cloud", "pull", "fastq", "R1.fastq", "--raw", "--output", "out.fastq"],
  ["cloud", "remove", "Cohort", "Leaky"],
  ["cloud", "gc", "--dry-run"],
  ["cloud", "gc", "--json"],
  ["cloud", "verify"],
  ["cloud", "verify", "Cohort", "Leaky", "--json"],
  ["cloud", "nuke", "--yes"],
  ["config", "show"],
];

describe("secrets never appear in output", () => {
  let env: TempEnv;
  let s3rver: CloudTarget;
  beforeAll(async () => {
    s3rver = await s3rverTarget();
  });
  afterAll(async () => {
    await s3rver?.stop();
  });
  beforeEach(() => {
    env = makeTempEnv();
  });
  afterEach(() => env.cleanup());

  /**
   * Runs every command with the config in `settings` (secret in the file, or
   * in CLOUD_SECRET_KEY), and checks no secret shows in stdout or stderr.
   * Returns the exit statuses.
   */
  async function sweep(
    what: string,
    settings: TargetSettings,
    secrets: string[],
    opts: { viaEnv?: boolean; expectFailure?: boolean; commands?: string[][] } = {},
  ): Promise<number[]> {
    const commands = opts.commands ?? COMMANDS;
    const dir = fs.mkdtempSync(path.join(env.root, "sweep-"));
    const basedir = path.join(dir, "freezer");
    const cfg = path.join(dir, "minus80.conf");
    const fileSettings = opts.viaEnv ? { ...settings, secretKey: undefined } : settings;
    fs.writeFileSync(cfg, configYaml(fileSettings, basedir), { mode: 0o600 });
    fs.writeFileSync(path.join(dir, "R1.fastq"), "@r1\nACGT\n+\nIIII\n");
    // A local dataset, so push has something to send.
    const { Freezer } = await import("../../src/freezer/freezer.js");
    const ds = new Freezer(basedir).dataset(DTYPE, "Leaky");
    ds.ensureCreated();
    fs.writeFileSync(path.join(ds.thawedDir, "a.txt"), "a");
    await ds.freeze("v1");
    const childEnv = { ...env.env, MINUS80_CONFIG: cfg, MINUS80_BASEDIR: basedir, ...(opts.viaEnv ? { CLOUD_SECRET_KEY: settings.secretKey } : {}) };
    const results = await Promise.all(commands.map((args) => runCliAsync(args, { env: childEnv, cwd: dir })));
    results.forEach((r, i) => {
      const out = r.stdout + r.stderr;
      fig.runs++;
      bump(fig.runsByKind, what);
      for (const s of secrets) {
        if (out.includes(s)) bump(fig.extra as Record<string, number>, "outputs leaking a secret");
        expect(out, `${commands[i]!.join(" ")} (${what}) printed a secret`).not.toContain(s);
      }
      expect(out).not.toMatch(/^\s+at .+\(.+:\d+:\d+\)$/m); // no stack trace
      if (opts.expectFailure && commands[i]![0] === "cloud") {
        expect(r.status, `${commands[i]!.join(" ")} (${what}): ${r.stderr}`).toBe(1);
        expect(r.stderr).toMatch(/^error: /m);
      }
      bump(fig.extra as Record<string, number>, `commands exiting ${r.status}`);
    });
    return results.map((r) => r.status);
  }

  it("with a wrong secret key on a server that checks it, every cloud command fails (exit 1) without printing any key", async (ctx) => {
    const target = envTarget();
    if (!target) return ctx.skip(); // s3rver never checks secrets: this needs MINUS80_TEST_S3_ENDPOINT (Ceph in CI)
    const settings = target.settings();
    const wrong = `wrongSecret${sha256(String(Date.now())).slice(0, 16)}`;
    await sweep("wrong secret (real server)", { ...settings, secretKey: wrong }, [wrong, settings.secretKey!, settings.accessKey!], { expectFailure: true });
    await sweep("wrong secret in CLOUD_SECRET_KEY (real server)", { ...settings, secretKey: wrong }, [wrong, settings.secretKey!, settings.accessKey!], { viaEnv: true, expectFailure: true });
  }, 120_000);

  it("a server that echoes the secret back in its error messages: every cloud command fails (exit 1) and the secret is redacted", async () => {
    const settings = s3rver.settings();
    const secret = `echoedSecret${sha256("echo").slice(0, 12)}`;
    const access = `AKIAECHOED${sha256("access").slice(0, 10).toUpperCase()}`;
    const u = new URL(settings.endpoint);
    let proxy: FaultProxy | undefined;
    try {
      proxy = await startFaultProxy({
        upstreamPort: Number(u.port),
        plan: httpError(403, {
          count: Infinity,
          code: "SignatureDoesNotMatch",
          message: `The request signature we calculated does not match. Key ${access}, secret ${secret}, StringToSign AWS4-HMAC-SHA256 ${secret}`,
        }),
      });
      await sweep("server echoing the secret (403)", { ...settings, endpoint: proxy.url, accessKey: access, secretKey: secret }, [secret, access], { expectFailure: true });
      expect(proxy.counters.faults.httpError).toBeGreaterThan(0);
      // A server error's message is quoted in minus80's own (after the retries): redacted there too.
      proxy.setPlan(httpError(500, { count: Infinity, code: "InternalError", message: `backend failure for ${access} using ${secret}` }));
      await sweep("server echoing the secret (500)", { ...settings, endpoint: proxy.url, accessKey: access, secretKey: secret }, [secret, access], {
        expectFailure: true,
        commands: [["cloud", "ls"], ["cloud", "push", "Cohort", "Leaky", "--tag", "v1"], ["cloud", "pull", "fastq", "R1.fastq", "--raw"], ["cloud", "verify", "--json"]],
      });
    } finally {
      await proxy?.close();
    }
  }, 120_000);

  it("a closed port, and a password inside the endpoint URL: every cloud command fails (exit 1) without printing the password or keys", async () => {
    const settings = s3rver.settings();
    const password = `urlPassw0rd${sha256("pw").slice(0, 8)}`;
    const secret = `closedPortSecret${sha256("cp").slice(0, 8)}`;
    const endpoint = `http://someone:${password}@127.0.0.1:${await closedPort()}`;
    const cloudCommands = COMMANDS.filter((c) => c[0] === "cloud");
    await sweep("closed port, password in URL", { ...settings, endpoint, secretKey: secret, accessKey: "AKIACLOSEDPORT1" }, [password, secret, "AKIACLOSEDPORT1"], {
      expectFailure: true,
      commands: cloudCommands,
    });
    await sweep("config show, keys", { ...settings, endpoint, secretKey: secret, accessKey: "AKIACLOSEDPORT1" }, [secret, "AKIACLOSEDPORT1"], { commands: [["config", "show"]] });
  }, 120_000);

  it("config show hides a password inside the endpoint URL", async () => {
    const password = `urlPassw0rd${sha256("pw2").slice(0, 8)}`;
    await sweep("config show, password in URL", { ...s3rver.settings(), endpoint: `http://someone:${password}@127.0.0.1:9` }, [password], {
      commands: [["config", "show"]],
    });
  }, 60_000);

  it("a working server: no command output contains the keys either (success paths, --json included)", async () => {
    const settings = s3rver.settings();
    // s3rver accepts any secret: make ours distinctive (the access key must stay S3RVER for it).
    const statuses = await sweep("working server", { ...settings, secretKey: `goodSecret${sha256("ok").slice(0, 10)}` }, [`goodSecret${sha256("ok").slice(0, 10)}`]);
    expect(statuses.filter((s) => s === 0).length).toBeGreaterThan(COMMANDS.length / 2);
  }, 120_000);
});

describe("no shell, child process or eval in src/", () => {
  function sources(dir: string): string[] {
    return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith(".ts")).map((f) => path.join(dir, f));
  }
  /** The code without comments (string contents kept: a module name is a string). */
  function code(file: string): string {
    return fs
      .readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
  }

  it("no module imports child_process, no shell: true, no eval or new Function, and every exec( is a RegExp's or constant SQL", () => {
    const files = sources(SRC);
    expect(files.length).toBeGreaterThan(20);
    const offences: string[] = [];
    for (const f of files) {
      const text = code(f);
      const rel = path.relative(SRC, f);
      if (/["'](node:)?child_process["']/.test(text)) offences.push(`${rel}: imports child_process`);
      if (/\bshell\s*:\s*true/.test(text)) offences.push(`${rel}: shell: true`);
      if (/\beval\s*\(|\bnew\s+Function\s*\(/.test(text)) offences.push(`${rel}: eval / new Function`);
      for (const m of text.matchAll(/([\w$.)\]/]*)\.?\bexec(Sync|File|FileSync)?\s*\(([^)]*)\)?/g)) {
        const [all, rawReceiver = "", variant, arg = ""] = m;
        const receiver = rawReceiver.replace(/\.$/, "");
        const regexCall = !variant && (/\/[gimsuy]*$/.test(receiver) || /(^|\.)[A-Z0-9_]*RE$/.test(receiver));
        const constantSql = !variant && /(^|\.)db$/.test(receiver) && /^[A-Z0-9_]+$/.test(arg.trim());
        if (!regexCall && !constantSql) offences.push(`${rel}: ${all.slice(0, 80)}`);
      }
    }
    fig.runs++;
    bump(fig.runsByKind, "source scan");
    fig.extra.sourceFilesScanned = files.length;
    expect(offences).toEqual([]);
  });

  it("the scan would catch an offence (self-test on planted text)", () => {
    const planted = ['import { exec } from "node:child_process";', "spawn(cmd, { shell: true });", "exec(`rm ${userInput}`);", "eval(x);"].join("\n");
    expect(/["'](node:)?child_process["']/.test(planted)).toBe(true);
    expect(/\bshell\s*:\s*true/.test(planted)).toBe(true);
    expect(/\beval\s*\(/.test(planted)).toBe(true);
  });
});

describe("downloads never write through a symlink at the destination", () => {
  const session = useTargetSession(s3rverTarget);
  const open = async (m: string) => {
    const c = await openCloud(session.env.configFile, session.settings, path.join(session.env.root, `freezer-${m}`));
    session.opened.push(c);
    return c;
  };

  it("a raw pull whose output is a symlink to a file elsewhere is refused, with or without --force, and the file is untouched", async () => {
    const a = await open("a");
    const src = path.join(session.env.root, "R1.fastq");
    fs.writeFileSync(src, "@r1\nACGT\n+\nIIII\n");
    await a.put(src, "fastq", { raw: true });
    const victim = path.join(session.env.root, "precious.txt");
    fs.writeFileSync(victim, "do not overwrite");
    const out = path.join(session.env.root, "dl", "R1.fastq");
    fs.mkdirSync(path.dirname(out));
    fs.symlinkSync(victim, out);
    for (const force of [false, true]) {
      const err = await a.get("R1.fastq", "fastq", { raw: true, output: out, force }).catch((e: { code?: string }) => e);
      fig.runs++;
      bump(fig.runsByKind, "symlink at raw output");
      expect((err as { code?: string }).code).toBe("FILE_EXISTS");
      expect(fs.readFileSync(victim, "utf8")).toBe("do not overwrite");
      expect(fs.lstatSync(out).isSymbolicLink()).toBe(true);
    }
  });

  it("a dataset pull over a working copy that is (or contains) a symlink to a folder elsewhere replaces the link, never writing into that folder", async () => {
    const a = await open("a");
    await frozen(a, "Linked", { "a.txt": "from the cloud", "sub/b.bin": pseudoRandomBytes(4, 1000) }, "v1");
    await a.put("Linked", DTYPE, { tag: "v1" });
    const outside = path.join(session.env.root, "outside");
    fs.mkdirSync(path.join(outside, "sub"), { recursive: true });
    fs.writeFileSync(path.join(outside, "a.txt"), "outside, keep");
    fs.writeFileSync(path.join(outside, "sub", "b.bin"), "outside too");
    const before = treeDigest(outside);

    const b = await open("b");
    await b.get("Linked", DTYPE, { tag: "v1" });
    const ds = b.freezer.dataset(DTYPE, "Linked");
    // The whole working copy replaced by a link, then only a subdirectory.
    for (const [what, link] of [
      ["working copy", ds.thawedDir],
      ["subdirectory", path.join(ds.thawedDir, "sub")],
    ] as const) {
      fs.rmSync(link, { recursive: true, force: true });
      fs.symlinkSync(what === "working copy" ? outside : path.join(outside, "sub"), link);
      await b.get("Linked", DTYPE, { tag: "v1", force: true });
      fig.runs++;
      bump(fig.runsByKind, `symlink as ${what}`);
      expect(treeDigest(outside)).toEqual(before);
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(false);
      expect(fs.readFileSync(path.join(ds.thawedDir, "a.txt"), "utf8")).toBe("from the cloud");
    }
  });
});
