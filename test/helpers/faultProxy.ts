/**
 * A TCP fault-injection relay on 127.0.0.1, for reliability tests of the S3
 * client: it sits between the client and a real (or fake) S3 server and,
 * following a plan, lets a connection through, cuts it after n bytes, stalls
 * it, or answers HTTP requests itself with S3-style errors (SlowDown, ...)
 * without ever contacting the server. Everything it does is counted, so a
 * test can report what was injected and what the client made of it.
 *
 * @example
 *   const proxy = await startFaultProxy({ upstreamPort: s3.port, plan: slowDown(2) });
 *   const client = new S3Client({ endpoint: proxy.url, forcePathStyle: true, ... });
 *   await client.send(new PutObjectCommand(...));        // 2 x 503 SlowDown, then lands
 *   proxy.setPlan([cutAfter(64 * 1024), pass(), stall("forever")]); // next 3 connections
 *   proxy.setPlan({ random: { seed: 7, p: 0.2, faults: DEFAULT_RANDOM_FAULTS } });
 *   console.log(proxy.counters);                          // for the reliability report
 *   await proxy.close();
 *
 * Faults act on connections: a plan assigns one fault to each accepted
 * connection (see {@link Plan}); the fault is fixed for the connection's
 * lifetime, so `setPlan` only affects connections accepted afterwards.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";

// ------------------------------------------------------------ faults

export type Direction = "up" | "down";
export type FaultKind = "pass" | "cutAfter" | "stall" | "httpError";

/** Relay the connection untouched. */
export interface PassFault {
  readonly kind: "pass";
}

/** Relay exactly `bytes` bytes in `direction`, then close the connection. */
export interface CutAfterFault {
  readonly kind: "cutAfter";
  readonly bytes: number;
  readonly direction: Direction;
  /** abort with a TCP RST instead of a FIN (the peer may then get fewer than `bytes`) */
  readonly reset: boolean;
}

/** After `afterBytes` bytes in `direction`, stop forwarding anything, for `ms` or for ever. */
export interface StallFault {
  readonly kind: "stall";
  readonly ms: number | "forever";
  readonly afterBytes: number;
  readonly direction: Direction;
}

/** Answer HTTP requests with an S3-style error instead of relaying them. */
export interface HttpErrorFault {
  readonly kind: "httpError";
  readonly status: number;
  /** how many requests to answer (see {@link Plan} for who shares the count) */
  readonly count: number;
  /** S3 error code and message of the default XML body */
  readonly code: string;
  readonly message: string;
  /** a body sent verbatim instead of the XML error */
  readonly body?: string | Buffer;
  readonly contentType: string;
  /** extra response headers (e.g. Retry-After) */
  readonly headers: Readonly<Record<string, string>>;
  /** close the connection after the answer (default: keep-alive, like S3) */
  readonly close: boolean;
}

export type Fault = PassFault | CutAfterFault | StallFault | HttpErrorFault;

export function pass(): PassFault {
  return PASS;
}

const PASS: PassFault = Object.freeze({ kind: "pass" });

/**
 * Relays exactly `n` bytes in one direction ("down", server -> client, by
 * default) and closes both sockets when byte n+1 would pass: a response
 * (or upload) cut short. `cutAfter(0)` lets the request reach the server
 * and loses the whole answer; `cutAfter(0, { direction: "up" })` closes the
 * connection before the server sees a byte.
 */
export function cutAfter(n: number, opts: { direction?: Direction; reset?: boolean } = {}): CutAfterFault {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`cutAfter: n must be a non-negative integer, got ${n}`);
  return Object.freeze({ kind: "cutAfter", bytes: n, direction: opts.direction ?? "down", reset: opts.reset ?? false });
}

/**
 * Forwards `afterBytes` bytes (default 0) in `direction` (default "down"),
 * then freezes the whole connection, both directions: for `ms`, after which
 * everything held back is delivered intact, or "forever" (a black hole
 * until the client gives up; its hang-up then closes the connection).
 * `stall("forever")` means no request ever reaches the server.
 */
