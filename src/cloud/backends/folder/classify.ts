/**
 * Turns a file-system error of the folder backend into a classified
 * backend error (see `../backend.ts`).
 *
 * @example throw classifyFolderError(err, "read", key, location, signal)
 */
import { CancelledError, CloudError, CredentialsError, Minus80Error, ObjectNotFoundError } from "../../../errors.js";

export function classifyFolderError(err: unknown, op: string, key: string | undefined, location: string, signal?: AbortSignal): Minus80Error {
  if (err instanceof Minus80Error) return err;
  if (signal?.aborted) return new CancelledError(`${op}${key !== undefined ? ` ${key}` : ""}`, { key });
  const code = (err as NodeJS.ErrnoException).code ?? "";
  const data = { key, transient: false, errno: code };
  const about = key !== undefined ? ` ${key}` : "";
  if (code === "ENOENT" || code === "ENOTDIR" || code === "EISDIR") {
    return new ObjectNotFoundError(`${key ?? "object"} does not exist in ${location}`, data);
  }
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new CredentialsError(`no permission to ${op}${about} in ${location} (${code}): check the folder's permissions`, data);
  }
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new CloudError(`no space left to ${op}${about} in ${location} (${code})`, data);
  }
  if (code === "EIO" || code === "ESTALE" || code === "EAGAIN" || code === "EBUSY") {
    return new CloudError(`cannot ${op}${about} in ${location} (${code})`, { ...data, transient: true });
  }
  return new CloudError(`cannot ${op}${about} in ${location}: ${(err as Error).message ?? String(err)}`, data);
}
