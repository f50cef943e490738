/**
 * Attaching reads: the local files an accession names are copied into the
 * Cohort's working copy under `reads/<accession>/<file name>` (a reflink
 * where the file system can), so freeze, push and pull carry them; the
 * accession's entry then names the copy (stored relative to the working
 * copy, see store.ts). URLs stay references.
 *
 * All or nothing: every file is checked first (it exists, is a regular,
 * readable file, its name and the accession's name can be file names, no
 * two files of one accession share a name, a copy already attached is the
 * same bytes); only then are files copied, to temporary names, renamed into
 * place, and the database committed. A failure at any step removes what was
 * copied and rolls the database back.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { withLocalFaults } from "../../disk/faults.js";
import { assertSpace, copiesAreFree, spaceNeeded } from "../../disk/space.js";
import { InvalidArgumentError, isMinus80Error } from "../../errors.js";
import { hashFile, isInside, tempPathFor } from "../../freezer/files.js";
import { checkRawName, RAW_NAME_RULE } from "../../names.js";
import type { Accession } from "../accession.js";
import { isUrl } from "../samplesheet/paths.js";
import { CohortStore, type StoredFile } from "./store.js";

/** The statements of the transaction an attaching import holds while it copies (constants: no SQL is ever built from input). */
const BEGIN_IMMEDIATE = "BEGIN IMMEDIATE";
const COMMIT = "COMMIT";
const ROLLBACK = "ROLLBACK";

/** The folder of the working copy that attached reads live in. */
export const READS_DIR = "reads";

interface Copy {
  source: string;
  dest: string;
}

export interface AttachPlan {
  /** per accession (same order), the files to store */
  files: StoredFile[][];
  /** the copies to make (files already attached with the same bytes are left out) */
  copies: Copy[];
}

const notAttachable = (accession: string, file: string, why: string) =>
  new InvalidArgumentError(`cannot attach ${JSON.stringify(file)} to accession ${JSON.stringify(accession)}: ${why}; nothing was changed`, {
    accession,
    file,
  });

/**
 * Checks every local file of `accessions` and plans its copy; writes nothing.
 *
 * @example const plan = await planAttachments(store, [a]); plan.copies // [{ source: "/data/R1.fq", dest: ".../thawed/reads/S1/R1.fq" }]
 */
export async function planAttachments(store: CohortStore, accessions: readonly Accession[]): Promise<AttachPlan> {
  const plan: AttachPlan = { files: [], copies: [] };
  for (const a of accessions) {
    const bySlot = new Map<string, string>();
    const stored: StoredFile[] = [];
    for (const { file, ...info } of a.fileEntries) {
      const abs = path.resolve(file);
      if (isUrl(file) || isInside(store.thawedDir, abs)) {
        stored.push(store.storedFile(file, info));
        continue;
      }
      await checkReadable(a.name, file);
      const base = path.basename(abs);
      for (const [what, value] of [["the accession name", a.name], ["the file name", base]] as const) {
        try {
          checkRawName(value);
        } catch (err) {
          if (!isMinus80Error(err)) throw err;
          throw notAttachable(a.name, file, `${what} ${JSON.stringify(value)} cannot name a file in the working copy (${RAW_NAME_RULE})`);
        }
      }
      const rel = `${READS_DIR}/${a.name}/${base}`;
      const other = bySlot.get(rel);
      if (other !== undefined && other !== abs) {
        throw notAttachable(a.name, file, `${JSON.stringify(other)} has the same file name, and both would be ${rel}; rename one of them`);
      }
      if (other !== undefined) continue;
      bySlot.set(rel, abs);
      const dest = store.resolve({ url: rel, attached: true });
      if (!(await sameFileThere(a.name, file, abs, dest, rel))) plan.copies.push({ source: abs, dest });
      stored.push({ url: rel, attached: true, ...info, replaces: abs });
    }
    plan.files.push(stored);
  }
  return plan;
}

/**
 * The checks of `planAttachments` for a Cohort that does not exist yet (so
 * that a refused import creates nothing).
 *
 * @example await checkAttachments(ds.thawedDir, ds.slug, accessions)
 */
export async function checkAttachments(thawedDir: string, slug: string, accessions: readonly Accession[]): Promise<void> {
  const noDatabase = () => {
    throw new Error("planning attachments needs no database");
  };
  await planAttachments(new CohortStore(noDatabase, thawedDir, slug), accessions);
}

