/**
 * Every failure minus80 reports is a `Minus80Error` with a stable `code` and
 * structured `data` (the slug, tag, key or value it concerns). Callers switch
 * on `code`; the CLI maps codes to a message, a hint and an exit status in
 * one place (`cli/errorMessages.ts`).
 *
 * @example
 *   try { await cloud.get("TestCohort", "Cohort", { tag: "v9" }); }
 *   catch (e) { if (isMinus80Error(e) && e.code === "TAG_NOT_FOUND") ... }
 */
export type ErrorCode =
  | "INVALID_NAME"
  | "INVALID_ARGUMENT"
  | "CONFIG"
  | "DATASET_NOT_FOUND"
  | "TAG_NOT_FOUND"
  | "TAG_EXISTS"
  | "TAG_CONFLICT"
  | "UNSAVED_CHANGES"
  | "NOT_FOUND"
  | "FILE_EXISTS"
  | "INTEGRITY"
  | "LOCKED"
  | "CREDENTIALS"
  | "UNREACHABLE"
  | "BUCKET"
  | "CLOUD";

export type ErrorData = Record<string, unknown>;

export class Minus80Error extends Error {
  readonly code: ErrorCode;
  readonly data: ErrorData;

  constructor(code: ErrorCode, message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "Minus80Error";
    this.code = code;
    this.data = data;
  }
}

/** A name, tag, slug or other user value that breaks a rule. Nothing was changed. */
export class InvalidNameError extends Minus80Error {
  constructor(message: string, data: ErrorData) {
    super("INVALID_NAME", message, data);
    this.name = "InvalidNameError";
  }
}

export class InvalidArgumentError extends Minus80Error {
  constructor(message: string, data: ErrorData = {}) {
    super("INVALID_ARGUMENT", message, data);
    this.name = "InvalidArgumentError";
  }
}

/** The config file is malformed: names the file, the key and what was expected. */
export class ConfigError extends Minus80Error {
  constructor(message: string, data: ErrorData) {
    super("CONFIG", message, data);
    this.name = "ConfigError";
  }
}

export class DatasetNotFoundError extends Minus80Error {
  constructor(slug: string, where = "local freezer") {
    super("DATASET_NOT_FOUND", `dataset ${slug} does not exist in the ${where}`, { slug, where });
    this.name = "DatasetNotFoundError";
  }
}

export class TagNotFoundError extends Minus80Error {
  constructor(slug: string, tag: string, where = "local freezer") {
    super("TAG_NOT_FOUND", `tag ${slug}:${tag} does not exist in the ${where}`, { slug, tag, where });
    this.name = "TagNotFoundError";
  }
}

export class IntegrityError extends Minus80Error {
  constructor(message: string, data: ErrorData) {
    super("INTEGRITY", message, data);
    this.name = "IntegrityError";
  }
}

export function isMinus80Error(err: unknown): err is Minus80Error {
  return err instanceof Minus80Error;
}
