/**
 * The reused-buffer GET client (src/cloud/backends/http/socketGet.ts)
 * against a real HTTP server on 127.0.0.1 (node:http, and raw TCP for
 * answers node:http would not send): bodies arrive whole and in order
 * across many socket reads, a sink's promise pauses reading, sockets are
 * reused and a stale one is replaced, refused answers are collected, and
 * broken, stalled and aborted connections fail with the codes the
 * classification knows.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { parseHead, SocketPool, UnsupportedAnswerError, type ResponseHead } from "../../../src/cloud/backends/http/socketGet.js";

const servers: Array<{ close(): void }> = [];
const pools: SocketPool[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
  for (const p of pools.splice(0)) p.close();
});

function pool(idleTimeoutMs = 5000): SocketPool {
  const p = new SocketPool({ connectTimeoutMs: 2000, idleTimeoutMs });
  pools.push(p);
  return p;
}

/** An HTTP server answering every request with `handler`; resolves with its URL and a count of connections. */
async function serve(handler: http.RequestListener): Promise<{ url: URL; connections: () => number; server: http.Server }> {
  const server = http.createServer(handler);
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push({ close: () => (server.closeAllConnections(), server.close()) });
  return { url: new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/obj?sig=1`), connections: () => connections, server };
}

/** A raw TCP server writing `answer` to every connection (after reading its request head). */
async function serveRaw(answer: (socket: net.Socket) => void): Promise<URL> {
  const server = net.createServer((socket) => {
    socket.once("data", () => answer(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const sockets = new Set<net.Socket>();
  server.on("connection", (s) => (sockets.add(s), s.on("close", () => sockets.delete(s))));
  servers.push({ close: () => (sockets.forEach((s) => s.destroy()), server.close()) });
  return new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/obj`);
}

const accept206 = (h: ResponseHead) => h.status === 206;

