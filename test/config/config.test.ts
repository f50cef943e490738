import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configPath, formatConfig, loadConfig } from "../../src/config/config.js";
import type { Minus80Error } from "../../src/errors.js";
import { makeTempEnv, type TempEnv } from "../helpers/tempEnv.js";

let t: TempEnv;
beforeEach(() => {
  t = makeTempEnv();
  delete process.env.MINUS80_BASEDIR;
});
afterEach(() => t.cleanup());

function configErr(): Minus80Error {
  try {
    loadConfig();
  } catch (e) {
    return e as Minus80Error;
  }
  throw new Error("expected loadConfig to fail");
}

describe("config", () => {
  it("creates the file with the defaults and mode 0600 on first use", () => {
    expect(fs.existsSync(t.configFile)).toBe(false);
    const c = loadConfig();
    expect(fs.statSync(t.configFile).mode & 0o777).toBe(0o600);
    expect(c.basedir).toBe(path.join(t.home, ".minus80"));
    expect(c.cloud).toMatchObject({ endpoint: "https://s3.amazonaws.com", bucket: "minus80", prefix: "", region: "us-east-1", pathStyle: true });
    expect(c.cloud.accessKey).toBeUndefined();
    expect(c.cloud.secretKey).toBeUndefined();
  });

  it("uses ~/.minus80.conf when MINUS80_CONFIG is unset", () => {
    delete process.env.MINUS80_CONFIG;
    expect(configPath()).toBe(path.join(t.home, ".minus80.conf"));
  });

  it("lets the environment override the file and explicit options override both", () => {
    fs.writeFileSync(t.configFile, "options:\n  basedir: ~/fromfile\ncloud:\n  bucket: filebucket\n  endpoint: http://127.0.0.1:9\n");
    process.env.CLOUD_BUCKET = "envbucket";
    process.env.MINUS80_BASEDIR = "~/fromenv";
    const c = loadConfig();
    expect(c.cloud.bucket).toBe("envbucket");
    expect(c.basedir).toBe(path.join(t.home, "fromenv"));
    expect(c.cloud.endpoint).toBe("http://127.0.0.1:9");
    expect(loadConfig({ bucket: "explicit" }).cloud.bucket).toBe("explicit");
  });

  it("rejects malformed YAML naming the file, and never overwrites it", () => {
    fs.writeFileSync(t.configFile, "options: [unclosed\n");
    const e = configErr();
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain(t.configFile);
    expect(fs.readFileSync(t.configFile, "utf8")).toBe("options: [unclosed\n");
  });

  it("rejects a wrong type naming the key and what was expected", () => {
    fs.writeFileSync(t.configFile, "cloud:\n  path_style: sometimes\n");
    const e = configErr();
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain("cloud.path_style");
    expect(e.message).toContain("true or false");
  });

  it("cloud.catalog_on_push is off by default, on when the file says true, and refused when it is not a boolean", () => {
    expect(loadConfig().cloud.catalogOnPush).toBe(false);
    expect(fs.readFileSync(t.configFile, "utf8")).toContain("catalog_on_push: false");
    fs.writeFileSync(t.configFile, "cloud:\n  catalog_on_push: true\n");
    expect(loadConfig().cloud.catalogOnPush).toBe(true);
    expect(formatConfig(loadConfig())).toContain("catalog_on_push: true");
    expect(loadConfig({ catalogOnPush: false }).cloud.catalogOnPush).toBe(false);
    fs.writeFileSync(t.configFile, "cloud:\n  catalog_on_push: yes please\n");
    const e = configErr();
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain("cloud.catalog_on_push");
  });

  it("rejects an unknown storage engine in the endpoint", () => {
    fs.writeFileSync(t.configFile, "cloud:\n  endpoint: ftp://example.org\n");
    const e = configErr();
    expect(e.code).toBe("CONFIG");
    expect(e.message).toContain("cloud.endpoint");
  });

  it("never shows secrets and warns when a file holding one is world-readable", () => {
    fs.writeFileSync(t.configFile, "cloud:\n  access_key: AKIAEXAMPLEKEY\n  secret_key: s3cr3tValue\n", { mode: 0o644 });
    fs.chmodSync(t.configFile, 0o644);
    const c = loadConfig();
    expect(c.cloud.secretKey).toBe("s3cr3tValue");
    const shown = formatConfig(c);
    expect(shown).not.toContain("s3cr3tValue");
    expect(shown).not.toContain("AKIAEXAMPLEKEY");
    expect(c.warnings.join("\n")).toContain("chmod 600");
  });
});