export function stall(ms: number | "forever", opts: { afterBytes?: number; direction?: Direction } = {}): StallFault {
  if (ms !== "forever" && !(Number.isFinite(ms) && ms >= 0)) throw new RangeError(`stall: ms must be >= 0 or "forever", got ${ms}`);
  const afterBytes = opts.afterBytes ?? 0;
  if (!Number.isInteger(afterBytes) || afterBytes < 0) throw new RangeError(`stall: afterBytes must be a non-negative integer, got ${afterBytes}`);
  return Object.freeze({ kind: "stall", ms, afterBytes, direction: opts.direction ?? "down" });
}

export interface HttpErrorOptions {
  /** requests to answer; default 1; Infinity for all */
  count?: number;
  code?: string;
  message?: string;
  body?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  close?: boolean;
}

/** S3's codes for the statuses a test is likely to inject. */
const S3_ERRORS: Readonly<Record<number, { code: string; message: string }>> = {
  400: { code: "InvalidRequest", message: "Invalid Request" },
  403: { code: "AccessDenied", message: "Access Denied" },
  404: { code: "NoSuchKey", message: "The specified key does not exist." },
  409: { code: "OperationAborted", message: "A conflicting conditional operation is currently in progress against this resource." },
  500: { code: "InternalError", message: "We encountered an internal error. Please try again." },
  503: { code: "SlowDown", message: "Please reduce your request rate." },
};

/**
 * Answers the next `count` HTTP requests with `status` and an S3 XML error
 * body, without contacting the server; then the connection is relayed.
 * The request bodies are read and dropped (Content-Length and chunked), so a
 * keep-alive connection stays usable; a request with `Expect: 100-continue`
 * is answered at once (its body is never sent) and the connection closed.
 */
export function httpError(status: number, opts: HttpErrorOptions = {}): HttpErrorFault {
  if (!Number.isInteger(status) || status < 100 || status > 599) throw new RangeError(`httpError: bad status ${status}`);
  const count = opts.count ?? 1;
  if (!(count === Infinity || (Number.isInteger(count) && count >= 0))) throw new RangeError(`httpError: count must be a non-negative integer or Infinity, got ${count}`);
  const known = S3_ERRORS[status] ?? (status >= 500 ? S3_ERRORS[500]! : S3_ERRORS[400]!);
  return Object.freeze({
    kind: "httpError",
    status,
    count,
    code: opts.code ?? known.code,
    message: opts.message ?? known.message,
    body: opts.body,
    contentType: opts.contentType ?? "application/xml",
    headers: Object.freeze({ ...opts.headers }),
    close: opts.close ?? false,
  });
}

/** S3's throttling answer, 503 SlowDown, to the next `count` requests. */
export function slowDown(count = 1): HttpErrorFault {
  return httpError(503, { count, code: "SlowDown", message: "Please reduce your request rate." });
}

/**
 * A ready mix for random plans: lost answers, cuts mid-transfer in both
 * directions, a slow start, a black hole mid-download, and server errors.
 * The stalls start after some bytes so an idle connection is not held.
 */
export const DEFAULT_RANDOM_FAULTS: readonly Fault[] = Object.freeze([
  cutAfter(0),
  cutAfter(64 * 1024),
  cutAfter(16 * 1024, { direction: "up", reset: true }),
  stall(1_000, { afterBytes: 1 }),
  stall("forever", { afterBytes: 64 * 1024 }),
  slowDown(),
  httpError(500),
]);

// ------------------------------------------------------------ plans

/**
 * A small seeded PRNG (mulberry32): the same seed gives the same fault
 * sequence, so a failing random run can be replayed.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** uniform in [0, 1) */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Rng.pick: no items");
    return items[this.int(items.length)]!;
  }
}

/**
 * Which fault each new connection gets (index: 0 for the first connection
 * accepted after `setPlan`):
 * - a single fault: every connection; an httpError's count is shared by all
 *   of them ("the next N requests", whichever connection carries them);
 * - an array, or `{ sequence, then }`: the faults in order, one per
 *   connection, then `then` (default pass) for the rest;
 * - `{ choose }`: a function decides, with a seeded {@link Rng};
 * - `{ random: { seed, p, faults } }`: each connection is faulty with
 *   probability p, the fault drawn uniformly from `faults`.
 * Except for the single fault, an httpError's count is per connection.
 */