/**
 * Stores accessions in one transaction, attaching their local files first
 * when `attach`; returns their AIDs. All or nothing: a failure rolls the
 * database back and removes every copy made.
 *
 * @example const aids = await storeAccessions(store, [a], true)
 */
export async function storeAccessions(store: CohortStore, accessions: readonly Accession[], attach: boolean): Promise<number[]> {
  const plan = attach ? await planAttachments(store, accessions) : undefined;
  const db = store.db;
  db.exec(BEGIN_IMMEDIATE);
  try {
    const aids = accessions.map((a, i) => store.upsert(a, plan?.files[i]));
    await applyAttachments(plan?.copies ?? [], () => db.exec(COMMIT));
    return aids;
  } catch (err) {
    if (db.inTransaction) db.exec(ROLLBACK);
    throw err;
  }
}

async function checkReadable(accession: string, file: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw notAttachable(accession, file, code === "ENOENT" ? "it does not exist (a local file must exist to be attached; URLs stay references)" : `it cannot be read (${code})`);
  }
  if (st.isDirectory()) throw notAttachable(accession, file, "it is a directory; only regular files are attached");
  if (!st.isFile()) throw notAttachable(accession, file, "it is not a regular file");
  try {
    await (await fsp.open(file, "r")).close();
  } catch (err) {
    throw notAttachable(accession, file, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
}

/** True when `dest` already holds the bytes of `source`; refuses when it holds others. */
async function sameFileThere(accession: string, file: string, source: string, dest: string, rel: string): Promise<boolean> {
  const st = await fsp.lstat(dest).catch(() => undefined);
  if (!st) return false;
  if (st.isFile() && st.size === (await fsp.stat(source)).size && (await hashFile(dest)).sha256 === (await hashFile(source)).sha256) return true;
  throw notAttachable(accession, file, `${rel} is already attached with other contents; remove the accession (cohort rm) or rename the file first`);
}

/**
 * Makes the planned copies (temporary names first, then renamed into
 * place) and runs `commit`; on any failure removes every copy and folder it
 * made before rethrowing.
 *
 * @example await applyAttachments(plan.copies, () => db.exec(COMMIT))
 */
export async function applyAttachments(copies: readonly Copy[], commit: () => void): Promise<void> {
  if (copies.length === 0) return commit();
  const faults = { dir: path.dirname(copies[0]!.dest), op: `attach ${copies.length} file(s) to the Cohort` };
  return withLocalFaults(faults, async () => {
    // DISK_FULL before the first copy when they cannot all fit (reflinks copy for free).
    if (!(await copiesAreFree(faults.dir))) {
      const sizes = await Promise.all(copies.map(async (c) => (await fsp.stat(c.source)).size));
      assertSpace(await spaceNeeded(faults.dir, sizes), faults);
    }
    await copyAll(copies, commit);
  });
}

async function copyAll(copies: readonly Copy[], commit: () => void): Promise<void> {
  const made: string[] = [];
  const dirs: string[] = [];
  try {
    const temps: [string, string][] = [];
    for (const { source, dest } of copies) {
      const created = await fsp.mkdir(path.dirname(dest), { recursive: true });
      if (created !== undefined) dirs.push(created);
      const tmp = tempPathFor(dest);
      made.push(tmp);
      await fsp.copyFile(source, tmp, fs.constants.COPYFILE_FICLONE);
      await fsp.chmod(tmp, 0o644);
      temps.push([tmp, dest]);
    }
    for (const [tmp, dest] of temps) {
      await fsp.rename(tmp, dest);
      made.push(dest);
    }
    commit();
  } catch (err) {
    for (const f of made) await fsp.rm(f, { force: true }).catch(() => undefined);
    for (const d of dirs.reverse()) await fsp.rm(d, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** Removes attached files (relative paths) and the accession folders they leave empty. @example removeAttached(store, ["reads/S1/R1.fq"]) */
export function removeAttached(store: CohortStore, rels: readonly string[]): void {
  for (const rel of rels) {
    const abs = store.resolve({ url: rel, attached: true });
    fs.rmSync(abs, { force: true });
    for (let dir = path.dirname(abs); isInside(store.thawedDir, dir); dir = path.dirname(dir)) {
      try {
        fs.rmdirSync(dir);
      } catch {
        break; // not empty
      }
    }
  }
}
