/**
 * What the catalog page tests push: two Cohorts (TestCohort from the shared
 * test YAML, frozen as v1 and, with one more accession, v2; RootsAndLeaves
 * from the shared FASTQ samples with their tissue) and one raw FASTQ file,
 * then `cloud catalog` run as a user would. Also the page checks every
 * test shares: self-contained HTML, and what a reader sees in Chromium.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { Page } from "playwright-core";
import { CloudData } from "../../../src/cloud/cloudData.js";
import { Accession } from "../../../src/types/accession.js";
import { Cohort } from "../../../src/types/cohort.js";
import { FASTQ, LANES, TISSUE } from "../../helpers/sharedReads.js";

export const SHARED_YAML = fileURLToPath(new URL("../../../../shared/data/fastq/test_accession.yaml", import.meta.url));
export const RAW_FASTQ = path.join(FASTQ, "Sample1_ATGTCA_L007_R1_001.fastq");

/** Pushes the two Cohorts and the raw file with the config in `configFile`. */
export async function pushFixture(configFile: string): Promise<void> {
  const cloud = await CloudData.open({ configFile });
  try {
    const test = Cohort.fromYaml("TestCohort", SHARED_YAML, { freezer: cloud.freezer });
    await test.freeze("v1");
    test.add(new Accession("20F", { files: ["/data/20_F_R1.fastq.gz"], metadata: { seqtype: "hiseq" }, aliases: ["twenty"] }));
    await test.freeze("v2");
    test.close();
    const samples = [...new Set(LANES.map(([s]) => s))].map(
      (s) => new Accession(s, { files: LANES.filter(([x]) => x === s).map(([, lane]) => path.join(FASTQ, `${lane}_R1_001.fastq`)), metadata: { tissue: TISSUE[s]! } }),
    );
    const roots = Cohort.fromAccessions("RootsAndLeaves", samples, { freezer: cloud.freezer });
    await roots.freeze("v1");
    roots.close();
    await cloud.push("Cohort", "TestCohort", { tag: "v1" });
    await cloud.push("Cohort", "TestCohort", { tag: "v2" });
    await cloud.push("Cohort", "RootsAndLeaves", { tag: "v1" });
    await cloud.pushRaw("fastq", RAW_FASTQ);
  } finally {
    cloud.close();
  }
}

/** The page loads nothing from elsewhere: no src, href or url() outside the page (data: URLs aside), no stylesheet link. */
export function expectSelfContained(html: string): void {
  expect(html).toMatch(/^<!doctype html>/);
  expect(html).toContain('<meta name="viewport"');
  // Only data: URLs (the empty icon that keeps the browser from asking the server for /favicon.ico).
  const outside = [...html.matchAll(/\b(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]).filter((u) => !u!.startsWith("data:"));
  expect(outside).toEqual([]);
  expect(html).not.toMatch(/<link\b(?![^>]*href="data:)/i);
  expect(html).not.toMatch(/url\(\s*["']?(?:[a-z]+:|\/\/)|@import/);
}

/** Text of the elements matching `selector` that are shown. */
export async function visibleTexts(page: Page, selector: string): Promise<string[]> {
  return page.locator(selector).evaluateAll((els) => els.filter((e) => (e as unknown as { offsetParent: unknown }).offsetParent !== null).map((e) => e.textContent ?? ""));
}
