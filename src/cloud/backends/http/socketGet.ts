/**
 * HTTP/1.1 GETs over plain TCP sockets that read into one reused buffer
 * per socket (`net.connect({ onread })`), for the bodies of large ranged
 * reads. Node's HTTP client allocates a new 64 KiB ArrayBuffer for every
 * socket read: a 1 GiB download is 16,000 buffers outside the heap, and
 * the collections they set off cost more CPU than the hash and the writes
 * together (BENCHMARKS.md, issue 11: 5.2-6.0 CPU-s against 1.6-2.0 with
 * reused buffers, same pull). Here a body's bytes are handed to a sink
 * that copies them before it returns, and the buffer is read into again.
 *
 * Only what a ranged GET of an S3 object needs: a request without a body,
 * an answer with a Content-Length (no chunked encoding), keep-alive. The
 * head is checked by the caller before any body byte reaches the sink; an
 * answer it refuses (an error, or an unexpected range) is collected, up
 * to ERROR_BODY_LIMIT bytes, for the caller to classify.
 *
 * @example
 *   const pool = new SocketPool({ connectTimeoutMs: 10_000, idleTimeoutMs: 60_000 });
 *   const got = await pool.get(new URL(presignedUrl), { range: "bytes=0-99" }, (h) => h.status === 206, (bytes) => void out.push(Buffer.from(bytes)));
 *   pool.close();
 */
import net from "node:net";

/** Bytes each socket reads into (allocated once per socket, reused for every read). */
export const SOCKET_READ_BUFFER = 256 * 1024;
/** The longest response head accepted. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Bytes of a refused answer's body kept for its error message. */
export const ERROR_BODY_LIMIT = 64 * 1024;
/** Idle keep-alive sockets kept per pool. */
export const MAX_IDLE_SOCKETS = 16;

export interface ResponseHead {
  status: number;
  /** header names in lower case */
  headers: Record<string, string>;
}

export interface SocketGetResult extends ResponseHead {
  /** true when the body went to the sink; false when it was refused and collected in `errorBody` */
  accepted: boolean;
  errorBody?: Buffer;
}

/** Receives a body's bytes; `bytes` is valid only until it returns (the buffer is reused). A returned promise pauses reading until it settles. */
export type BodySink = (bytes: Buffer) => void | Promise<void>;

export interface SocketPoolOptions {
  connectTimeoutMs: number;
  /** a socket silent this long (connecting aside) fails with ETIMEDOUT */
  idleTimeoutMs: number;
}

/** A network failure, shaped like Node's own (`code`), so the usual classification applies. */
export class SocketGetError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = "SocketGetError";
  }
}

/** An answer this client does not handle (no Content-Length, chunked, a bad head): the caller uses its general HTTP client instead. */
export class UnsupportedAnswerError extends Error {
  readonly code = "ERR_UNSUPPORTED_ANSWER";
}

interface PooledSocket {
  socket: net.Socket;
  /** set while a request owns the socket; receives what the socket reads */
  onBytes: ((buf: Buffer, n: number) => void) | undefined;
  onEnd: ((err: Error) => void) | undefined;
  /** requests this socket has carried */
  used: number;
}

export class SocketPool {
  private readonly idle = new Map<string, PooledSocket[]>();
  private closed = false;

  constructor(private readonly opts: SocketPoolOptions) {}

  /**
   * GETs `url` with `headers` (lower-case names; Host is added). `accept`
   * sees the head first: when it returns true, the body goes to `sink`,
   * else it is collected as `errorBody`. Network failures reject with a
   * `code` (ECONNRESET, ETIMEDOUT, ...); an aborted `signal` rejects with
   * an AbortError. A reused socket the server had closed is retried once
   * on a new one, before any byte reached the sink.
   */
  async get(url: URL, headers: Record<string, string>, accept: (head: ResponseHead) => boolean, sink: BodySink, signal?: AbortSignal): Promise<SocketGetResult> {
    const origin = `${url.hostname}:${url.port || "80"}`;
    for (let tries = 0; ; tries++) {
      const s = this.take(origin) ?? (await this.connect(url, signal));
      let delivered = false;
      try {
        return await this.exchange(s, origin, url, headers, accept, (b) => ((delivered = true), sink(b)), signal);
      } catch (err) {
        const stale = s.used > 1 && !delivered && (err as { code?: string }).code === "ECONNRESET" && tries === 0;
        if (!stale || signal?.aborted) throw err;
      }
    }
  }

