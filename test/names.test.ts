import { describe, expect, it } from "vitest";
import { checkDtype, checkName, checkRawName, checkTag, parseSlug } from "../src/names.js";
import { Minus80Error } from "../src/errors.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return (e as Minus80Error).code;
  }
  return undefined;
}

describe("names", () => {
  it("accepts names of letters, digits, '_' and '-' up to 128 characters", () => {
    for (const ok of ["a", "TestCohort", "my_data-2", "x".repeat(128)]) expect(checkName(ok)).toBe(ok);
  });

  it.each(["", ".", "..", "a.b", "a/b", "a:b", "a b", "x".repeat(129), "é", "a\u0000"])("refuses the name %j with INVALID_NAME naming it", (bad) => {
    expect(codeOf(() => checkName(bad))).toBe("INVALID_NAME");
    expect(codeOf(() => checkDtype(bad))).toBe("INVALID_NAME");
    try {
      checkName(bad);
    } catch (e) {
      expect((e as Error).message).toContain(JSON.stringify(bad));
      expect((e as Error).message).toContain("1-128 characters");
    }
  });

  it("accepts tags with dots but not '.' or '..'", () => {
    expect(checkTag("v1.2.3")).toBe("v1.2.3");
    for (const bad of [".", "..", "", "a:b", "a/b", "v 1", "x".repeat(129)]) expect(codeOf(() => checkTag(bad))).toBe("INVALID_NAME");
  });

  it("accepts raw file names up to 255 characters without separators or control characters", () => {
    expect(checkRawName("R1.fastq.gz")).toBe("R1.fastq.gz");
    expect(checkRawName("x".repeat(255))).toHaveLength(255);
    for (const bad of ["", ".", "..", "a/b", "a\\b", "a\nb", "x".repeat(256)]) expect(codeOf(() => checkRawName(bad))).toBe("INVALID_NAME");
  });

  it("parses slugs with and without a tag", () => {
    expect(parseSlug("Cohort.TestCohort:v1")).toEqual({ dtype: "Cohort", name: "TestCohort", tag: "v1" });
    expect(parseSlug("Cohort.TestCohort")).toEqual({ dtype: "Cohort", name: "TestCohort" });
    expect(codeOf(() => parseSlug("Cohort.TestCohort", { requireTag: true }))).toBe("INVALID_NAME");
    for (const bad of ["Cohort", "Cohort.", ".x", "Cohort.a.b:v1", "Cohort.x:", "Cohort.x:..", "Co/hort.x:v1"]) {
      expect(codeOf(() => parseSlug(bad))).toBe("INVALID_NAME");
    }
  });
});