export type Plan =
  | Fault
  | readonly Fault[]
  | { sequence: readonly Fault[]; then?: Fault }
  | { choose: (ctx: { index: number; rng: Rng }) => Fault; seed?: number }
  | { random: { seed: number; p: number; faults?: readonly Fault[] } };

/** The seed of a `choose` plan that names none. */
export const DEFAULT_CHOOSE_SEED = 0xfa017;

/** Requests an httpError may still answer; shared by the connections that share it. */
interface Budget {
  remaining: number;
}

interface Assignment {
  fault: Fault;
  budget: Budget;
}

const budgetFor = (fault: Fault): Budget => ({ remaining: fault.kind === "httpError" ? fault.count : 0 });

function compilePlan(plan: Plan): (index: number) => Assignment {
  if (Array.isArray(plan)) return compilePlan({ sequence: plan });
  const p = plan as Exclude<Plan, readonly Fault[]>;
  if ("kind" in p) {
    const shared = { fault: p, budget: budgetFor(p) };
    return () => shared;
  }
  if ("sequence" in p) {
    const then = p.then ?? PASS;
    return (i) => {
      const fault = i < p.sequence.length ? p.sequence[i]! : then;
      return { fault, budget: budgetFor(fault) };
    };
  }
  if ("choose" in p) {
    const rng = new Rng(p.seed ?? DEFAULT_CHOOSE_SEED);
    return (index) => {
      const fault = p.choose({ index, rng });
      return { fault, budget: budgetFor(fault) };
    };
  }
  const { seed, p: rate, faults = DEFAULT_RANDOM_FAULTS } = p.random;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`random plan: p must be in [0, 1], got ${rate}`);
  if (faults.length === 0) throw new RangeError("random plan: no faults to choose from");
  const rng = new Rng(seed);
  return () => {
    const fault = rng.next() < rate ? rng.pick(faults) : PASS;
    return { fault, budget: budgetFor(fault) };
  };
}

// ------------------------------------------------------------ reports

export interface FaultProxyCounters {
  /** client connections accepted */
  connections: number;
  /** connections opened (attempted) to the server */
  upstreamConnections: number;
  /** server connections that failed (refused, reset), not counting the proxy's own cuts */
  upstreamErrors: number;
  /** bytes relayed client -> server (requests the proxy answered itself are not relayed) */
  bytesUp: number;
  /** bytes relayed server -> client (the proxy's own answers are not counted) */
  bytesDown: number;
  /** faults injected: cuts and stalls per connection, httpError per answered request */
  faults: { cutAfter: number; stall: number; httpError: number };
  /** the proxy's own answers, by status */
  httpErrorsByStatus: Record<number, number>;
}

export interface ConnectionReport {
  /** accept order, from 0 (since start or the last resetCounters) */
  index: number;
  /** the fault the plan assigned */
  planned: FaultKind;
  /** faults actually injected, in order (httpError once per answered request) */
  injected: FaultKind[];
  bytesUp: number;
  bytesDown: number;
  /** requests the proxy answered itself */
  answered: number;
  /** both sockets closed */
  closed: boolean;
}

export interface FaultProxyOptions {
  upstreamPort: number;
  upstreamHost?: string;
  /** listening port on 127.0.0.1; default: any free port */
  port?: number;
  /** default: pass() */
  plan?: Plan;
}

export interface FaultProxy {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** applies to connections accepted from now on */
  setPlan(plan: Plan): void;
  /** a snapshot */
  readonly counters: FaultProxyCounters;
  /** a snapshot, one entry per connection */
  readonly connections: ConnectionReport[];
  /** zero the counters and forget the connection reports: a new measurement */
  resetCounters(): void;
  /** destroy every open connection at once, like a network blip */
  dropConnections(): void;
  close(): Promise<void>;
}

const zeroCounters = (): FaultProxyCounters => ({
  connections: 0,
  upstreamConnections: 0,
  upstreamErrors: 0,
  bytesUp: 0,
  bytesDown: 0,
  faults: { cutAfter: 0, stall: 0, httpError: 0 },
  httpErrorsByStatus: {},
});