describe("SocketPool.get", () => {
  it("hands a multi-MiB body to the sink whole and in order, sends the headers, and reuses the socket", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const seen: Array<string | undefined> = [];
    const s = await serve((req, res) => {
      seen.push(req.headers.range);
      res.writeHead(206, { "content-length": data.length, "content-range": `bytes 0-${data.length - 1}/${data.length}` });
      res.end(data);
    });
    const p = pool();
    for (let round = 0; round < 2; round++) {
      const parts: Buffer[] = [];
      const got = await p.get(s.url, { range: "bytes=0-" }, accept206, (b) => void parts.push(Buffer.from(b)));
      expect(got.accepted).toBe(true);
      expect(got.status).toBe(206);
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      expect(parts.length).toBeGreaterThan(1); // many socket reads, each copied by the sink
    }
    expect(seen).toEqual(["bytes=0-", "bytes=0-"]);
    expect(s.connections()).toBe(1);
  });

  it("pauses reading while the sink's promise is pending", async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const s = await serve((_req, res) => {
      res.writeHead(206, { "content-length": data.length });
      res.end(data);
    });
    const parts: Buffer[] = [];
    let pending = false;
    let overlapped = false;
    let calls = 0;
    await pool().get(s.url, {}, accept206, (b) => {
      if (pending) overlapped = true;
      parts.push(Buffer.from(b));
      if (++calls % 3 !== 0) return;
      pending = true;
      return new Promise<void>((r) => setTimeout(() => ((pending = false), r()), 5));
    });
    expect(overlapped, "a sink call came while its promise was pending").toBe(false);
    expect(calls).toBeGreaterThan(3);
    expect(Buffer.concat(parts).equals(data)).toBe(true);
  });

  it("collects a refused answer's body instead of handing it to the sink", async () => {
    const xml = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
    const s = await serve((_req, res) => {
      res.writeHead(404, { "content-length": Buffer.byteLength(xml) });
      res.end(xml);
    });
    let sinkCalls = 0;
    const got = await pool().get(s.url, {}, accept206, () => void sinkCalls++);
    expect(got).toMatchObject({ status: 404, accepted: false });
    expect(got.errorBody?.toString()).toBe(xml);
    expect(sinkCalls).toBe(0);
  });

  it("replaces a kept socket the server closed meanwhile, without failing the request", async () => {
    // The first connection answers one request and drops the second unanswered (a server's
    // keep-alive timeout racing the reuse); every later connection answers.
    let connections = 0;
    const server = net.createServer((socket) => {
      const nth = ++connections;
      let requests = 0;
      socket.on("error", () => undefined);
      socket.on("data", () => {
        if (nth === 1 && ++requests === 2) return void socket.destroy();
        socket.write("HTTP/1.1 206 Partial Content\r\ncontent-length: 2\r\n\r\nok");
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    servers.push({ close: () => server.close() });
    const url = new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}/obj`);
    const p = pool();
    await p.get(url, {}, accept206, () => undefined);
    const parts: Buffer[] = [];
    const got = await p.get(url, {}, accept206, (b) => void parts.push(Buffer.from(b)));
    expect(got.accepted).toBe(true);
    expect(Buffer.concat(parts).toString()).toBe("ok");
    expect(connections).toBe(2);
  });

  it("a connection cut mid-body fails with ECONNRESET after the bytes that came", async () => {
    const url = await serveRaw((socket) => {
      socket.write("HTTP/1.1 206 Partial Content\r\ncontent-length: 100000\r\n\r\n");
      socket.end(Buffer.alloc(1000, 1));
    });
    let got = 0;
    const err = await pool()
      .get(url, {}, accept206, (b) => void (got += b.length))
      .catch((e: unknown) => e as { code?: string });
    expect(err).toMatchObject({ code: "ECONNRESET" });
    expect(got).toBe(1000);
  });

  it("a server that goes silent fails with ETIMEDOUT after the idle timeout", async () => {
    const url = await serveRaw((socket) => socket.write("HTTP/1.1 206 Partial Content\r\ncontent-length: 10\r\n\r\nabc"));
    const started = Date.now();
    const err = await pool(200)
      .get(url, {}, accept206, () => undefined)
      .catch((e: unknown) => e as { code?: string });
    expect(err).toMatchObject({ code: "ETIMEDOUT" });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("an aborted signal ends the request with an AbortError", async () => {
    const url = await serveRaw(() => undefined); // never answers
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const err = await pool()
      .get(url, {}, accept206, () => undefined, ac.signal)
      .catch((e: unknown) => e as Error);
    expect((err as Error).name).toBe("AbortError");
  });

  it("a sink that throws ends the request with its error", async () => {
    const s = await serve((_req, res) => {
      res.writeHead(206, { "content-length": 1_000_000 });
      res.end(Buffer.alloc(1_000_000));
    });
    const boom = new Error("disk full");
    await expect(pool().get(s.url, {}, accept206, () => { throw boom; })).rejects.toBe(boom);
  });

  it("a chunked answer is refused as unsupported (the caller then uses its general client)", async () => {
    const url = await serveRaw((socket) => socket.end("HTTP/1.1 206 Partial Content\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));
    await expect(pool().get(url, {}, accept206, () => undefined)).rejects.toBeInstanceOf(UnsupportedAnswerError);
  });
});

describe("parseHead", () => {
  it("reads the status, lower-cased headers, the length and keep-alive", () => {
    expect(parseHead("HTTP/1.1 206 Partial Content\r\nContent-Length: 5\r\nContent-Range: bytes 0-4/9")).toEqual({
      status: 206,
      headers: { "content-length": "5", "content-range": "bytes 0-4/9" },
      length: 5,
      keepAlive: true,
    });
    expect(parseHead("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close").keepAlive).toBe(false);
    expect(parseHead("HTTP/1.0 200 OK\r\nContent-Length: 0").keepAlive).toBe(false);
  });

  it("refuses what it does not read: no Content-Length, a bad status line", () => {
    expect(() => parseHead("HTTP/1.1 200 OK\r\nX: y")).toThrow(UnsupportedAnswerError);
    expect(() => parseHead("SSH-2.0-OpenSSH")).toThrow(UnsupportedAnswerError);
  });
});
