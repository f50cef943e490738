/**
 * The CLI over random bad names, tags and slugs: exit status exactly 2, one
 * `error:` message naming the value, no stack trace, no raw control
 * characters, and not one byte changed under the sandbox (base directory,
 * HOME, config file). Runs the built binary (`npx tsc -p .` first).
 *
 * Each case spawns a process, so the run counts are small; the seed is fixed
 * (MINUS80_SEED overrides it) and printed on failure.
 */
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { CLI, runCli, type CliResult } from "../helpers/cli.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";
import { snapshotTree } from "../helpers/tree.js";
import { NAME_ORACLE, RAW_C0, SLUG_ORACLE, isWellFormed, nastyString, validName, validTag } from "./arbitraries.js";
import { checkProperty } from "./fcConfig.js";

const RUNS = 25;

const ACCESSIONS = `10F:
    files:
        - /data/10_F_R1.fastq.gz
    metadata:
        seqtype: novaseq
`;

/** A sandbox with a config file and two real datasets (one frozen), so "nothing changed" means something. */
function populatedSandbox(): TempEnv {
  const t = makeTempEnv();
  loadConfig(); // creates the config file now, not during a test case
  const yaml = path.join(t.root, "accessions.yaml");
  fs.writeFileSync(yaml, ACCESSIONS);
  for (const args of [["cohort", "import", "Keep1", yaml], ["cohort", "import", "Keep2", yaml], ["freeze", "Cohort.Keep1:v1"]]) {
    const r = runCli(args, { env: t.env });
    if (r.status !== 0) throw new Error(`setup \`minus80 ${args.join(" ")}\` failed (${r.status}): ${r.stderr}`);
  }
  return t;
}

/** Values that can be passed in argv (no NUL, valid UTF-16). */
const argString = nastyString.filter((s) => !s.includes("\0") && isWellFormed(s));

/** Slugs that must be refused when a tag is required. */
const badSlug = fc
  .oneof(
    argString,
    fc.tuple(fc.oneof(validName, argString), fc.constantFrom(".", ":", "", ".."), fc.oneof(validName, argString), fc.constantFrom(":", "", ".", "::"), fc.oneof(validTag, argString)).map((a) => a.join("")),
    fc.tuple(validName, validName).map(([d, n]) => `${d}.${n}`), // no tag
  )
  .filter((s) => {
    const m = SLUG_ORACLE.exec(s);
    return !isWellFormed(s) || s.includes("\0") ? false : m === null || m[3] === undefined;
  });

/** Names that are not a name, nor a glob pattern of name characters (`delete` and `ls` accept globs). */
const GLOB_OK = /^[A-Za-z0-9_*?[\]!-]{1,128}$/;
const badName = argString.filter((s) => !NAME_ORACLE.test(s) && !GLOB_OK.test(s) && s !== "");

function expectUsageError(r: CliResult, args: string[], named: string[]): void {
  const what = `minus80 ${args.map((a) => JSON.stringify(a)).join(" ")}\n--- stderr ---\n${r.stderr}`;
  expect(r.status, what).toBe(2);
  expect(r.stderr.startsWith("error:"), what).toBe(true);
  expect(r.stderr, what).not.toContain("    at ");
  expect(r.stdout, what).toBe("");
  // JSON-quoted values: a bad name cannot write control sequences to the terminal
  expect(r.stderr.replace(/\n/g, ""), what).not.toMatch(RAW_C0);
  expect(
    named.some((v) => r.stderr.includes(JSON.stringify(v))),
    `${what}\nnames none of ${JSON.stringify(named)}`,
  ).toBe(true);
}

function slugParts(slug: string): string[] {
  const colon = slug.indexOf(":");
  const head = colon === -1 ? slug : slug.slice(0, colon);
  const dot = head.indexOf(".");
  return [slug, head, ...(dot === -1 ? [] : [head.slice(0, dot), head.slice(dot + 1)]), ...(colon === -1 ? [] : [slug.slice(colon + 1)])];
}