// ------------------------------------------------------------ HTTP request framing

/** Longest request head accepted while answering requests (S3 allows 8 KiB of headers). */
const MAX_HEAD_BYTES = 64 * 1024;
/** Longest chunk-size or trailer line. */
const MAX_LINE_BYTES = 8 * 1024;
const EMPTY = Buffer.alloc(0);

interface RequestHead {
  method: string;
  /** bytes of the head, including the blank line */
  length: number;
  contentLength: number;
  chunked: boolean;
  expectContinue: boolean;
  /** the client asked for the connection to close after this request */
  close: boolean;
}

type FramerEvent = { type: "head"; head: RequestHead } | { type: "end" } | { type: "error"; reason: string };

/** Parses a request head; a string describes why it is unusable. */
function parseHead(text: string, length: number): RequestHead | string {
  const [requestLine = "", ...lines] = text.split("\r\n");
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d)\.(\d)$/.exec(requestLine);
  if (!m) return `bad request line ${JSON.stringify(requestLine.slice(0, 100))}`;
  const headers = new Map<string, string[]>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0) return `bad header line ${JSON.stringify(line.slice(0, 100))}`;
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  const tokens = (name: string) =>
    (headers.get(name) ?? [])
      .join(",")
      .split(",")
      .map((t) => t.trim().toLowerCase())
      .filter((t) => t !== "");
  const te = tokens("transfer-encoding");
  // RFC 9112 6.3: a request whose final coding is not chunked has no knowable length
  if (te.length > 0 && te.at(-1) !== "chunked") return `unsupported transfer-encoding ${te.join(", ")}`;
  const lengths = new Set(tokens("content-length"));
  if (lengths.size > 1) return "conflicting content-length";
  const [cl] = lengths;
  if (cl !== undefined && !/^\d+$/.test(cl)) return `bad content-length ${JSON.stringify(cl)}`;
  const http10 = m[3] === "1" && m[4] === "0";
  const connection = tokens("connection");
  return {
    method: m[1]!,
    length,
    contentLength: te.length > 0 || cl === undefined ? 0 : Number(cl),
    chunked: te.length > 0,
    expectContinue: tokens("expect").includes("100-continue"),
    close: connection.includes("close") || (http10 && !connection.includes("keep-alive")),
  };
}

/**
 * Incremental HTTP/1.x request framing, just enough to find where each
 * request starts and to skip its body: the proxy must know where the next
 * request begins to keep a keep-alive connection in step.
 */
