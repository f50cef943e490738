/**
 * A counting HTTP proxy for the bench: forwards every request unchanged
 * (headers included, so SigV4 signatures still verify) to the S3 server
 * and counts them by method, so each tool's requests can be reported.
 *
 * @example
 *   const p = await startCountingProxy("http://127.0.0.1:7480");
 *   p.reset(); ...run a tool against p.url...; p.counts()   // { GET: 12, PUT: 3 }
 */
import http from "node:http";

export interface CountingProxy {
  url: string;
  counts(): Record<string, number>;
  reset(): void;
  stop(): Promise<void>;
}

export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const t = new URL(target);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  let counts: Record<string, number> = {};
  const server = http.createServer((req, res) => {
    counts[req.method ?? "?"] = (counts[req.method ?? "?"] ?? 0) + 1;
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ ...counts }),
    reset: () => (counts = {}),
    stop: () => new Promise((resolve) => (server.closeAllConnections(), agent.destroy(), server.close(() => resolve()))),
  };
}
