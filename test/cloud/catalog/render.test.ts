/**
 * The page's HTML (catalog/render.ts) without a browser: the data survives
 * embedding whatever it holds (a value closing the script element stays
 * data), and the inline script is valid JavaScript.
 */
import { describe, expect, it } from "vitest";
import type { CatalogData } from "../../../src/cloud/catalog/gather.js";
import { embedJson, renderCatalog } from "../../../src/cloud/catalog/render.js";

const hostile = "</script><script>alert(1)</script>\u2028";
const data: CatalogData = {
  format: "minus80-catalog",
  version: 1,
  generated: "2026-12-03T08:00:00.000Z",
  source: "http://s3.example.org/lab",
  datasets: [{ dtype: "Cohort", name: "T", tags: [{ tag: "v1", created: "2026-12-03T08:00:00.000Z", files: 1, size: 10, checksum: "abcdef012345", parent: null, summary: { kind: "accessions", count: 1, columns: ["note"], items: [{ name: "S1", values: [hostile], files: [], aliases: [] }] } }] }],
  raw: [],
};

describe("the catalog page's HTML", () => {
  it("embeds the data as JSON with every < escaped, so no value can end the script element; it parses back equal", () => {
    const html = renderCatalog(data);
    const json = /<script type="application\/json" id="catalog-data">(.*?)<\/script>/s.exec(html)![1]!;
    expect(json).not.toContain("<");
    expect(json).not.toContain("\u2028");
    expect(JSON.parse(json)).toEqual(data);
    expect(embedJson("<b>")).toBe('"\\u003cb>"');
    expect(html.match(/<script\b/g)).toHaveLength(2);
  });

  it("the inline script is valid JavaScript", () => {
    const html = renderCatalog(data);
    const script = /<script>(.*)<\/script>/s.exec(html)![1]!;
    expect(() => new Function(script)).not.toThrow();
  });
});
