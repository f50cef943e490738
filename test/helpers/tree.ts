/** A snapshot of a directory tree, to assert that a refused command changed nothing. */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

/**
 * Every file (content hash and mode), directory and link under `root`; {} when absent.
 *
 * @example const before = snapshotTree(t.basedir); ...; expect(snapshotTree(t.basedir)).toEqual(before);
 */
export function snapshotTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(root)) return out;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      const rel = path.relative(root, p);
      const st = fs.lstatSync(p);
      if (e.isDirectory()) {
        out[rel + "/"] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else if (e.isSymbolicLink()) out[rel] = `link ${fs.readlinkSync(p)}`;
      else out[rel] = `file ${(st.mode & 0o7777).toString(8)} ${createHash("sha256").update(fs.readFileSync(p)).digest("hex")}`;
    }
  };
  walk(root);
  return out;
}
