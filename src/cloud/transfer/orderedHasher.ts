/**
 * The sha256 of an object sent or received as parts in parallel, computed
 * once, in order: parts arrive in any order; the part at the hash frontier
 * is hashed as its bytes flow, later parts' bytes are held until the
 * frontier reaches them. Memory is bounded by the caller, who starts part
 * `i` only once `i < frontier + window` (`whenFrontier`): at most
 * `(window - 1) x partSize` bytes are ever held.
 *
 * @example
 *   const h = new OrderedHasher(size, partSize);
 *   h.feed(part, offset, chunk); ...; h.endPart(part); ...; h.digest()
 */
import { createHash, type Hash } from "node:crypto";

interface Stash {
  offset: number;
  chunk: Buffer;
}

export class OrderedHasher {
  private readonly hash: Hash = createHash("sha256");
  /** bytes hashed so far: always `[0, pos)` */
  private pos = 0;
  /** the first part not completely hashed */
  private frontier = 0;
  private readonly done: boolean[];
  private readonly stash: Stash[][];
  private waiters: Array<{ part: number; resolve: () => void }> = [];
  /** bytes held for parts beyond the frontier now, and at most */
  held = 0;
  maxHeld = 0;

  constructor(
    readonly size: number,
    readonly partSize: number,
  ) {
    const parts = Math.max(1, Math.ceil(size / partSize));
    this.done = new Array<boolean>(parts).fill(false);
    this.stash = Array.from({ length: parts }, () => []);
  }

  get parts(): number {
    return this.done.length;
  }

  /** Bytes `[offset, offset + chunk.length)` of `part` (in order within the part). */
  feed(part: number, offset: number, chunk: Buffer): void {
    if (part < this.frontier) return;
    if (part > this.frontier) {
      this.stash[part]!.push({ offset, chunk });
      this.held += chunk.length;
      if (this.held > this.maxHeld) this.maxHeld = this.held;
      return;
    }
    this.consume(offset, chunk);
  }

  /** `part` is being read again from its start (a retry): drop what it held. */
  restartPart(part: number): void {
    if (part <= this.frontier) return; // the frontier skips the bytes it already hashed
    for (const s of this.stash[part]!) this.held -= s.chunk.length;
    this.stash[part] = [];
  }

  /** Every byte of `part` has been fed. */
  endPart(part: number): void {
    this.done[part] = true;
    while (this.frontier < this.done.length && this.done[this.frontier]) {
      this.frontier++;
      if (this.frontier < this.done.length) {
        const held = this.stash[this.frontier]!;
        this.stash[this.frontier] = [];
        for (const s of held) {
          this.held -= s.chunk.length;
          this.consume(s.offset, s.chunk);
        }
      }
    }
    const ready = this.waiters.filter((w) => w.part <= this.frontier);
    this.waiters = this.waiters.filter((w) => w.part > this.frontier);
    for (const w of ready) w.resolve();
  }

  /** Resolves once every part before `part` is hashed (so starting `part + window - 1` keeps memory bounded). */
  whenFrontier(part: number): Promise<void> {
    if (part <= this.frontier) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ part, resolve }));
  }

  /** Releases anyone waiting (the transfer failed). */
  cancel(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
    for (let i = 0; i < this.stash.length; i++) this.stash[i] = [];
    this.held = 0;
  }

  /** The bytes hashed in order, so far. */
  get hashed(): number {
    return this.pos;
  }

  /** The sha256 of `[0, size)`; undefined unless every byte was hashed. */
  digest(): string | undefined {
    return this.pos === this.size ? this.hash.digest("hex") : undefined;
  }

  private consume(offset: number, chunk: Buffer): void {
    if (offset > this.pos) throw new Error(`OrderedHasher: gap at byte ${this.pos} (next chunk at ${offset})`);
    const skip = this.pos - offset;
    if (skip >= chunk.length) return;
    this.hash.update(skip > 0 ? chunk.subarray(skip) : chunk);
    this.pos = offset + chunk.length;
  }
}

