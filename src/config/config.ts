/**
 * The configuration file (`$MINUS80_CONFIG`, else `~/.minus80.conf`, YAML),
 * created with defaults and mode 0600 on first use. Precedence, strongest
 * first: explicit overrides, environment variables, the file.
 *
 * @example
 *   const config = loadConfig();            // creates the file if missing
 *   config.basedir                          // "/home/me/.minus80"
 *   loadConfig({ bucket: "lab-data" })      // explicit override wins
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseDocument, stringify } from "yaml";
import { ConfigError } from "../errors.js";

export const DEFAULT_CONFIG_TEXT = `# minus80 configuration (YAML). Environment variables override it:
# MINUS80_BASEDIR, CLOUD_ENDPOINT, CLOUD_BUCKET, CLOUD_ACCESS_KEY, CLOUD_SECRET_KEY.
options:
  basedir: ~/.minus80/
cloud:
  endpoint: https://s3.amazonaws.com   # or any S3 endpoint, or file:///some/folder
  bucket: minus80
  prefix: ""                            # optional key prefix inside the bucket
  region: us-east-1
  path_style: true
  access_key: None                      # None: use the standard AWS credential chain
  secret_key: None
  catalog_on_push: false                # true: every push rewrites the catalog page (index.html)
`;

/**
 * Default number of transfers in flight. 32 rather than 16: on Ceph RGW a
 * push of 5,000 small objects took 20-23 s at 32 against 26-27 s at 16, and
 * the server spent less CPU on it (22-25 against 30-31 CPU-seconds); see BENCHMARKS.md.
 */
export const DEFAULT_CONCURRENCY = 32;

/**
 * Off: a push writes what it always wrote, at the same cost (rewriting the
 * page reads it back and every manifest new since it), and a bucket gets a page only when its owner
 * runs `cloud catalog`. On (`cloud.catalog_on_push: true`), every push
 * rewrites the page once its tag is visible.
 */
export const CATALOG_ON_PUSH_DEFAULT = false;

export interface CloudConfig {
  endpoint: string;
  bucket: string;
  prefix: string;
  region: string;
  pathStyle: boolean;
  /** undefined: use the AWS credential chain */
  accessKey?: string;
  secretKey?: string;
  /** transfers in flight at once */
  concurrency: number;
  /** rewrite the catalog page (`index.html`) after every push (`cloud.catalog_on_push`; default CATALOG_ON_PUSH_DEFAULT) */
  catalogOnPush: boolean;
}

export interface Config {
  /** the file the settings came from */
  file: string;
  /** absolute, `~` expanded */
  basedir: string;
  cloud: CloudConfig;
  /** things the user should know (e.g. a world-readable file holding a secret) */
  warnings: string[];
}

/** Explicit options: the strongest layer. */
export interface ConfigOverrides {
  configFile?: string;
  basedir?: string;
  endpoint?: string;
  bucket?: string;
  prefix?: string;
  region?: string;
  pathStyle?: boolean;
  accessKey?: string;
  secretKey?: string;
  concurrency?: number;
  catalogOnPush?: boolean;
}

/** Where the config file is: `$MINUS80_CONFIG`, else `~/.minus80.conf`. */
export function configPath(explicit?: string): string {
  const file = explicit ?? process.env.MINUS80_CONFIG ?? path.join(os.homedir(), ".minus80.conf");
  return path.resolve(expandHome(file));
}

/** `~/x` -> `$HOME/x` */
export function expandHome(p: string): string {
  if (p === "~") return os.homedir();
  if (p.startsWith("~/")) return path.join(os.homedir(), p.slice(2));
  return p;
}

const SUPPORTED_ENDPOINT = /^(https?|file):\/\//i;
/** A config file needs no YAML aliases; a handful is allowed, a "billion laughs" is not. */
const MAX_YAML_ALIASES = 50;

