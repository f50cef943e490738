/**
 * What dry runs share: counting the requests a plan makes (the real
 * operation makes the same ones), estimating the requests of transfers
 * from the backend's part sizes, and whether the local disk has room.
 *
 * @example
 *   const { backend, requests } = countingBackend(ctx.backend);    // plan with `backend`, then read `requests`
 *   addRequests(requests, uploadRequests(ctx.backend, size));
 *   await diskRoom(freezer.basedir, bytesNeeded)                     // { needed, free, enough }
 */
import { spaceNeeded } from "../disk/space.js";
import type { Backend } from "./backends/backend.js";
import { partSizeFor } from "./transfer/multipart.js";
import { wantsRangedRead } from "./transfer/rangedGet.js";
import { LIST_PAGE_KEYS } from "./remoteObjects.js";

/** Requests by kind (a multipart upload's start, parts and completion, and a refresh, count as PUTs). */
export interface RequestEstimate {
  heads: number;
  lists: number;
  puts: number;
  gets: number;
}

/** No requests yet. @example addRequests(noRequests(), { gets: 1 }) */
export const noRequests = (): RequestEstimate => ({ heads: 0, lists: 0, puts: 0, gets: 0 });

/** Adds `more` into `into` and returns `into`. @example addRequests(total, { puts: 2 }) */
export function addRequests(into: RequestEstimate, more: Partial<RequestEstimate>): RequestEstimate {
  into.heads += more.heads ?? 0;
  into.lists += more.lists ?? 0;
  into.puts += more.puts ?? 0;
  into.gets += more.gets ?? 0;
  return into;
}

/**
 * `backend` for reading only, counting its requests: one LIST per page of
 * keys. Writes are refused, so a plan cannot change the bucket.
 *
 * @example const { backend, requests } = countingBackend(ctx.backend); await remoteTags(backend, "Cohort", "RNA"); requests.lists // 1
 */
export function countingBackend(backend: Backend): { backend: Backend; requests: RequestEstimate } {
  const requests = noRequests();
  const counting = Object.create(backend) as Backend;
  counting.head = (key, o) => (requests.heads++, backend.head(key, o));
  counting.get = (key, o) => (requests.gets++, backend.get(key, o));
  counting.list = (prefix, o) =>
    (async function* () {
      requests.lists++;
      let n = 0;
      for await (const item of backend.list(prefix, o)) {
        if (++n % LIST_PAGE_KEYS === 0) requests.lists++;
        yield item;
      }
    })();
  const readOnly = () => Promise.reject(new Error("a dry run writes nothing (this is a bug in minus80)"));
  counting.put = readOnly;
  counting.touch = readOnly;
  counting.delete = readOnly;
  counting.deleteMany = readOnly;
  counting.startUpload = readOnly;
  return { backend: counting, requests };
}

/** The requests of uploading one object of `size` bytes (see transfer/upload.ts). @example uploadRequests(backend, 10) // { puts: 1 } */
export function uploadRequests(backend: Backend, size: number): Partial<RequestEstimate> {
  const hint = backend.multipartWrites;
  if (!hint || size < hint.threshold) return { puts: 1 };
  return { puts: Math.ceil(size / partSizeFor(size, hint.partSize)) + 2 };
}

/** The requests of downloading one object of `size` bytes (see pull.ts: a HEAD, then ranges, for a large one). @example downloadRequests(backend, 10) // { gets: 1 } */
export function downloadRequests(backend: Backend, size: number): Partial<RequestEstimate> {
  const hint = wantsRangedRead(backend, size);
  return hint ? { heads: 1, gets: Math.ceil(size / hint.partSize) } : { gets: 1 };
}

export interface DiskRoom {
  /** the directory written to (the freezer's base directory) */
  dir: string;
  /** bytes the operation would take on disk (each file rounded up to the block size, plus a margin) */
  needed: number;
  /** bytes free for this user on the base directory's file system */
  free: number;
  enough: boolean;
}

/**
 * Whether the file system holding `dir` (or its nearest existing parent) has
 * room for files of these sizes (see `disk/space.ts`).
 *
 * @example (await diskRoom(freezer.basedir, [1e9])).enough
 */
export async function diskRoom(dir: string, sizes: Iterable<number>): Promise<DiskRoom> {
  const need = await spaceNeeded(dir, sizes);
  return { dir, needed: need.needed, free: need.available, enough: need.needed <= need.available };
}