const cliBuilt = fs.existsSync(CLI) && runCli(["--version"]).status === 0;

describe.runIf(cliBuilt)("the CLI refuses bad names with exit status 2 and touches nothing", () => {
  let t: TempEnv;
  let before: Record<string, string>;
  beforeAll(() => {
    t = populatedSandbox();
    before = snapshotTree(t.root);
  });
  afterAll(() => t?.cleanup());

  function run(args: string[], named: string[]): void {
    const r = runCli(args, { env: t.env });
    expectUsageError(r, args, named);
    expect(snapshotTree(t.root), `minus80 ${args.map((a) => JSON.stringify(a)).join(" ")} changed the sandbox`).toEqual(before);
  }

  for (const cmd of ["freeze", "thaw"] as const) {
    it(`${cmd} <bad slug>`, () => {
      checkProperty(
        fc.property(badSlug, fc.boolean(), (slug, force) => {
          const args = [cmd, ...(cmd === "thaw" && force ? ["--force"] : []), "--", slug];
          run(args, slugParts(slug));
        }),
        { numRuns: RUNS, name: `cli.${cmd}` },
      );
    });
  }

  it("delete <bad dtype or name> --force", () => {
    checkProperty(
      fc.property(badName, fc.constantFrom("Cohort", "*", "Keep1"), fc.boolean(), (bad, good, badFirst) => {
        const [dtype, name] = badFirst ? [bad, good] : [good === "Keep1" ? "Cohort" : good, bad];
        run(["delete", "--force", "--", dtype, name], [bad]);
      }),
      { numRuns: RUNS, name: "cli.delete" },
    );
  });

  it("cohort show <bad name>", () => {
    checkProperty(
      fc.property(argString.filter((s) => !NAME_ORACLE.test(s)), fc.boolean(), (name, json) => {
        run(["cohort", "show", ...(json ? ["--json"] : []), "--", name], [name]);
      }),
      { numRuns: RUNS, name: "cli.cohortShow" },
    );
  });

  it("ls --dtype <bad pattern>", () => {
    checkProperty(
      fc.property(badName, fc.boolean(), (dtype, tags) => {
        run(["ls", `--dtype=${dtype}`, ...(tags ? ["--tags"] : [])], [dtype]);
      }),
      { numRuns: RUNS, name: "cli.lsDtype" },
    );
  });

  it("the sandbox's datasets are all still there", () => {
    const ls = runCli(["ls", "--json"], { env: t.env });
    expect(ls.status).toBe(0);
    expect((JSON.parse(ls.stdout) as Array<{ name: string }>).map((d) => d.name)).toEqual(["Keep1", "Keep2"]);
  });

  // KNOWN BUG (src/freezer/freezer.ts matcher(): an empty pattern means "no filter"):
  // `minus80 delete Cohort "" --force` — e.g. a script with an unset $NAME — deletes
  // EVERY Cohort with all its tags and exits 0; `delete "" "" --force` empties the
  // freezer. docs/contract.md: a name is 1-128 characters; "" must be refused (exit 2).
  it("delete with an empty dtype or name is refused and deletes nothing", () => {
    const own = populatedSandbox();
    try {
      const snap = snapshotTree(own.root);
      for (const args of [["delete", "--force", "Cohort", ""], ["delete", "--force", "", "Keep1"], ["delete", "--force", "", ""]]) {
        const r = runCli(args, { env: own.env });
        expect(r.status, `${args.join(" ")}: ${r.stdout}${r.stderr}`).toBe(2);
        expect(snapshotTree(own.root)).toEqual(snap);
      }
    } finally {
      own.cleanup();
    }
  });
});

describe.runIf(!cliBuilt)("the CLI property tests", () => {
  it("need the built binary: run `npx tsc -p .` (dist/src/cli/main.js is missing or does not load)", () => {
    expect.fail(`${CLI} is missing or does not load; build with \`npx tsc -p .\``);
  });
});
