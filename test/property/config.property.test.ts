/**
 * Properties of loadConfig over hostile config files: garbage and wrong-typed
 * values either load (when every value is of the right type) or are refused
 * with CONFIG naming the file and the key; the file is never modified; the
 * secret key never appears in an error, a warning or `config show`.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { DEFAULT_CONCURRENCY, formatConfig, loadConfig } from "../../src/config/config.js";
import { Minus80Error } from "../../src/errors.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { checkProperty } from "./fcConfig.js";

let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
  // validate the file's own basedir too (the environment would override it)
  delete process.env.MINUS80_BASEDIR;
});
afterEach(() => t.cleanup());

const alnum = fc.string({ unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), minLength: 12, maxLength: 24 });
/** Distinctive values: found in a message only if the secret leaked. */
const secretArb = alnum.map((s) => `SeCrEt${s}`);
const accessArb = alnum.map((s) => `AKIA${s}`);

interface Outcome {
  config?: ReturnType<typeof loadConfig>;
  error?: unknown;
}

/** Writes `content`, loads it, and checks the file and its directory are untouched. */
function loadFrom(content: string | Uint8Array, mode = 0o600): Outcome {
  fs.writeFileSync(t.configFile, content);
  fs.chmodSync(t.configFile, mode);
  const before = fs.readFileSync(t.configFile);
  const dirBefore = fs.readdirSync(t.home).sort();
  const out: Outcome = {};
  try {
    out.config = loadConfig();
  } catch (error) {
    out.error = error;
  }
  expect(fs.readFileSync(t.configFile).equals(before), "the config file was modified").toBe(true);
  expect(fs.statSync(t.configFile).mode & 0o777).toBe(mode);
  expect(fs.readdirSync(t.home).sort(), "files appeared next to the config file").toEqual(dirBefore);
  expect(fs.existsSync(t.basedir), "loadConfig created the base directory").toBe(false);
  return out;
}

function expectConfigError(error: unknown, secrets: string[]): Minus80Error {
  expect(error).toBeInstanceOf(Minus80Error);
  const e = error as Minus80Error;
  expect(e.code, e.message).toBe("CONFIG");
  expect(e.message).toContain(t.configFile);
  expect(e.data.file).toBe(t.configFile);
  expectNoSecret(`${e.message}\n${JSON.stringify(e.data)}`, secrets);
  return e;
}

function expectNoSecret(text: string, secrets: string[]): void {
  for (const s of secrets) expect(text.includes(s), `secret leaked in ${JSON.stringify(text.slice(0, 400))}`).toBe(false);
}

// ------------------------------------------------------------ structured configs

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom("None", "", "~", "true", "1", "null", "0o17", "0x1F", "1e3", "yes"),
  fc.array(fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxLength: 3 }),
  fc.dictionary(fc.string({ unit: "grapheme-ascii", maxLength: 5 }), fc.oneof(fc.string({ maxLength: 5 }), fc.integer()), { maxKeys: 2 }),
);
const str = fc.string({ maxLength: 30 });
const endpointArb = fc.oneof(
  fc.constantFrom("https://s3.amazonaws.com", "http://127.0.0.1:9000", "file:///srv/share", "HTTPS://Minio.Lab:443/", "s3://bucket", "ftp://x", "", "localhost:9000", "file:/x", "http:/x"),
  fc.webUrl(),
);

/** A value of the right type, or something else. */
const maybe = <T>(right: fc.Arbitrary<T>) => fc.option(fc.oneof({ weight: 3, arbitrary: right }, { weight: 1, arbitrary: anyValue }), { nil: undefined, freq: 4 });

const cloudArb = fc.record(
  {
    endpoint: maybe(endpointArb),
    bucket: maybe(str),
    prefix: maybe(fc.constantFrom("", "/", "a/b/", "/lab/", "x")),
    region: maybe(str),
    path_style: maybe(fc.boolean()),
    access_key: maybe(fc.oneof(accessArb, fc.constantFrom("None", ""))),
    secret_key: maybe(fc.oneof(secretArb, fc.constantFrom("None", ""))),
    concurrency: maybe(fc.integer({ min: -2, max: 64 })),
  },
  { requiredKeys: [] },
);
const optionsArb = fc.record({ basedir: maybe(fc.constantFrom("~/.minus80/", "~", "/tmp/m80", "rel/dir", "~/x y/é")) }, { requiredKeys: [] });
const configArb = fc.record(
  {
    options: fc.option(fc.oneof({ weight: 4, arbitrary: optionsArb }, { weight: 1, arbitrary: anyValue }), { nil: undefined, freq: 5 }),
    cloud: fc.option(fc.oneof({ weight: 4, arbitrary: cloudArb }, { weight: 1, arbitrary: anyValue }), { nil: undefined, freq: 5 }),
    extra: fc.option(anyValue, { nil: undefined }),
  },
  { requiredKeys: [] },
);

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const absent = (v: unknown) => v === undefined || v === null;

