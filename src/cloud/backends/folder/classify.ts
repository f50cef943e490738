/**
 * Turns a file-system error of the folder backend into a classified
 * backend error (see `../backend.ts`).
 *
 * @example throw classifyFolderError(err, "read", key, { location, root }, signal)
 */
import { localFault } from "../../../disk/faults.js";
import { CancelledError, CloudError, Minus80Error, ObjectNotFoundError } from "../../../errors.js";

export function classifyFolderError(err: unknown, op: string, key: string | undefined, where: { location: string; root: string }, signal?: AbortSignal): Minus80Error {
  const { location } = where;
  if (err instanceof Minus80Error) return err;
  if (signal?.aborted) return new CancelledError(`${op}${key !== undefined ? ` ${key}` : ""}`, { key });
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const data = { key, transient: false, errno: code };
  const about = key !== undefined ? ` ${key}` : "";
  if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
    return new ObjectNotFoundError(`${key ?? "object"} does not exist in ${location}`, data);
  }
  // A full, read-only or refused cloud folder gets the local fault's own code, naming the folder.
  const fault = localFault(err, { dir: where.root, op: `${op}${about}`, setting: "cloud.endpoint (file:///...)" });
  if (fault) return fault;
  if (code === "EIO" || code === "ESTALE" || code === "EAGAIN" || code === "EBUSY") {
    return new CloudError(`cannot ${op}${about} in ${location} (${code})`, { ...data, transient: true });
  }
  return new CloudError(`cannot ${op}${about} in ${location}: ${(err as Error).message ?? String(err)}`, data);
}
