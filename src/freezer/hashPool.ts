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
const buf = Buffer.allocUnsafe(CHUNK);
parentPort.on("message", (job) => {
  let fd, out;
  try {
    fd = fs.openSync(job.path, "r");
    if (job.copyTo) out = fs.openSync(job.copyTo, "wx", 0o444);
    const hash = crypto.createHash("sha256");
    let size = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, CHUNK, null);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      if (out !== undefined) {
        let off = 0;
        while (off < n) off += fs.writeSync(out, buf, off, n - off);
      }
      size += n;
    }
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
  resolve: (r: { sha256: string; size: number }) => void;
  reject: (e: Error) => void;
}

interface Reply {
  id: number;
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

  /** sha256 and size of a file. */
  hash(path: string): Promise<{ sha256: string; size: number }> {
    return this.submit(path);
  }

  /** sha256 and size of a file, and a copy of it at `copyTo` (which must not exist; created read-only). */
  hashAndCopy(path: string, copyTo: string): Promise<{ sha256: string; size: number }> {
    return this.submit(path, copyTo);
  }

  private submit(path: string, copyTo?: string): Promise<{ sha256: string; size: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, path, copyTo, resolve, reject });
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
      worker.postMessage({ id: job.id, path: job.path, copyTo: job.copyTo });
    }
  }

  private spawn(): Worker {
    this.started++;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on("message", (reply: Reply) => {
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
