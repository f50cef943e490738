/**
 * The naming rules of docs/contract.md, checked before anything is touched.
 * Every refusal names the bad value and the rule it breaks.
 */
import { InvalidNameError } from "./errors.js";

export const MAX_NAME_LENGTH = 128;
export const MAX_RAW_NAME_LENGTH = 255;

const NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;
const TAG_RE = /^[A-Za-z0-9_.-]{1,128}$/;
// C0, DEL and C1 control characters
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f]/;

export const NAME_RULE = "1-128 characters of letters, digits, '_' and '-'";
export const TAG_RULE = "1-128 characters of letters, digits, '_', '-' and '.', not '.' or '..'";
export const RAW_NAME_RULE = "1-255 characters (at most 255 bytes as UTF-8), no '/', '\\' or control characters, not '.' or '..'";

/** The value as quoted in a message; a non-string is named by its type only. */
function show(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : `(a ${value === null ? "null" : typeof value}, not a string)`;
}

/** Throws INVALID_NAME unless `value` is a valid dtype. */
export function checkDtype(value: string): string {
  if (typeof value !== "string" || !NAME_RE.test(value)) {
    throw new InvalidNameError(`invalid dtype ${show(value)}: a dtype is ${NAME_RULE}`, { kind: "dtype", value, rule: NAME_RULE });
  }
  return value;
}

/** Throws INVALID_NAME unless `value` is a valid dataset name. */
export function checkName(value: string): string {
  if (typeof value !== "string" || !NAME_RE.test(value)) {
    throw new InvalidNameError(`invalid name ${show(value)}: a name is ${NAME_RULE}`, { kind: "name", value, rule: NAME_RULE });
  }
  return value;
}

/** Throws INVALID_NAME unless `value` is a valid tag. */
export function checkTag(value: string): string {
  if (typeof value !== "string" || !TAG_RE.test(value) || value === "." || value === "..") {
    throw new InvalidNameError(`invalid tag ${show(value)}: a tag is ${TAG_RULE}`, { kind: "tag", value, rule: TAG_RULE });
  }
  return value;
}

/** Throws INVALID_NAME unless `value` can be a raw file's stored name. */
export function checkRawName(value: string): string {
  const ok =
    typeof value === "string" &&
    value.length >= 1 &&
    value.isWellFormed() && // no lone surrogates: they have no UTF-8 form
    Buffer.byteLength(value, "utf8") <= MAX_RAW_NAME_LENGTH && // file systems count bytes
    [...value].length <= MAX_RAW_NAME_LENGTH &&
    !value.includes("/") &&
    !value.includes("\\") &&
    !CONTROL_RE.test(value) &&
    value !== "." &&
    value !== "..";
  if (!ok) {
    throw new InvalidNameError(`invalid raw file name ${show(value)}: a raw file name is ${RAW_NAME_RULE}`, {
      kind: "raw",
      value,
      rule: RAW_NAME_RULE,
    });
  }
  return value;
}

export interface Slug {
  dtype: string;
  name: string;
  tag?: string;
}

/** `Cohort.TestCohort` */
export function formatSlug(dtype: string, name: string, tag?: string): string {
  return tag === undefined ? `${dtype}.${name}` : `${dtype}.${name}:${tag}`;
}

export const SLUG_RULE = "<dtype>.<name> or <dtype>.<name>:<tag>";

/**
 * Parses `<dtype>.<name>[:<tag>]`.
 * @example parseSlug("Cohort.TestCohort:v1") // { dtype: "Cohort", name: "TestCohort", tag: "v1" }
 */
export function parseSlug(slug: string, opts: { requireTag?: boolean } = {}): Slug {
  const bad = (why: string) =>
    new InvalidNameError(`invalid slug ${show(slug)}: ${why}; a slug is ${SLUG_RULE}`, { kind: "slug", value: slug, rule: SLUG_RULE });
  if (typeof slug !== "string") throw bad("not a string");
  const colon = slug.indexOf(":");
  const head = colon === -1 ? slug : slug.slice(0, colon);
  const tag = colon === -1 ? undefined : slug.slice(colon + 1);
  const dot = head.indexOf(".");
  if (dot === -1) throw bad("missing '.' between dtype and name");
  const dtype = head.slice(0, dot);
  const name = head.slice(dot + 1);
  checkDtype(dtype);
  checkName(name);
  if (tag !== undefined) checkTag(tag);
  else if (opts.requireTag) throw bad("missing ':<tag>'");
  return tag === undefined ? { dtype, name } : { dtype, name, tag };
}
