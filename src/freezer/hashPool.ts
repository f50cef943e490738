/**
 * sha256 of files on all cores. Node hashes on the thread that calls
 * `update`, so one process hashes at one core's speed; a few worker threads
 * hash several files at once. A job can also copy the bytes it reads to a
 * new file, so freezing a new file reads it once instead of twice.
 *
 * @example
 *   const { sha256, size } = await hashPool().hash("/data/R1.fastq");
 *   await hashPool().hashAndCopy("/data/R1.fastq", "/store/.tmp-1");  // same, plus a copy
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import { CancelledError } from "../errors.js";

/** Workers to start: one per core, a few at most (hashing is CPU-bound). */
export const HASH_WORKERS = Math.max(1, Math.min(os.availableParallelism(), 4));

// Evaluated source (no file to find from the build or the test runner), with dynamic
// imports so it runs whether the process evaluates code as CommonJS or as a module.
const WORKER_SOURCE = `
(async () => {
const { parentPort } = await import("node:worker_threads");
const fs = await import("node:fs");
const crypto = await import("node:crypto");
const CHUNK = 1024 * 1024;
const PROGRESS_EVERY = 16 * CHUNK;
const buf = Buffer.allocUnsafe(CHUNK);
// Follow jobs: hash a file while another thread writes it, up to what it says is written.
const follows = new Map();
function endFollow(id, reply) {
  const f = follows.get(id);
  if (!f) return;
  follows.delete(id);
  try { fs.closeSync(f.fd); } catch {}
  parentPort.postMessage({ id, ...reply });
}
parentPort.on("message", (job) => {
  if (job.follow || job.path === undefined) { // a follow job's start, or a later word about one (ignored once it ended)
    try {
      if (job.follow) follows.set(job.id, { fd: fs.openSync(job.path, "r"), hash: crypto.createHash("sha256"), pos: 0 });
      const f = follows.get(job.id);
      if (!f) return;
      if (job.cancel) return endFollow(job.id, { error: { message: "cancelled", code: "ECANCELED" } });
      const upTo = job.upTo ?? 0;
      while (f.pos < upTo) {
        const n = fs.readSync(f.fd, buf, 0, Math.min(CHUNK, upTo - f.pos), f.pos);
        if (n === 0) throw Object.assign(new Error("file " + job.path + " ended at byte " + f.pos + ", " + upTo + " were written"), { code: "ESHORT" });
        f.hash.update(buf.subarray(0, n));
        f.pos += n;
      }
      if (job.end) endFollow(job.id, { sha256: f.hash.digest("hex"), size: f.pos });
    } catch (e) {
      if (!follows.has(job.id)) return parentPort.postMessage({ id: job.id, error: { message: String(e && e.message), code: e && e.code, path: e && e.path } });
      endFollow(job.id, { error: { message: String(e && e.message), code: e && e.code, path: e && e.path } });
    }
    return;
  }
  let fd, out;
  try {
    fd = fs.openSync(job.path, "r");
    if (job.copyTo) out = fs.openSync(job.copyTo, "wx", 0o444);
    const hash = crypto.createHash("sha256");
    let size = 0;
    let reported = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      if (out !== undefined) {
        let off = 0;
        while (off < n) off += fs.writeSync(out, buf, off, n - off);
      }
      size += n;
      if (job.progress && size - reported >= PROGRESS_EVERY) {
        parentPort.postMessage({ id: job.id, progress: size - reported });
        reported = size;
      }
    }
    if (job.progress && size > reported) parentPort.postMessage({ id: job.id, progress: size - reported });
    parentPort.postMessage({ id: job.id, sha256: hash.digest("hex"), size });
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: { message: String(e && e.message), code: e && e.code, path: e && e.path } });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    if (out !== undefined) fs.closeSync(out);
  }
});
})();
`;

interface Job {
  id: number;
  path: string;
  copyTo?: string;
  /** a follow job: what the writer has published so far */
  follow?: { upTo: number; end: boolean; cancel: boolean };
  /** told the bytes hashed since its last call, every 16 MiB or so */
  onBytes?: (n: number) => void;
  worker?: Worker;
  resolve: (r: { sha256: string; size: number }) => void;
  reject: (e: Error) => void;
}

/**
 * The sha256 of a file that is being written, computed on a worker thread
 * that reads (from the page cache) behind the writer: the writer says how
 * far the file is complete from its start with `advance`, then `finish`.
 *
 * @example
 *   const h = hashPool().follow(tmp);
 *   h.advance(8 << 20); ...; const { sha256 } = await h.finish(size);
 */
export interface FollowingHash {
  /** bytes `[0, upTo)` are written and final */
  advance(upTo: number): void;
  /** the whole file is `[0, size)`: its sha256 once hashed */
  finish(size: number): Promise<{ sha256: string; size: number }>;
  /** stop hashing (the write failed); never rejects */
  cancel(): void;
}