/** The keys docs/contract.md's schema says are wrong, by an independent reading of it. */
function wrongKeys(c: Record<string, unknown>): string[] {
  const bad: string[] = [];
  const opt = c.options;
  if (!absent(opt) && !isMapping(opt)) bad.push("options");
  if (isMapping(opt) && !absent(opt.basedir) && typeof opt.basedir !== "string") bad.push("options.basedir");
  const cl = c.cloud;
  if (!absent(cl) && !isMapping(cl)) bad.push("cloud");
  if (isMapping(cl)) {
    for (const k of ["bucket", "prefix", "region", "access_key", "secret_key"]) if (!absent(cl[k]) && typeof cl[k] !== "string") bad.push(`cloud.${k}`);
    if (!absent(cl.endpoint) && (typeof cl.endpoint !== "string" || !/^(https?|file):\/\//i.test(cl.endpoint))) bad.push("cloud.endpoint");
    if (!absent(cl.path_style) && typeof cl.path_style !== "boolean") bad.push("cloud.path_style");
    if (!absent(cl.concurrency) && !(typeof cl.concurrency === "number" && Number.isInteger(cl.concurrency) && cl.concurrency >= 1)) bad.push("cloud.concurrency");
  }
  return bad;
}

function secretsOf(c: Record<string, unknown>): string[] {
  const cl = c.cloud;
  if (!isMapping(cl)) return [];
  return [cl.secret_key, cl.access_key].filter((v): v is string => typeof v === "string" && v.length >= 12);
}

describe("loadConfig over generated config files", () => {
  it("loads exactly the configs whose values have the right types, refuses the rest with CONFIG naming the file and key, never changes the file", () => {
    checkProperty(
      fc.property(configArb, fc.constantFrom(0o600, 0o644), (c, mode) => {
        const doc = Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined));
        const text = stringify(doc);
        const secrets = secretsOf(doc);
        const bad = wrongKeys(doc);
        const r = loadFrom(text, mode);
        if (bad.length > 0) {
          expect(r.config, `accepted although ${bad.join(", ")} are wrong:\n${text}`).toBeUndefined();
          const e = expectConfigError(r.error, secrets);
          expect(bad, e.message).toContain(e.data.key);
          return;
        }
        if (r.error) throw r.error;
        const cfg = r.config!;
        const cl = isMapping(doc.cloud) ? doc.cloud : {};
        const opt = isMapping(doc.options) ? doc.options : {};
        const or = (v: unknown, d: unknown) => (absent(v) ? d : v);
        expect(cfg.file).toBe(t.configFile);
        expect(cfg.cloud.endpoint).toBe(or(cl.endpoint, "https://s3.amazonaws.com"));
        expect(cfg.cloud.bucket).toBe(or(cl.bucket, "minus80"));
        expect(cfg.cloud.region).toBe(or(cl.region, "us-east-1"));
        expect(cfg.cloud.pathStyle).toBe(or(cl.path_style, true));
        expect(cfg.cloud.concurrency).toBe(or(cl.concurrency, DEFAULT_CONCURRENCY));
        const prefix = String(or(cl.prefix, "")).replace(/^\/+|\/+$/g, "");
        expect(cfg.cloud.prefix).toBe(prefix === "" ? "" : `${prefix}/`);
        const key = (v: unknown) => (absent(v) || v === "None" || v === "" ? undefined : v);
        expect(cfg.cloud.secretKey).toBe(key(cl.secret_key));
        expect(cfg.cloud.accessKey).toBe(key(cl.access_key));
        const basedir = String(or(opt.basedir, "~/.minus80/"));
        const expanded = basedir === "~" ? os.homedir() : basedir.startsWith("~/") ? path.join(os.homedir(), basedir.slice(2)) : basedir;
        expect(cfg.basedir).toBe(path.resolve(expanded));
        // a secret in a file others can read is warned about, without showing it
        const hasSecret = key(cl.secret_key) !== undefined;
        expect(cfg.warnings.length > 0, `warnings ${JSON.stringify(cfg.warnings)}`).toBe(hasSecret && mode === 0o644);
        expectNoSecret(cfg.warnings.join("\n"), secrets);
        expectNoSecret(formatConfig(cfg), secrets);
      }),
      { numRuns: 600, name: "config.structured" },
    );
  });
});

// ------------------------------------------------------------ garbage

