/**
 * Progress events: the library reports, only the CLI draws. A
 * `TransferMeter` turns the running byte counts of many objects in one
 * phase into events ({phase, loaded, total, key}); an object that starts
 * again from 0 (a retry) is subtracted, so `loaded` never counts a byte
 * twice.
 *
 * @example
 *   const meter = new TransferMeter("upload", totalBytes, onProgress);
 *   await uploadFile(backend, key, src, { size, onBytes: (n) => meter.set(key, n) });
 *   meter.done();
 */
export interface ProgressEvent {
  phase: string;
  loaded: number;
  total: number;
  key?: string;
}
export type ProgressListener = (e: ProgressEvent) => void;

/** At most one event per this interval (plus the final one), so listeners are not flooded. */
export const PROGRESS_INTERVAL_MS = 100;

export class TransferMeter {
  private loaded = 0;
  private lastEmit = 0;
  private readonly perKey = new Map<string, number>();

  constructor(
    readonly phase: string,
    readonly total: number,
    private readonly listener?: ProgressListener,
  ) {}

  /** `key` has now sent or received `loaded` bytes in all. */
  set(key: string, loaded: number): void {
    const before = this.perKey.get(key) ?? 0;
    this.perKey.set(key, loaded);
    this.loaded += loaded - before;
    this.emit(key, false);
  }

  /** `key` moved `n` more bytes. */
  add(key: string, n: number): void {
    this.set(key, (this.perKey.get(key) ?? 0) + n);
  }

  /** Reports the final state once. */
  done(): void {
    this.emit(undefined, true);
  }

  private emit(key: string | undefined, force: boolean): void {
    if (!this.listener) return;
    const now = Date.now();
    if (!force && now - this.lastEmit < PROGRESS_INTERVAL_MS && this.loaded < this.total) return;
    this.lastEmit = now;
    this.listener({ phase: this.phase, loaded: this.loaded, total: this.total, ...(key !== undefined ? { key } : {}) });
  }
}
