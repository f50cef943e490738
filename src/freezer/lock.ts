/**
 * Inter-process locks (proper-lockfile): a lock directory whose mtime the
 * holder refreshes; a lock left by a killed process goes stale after
 * `LOCK_STALE_MS` and is taken over.
 */
import fs from "node:fs";
import lockfile from "proper-lockfile";
import { isLocalFault } from "../disk/faults.js";
import { LockedError } from "../errors.js";

export const LOCK_STALE_MS = 10_000;
export const LOCK_UPDATE_MS = 2_000;
/** How long a waiter keeps trying before giving up with LOCKED (about 5 minutes). */
const LOCK_RETRIES = { retries: 400, factor: 1.3, minTimeout: 20, maxTimeout: 1000, randomize: true };

/**
 * Runs `fn` while holding the lock at `lockPath` (created next to `target`).
 *
 * @example await withLock(datasetDir, `${datasetDir}/.lock`, async () => freezeIt())
 */
export async function withLock<T>(target: string, lockPath: string, what: string, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(target, { recursive: true });
  // proper-lockfile retries every failure for minutes: a directory that can never be written fails now.
  fs.accessSync(target, fs.constants.W_OK);
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(target, {
      lockfilePath: lockPath,
      stale: LOCK_STALE_MS,
      update: LOCK_UPDATE_MS,
      retries: LOCK_RETRIES,
      realpath: false,
      onCompromised: (err) => {
        compromised = err;
      },
    });
  } catch (err) {
    // A lock that cannot be made (a read-only or full file system) is not someone else's lock.
    if (isLocalFault(err)) throw err;
    throw new LockedError(`${what} is locked by another minus80 process; try again when it has finished`, { lock: lockPath }, { cause: err });
  }
  try {
    const result = await fn();
    if (compromised) throw new LockedError(`lost the lock on ${what} while working: ${compromised.message}`, { lock: lockPath });
    return result;
  } finally {
    await release().catch(() => undefined);
  }
}
