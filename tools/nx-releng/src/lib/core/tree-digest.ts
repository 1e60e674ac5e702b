import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * A digest of the given subtrees: every file by path, size, mtime and inode, and repomd.xml and its signature
 * by content. verify records it of staging and sync-prod recomputes it, refusing staging that is not the staging
 * that passed; sync-prod records it of production to see a production tree changed behind its back. There it
 * sees files as rsync's quick check does (size, whole-second mtime, no inode): the hardlink step after every
 * production sync relinks equal files, which hardlink compares to the second.
 * One lstat per entry; nothing is held in memory but the hash. `skip`: relative paths digested as if already
 * gone, with everything below them (what production still holds until its pending deletions run).
 */
export async function treeDigest(
  root: string,
  repos: readonly string[],
  opts: { inodes?: boolean; skip?: ReadonlySet<string> } = { inodes: true },
): Promise<string> {
  const h = createHash('sha256');
  const walk = async (rel: string): Promise<void> => {
    if (opts.skip?.has(rel)) return;
    const st = await lstat(join(root, rel), { bigint: true }).catch(() => undefined);
    if (!st) {
      h.update(`missing ${rel}\n`);
      return;
    }
    if (st.isDirectory()) {
      h.update(`d ${rel}\n`);
      const names = (await readdir(join(root, rel))).sort();
      for (const name of names) await walk(`${rel}/${name}`);
    } else if (st.isSymbolicLink()) {
      h.update(`l ${rel} ${await readlink(join(root, rel))}\n`);
    } else if (/\/repodata\/repomd\.xml(\.asc)?$/.test(rel)) {
      h.update(`f ${rel} `).update(await readFile(join(root, rel))).update('\n');
    } else {
      h.update(opts.inodes ? `f ${rel} ${st.size} ${st.mtimeNs} ${st.ino}\n` : `f ${rel} ${st.size} ${st.mtimeNs / 1_000_000_000n}\n`);
    }
  };
  for (const repo of [...repos].sort()) await walk(repo);
  return h.digest('hex');
}
