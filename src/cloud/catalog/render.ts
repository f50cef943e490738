/**
 * The catalog page as one self-contained HTML document: the data as JSON
 * in a `<script type="application/json">` (every `<` written `\u003c`, so
 * no name or metadata value can close the script), the inline style and
 * script, and nothing fetched from anywhere: it works offline, from a
 * file, a static web server or a public bucket.
 *
 * @example fs.writeFileSync("index.html", renderCatalog(await gatherCatalog(ctx, source)))
 */
import { VERSION } from "../../version.js";
import type { CatalogData } from "./gather.js";
import { PAGE_MAIN_SCRIPT } from "./pageMain.js";
import { PAGE_SCRIPT } from "./pageScript.js";
import { PAGE_STYLE } from "./pageStyle.js";
import { PAGE_TABLE_SCRIPT } from "./pageTable.js";

/** JSON safe inside a script element: `<`, U+2028 and U+2029 escaped. */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** Text safe in HTML content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The page for `data`.
 *
 * @example renderCatalog(data).startsWith("<!doctype html>")   // true
 */
export function renderCatalog(data: CatalogData): string {
  const tags = data.datasets.reduce((n, d) => n + d.tags.length, 0);
  const counts = `${data.datasets.length} dataset${data.datasets.length === 1 ? "" : "s"}, ${tags} tag${tags === 1 ? "" : "s"}, ${data.raw.length} raw file${data.raw.length === 1 ? "" : "s"}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="minus80 ${escapeHtml(VERSION)}">
<link rel="icon" href="data:,">
<title>Data catalog: ${escapeHtml(data.source)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<header>
<h1>Data catalog</h1>
<p class="muted">${escapeHtml(counts)} in <span class="mono" id="source">${escapeHtml(data.source)}</span>, as of ${escapeHtml(data.generated.slice(0, 16).replace("T", " "))} UTC.</p>
<div class="intro">
<p>These datasets were frozen and shared with minus80. Each dataset has <strong>tags</strong>: versions that never change once made. Open a dataset to see its tags; open a tag to see what it holds (for a Cohort, its samples and their metadata) and the command that downloads it.</p>
<p>To run the commands, install minus80 once (it needs Node.js 22 or newer; its README says how). A pull needs no keys when this bucket is readable by anyone.</p>
<p id="where-note" class="note"></p>
</div>
<div class="search" role="search">
<label for="search">Search datasets, tags and samples</label>
<input type="search" id="search" placeholder="e.g. a dataset name, a sample, a metadata value" autocomplete="off">
</div>
</header>
<main id="catalog"></main>
<footer>Made by <code>minus80 cloud catalog</code>. Everything shown is in this one file; it needs no network.</footer>
<script type="application/json" id="catalog-data">${embedJson(data)}</script>
<script>${PAGE_SCRIPT}${PAGE_TABLE_SCRIPT}${PAGE_MAIN_SCRIPT}</script>
</body>
</html>
`;
}
