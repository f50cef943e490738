// Run by `npm pack` and `npm publish` (the `prepack` script): builds dist/
// from scratch, so the package holds exactly this tree's code and never a
// stale module an earlier build left behind.
import { execSync } from "node:child_process";
import fs from "node:fs";
import { fileURLToPath } from "node:url";

process.chdir(fileURLToPath(new URL("..", import.meta.url)));
// Child output goes to stderr: `npm pack --json` prints its JSON on stdout.
const run = (cmd) => execSync(cmd, { stdio: ["ignore", process.stderr, process.stderr] });

// A fresh clone has no node_modules: install the locked dependencies (TypeScript among them) first.
if (!fs.existsSync("node_modules/typescript/package.json")) run("npm ci --no-audit --no-fund");
fs.rmSync("dist", { recursive: true, force: true });
run("npm run build");
