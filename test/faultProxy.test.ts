/**
 * The fault proxy itself, against a local node:http server (and raw TCP
 * servers where byte counts must be exact), so the fault tests built on it
 * can trust what it reports.
 */
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import {
  DEFAULT_RANDOM_FAULTS,
  cutAfter,
  httpError,
  pass,
  slowDown,
  stall,
  startFaultProxy,
  type FaultProxy,
} from "./helpers/faultProxy.js";
import { checkAsyncProperty } from "./property/fcConfig.js";

const MiB = 1024 * 1024;
const BLOB = randomBytes(5 * MiB);

// ------------------------------------------------------------ servers

interface Upstream {
  port: number;
  /** HTTP requests that reached the server */
  requests: number;
  close(): Promise<void>;
}

/** GET /blob: 5 MiB; GET /small: "hello"; POST /echo: {length, sha256} of the body. */
async function startHttpUpstream(): Promise<Upstream> {
  const state = { requests: 0 };
  const server = http.createServer((req, res) => {
    state.requests++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/blob") {
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": BLOB.length });
        res.end(BLOB);
      } else if (req.url === "/echo") {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ length: body.length, sha256: createHash("sha256").update(body).digest("hex") }));
      } else {
        res.writeHead(200, { "content-type": "text/plain", "content-length": 5 });
        res.end("hello");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A raw TCP server that sends `data` to each client and records what each client sent. */
async function startRawUpstream(data: Buffer): Promise<{ port: number; received: Buffer[]; closed: Promise<void>[]; close(): Promise<void> }> {
  const received: Buffer[] = [];
  const closed: Promise<void>[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    const i = received.push(Buffer.alloc(0)) - 1;
    closed.push(new Promise((r) => s.on("close", () => r())));
    s.on("data", (c: Buffer) => (received[i] = Buffer.concat([received[i]!, c])));
    s.on("error", () => undefined);
    if (data.length > 0) s.write(data);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    closed,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

// ------------------------------------------------------------ clients

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(
  url: string,
  opts: { method?: string; body?: Buffer; chunked?: boolean; expectContinue?: boolean; headers?: Record<string, string>; agent?: http.Agent | false; timeout?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (opts.expectContinue) headers.expect = "100-continue";
    if (opts.body && !opts.chunked) headers["content-length"] = opts.body.length;
    const req = http.request(url, { method: opts.method ?? "GET", headers, agent: opts.agent ?? false, timeout: opts.timeout }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("aborted", () => reject(new Error("response aborted")));
      res.on("end", () => {
        if (!res.complete) reject(new Error("response incomplete"));
        else resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
        if (opts.expectContinue) req.destroy(); // the body was never sent
      });
    });
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", reject);
    if (opts.expectContinue) {
      // like the AWS SDK: send the body only after "100 Continue"
      req.flushHeaders();
      req.on("continue", () => req.end(opts.body));
    } else if (opts.body && opts.chunked) {
      // several chunks, so the proxy must walk chunked framing
      for (let i = 0; i < opts.body.length; i += 7000) req.write(opts.body.subarray(i, i + 7000));
      req.end();
    } else req.end(opts.body);
  });
}

/** Connects, sends `send`, collects everything until the connection closes. */
function rawExchange(port: number, send: Buffer = Buffer.alloc(0)): Promise<{ data: Buffer; error?: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: string | undefined;
    const s = net.connect({ port, host: "127.0.0.1" }, () => {
      if (send.length > 0) s.write(send);
    });
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    s.on("close", () => resolve({ data: Buffer.concat(chunks), error }));
  });
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

// ------------------------------------------------------------ tests

