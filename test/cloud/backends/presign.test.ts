/**
 * SigV4 query presigning against AWS's published example ("Authenticating
 * Requests: Using Query Parameters", examplebucket/test.txt), and the
 * expiry read back from a presigned URL.
 */
import { describe, expect, it } from "vitest";
import { presignedExpiry, presignGetUrl } from "../../../src/cloud/backends/s3/presign.js";

const example = {
  endpoint: "https://s3.amazonaws.com",
  bucket: "examplebucket",
  key: "test.txt",
  region: "us-east-1",
  credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
  signedAt: new Date("2013-05-24T00:00:00Z"),
  expiresInSeconds: 86400,
};

describe("presigned GET URLs (SigV4)", () => {
  it("match AWS's published example (virtual-host style)", () => {
    const url = presignGetUrl({ ...example, pathStyle: false });
    expect(url).toBe(
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request" +
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
    );
  });

  it("path style puts the bucket in the path and signs another URL; the expiry reads back", () => {
    const url = new URL(presignGetUrl({ ...example, endpoint: "http://127.0.0.1:7480", pathStyle: true, key: "raw/fastq/a b+ü.fastq" }));
    expect(url.host).toBe("127.0.0.1:7480");
    expect(url.pathname).toBe("/examplebucket/raw/fastq/a%20b%2B%C3%BC.fastq");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(presignedExpiry(url)?.toISOString()).toBe("2013-05-25T00:00:00.000Z");
    expect(presignedExpiry(new URL("https://example.org/x"))).toBeUndefined();
  });
});
