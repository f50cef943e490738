/**
 * `npm run bench:catalog`: how fast the catalog page draws in Chromium
 * (Debian's /usr/bin/chromium through playwright-core), on made-up data of
 * the sizes issue 13 names, the page written to a temporary file:
 *
 *   1  1,000 datasets x 10 tags: from navigation to the page drawn (load event)
 *   2  the same, typing a search that matches one dataset (input to the next frame)
 *   3  a Cohort tag of 5,000 accessions x 8 metadata columns opened by a deep link (load event, table drawn)
 *   4  sorting that table by a column (click to the next frame)
 *
 * Medians of BENCH_CATALOG_RUNS (5) fresh page loads; prints a Markdown table.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Page } from "playwright-core";
import type { CatalogData, CatalogDataset } from "../src/cloud/catalog/gather.js";
import { renderCatalog } from "../src/cloud/catalog/render.js";
import { median } from "./measure.js";

const RUNS = Number(process.env.BENCH_CATALOG_RUNS ?? 5);
const CHROMIUM = process.env.MINUS80_TEST_CHROMIUM ?? "/usr/bin/chromium";
const DATASETS = 1000;
const TAGS = 10;
const ACCESSIONS = 5000;
const COLUMNS = 8;
const SHA = "0123456789abcdef".repeat(4);

function data(datasets: CatalogDataset[]): CatalogData {
  return { format: "minus80-catalog", version: 1, generated: new Date().toISOString(), source: "http://s3.example.org/lab", datasets, raw: [{ dtype: "fastq", file: "R1.fastq", size: 1e6, modified: new Date().toISOString(), sha256: SHA, href: "raw/fastq/R1.fastq" }] };
}

function tag(i: number, summary?: CatalogDataset["tags"][number]["summary"]) {
  return { tag: `v${i + 1}`, created: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(), files: 10 + i, size: 1e6 * (i + 1), checksum: SHA.slice(0, 12), parent: i ? `v${i}` : null, ...(summary ? { summary } : {}) };
}

function manyDatasets(): CatalogData {
  const ds: CatalogDataset[] = [];
  for (let d = 0; d < DATASETS; d++) ds.push({ dtype: d % 4 === 0 ? "Cohort" : "Expression", name: `Dataset${String(d).padStart(4, "0")}`, tags: Array.from({ length: TAGS }, (_, i) => tag(i)) });
  return data(ds);
}

function bigCohort(): CatalogData {
  const columns = Array.from({ length: COLUMNS }, (_, c) => `field${c}`);
  const items = Array.from({ length: ACCESSIONS }, (_, a) => ({
    name: `S${String(a).padStart(5, "0")}`,
    values: columns.map((_, c) => (c % 2 ? a % (c + 3) : `value${(a * (c + 1)) % 17}`)),
    files: [`reads/S${a}/R1.fastq.gz`, `reads/S${a}/R2.fastq.gz`],
    aliases: [`alias${a}`],
  }));
  return data([{ dtype: "Cohort", name: "Big", tags: [tag(0, { kind: "accessions", count: ACCESSIONS, columns, items })] }]);
}

async function loadMs(page: Page, url: string): Promise<number> {
  await page.goto(url, { waitUntil: "load" });
  return (await page.evaluate(`performance.getEntriesByType("navigation")[0].loadEventEnd`)) as number;
}

/** Runs `action` (page script) and waits for the next frame; returns the milliseconds between. */
async function frameAfter(page: Page, action: string): Promise<number> {
  return (await page.evaluate(`new Promise((done) => { const t0 = performance.now(); ${action}; requestAnimationFrame(() => setTimeout(() => done(performance.now() - t0), 0)); })`)) as number;
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-catalog-bench-"));
  const many = path.join(dir, "many.html");
  const big = path.join(dir, "big.html");
  fs.writeFileSync(many, renderCatalog(manyDatasets()));
  fs.writeFileSync(big, renderCatalog(bigCohort()));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const results: Record<string, number[]> = { load: [], search: [], cohort: [], sort: [] };
  try {
    for (let run = 0; run < RUNS; run++) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      results.load!.push(await loadMs(page, pathToFileURL(many).href));
      results.search!.push(await frameAfter(page, `const i = document.getElementById("search"); i.value = "Dataset0999"; i.dispatchEvent(new Event("input"))`));
      results.cohort!.push(await loadMs(page, `${pathToFileURL(big).href}#Cohort.Big:v1`));
      results.sort!.push(await frameAfter(page, `document.querySelectorAll('[id="Cohort.Big:v1"] thead th button')[2].click()`));
      await page.close();
    }
  } finally {
    await browser.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const load = os.loadavg()[0]!.toFixed(2);
  console.log(`Catalog page in Chromium (${CHROMIUM}), medians of ${RUNS}; load average ${load}, ${os.cpus().length} cores\n`);
  console.log("| what | median ms | runs (ms) |\n|---|---|---|");
  const row = (what: string, xs: number[]) => console.log(`| ${what} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(", ")} |`);
  row(`${DATASETS} datasets x ${TAGS} tags: page drawn (load event)`, results.load!);
  row("typing a search over them (input to next frame)", results.search!);
  row(`a Cohort of ${ACCESSIONS} accessions x ${COLUMNS} columns by deep link (load event, table drawn)`, results.cohort!);
  row("sorting that table by a column (click to next frame)", results.sort!);
}

await main();