let upstream: Upstream;
let proxy: FaultProxy | undefined;
beforeAll(async () => {
  upstream = await startHttpUpstream();
});
afterAll(() => upstream.close());
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe("fault proxy: pass", () => {
  it("relays a 5 MiB download and a 5 MiB upload byte for byte and counts the bytes", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port });
    const before = upstream.requests;
    const down = await request(`${proxy.url}/blob`);
    expect(down.status).toBe(200);
    expect(down.body.length).toBe(BLOB.length);
    expect(down.body.equals(BLOB)).toBe(true);
    const up = await request(`${proxy.url}/echo`, { method: "POST", body: BLOB });
    expect(JSON.parse(up.body.toString())).toEqual({ length: BLOB.length, sha256: sha(BLOB) });
    const chunked = await request(`${proxy.url}/echo`, { method: "POST", body: BLOB, chunked: true });
    expect(JSON.parse(chunked.body.toString())).toEqual({ length: BLOB.length, sha256: sha(BLOB) });
    expect(upstream.requests - before).toBe(3);
    const c = proxy.counters;
    expect(c.connections).toBe(3);
    expect(c.upstreamConnections).toBe(3);
    expect(c.bytesDown).toBeGreaterThan(BLOB.length);
    expect(c.bytesUp).toBeGreaterThan(2 * BLOB.length);
    expect(c.faults).toEqual({ cutAfter: 0, stall: 0, httpError: 0 });
  });
});

describe("fault proxy: cutAfter", () => {
  const DATA = randomBytes(MiB);

  it("delivers exactly n bytes upstream -> client, then closes", async () => {
    const raw = await startRawUpstream(DATA);
    proxy = await startFaultProxy({ upstreamPort: raw.port });
    try {
      const sizes = fc.oneof(fc.constantFrom(0, 1, 65535, 65536, 65537, DATA.length - 1), fc.integer({ min: 0, max: DATA.length - 1 }));
      await checkAsyncProperty(
        fc.asyncProperty(sizes, async (n) => {
          const p = proxy!;
          p.setPlan(cutAfter(n));
          const cuts = p.counters.faults.cutAfter;
          const { data } = await rawExchange(p.port);
          expect(data.length).toBe(n);
          expect(data.equals(DATA.subarray(0, n))).toBe(true);
          expect(p.counters.faults.cutAfter).toBe(cuts + 1);
        }),
        { numRuns: 12, name: "faultProxy.cutDown" },
      );
    } finally {
      await raw.close();
    }
  });

  it("lets exactly n bytes client -> upstream through, then closes both sides", async () => {
    const raw = await startRawUpstream(Buffer.alloc(0));
    proxy = await startFaultProxy({ upstreamPort: raw.port });
    try {
      for (const n of [0, 1, 1000, 65536, 300_000]) {
        proxy.setPlan(cutAfter(n, { direction: "up" }));
        const i = raw.received.length;
        await rawExchange(proxy.port, DATA);
        await raw.closed[i];
        expect(raw.received[i]!.length).toBe(n);
        expect(raw.received[i]!.equals(DATA.subarray(0, n))).toBe(true);
      }
      expect(proxy.counters.faults.cutAfter).toBe(5);
    } finally {
      await raw.close();
    }
  });

  it("with reset: true the connection is aborted and the client never gets more than n bytes", async () => {
    // (whether a Node client reports ECONNRESET or a plain close depends on timing)
    const raw = await startRawUpstream(DATA);
    proxy = await startFaultProxy({ upstreamPort: raw.port, plan: cutAfter(5000, { reset: true }) });
    try {
      const { data } = await rawExchange(proxy.port);
      expect(data.length).toBeLessThanOrEqual(5000);
      expect(data.equals(DATA.subarray(0, data.length))).toBe(true);
      expect(proxy.connections[0]).toMatchObject({ injected: ["cutAfter"], closed: true });
    } finally {
      await raw.close();
    }
  });

  it("an HTTP download cut mid-body fails in the client instead of returning a short body", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: cutAfter(100_000) });
    await expect(request(`${proxy.url}/blob`)).rejects.toThrow();
    expect(proxy.connections[0]).toMatchObject({ planned: "cutAfter", injected: ["cutAfter"], bytesDown: 100_000 });
  });
});