  /** Destroys every idle socket; sockets in use end with their request. */
  close(): void {
    this.closed = true;
    for (const list of this.idle.values()) for (const s of list) s.socket.destroy();
    this.idle.clear();
  }

  private connect(url: URL, signal?: AbortSignal): Promise<PooledSocket> {
    return new Promise((resolve, reject) => {
      const buffer = Buffer.allocUnsafe(SOCKET_READ_BUFFER);
      const pooled: PooledSocket = { socket: undefined as unknown as net.Socket, onBytes: undefined, onEnd: undefined, used: 0 };
      const socket = net.connect({
        host: url.hostname,
        port: Number(url.port || "80"),
        noDelay: true,
        onread: { buffer, callback: (n: number, buf: Uint8Array) => (pooled.onBytes?.(buf as Buffer, n), true) },
      });
      pooled.socket = socket;
      const fail = (err: Error) => {
        cleanup();
        socket.destroy();
        reject(err);
      };
      const timer = setTimeout(() => fail(new SocketGetError(`connecting to ${url.host} timed out`, "ETIMEDOUT")), this.opts.connectTimeoutMs);
      const onAbort = () => fail(abortError());
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        socket.off("error", fail);
      };
      if (signal?.aborted) return fail(abortError());
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("error", fail);
      socket.once("connect", () => {
        cleanup();
        // Every later failure goes to the request that owns the socket, if any.
        socket.on("error", (err) => pooled.onEnd?.(err));
        socket.on("close", () => pooled.onEnd?.(new SocketGetError(`${url.host} closed the connection`, "ECONNRESET")));
        socket.on("timeout", () => socket.destroy(new SocketGetError(`${url.host} sent nothing for ${this.opts.idleTimeoutMs} ms`, "ETIMEDOUT")));
        resolve(pooled);
      });
    });
  }

  private exchange(s: PooledSocket, origin: string, url: URL, headers: Record<string, string>, accept: (head: ResponseHead) => boolean, sink: BodySink, signal?: AbortSignal): Promise<SocketGetResult> {
    const { socket } = s;
    s.used++;
    return new Promise<SocketGetResult>((resolve, reject) => {
      let head: Buffer | undefined = Buffer.alloc(0);
      let parsed: (ResponseHead & { length: number; keepAlive: boolean }) | undefined;
      let accepted = false;
      let remaining = 0;
      const errorChunks: Buffer[] = [];
      let errorBytes = 0;
      let settled = false;

      const finish = (err: Error | undefined) => {
        if (settled) return;
        settled = true;
        s.onBytes = undefined;
        s.onEnd = undefined;
        signal?.removeEventListener("abort", onAbort);
        socket.setTimeout(0);
        if (err) {
          socket.destroy();
          return reject(err);
        }
        const errorBody = accepted ? undefined : Buffer.concat(errorChunks);
        if (remaining === 0 && parsed!.keepAlive) this.release(origin, s);
        else socket.destroy();
        resolve({ status: parsed!.status, headers: parsed!.headers, accepted, ...(errorBody ? { errorBody } : {}) });
      };
      const onAbort = () => finish(abortError());

      const body = (bytes: Buffer) => {
        if (bytes.length > remaining) return finish(new SocketGetError(`${url.host} sent more than its Content-Length`, "ERR_STREAM_PREMATURE_CLOSE"));
        remaining -= bytes.length;
        if (!accepted) {
          if (errorBytes < ERROR_BODY_LIMIT) {
            errorChunks.push(Buffer.from(bytes.subarray(0, ERROR_BODY_LIMIT - errorBytes)));
            errorBytes += bytes.length;
          }
          if (remaining === 0 || errorBytes >= ERROR_BODY_LIMIT) finish(undefined);
          return;
        }
        let paused: void | Promise<void>;
        try {
          paused = sink(bytes);
        } catch (err) {
          return finish(err as Error);
        }
        if (remaining === 0) {
          if (paused) paused.then(() => finish(undefined), (err: Error) => finish(err));
          else finish(undefined);
          return;
        }
        if (paused) {
          socket.pause();
          paused.then(
            () => !settled && socket.resume(),
            (err: Error) => finish(err),
          );
        }
      };

      s.onBytes = (buf, n) => {
        if (settled) return;
        if (head === undefined) return body(buf.subarray(0, n));
        head = Buffer.concat([head, buf.subarray(0, n)]);
        const at = head.indexOf("\r\n\r\n");
        if (at < 0) {
          if (head.length > MAX_HEAD_BYTES) finish(new UnsupportedAnswerError(`${url.host} sent a response head over ${MAX_HEAD_BYTES} bytes`));
          return;
        }
        try {
          parsed = parseHead(head.subarray(0, at).toString("latin1"));
        } catch (err) {
          return finish(err as Error);
        }
        const rest = head.subarray(at + 4);
        head = undefined;
        remaining = parsed.length;
        accepted = accept(parsed);
        if (remaining === 0 && rest.length === 0) return finish(undefined);
        if (rest.length > 0) body(rest);
      };
      s.onEnd = (err) => finish(err);
      if (signal?.aborted) return finish(abortError());
      signal?.addEventListener("abort", onAbort, { once: true });
      socket.setTimeout(this.opts.idleTimeoutMs);
      const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `host: ${url.host}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
      socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    });
  }

  /** An idle socket to `origin`, made the caller's. */
  private take(origin: string): PooledSocket | undefined {
    const s = this.idle.get(origin)?.pop();
    if (s) {
      s.socket.ref();
      s.onEnd = undefined;
    }
    return s;
  }

  /** Keeps a socket whose answer was read to its end for the next request to `origin`. */
  private release(origin: string, s: PooledSocket): void {
    const list = this.idle.get(origin) ?? [];
    if (this.closed || list.length >= MAX_IDLE_SOCKETS) return void s.socket.destroy();
    // An idle socket neither keeps the process alive nor stays listed once the server closes it.
    s.socket.unref();
    s.onEnd = () => {
      s.socket.destroy();
      const i = list.indexOf(s);
      if (i >= 0) list.splice(i, 1);
    };
    list.push(s);
    this.idle.set(origin, list);
  }
}

/** Parses a status line and headers; throws UnsupportedAnswerError for what this client does not read. */
export function parseHead(text: string): ResponseHead & { length: number; keepAlive: boolean } {
  const [statusLine = "", ...lines] = text.split("\r\n");
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(statusLine);
  if (!m) throw new UnsupportedAnswerError(`not an HTTP/1.x status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (headers["transfer-encoding"] && headers["transfer-encoding"] !== "identity") throw new UnsupportedAnswerError(`a ${headers["transfer-encoding"]} body`);
  const length = headers["content-length"];
  if (length === undefined || !/^\d+$/.test(length)) throw new UnsupportedAnswerError("an answer without a Content-Length");
  const connection = (headers["connection"] ?? "").toLowerCase();
  const keepAlive = m[1] === "1" ? connection !== "close" : connection === "keep-alive";
  return { status: Number(m[2]), headers, length: Number(length), keepAlive };
}

function abortError(): Error {
  const err = new Error("the request was aborted");
  err.name = "AbortError";
  return err;
}
