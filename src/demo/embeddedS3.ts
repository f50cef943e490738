/**
 * A throwaway S3-compatible server on 127.0.0.1 (s3rver, a dev dependency)
 * for the demo and the tests. s3rver is a mock: it never checks secret
 * keys and ignores conditional writes, so claims about those rest on real
 * servers (Ceph RGW in CI).
 *
 * @example
 *   const s3 = await startEmbeddedS3("/tmp/s3data");
 *   // s3.endpoint === "http://127.0.0.1:<port>", keys s3.accessKey / s3.secretKey
 *   await s3.stop();
 */
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

/** s3rver's built-in account. */
export const EMBEDDED_ACCESS_KEY = "S3RVER";
export const EMBEDDED_SECRET_KEY = "S3RVER";

export interface EmbeddedS3 {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverClass = new (opts: Record<string, unknown>) => S3rverInstance;

/** Starts s3rver on a free port of 127.0.0.1, storing its data in `directory`. */
export async function startEmbeddedS3(directory: string): Promise<EmbeddedS3> {
  let S3rver: S3rverClass;
  try {
    S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;
  } catch {
    throw new Error("the embedded S3 server needs the dev dependency s3rver: run `npm install` in the minus80 checkout");
  }
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true, resetOnClose: false });
  const address = await server.run();
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    accessKey: EMBEDDED_ACCESS_KEY,
    secretKey: EMBEDDED_SECRET_KEY,
    stop: () => server.close(),
  };
}