class RequestFramer {
  private buf: Buffer = EMPTY;
  private state: "head" | "fixed" | "chunk-size" | "chunk-data" | "trailer" = "head";
  private remaining = 0;

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }

  /** The unconsumed bytes; after a "head" event they start with that head. */
  takeRest(): Buffer {
    const rest = this.buf;
    this.buf = EMPTY;
    return rest;
  }

  /** Consumes the head last reported by next() and frames its body. */
  acceptHead(head: RequestHead): void {
    this.buf = this.buf.subarray(head.length);
    if (head.chunked) this.state = "chunk-size";
    else {
      this.state = "fixed";
      this.remaining = head.contentLength;
    }
  }

  /** The next event, or undefined until more bytes arrive. A "head" is not consumed until acceptHead. */
  next(): FramerEvent | undefined {
    for (;;) {
      switch (this.state) {
        case "head": {
          // RFC 9112 2.2: empty lines before a request line are ignored
          let start = 0;
          while (this.buf[start] === 0x0d && this.buf[start + 1] === 0x0a) start += 2;
          if (start > 0) this.buf = this.buf.subarray(start);
          const end = this.buf.indexOf("\r\n\r\n");
          if (end < 0 || end > MAX_HEAD_BYTES) {
            return this.buf.length > MAX_HEAD_BYTES ? { type: "error", reason: "request head too long" } : undefined;
          }
          const head = parseHead(this.buf.subarray(0, end).toString("latin1"), end + 4);
          return typeof head === "string" ? { type: "error", reason: head } : { type: "head", head };
        }
        case "fixed":
        case "chunk-data": {
          const n = Math.min(this.remaining, this.buf.length);
          this.buf = this.buf.subarray(n);
          this.remaining -= n;
          if (this.remaining > 0) return undefined;
          if (this.state === "fixed") {
            this.state = "head";
            return { type: "end" };
          }
          this.state = "chunk-size";
          continue;
        }
        case "chunk-size":
        case "trailer": {
          const eol = this.buf.indexOf("\r\n");
          if (eol < 0 || eol > MAX_LINE_BYTES) {
            return this.buf.length > MAX_LINE_BYTES ? { type: "error", reason: "chunk line too long" } : undefined;
          }
          const line = this.buf.subarray(0, eol).toString("latin1");
          this.buf = this.buf.subarray(eol + 2);
          if (this.state === "trailer") {
            if (line !== "") continue;
            this.state = "head";
            return { type: "end" };
          }
          const size = line.split(";")[0]!.trim();
          if (!/^[0-9a-fA-F]{1,12}$/.test(size)) return { type: "error", reason: `bad chunk size ${JSON.stringify(size)}` };
          const n = parseInt(size, 16);
          if (n === 0) this.state = "trailer";
          else {
            this.state = "chunk-data";
            this.remaining = n + 2; // the data and its CRLF
          }
          continue;
        }
      }
    }
  }
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** An S3-like request id: 16 upper-case hex digits. */
const requestId = () => randomBytes(8).toString("hex").toUpperCase();

function errorResponse(fault: HttpErrorFault, head: RequestHead, close: boolean): Buffer {
  const id = requestId();
  const hostId = randomBytes(24).toString("base64");
  const body =
    fault.body !== undefined
      ? Buffer.from(fault.body)
      : Buffer.from(
          `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${xmlEscape(fault.code)}</Code><Message>${xmlEscape(fault.message)}</Message>` +
            `<RequestId>${id}</RequestId><HostId>${hostId}</HostId></Error>`,
        );
  const headers: Record<string, string> = {
    "x-amz-request-id": id,
    "x-amz-id-2": hostId,
    Date: new Date().toUTCString(),
    "Content-Type": fault.contentType,
    "Content-Length": String(body.length),
    Connection: close ? "close" : "keep-alive",
  };
  for (const [name, value] of Object.entries(fault.headers)) {
    for (const existing of Object.keys(headers)) if (existing.toLowerCase() === name.toLowerCase()) delete headers[existing];
    headers[name] = value;
  }
  const reason = http.STATUS_CODES[fault.status] ?? "Error";
  const text = `HTTP/1.1 ${fault.status} ${reason}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("")}\r\n`;
  // a response to HEAD announces the length but carries no body
  return head.method === "HEAD" ? Buffer.from(text, "latin1") : Buffer.concat([Buffer.from(text, "latin1"), body]);
}

// ------------------------------------------------------------ connections

/** How long a closing connection waits for its peers' FINs before destroying the sockets. */
const CLOSE_LINGER_MS = 2_000;
const EOF = Symbol("eof");
type Item = Buffer | typeof EOF;

interface ProxyState {
  counters: FaultProxyCounters;
  upstreamHost: string;
  upstreamPort: number;
}

/**
 * One client connection and, once needed, its server connection. Data is
 * relayed chunk by chunk with backpressure; while a direction is blocked
 * (server not connected yet, stall) its source is paused and any leftover
 * is held in order.
 */
class Connection {
  readonly report: ConnectionReport;
  private upstream: net.Socket | undefined;
  private upstreamReady = false;
  /** intercept: answering HTTP requests; relay; cut: closing after a cut; done: closing */
  private mode: "intercept" | "relay" | "cut" | "done";
  private readonly held: Record<Direction, Item[]> = { up: [], down: [] };
  private readonly waitingDrain: Record<Direction, boolean> = { up: false, down: false };
  private stalled = false;
  private stallInjected = false;
  /** a "forever" stall: client data is dropped, so its hang-up is still noticed */
  private blackHole = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private lingering = false;
  private readonly framer = new RequestFramer();
  /** a request whose answer was granted from the budget and not sent yet */
  private claimed: RequestHead | undefined;
  private clientClosed = false;
  private upstreamClosed = true;

