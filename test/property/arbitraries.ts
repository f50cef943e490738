/**
 * Generators shared by the property tests: hostile strings (unicode,
 * control characters, separators, lone surrogates, very long) and the
 * docs/contract.md naming rules written independently of src/names.ts, as oracles.
 */
import fc from "fast-check";

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS = "0123456789";
export const NAME_CHARS = [...LETTERS, ...DIGITS, "_", "-"];
export const TAG_CHARS = [...NAME_CHARS, "."];

/** Strings that have broken path, name or terminal handling somewhere. */
export const SPECIALS = [
  ".", "..", "...", "/", "\\", ":", "\0", " ", "\t", "\n", "\r", "\u001b", "\u001b[2J", "\u007f",
  "\u0085", "\u009b", "\u00a0", "é", "e\u0301", "ß", "İ", "\u{1F600}", "\uD800", "\uDC00",
  "\u202e", "\uFEFF", "\u2028", "*", "?", "[", "]", "!", "~", "$", "%", "'", "\"", "`", "-", "_",
  "--", "-h", "--help", "C:", "../", "./", "a/../b", "/etc/passwd", "..\\..", "%2e%2e", "__proto__",
  "constructor", "latest", "CON", "nul",
];

/** One "character": mostly name characters, often something nasty. */
export const nastyUnit: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...TAG_CHARS) },
  { weight: 3, arbitrary: fc.constantFrom(...SPECIALS) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }) },
  // any UTF-16 code unit: C0/C1 controls, lone surrogates, private use, ...
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
);

export const validName: fc.Arbitrary<string> = fc.string({ unit: fc.constantFrom(...NAME_CHARS), minLength: 1, maxLength: 128 });
export const validTag: fc.Arbitrary<string> = fc
  .string({ unit: fc.constantFrom(...TAG_CHARS), minLength: 1, maxLength: 128 })
  .filter((t) => t !== "." && t !== "..");

/** Arbitrary strings biased towards the edges of the naming rules. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.string({ unit: nastyUnit, maxLength: 40 }) },
  { weight: 2, arbitrary: fc.constantFrom("", ...SPECIALS) },
  // around the 128 and 255 limits
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom(...TAG_CHARS), minLength: 120, maxLength: 300 }) },
  { weight: 1, arbitrary: fc.string({ unit: fc.constantFrom("é", "\u{1F600}", "a", "\u0301"), minLength: 100, maxLength: 300 }) },
  { weight: 2, arbitrary: validName },
  { weight: 1, arbitrary: validTag },
);

// ---- oracles, written from docs/contract.md "Names" (not from src/names.ts) ----

/** dtype and name: 1-128 letters, digits, `_` and `-`. */
export const NAME_ORACLE = /^[A-Za-z0-9_-]{1,128}$/;
/** tag: 1-128 letters, digits, `_`, `-`, `.`, not `.` or `..`. */
export const TAG_ORACLE = /^(?!\.{1,2}$)[A-Za-z0-9_.-]{1,128}$/;
/** slug: `<dtype>.<name>` or `<dtype>.<name>:<tag>`; dtype and name cannot hold `.` or `:`, so this is unambiguous. */
export const SLUG_ORACLE = /^([A-Za-z0-9_-]{1,128})\.([A-Za-z0-9_-]{1,128})(?::((?!\.{1,2}$)[A-Za-z0-9_.-]{1,128}))?$/;

/** raw file name: 1-255 characters, no `/`, `\`, control characters, not `.` or `..`. */
export function rawNameOracle(s: string): boolean {
  const chars = [...s];
  return chars.length >= 1 && chars.length <= 255 && !/[/\\\p{Cc}]/u.test(s) && s !== "." && s !== "..";
}

/**
 * Raw names where src/names.ts and a strict reading of docs/contract.md disagree
 * (see the KNOWN BUG tests): C1 control characters, lone surrogates, and
 * names longer than 255 bytes in UTF-8 (the usual file-system limit).
 */
export function rawNameDisputed(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  return /[\u0080-\u009f]/.test(s) || !isWellFormed(s) || Buffer.byteLength(s, "utf8") > 255;
}

export function isWellFormed(s: string): boolean {
  return !/\p{Surrogate}/u.test(s);
}

/** C0 control characters: a message holding one raw can drive a terminal. */
// eslint-disable-next-line no-control-regex
export const RAW_C0 = /[\u0000-\u001f]/;