/** Reads (creating with defaults if missing) and validates the config. */
export function loadConfig(overrides: ConfigOverrides = {}): Config {
  const file = configPath(overrides.configFile);
  ensureConfigFile(file);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`config file ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"}): expected a YAML file`, { file, expected: "a readable file" });
  }
  const doc = parseDocument(text, { logLevel: "silent" });
  if (doc.errors.length > 0) {
    // The parser's message quotes the offending text, which may hold a secret: give only the line.
    const line = doc.errors[0]!.linePos?.[0]?.line;
    throw new ConfigError(`config file ${file} is not valid YAML${line ? ` (line ${line})` : ""}`, { file, expected: "YAML", line });
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {};
  } catch {
    throw new ConfigError(`config file ${file} is not valid YAML: an alias (*name) is undefined, circular or used too often`, { file, expected: "YAML without unresolved aliases" });
  }
  if (!isRecord(raw)) throw new ConfigError(`config file ${file}: expected a mapping at the top level`, { file, key: "", expected: "mapping" });

  const section = (key: string): Record<string, unknown> => {
    const v = raw[key];
    if (v === undefined || v === null) return {};
    if (!isRecord(v)) throw wrongType(file, key, "a mapping", v);
    return v;
  };
  const options = section("options");
  const cloud = section("cloud");
  const str = (obj: Record<string, unknown>, sec: string, key: string, dflt: string): string => {
    const v = obj[key];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== "string") throw wrongType(file, `${sec}.${key}`, "a string", v);
    return v;
  };
  const optionalSecret = (key: string): string | undefined => {
    const v = cloud[key];
    if (v === undefined || v === null || v === "None" || v === "") return undefined;
    if (typeof v !== "string") throw wrongType(file, `cloud.${key}`, "a string or None", v);
    return v;
  };
  const pathStyleRaw = cloud.path_style;
  if (pathStyleRaw !== undefined && pathStyleRaw !== null && typeof pathStyleRaw !== "boolean") {
    throw wrongType(file, "cloud.path_style", "true or false", pathStyleRaw);
  }
  const catalogRaw = cloud.catalog_on_push;
  if (catalogRaw !== undefined && catalogRaw !== null && typeof catalogRaw !== "boolean") {
    throw wrongType(file, "cloud.catalog_on_push", "true or false", catalogRaw);
  }
  const concurrencyRaw = cloud.concurrency;
  if (concurrencyRaw !== undefined && concurrencyRaw !== null && !(Number.isInteger(concurrencyRaw) && (concurrencyRaw as number) >= 1)) {
    throw wrongType(file, "cloud.concurrency", "a whole number of at least 1", concurrencyRaw);
  }

  const env = process.env;
  const basedir = overrides.basedir ?? env.MINUS80_BASEDIR ?? str(options, "options", "basedir", "~/.minus80/");
  const endpoint = overrides.endpoint ?? env.CLOUD_ENDPOINT ?? str(cloud, "cloud", "endpoint", "https://s3.amazonaws.com");
  if (!SUPPORTED_ENDPOINT.test(endpoint)) {
    throw new ConfigError(
      `unknown storage engine in endpoint ${JSON.stringify(redactEndpoint(endpoint))} (from ${file} key cloud.endpoint or CLOUD_ENDPOINT): expected an http://, https:// or file:/// URL`,
      { file, key: "cloud.endpoint", value: redactEndpoint(endpoint), expected: "http(s):// or file:/// URL" },
    );
  }
  const accessKey = overrides.accessKey ?? nonEmpty(env.CLOUD_ACCESS_KEY) ?? optionalSecret("access_key");
  const secretKey = overrides.secretKey ?? nonEmpty(env.CLOUD_SECRET_KEY) ?? optionalSecret("secret_key");

  const warnings: string[] = [];
  if (optionalSecret("secret_key") !== undefined) {
    const mode = fs.statSync(file).mode & 0o777;
    if (mode & 0o044) {
      warnings.push(`config file ${file} holds a secret key and is readable by others (mode ${mode.toString(8)}): run chmod 600 ${file}`);
    }
  }

  return {
    file,
    basedir: path.resolve(expandHome(basedir)),
    cloud: {
      endpoint,
      bucket: overrides.bucket ?? nonEmpty(env.CLOUD_BUCKET) ?? str(cloud, "cloud", "bucket", "minus80"),
      prefix: normalizePrefix(overrides.prefix ?? str(cloud, "cloud", "prefix", "")),
      region: overrides.region ?? str(cloud, "cloud", "region", "us-east-1"),
      pathStyle: overrides.pathStyle ?? (pathStyleRaw as boolean | undefined) ?? true,
      accessKey,
      secretKey,
      concurrency: overrides.concurrency ?? (concurrencyRaw as number | undefined) ?? DEFAULT_CONCURRENCY,
      catalogOnPush: overrides.catalogOnPush ?? (catalogRaw as boolean | undefined) ?? CATALOG_ON_PUSH_DEFAULT,
    },
    warnings,
  };
}

/**
 * An endpoint URL as safe to print: a password written inside it
 * (`https://user:pass@host`) becomes `***`.
 *
 * @example redactEndpoint("http://me:pw@127.0.0.1:7480") // "http://me:***@127.0.0.1:7480"
 */
export function redactEndpoint(endpoint: string | undefined): string | undefined {
  if (!endpoint) return endpoint;
  try {
    const url = new URL(endpoint);
    if (!url.password) return endpoint;
    url.password = "***";
    return url.toString().replace(/\/$/, endpoint.endsWith("/") ? "/" : "");
  } catch {
    // Not a URL we can parse: hide anything between "//" and "@", where a password would sit.
    return endpoint.replace(/\/\/[^/@]*@/, "//***@");
  }
}

/** The config as safe to print: secrets replaced by `***`. */
export function redactedConfig(config: Config): Record<string, unknown> {
  return {
    file: config.file,
    options: { basedir: config.basedir },
    cloud: {
      endpoint: redactEndpoint(config.cloud.endpoint),
      bucket: config.cloud.bucket,
      prefix: config.cloud.prefix,
      region: config.cloud.region,
      path_style: config.cloud.pathStyle,
      access_key: config.cloud.accessKey === undefined ? "None" : "***",
      secret_key: config.cloud.secretKey === undefined ? "None" : "***",
      concurrency: config.cloud.concurrency,
      catalog_on_push: config.cloud.catalogOnPush,
    },
  };
}

export function formatConfig(config: Config): string {
  return stringify(redactedConfig(config));
}

/** Creates the file with defaults (0600) if it does not exist; never overwrites. */
function ensureConfigFile(file: string): void {
  if (fs.existsSync(file)) return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, DEFAULT_CONFIG_TEXT, { mode: 0o600 });
  try {
    // link() fails if another process created the file meanwhile: theirs stays.
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  return trimmed === "" ? "" : `${trimmed}/`;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === "" ? undefined : v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Names what was found by its kind only: a wrong-typed section or key may hold a secret. */
function wrongType(file: string, key: string, expected: string, got: unknown): ConfigError {
  const kind = Array.isArray(got) ? "a list" : got === null ? "null" : typeof got === "object" ? "a mapping" : `a ${typeof got}`;
  return new ConfigError(`config file ${file}: key ${key} should be ${expected}, got ${kind}`, { file, key, expected });
}
