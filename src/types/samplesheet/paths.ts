/**
 * File entries as samplesheets and accession files name them: a URL
 * (`scheme://...`) is a reference and stays as written; a local path is
 * resolved against the directory of the sheet that names it.
 */
import path from "node:path";

const URL_RE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Whether a file entry is a URL (ssh://, s3://, https://, http://, ftp://, ...) rather than a local path. @example isUrl("s3://b/k") // true */
export function isUrl(file: string): boolean {
  return URL_RE.test(file);
}

/**
 * A URL as written; a local path made absolute against `baseDir` (when given).
 *
 * @example resolveEntry("reads/R1.fq", "/data/sheets") // "/data/sheets/reads/R1.fq"
 */
export function resolveEntry(file: string, baseDir?: string): string {
  if (baseDir === undefined || isUrl(file)) return file;
  return path.resolve(baseDir, file);
}