const TOKENS = [
  "options:", "cloud:", "  ", "    ", "\t", "\n", "\r\n", ": ", ":", "- ", "-", "? ", "{", "}", "[", "]", ",", "'", "\"", "#", "|", ">", "!", "!!str ",
  "!!binary ", "!!int ", "!!map ", "!!seq ", "!!set ", "!!omap ", "!custom ", "%YAML 1.2\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n", "basedir", "endpoint",
  "bucket", "secret_key", "access_key", "path_style", "concurrency", "None", "null", "~", "true", "yes", "0x1F", "1e309", "-.inf", ".nan", "\u0000", "\uFEFF",
  "\u0085", "\u2028", "é", "\u{1F600}", "\\", "\\u0000", "<<: ", "=", "@", "`",
];
/** `*` starts a YAML alias: aliases are the KNOWN BUG below, kept out of the garbage. */
const noAlias = (s: string) => !s.includes("*");
const garbageArb = fc
  .oneof(
    fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((a) => a.join("")),
    fc.string({ unit: "binary", maxLength: 200 }),
    fc.constantFrom("", "\n", "---", "- a\n- b\n", "just a string", "42", "cloud: [", "cloud:\n  - x\n", "options: 3\n", "\uFEFF"),
  )
  .filter(noAlias);

describe("loadConfig over garbage", () => {
  it("garbage text (without YAML aliases) loads or is refused with CONFIG naming the file; the secret beside it never leaks", () => {
    checkProperty(
      fc.property(secretArb, garbageArb, fc.boolean(), (secret, garbage, before) => {
        // a well-formed secret, then (or before) garbage: whatever the parser says, the secret stays hidden
        const valid = `cloud:\n  secret_key: ${secret}\n`;
        const text = before ? garbage + "\n" + valid : valid + garbage;
        const r = loadFrom(text);
        if (r.error) expectConfigError(r.error, [secret]);
        else {
          expectNoSecret(formatConfig(r.config!), [secret]);
          expectNoSecret(r.config!.warnings.join("\n"), [secret]);
        }
      }),
      { numRuns: 800, name: "config.garbage" },
    );
  });

  it("random bytes (invalid UTF-8, NUL, BOM) load or are refused with CONFIG, never another error", () => {
    checkProperty(
      fc.property(fc.uint8Array({ maxLength: 300 }).filter((b) => !b.includes(0x2a)), (bytes) => {
        const r = loadFrom(bytes);
        if (r.error) expectConfigError(r.error, []);
      }),
      { numRuns: 400, name: "config.bytes" },
    );
  });
});

// ------------------------------------------------------------ known bugs

describe("known bugs in src/config/config.ts (expected to fail until fixed)", () => {
  function errorOf(text: string): unknown {
    return loadFrom(text).error;
  }

  // A section of the wrong type is echoed whole by wrongType(): `cloud` written as a
  // list (an easy YAML slip) or a scalar puts the secret key into the error message.
  it("a 'cloud' section written as a list or scalar does not echo the secret key", () => {
    const secret = "SeCrEtListLeak123456";
    for (const text of [`cloud:\n  - secret_key: ${secret}\n`, `cloud: secret_key=${secret}\n`, `cloud:\n  secret_key: &s ${secret}\n  region: [*s]\n`]) {
      expectConfigError(errorOf(text), [secret]);
    }
  });

  // doc.toJS() throws a plain ReferenceError for an unresolved alias; it is not
  // turned into CONFIG, so the CLI prints "unexpected error ... this is a bug" with
  // exit 1, and the message holds the alias name: a secret that starts with `*`
  // (legal in MinIO/Ceph passwords) is printed in clear.
  // Random bytes hit it quickly: the two bytes "*\0" are enough.
  it("a secret key starting with '*' (an unresolved YAML alias) is refused with CONFIG without echoing it", () => {
    expectConfigError(errorOf("cloud:\n  secret_key: *SeCrEtStarLeak123\n"), ["SeCrEtStarLeak123"]);
  });

  it("the two bytes '*\\0' are refused with CONFIG", () => {
    expectConfigError(errorOf("*\0"), []);
  });

  // An alias bomb makes the yaml library throw ReferenceError("Excessive alias
  // count ..."); a self-referencing alias makes wrongType's JSON.stringify throw
  // TypeError("Converting circular structure to JSON"). Neither is CONFIG.
  it("an alias bomb or a circular alias is refused with CONFIG", () => {
    const bomb = ["a: &a [x,x,x,x,x,x,x,x,x]"];
    for (const [n, p] of [["b", "a"], ["c", "b"], ["d", "c"], ["e", "d"]]) bomb.push(`${n}: &${n} [${Array(9).fill(`*${p}`).join(",")}]`);
    expectConfigError(errorOf(bomb.join("\n") + "\n"), []);
    expectConfigError(errorOf("cloud:\n  region: &a [*a]\n"), []);
  });
});