interface Reply {
  id: number;
  /** not the end: bytes hashed since the last progress reply */
  progress?: number;
  sha256?: string;
  size?: number;
  error?: { message: string; code?: string; path?: string };
}

export class HashPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Job>();
  private readonly queue: Job[] = [];
  private started = 0;
  private nextId = 0;

  constructor(private readonly size = HASH_WORKERS) {}

  /**
   * sha256 and size of a file; `onBytes` hears of the bytes hashed as it
   * goes. Aborting `signal` ends it at once with CANCELLED (a running job's
   * worker is stopped; the pool starts another when needed).
   */
  hash(path: string, onBytes?: (n: number) => void, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
    if (!signal) return this.submit(path, undefined, onBytes);
    if (signal.aborted) return Promise.reject(new CancelledError(`hashing ${path}`));
    let job: Job | undefined;
    const done = new Promise<{ sha256: string; size: number }>((resolve, reject) => {
      job = { id: this.nextId++, path, onBytes, resolve, reject };
    });
    const onAbort = () => this.cancel(job!, new CancelledError(`hashing ${path}`));
    signal.addEventListener("abort", onAbort, { once: true });
    this.queue.push(job!);
    this.pump();
    return done.finally(() => signal.removeEventListener("abort", onAbort));
  }

  /** Ends a job with `err`: dropped from the queue, or its worker stopped. */
  private cancel(job: Job, err: Error): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    else if (job.worker && this.busy.get(job.worker) === job) {
      this.busy.delete(job.worker);
      this.started--;
      void job.worker.terminate();
      this.pump();
    }
    job.reject(err);
  }

  /** sha256 and size of a file, and a copy of it at `copyTo` (which must not exist; created read-only). */
  hashAndCopy(path: string, copyTo: string): Promise<{ sha256: string; size: number }> {
    return this.submit(path, copyTo);
  }

  /** A hash that follows a writer of `path` (see `FollowingHash`); it occupies one worker until finished. */
  follow(path: string): FollowingHash {
    let job!: Job;
    const done = new Promise<{ sha256: string; size: number }>((resolve, reject) => {
      job = { id: this.nextId++, path, follow: { upTo: 0, end: false, cancel: false }, resolve, reject };
    });
    done.catch(() => undefined); // observed by finish(); a cancelled one is not
    this.queue.push(job);
    this.pump();
    const f = job.follow!;
    const send = () => job.worker?.postMessage({ id: job.id, upTo: f.upTo, end: f.end, cancel: f.cancel });
    return {
      advance(upTo: number) {
        if (upTo <= f.upTo || f.end || f.cancel) return;
        f.upTo = upTo;
        send();
      },
      finish(size: number) {
        f.upTo = size;
        f.end = true;
        send();
        return done;
      },
      cancel() {
        if (f.end || f.cancel) return;
        f.cancel = true;
        send();
      },
    };
  }

  private submit(path: string, copyTo?: string, onBytes?: (n: number) => void): Promise<{ sha256: string; size: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, path, copyTo, onBytes, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let worker = this.idle.pop();
      if (!worker && this.started < this.size) worker = this.spawn();
      if (!worker) return;
      const job = this.queue.shift()!;
      this.busy.set(worker, job);
      worker.ref(); // keep the process alive while a job runs
      job.worker = worker;
      if (job.follow) worker.postMessage({ id: job.id, path: job.path, follow: true, ...job.follow });
      else worker.postMessage({ id: job.id, path: job.path, copyTo: job.copyTo, progress: job.onBytes !== undefined });
    }
  }

  private spawn(): Worker {
    this.started++;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on("message", (reply: Reply) => {
      if (reply.progress !== undefined) {
        this.busy.get(worker)?.onBytes?.(reply.progress);
        return;
      }
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      worker.unref(); // an idle pool must not keep the process alive
      this.idle.push(worker);
      if (job) {
        if (reply.error) {
          const err = new Error(reply.error.message) as NodeJS.ErrnoException;
          if (reply.error.code) err.code = reply.error.code;
          if (reply.error.path) err.path = reply.error.path;
          job.reject(err);
        } else job.resolve({ sha256: reply.sha256!, size: reply.size! });
      }
      this.pump();
    });
    worker.on("error", (err) => {
      const job = this.busy.get(worker);
      this.busy.delete(worker);
      this.started--;
      job?.reject(err);
      this.pump();
    });
    return worker;
  }
}

let shared: HashPool | undefined;

/** The process-wide pool (started on first use). */
export function hashPool(): HashPool {
  shared ??= new HashPool();
  return shared;
}