  constructor(
    private readonly state: ProxyState,
    private readonly client: net.Socket,
    private readonly fault: Fault,
    private readonly budget: Budget,
    index: number,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.report = { index, planned: fault.kind, injected: [], bytesUp: 0, bytesDown: 0, answered: 0, closed: false };
    client.setNoDelay(true);
    client.on("data", (c: Buffer) => this.onClientData(c));
    client.on("end", () => this.onClientEnd());
    client.on("error", () => this.teardown());
    client.on("close", () => this.onClientClose());
    if (fault.kind === "httpError") {
      // the server is contacted only once the budget runs out
      this.mode = "intercept";
      return;
    }
    this.mode = "relay";
    this.connectUpstream();
    if (fault.kind === "stall" && fault.afterBytes === 0) this.startStall();
    this.updateFlow("up");
  }

  /** Destroys both sockets at once. */
  teardown(): void {
    if (this.mode === "intercept" || this.mode === "relay") this.mode = "done";
    this.refund();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.held.up.length = 0;
    this.held.down.length = 0;
    this.client.destroy();
    this.upstream?.destroy();
  }

  // ---------------------------------------------------------- sockets

  private connectUpstream(): void {
    this.state.counters.upstreamConnections++;
    const up = net.connect({ port: this.state.upstreamPort, host: this.state.upstreamHost, allowHalfOpen: true });
    this.upstream = up;
    this.upstreamClosed = false;
    up.setNoDelay(true);
    up.on("connect", () => {
      this.upstreamReady = true;
      up.on("data", (c: Buffer) => {
        if (this.mode === "relay") this.push("down", c);
      });
      up.on("end", () => {
        if (this.mode === "relay") this.push("down", EOF);
      });
      this.flush("up");
      this.updateFlow("up");
      this.updateFlow("down");
    });
    up.on("error", () => {
      // errors after a cut or a drop are the proxy's own doing
      if (this.mode === "relay") this.state.counters.upstreamErrors++;
      this.teardown();
    });
    up.on("close", () => {
      this.upstreamClosed = true;
      // a server that hung up normally has its FIN delivered or queued for the client; otherwise give up
      const finOnItsWay = this.client.writableEnded || this.held.down.includes(EOF);
      if (this.mode === "relay" && !finOnItsWay) this.teardown();
      this.checkClosed();
    });
  }

  private onClientData(chunk: Buffer): void {
    if (this.mode === "intercept") {
      this.framer.push(chunk);
      this.pumpRequests();
    } else if (this.mode === "relay" && !this.blackHole) this.push("up", chunk);
    // otherwise (closing, black hole) the data is dropped
  }

  private onClientEnd(): void {
    if (this.mode === "intercept") {
      this.refund();
      this.finish();
    } else if (this.mode === "relay") {
      // the client gave up on a black-holed connection: nothing will ever flow again
      if (this.blackHole) this.teardown();
      else this.push("up", EOF);
    }
  }

  private onClientClose(): void {
    this.clientClosed = true;
    this.refund();
    const up = this.upstream;
    if (up && !up.destroyed) {
      // the server may still be flushing what the client sent before hanging up
      if (up.writableEnded) this.linger();
      else this.teardown();
    }
    this.checkClosed();
  }

  private checkClosed(): void {
    if (this.report.closed || !this.clientClosed || !this.upstreamClosed) return;
    this.report.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.onClosed(this);
  }

  /** Ends our side of the client connection gracefully. */
  private finish(): void {
    this.mode = "done";
    if (!this.client.destroyed && !this.client.writableEnded) this.client.end();
    this.client.resume(); // read and drop, so the peer's FIN is seen and no RST is sent
    this.linger();
  }

  /** Destroys whatever is left after CLOSE_LINGER_MS, for peers that never close. */
  private linger(): void {
    if (this.lingering) return;
    this.lingering = true;
    this.timer(CLOSE_LINGER_MS, () => this.teardown()).unref();
  }