describe("fault proxy: stall", () => {
  it("a stalled connection makes a client with a 500 ms timeout time out, and the request never reaches upstream", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: stall("forever") });
    const before = upstream.requests;
    const t0 = Date.now();
    await expect(request(`${proxy.url}/small`, { timeout: 500 })).rejects.toThrow("client timeout");
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(5000);
    expect(upstream.requests).toBe(before);
    expect(proxy.counters.faults.stall).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    expect(proxy.connections[0]!.closed).toBe(true);
  });

  it("a stall after the response headers starts leaves the body hanging until the client times out", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: stall("forever", { afterBytes: 100_000 }) });
    await expect(request(`${proxy.url}/blob`, { timeout: 500 })).rejects.toThrow();
    expect(proxy.counters.bytesDown).toBe(100_000);
  });

  it("a finite stall delays the exchange and then delivers it intact", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: stall(400, { afterBytes: 10 }) });
    const t0 = Date.now();
    const r = await request(`${proxy.url}/blob`);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(380);
    expect(r.body.equals(BLOB)).toBe(true);
    expect(proxy.counters.faults.stall).toBe(1);
  });
});

describe("fault proxy: httpError", () => {
  it("answers the next N requests itself with S3's SlowDown error, keeps the connection usable, and never contacts upstream for them", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port });
    proxy.setPlan(slowDown(3));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = upstream.requests;
    try {
      const body = randomBytes(100_000);
      const replies = [
        await request(`${proxy.url}/echo`, { method: "POST", body, agent }),
        await request(`${proxy.url}/echo`, { method: "POST", body, chunked: true, agent }),
        await request(`${proxy.url}/small`, { agent }),
      ];
      for (const r of replies) {
        expect(r.status).toBe(503);
        expect(r.headers["content-type"]).toBe("application/xml");
        expect(r.body.toString()).toMatch(/<Error><Code>SlowDown<\/Code><Message>[^<]+<\/Message><RequestId>[^<]+<\/RequestId>/);
      }
      expect(upstream.requests).toBe(before);
      // the budget is spent: the same connection now reaches upstream
      const ok = await request(`${proxy.url}/echo`, { method: "POST", body, agent });
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body.toString())).toEqual({ length: body.length, sha256: sha(body) });
      expect(upstream.requests).toBe(before + 1);
      const c = proxy.counters;
      expect(c.connections).toBe(1);
      expect(c.faults.httpError).toBe(3);
      expect(c.httpErrorsByStatus).toEqual({ 503: 3 });
    } finally {
      agent.destroy();
    }
  });

  it("a global budget of N is shared by all connections: exactly N of many requests fail", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: httpError(500, { count: 2 }) });
    const before = upstream.requests;
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await request(`${proxy.url}/small`)).status);
    expect(statuses).toEqual([500, 500, 200, 200, 200]);
    expect(upstream.requests).toBe(before + 3);
    expect(proxy.counters.httpErrorsByStatus).toEqual({ 500: 2 });
  });

  it("answers HEAD without a body, a custom body verbatim, and Expect: 100-continue at once, then closes", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: httpError(500, { count: Infinity }) });
    const head = await request(`${proxy.url}/small`, { method: "HEAD" });
    expect(head.status).toBe(500);
    expect(head.body.length).toBe(0);
    proxy.setPlan(httpError(503, { body: "busy", contentType: "text/plain" }));
    const custom = await request(`${proxy.url}/small`);
    expect([custom.status, custom.body.toString(), custom.headers["content-type"]]).toEqual([503, "busy", "text/plain"]);
    proxy.setPlan(slowDown());
    const before = upstream.requests;
    const cont = await request(`${proxy.url}/echo`, { method: "POST", body: randomBytes(2 * MiB), expectContinue: true });
    expect(cont.status).toBe(503);
    expect(cont.headers.connection).toBe("close");
    expect(upstream.requests).toBe(before);
  });
});

