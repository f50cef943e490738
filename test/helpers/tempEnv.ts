/**
 * A fresh temporary HOME, config file and base directory for one test, so
 * no test sees another's files or the developer's own ~/.minus80.conf.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export interface TempEnv {
  root: string;
  home: string;
  configFile: string;
  basedir: string;
  /** environment for a child process using this sandbox */
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

const VARS = ["HOME", "MINUS80_CONFIG", "MINUS80_BASEDIR", "CLOUD_ENDPOINT", "CLOUD_BUCKET", "CLOUD_ACCESS_KEY", "CLOUD_SECRET_KEY"];

/** Creates the sandbox and points this process's environment at it. */
export function makeTempEnv(): TempEnv {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-test-"));
  const home = path.join(root, "home");
  fs.mkdirSync(home);
  const configFile = path.join(home, ".minus80.conf");
  const basedir = path.join(root, "freezer");
  const saved = Object.fromEntries(VARS.map((v) => [v, process.env[v]]));
  for (const v of VARS) delete process.env[v];
  process.env.HOME = home;
  process.env.MINUS80_CONFIG = configFile;
  process.env.MINUS80_BASEDIR = basedir;
  return {
    root,
    home,
    configFile,
    basedir,
    env: { ...process.env },
    cleanup() {
      for (const v of VARS) {
        if (saved[v] === undefined) delete process.env[v];
        else process.env[v] = saved[v];
      }
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