  private timer(ms: number, fn: () => void): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  // ---------------------------------------------------------- relaying

  private blocked(dir: Direction): boolean {
    return this.mode !== "relay" || this.stalled || (dir === "up" && !this.upstreamReady);
  }

  /** Pauses a direction's source while its data cannot go anywhere (so memory stays bounded). */
  private updateFlow(dir: Direction): void {
    const source = dir === "up" ? this.client : this.upstream;
    if (!source || source.destroyed) return;
    if (dir === "up" && this.blackHole) {
      source.resume();
      return;
    }
    const pause = this.mode === "relay" && (this.waitingDrain[dir] || this.blocked(dir));
    if (pause) source.pause();
    else source.resume();
  }

  private push(dir: Direction, item: Item): void {
    if (this.held[dir].length > 0 || this.blocked(dir)) {
      this.held[dir].push(item);
      this.updateFlow(dir);
    } else this.deliver(dir, item);
  }

  private flush(dir: Direction): void {
    const q = this.held[dir];
    while (q.length > 0 && !this.blocked(dir)) this.deliver(dir, q.shift()!);
  }

  /** Forwards one item, applying the connection's cut or stall when its byte count is reached. */
  private deliver(dir: Direction, item: Item): void {
    const to = dir === "up" ? this.upstream! : this.client;
    if (item === EOF) {
      if (!to.destroyed && !to.writableEnded) to.end();
      return;
    }
    const sent = dir === "up" ? this.report.bytesUp : this.report.bytesDown;
    const f = this.fault;
    if (f.kind === "cutAfter" && f.direction === dir && item.length > f.bytes - sent) {
      this.write(dir, item.subarray(0, f.bytes - sent));
      this.cut(f);
      return;
    }
    if (f.kind === "stall" && f.direction === dir && !this.stallInjected && item.length >= f.afterBytes - sent) {
      const room = f.afterBytes - sent;
      this.write(dir, item.subarray(0, room));
      if (item.length > room) this.held[dir].unshift(item.subarray(room));
      this.startStall();
      return;
    }
    this.write(dir, item);
  }

  private write(dir: Direction, chunk: Buffer): void {
    if (chunk.length === 0) return;
    const to = dir === "up" ? this.upstream! : this.client;
    if (to.destroyed || to.writableEnded) {
      this.teardown();
      return;
    }
    this.count(dir, chunk.length);
    if (!to.write(chunk) && !this.waitingDrain[dir]) {
      this.waitingDrain[dir] = true;
      this.updateFlow(dir);
      to.once("drain", () => {
        this.waitingDrain[dir] = false;
        this.updateFlow(dir);
      });
    }
  }

  private count(dir: Direction, n: number): void {
    if (dir === "up") {
      this.report.bytesUp += n;
      this.state.counters.bytesUp += n;
    } else {
      this.report.bytesDown += n;
      this.state.counters.bytesDown += n;
    }
  }

  private inject(kind: Exclude<FaultKind, "pass">): void {
    this.report.injected.push(kind);
    this.state.counters.faults[kind]++;
  }

  // ---------------------------------------------------------- faults

  private cut(f: CutAfterFault): void {
    this.inject("cutAfter");
    this.mode = "cut";
    this.held.up.length = 0;
    this.held.down.length = 0;
    const sockets = [this.client, this.upstream!];
    if (f.reset) {
      for (const s of sockets) if (!s.destroyed) s.resetAndDestroy();
      return;
    }
    // FIN after the n bytes; keep reading (and dropping) so the close is not turned into an RST
    for (const s of sockets) {
      if (s.destroyed) continue;
      s.end();
      s.resume();
    }
    this.linger();
  }

  private startStall(): void {
    const f = this.fault as StallFault;
    this.stalled = true;
    this.stallInjected = true;
    this.inject("stall");
    if (f.ms === "forever") {
      this.blackHole = true;
      this.held.up.length = 0;
    } else {
      this.timer(f.ms, () => {
        this.stalled = false;
        this.flush("up");
        this.flush("down");
        this.updateFlow("up");
        this.updateFlow("down");
      });
    }
    this.updateFlow("up");
    this.updateFlow("down");
  }

