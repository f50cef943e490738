/**
 * Where the page is said to be (catalog.ts `catalogLocation`): the layout
 * root as a reader reaches it, path-style or virtual-host, with the
 * bucket's prefix, or a folder remote's path; the pull commands' `--from`.
 */
import { describe, expect, it } from "vitest";
import { catalogLocation } from "../../../src/cloud/catalog/catalog.js";
import type { CloudConfig } from "../../../src/config/config.js";

const base: CloudConfig = { endpoint: "https://s3.example.org", bucket: "lab", prefix: "", region: "us-east-1", pathStyle: true, concurrency: 4, catalogOnPush: false };

describe("catalogLocation", () => {
  it("path-style: endpoint/bucket[/prefix]/index.html, credentials in the endpoint dropped", () => {
    expect(catalogLocation(base)).toEqual({ source: "https://s3.example.org/lab", page: "https://s3.example.org/lab/index.html" });
    expect(catalogLocation({ ...base, endpoint: "http://me:pw@127.0.0.1:7490/", prefix: "team/rna/" }).page).toBe("http://127.0.0.1:7490/lab/team/rna/index.html");
  });

  it("virtual-host: the bucket in the host name", () => {
    expect(catalogLocation({ ...base, pathStyle: false, prefix: "team/" })).toEqual({ source: "https://lab.s3.example.org/team", page: "https://lab.s3.example.org/team/index.html" });
  });

  it("a folder remote: the bucket folder's path", () => {
    expect(catalogLocation({ ...base, endpoint: "file:///mnt/shared", prefix: "team/" })).toEqual({ source: "/mnt/shared/lab/team", page: "/mnt/shared/lab/team/index.html" });
  });
});