describe("fault proxy: upstream down", () => {
  it("a client of an unreachable upstream sees its connection closed, and the failure is counted", async () => {
    const gone = await startRawUpstream(Buffer.alloc(0));
    const port = gone.port;
    await gone.close();
    proxy = await startFaultProxy({ upstreamPort: port });
    await expect(request(`${proxy.url}/small`)).rejects.toThrow();
    expect(proxy.counters).toMatchObject({ connections: 1, upstreamConnections: 1, upstreamErrors: 1, bytesUp: 0, bytesDown: 0 });
  });
});

describe("fault proxy: plans", () => {
  it("a sequence plan applies its faults to the next connections in order, then passes", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: [httpError(500), pass(), slowDown()] });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(`${proxy.url}/small`)).status);
    expect(statuses).toEqual([500, 200, 503, 200]);
    expect(proxy.connections.map((c) => c.planned)).toEqual(["httpError", "pass", "httpError", "pass"]);
  });

  it("a random plan is reproducible from its seed and injects at about the chosen rate", async () => {
    const raw = await startRawUpstream(Buffer.alloc(0));
    proxy = await startFaultProxy({ upstreamPort: raw.port });
    try {
      const run = async (seed: number) => {
        proxy!.setPlan({ random: { seed, p: 0.5, faults: DEFAULT_RANDOM_FAULTS } });
        const first = proxy!.connections.length;
        for (let i = 0; i < 40; i++) {
          await new Promise<void>((r) => {
            const s = net.connect(proxy!.port, "127.0.0.1", () => s.end());
            s.on("error", () => undefined);
            s.on("close", () => r());
          });
        }
        return proxy!.connections.slice(first).map((c) => c.planned);
      };
      const a = await run(7);
      const b = await run(7);
      const c = await run(8);
      expect(b).toEqual(a);
      expect(c).not.toEqual(a);
      const faulty = a.filter((k) => k !== "pass").length;
      expect(faulty).toBeGreaterThan(8);
      expect(faulty).toBeLessThan(32);
      expect(new Set(a)).toEqual(new Set(["pass", "cutAfter", "stall", "httpError"]));
    } finally {
      await raw.close();
    }
  });

  it("resetCounters and dropConnections start a clean measurement", async () => {
    proxy = await startFaultProxy({ upstreamPort: upstream.port, plan: stall("forever") });
    const hanging = request(`${proxy.url}/small`).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 100));
    proxy.dropConnections();
    expect(await hanging).toBeInstanceOf(Error);
    proxy.resetCounters();
    expect(proxy.counters).toEqual({ connections: 0, upstreamConnections: 0, upstreamErrors: 0, bytesUp: 0, bytesDown: 0, faults: { cutAfter: 0, stall: 0, httpError: 0 }, httpErrorsByStatus: {} });
  });
});

describe("fault proxy with the AWS SDK and s3rver", () => {
  it("the SDK recognizes the SlowDown answer as throttling and retries until the upload lands", async () => {
    const { S3Client, PutObjectCommand, GetObjectCommand } = await import("@aws-sdk/client-s3");
    // s3rver ships no types: the little of it used here
    type S3rverClass = new (o: Record<string, unknown>) => { run(): Promise<net.AddressInfo>; close(): Promise<void> };
    const S3rver = createRequire(import.meta.url)("s3rver") as S3rverClass;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "minus80-faultproxy-s3rver-"));
    const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: dir, configureBuckets: [{ name: "bucket", configs: [] }] });
    const addr = await server.run();
    proxy = await startFaultProxy({ upstreamPort: addr.port, plan: slowDown(2) });
    const client = new S3Client({
      endpoint: proxy.url,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
      maxAttempts: 4,
    });
    try {
      const body = randomBytes(64 * 1024);
      const put = await client.send(new PutObjectCommand({ Bucket: "bucket", Key: "k", Body: body }));
      expect(put.$metadata.attempts).toBe(3);
      expect(proxy.counters.httpErrorsByStatus).toEqual({ 503: 2 });
      const got = await client.send(new GetObjectCommand({ Bucket: "bucket", Key: "k" }));
      expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    } finally {
      client.destroy();
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
