/**
 * `cloud catalog`: the catalog page, one self-contained `index.html`
 * written at the layout's root in the bucket (beside `index.json`, so its
 * links to raw files are relative keys), or into a local folder
 * (`output`). The data comes from the manifests (gather.ts), the page from
 * render.ts. With `cloud.catalog_on_push`, a push calls this after its tag
 * is visible (cloudData.ts); a failure there is reported, never the push's.
 *
 * @example
 *   const where = catalogLocation(config.cloud);        // { source: "https://s3.example.org/lab", page: ".../lab/index.html" }
 *   await writeCatalog(ctx, where, { signal })           // { page: ".../lab/index.html", datasets: 2, tags: 3, raw: 1 }
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CloudConfig } from "../../config/config.js";
import { writeFileAtomic } from "../../freezer/files.js";
import { safeEndpoint } from "../backends/s3/client.js";
import { CATALOG_KEY } from "../layout.js";
import type { CloudContext } from "../remote.js";
import { gatherCatalog, type GatherOptions } from "./gather.js";
import { renderCatalog } from "./render.js";

export const CATALOG_CONTENT_TYPE = "text/html; charset=utf-8";

export interface CatalogOptions extends GatherOptions {
  /** write `index.html` into this local folder instead of the bucket */
  output?: string;
}

export interface CatalogResult {
  /** where the page is: its URL in the bucket, or its path on disk */
  page: string;
  datasets: number;
  tags: number;
  raw: number;
}

/** Where a configured layout's root is, as a reader reaches it. */
export interface CatalogLocation {
  /** the layout root's URL (`--from` reads it when the bucket is public), or a folder remote's path */
  source: string;
  /** the page's URL or path in the bucket */
  page: string;
}

/**
 * The layout root and page of the configured storage: a path-style or
 * virtual-host URL for S3, a path for a folder remote.
 *
 * @example catalogLocation({ endpoint: "http://127.0.0.1:7490", bucket: "lab", prefix: "", pathStyle: true, ... }).page   // "http://127.0.0.1:7490/lab/index.html"
 */
export function catalogLocation(cloud: CloudConfig): CatalogLocation {
  if (/^file:/i.test(cloud.endpoint)) {
    const source = path.join(fileURLToPath(cloud.endpoint), cloud.bucket, ...cloud.prefix.split("/").filter(Boolean));
    return { source, page: path.join(source, CATALOG_KEY) };
  }
  const endpoint = new URL(safeEndpoint(cloud.endpoint));
  const base = endpoint.pathname.replace(/\/+$/, "");
  const root = cloud.pathStyle ? `${endpoint.origin}${base}/${cloud.bucket}` : `${endpoint.protocol}//${cloud.bucket}.${endpoint.host}${base}`;
  const source = `${root}${cloud.prefix ? `/${cloud.prefix.replace(/\/$/, "")}` : ""}`;
  return { source, page: `${source}/${CATALOG_KEY}` };
}

/**
 * Writes the page of the bucket of `ctx` (or, with `output`, into that
 * folder) and says where it is. Progress: `catalog` events, one unit per
 * manifest read.
 *
 * @example await writeCatalog(ctx, catalogLocation(config.cloud), { output: "site/" })   // { page: "/abs/site/index.html", ... }
 */
export async function writeCatalog(ctx: CloudContext, where: CatalogLocation, opts: CatalogOptions = {}): Promise<CatalogResult> {
  const data = await gatherCatalog(ctx, where.source, opts);
  const body = Buffer.from(renderCatalog(data));
  let page = where.page;
  if (opts.output !== undefined) {
    page = path.resolve(opts.output, CATALOG_KEY);
    await writeFileAtomic(page, body);
  } else {
    await ctx.backend.put(CATALOG_KEY, body, { size: body.length, contentType: CATALOG_CONTENT_TYPE, signal: opts.signal });
  }
  return { page, datasets: data.datasets.length, tags: data.datasets.reduce((n, d) => n + d.tags.length, 0), raw: data.raw.length };
}