  // ---------------------------------------------------------- answering requests

  private pumpRequests(): void {
    const f = this.fault as HttpErrorFault;
    for (let ev = this.framer.next(); ev && this.mode === "intercept"; ev = this.framer.next()) {
      if (ev.type === "error") {
        // the request boundaries are lost: nothing sensible can follow
        this.finish();
        return;
      }
      if (ev.type === "head") {
        if (this.budget.remaining <= 0) {
          this.switchToRelay(this.framer.takeRest());
          return;
        }
        this.budget.remaining--;
        this.claimed = ev.head;
        if (ev.head.expectContinue) {
          // like S3: refuse before the body is sent; the body would follow unframed, so close
          this.answer(true);
          return;
        }
        this.framer.acceptHead(ev.head);
      } else {
        // the body has been read: answer, and the connection is ready for the next request
        this.answer(f.close || this.claimed!.close);
      }
    }
  }

  private answer(close: boolean): void {
    const f = this.fault as HttpErrorFault;
    const head = this.claimed!;
    this.claimed = undefined;
    this.client.write(errorResponse(f, head, close));
    this.report.answered++;
    this.inject("httpError");
    this.state.counters.httpErrorsByStatus[f.status] = (this.state.counters.httpErrorsByStatus[f.status] ?? 0) + 1;
    if (close) this.finish();
  }

  /** Gives back a budgeted answer that was never sent. */
  private refund(): void {
    if (!this.claimed) return;
    this.claimed = undefined;
    this.budget.remaining++;
  }

  private switchToRelay(rest: Buffer): void {
    this.mode = "relay";
    this.connectUpstream();
    if (rest.length > 0) this.push("up", rest);
    this.updateFlow("up");
  }
}

// ------------------------------------------------------------ the proxy

class FaultProxyServer implements FaultProxy {
  private readonly server: net.Server;
  private readonly state: ProxyState;
  private assign: (index: number) => Assignment;
  /** connections accepted under the current plan */
  private planIndex = 0;
  private reports: ConnectionReport[] = [];
  private readonly live = new Set<Connection>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: FaultProxyOptions) {
    this.state = { counters: zeroCounters(), upstreamHost: options.upstreamHost ?? "127.0.0.1", upstreamPort: options.upstreamPort };
    this.assign = compilePlan(options.plan ?? PASS);
    // half-open: each direction's FIN is relayed on its own, after that direction's data
    this.server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port ?? 0, "127.0.0.1", () => {
        this.server.off("error", reject);
        resolve();
      });
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  setPlan(plan: Plan): void {
    this.assign = compilePlan(plan);
    this.planIndex = 0;
  }

  get counters(): FaultProxyCounters {
    const c = this.state.counters;
    return { ...c, faults: { ...c.faults }, httpErrorsByStatus: { ...c.httpErrorsByStatus } };
  }

  get connections(): ConnectionReport[] {
    return this.reports.map((r) => ({ ...r, injected: [...r.injected] }));
  }

  resetCounters(): void {
    // mutate in place: live connections keep counting into the new measurement
    Object.assign(this.state.counters, zeroCounters());
    this.reports = [];
  }

  dropConnections(): void {
    for (const c of [...this.live]) c.teardown();
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.dropConnections();
    });
    return this.closing;
  }

  private accept(socket: net.Socket): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.state.counters.connections++;
    const { fault, budget } = this.assign(this.planIndex++);
    const conn = new Connection(this.state, socket, fault, budget, this.reports.length, (c) => this.live.delete(c));
    this.reports.push(conn.report);
    this.live.add(conn);
  }
}

/**
 * Starts a fault proxy on 127.0.0.1 in front of upstreamHost:upstreamPort.
 *
 * @example
 *   const proxy = await startFaultProxy({ upstreamPort: 9000, plan: cutAfter(100_000) });
 *   await fetch(`${proxy.url}/bucket/key`);   // fails mid-body
 *   proxy.counters.faults.cutAfter;           // 1
 */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new FaultProxyServer(options);
  await proxy.listen();
  return proxy;
}
