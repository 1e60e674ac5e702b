import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync, readlinkSync, type BigIntStats } from 'node:fs';

/**
 * A digest of the given subtrees: every file by path, size, mtime and inode, and repomd.xml and its signature
 * by content. verify records it of staging and sync-prod recomputes it, refusing staging that is not the staging
 * that passed; sync-prod records it of production to see a production tree changed behind its back. There it
 * sees files as rsync's quick check does (size, whole-second mtime, no inode): the hardlink step after every
 * production sync relinks equal files, which hardlink compares to the second.
 * One lstat per entry; nothing is held in memory but the hash. `skip`: relative paths digested as if already
 * gone, with everything below them (what production still holds until its pending deletions run).
 * Synchronous calls: one at a time either way, and an awaited lstat's trip through the thread pool made a walk
 * ~10x slower (2,500 entries: 110-190 ms against 17 ms).
 */
export function treeDigest(root: string, repos: readonly string[], opts: { inodes?: boolean; skip?: ReadonlySet<string> } = { inodes: true }): string {
  const h = createHash('sha256');
  // The lines go to the hash 64 KiB at a time: an update per entry cost ~15 % of the walk.
  let text = '';
  const put = (line: string) => {
    text += line;
    if (text.length > 65536) {
      h.update(text);
      text = '';
    }
  };
  const walk = (rel: string): void => {
    if (opts.skip?.has(rel)) return;
    const abs = `${root}/${rel}`;
    let st: BigIntStats | undefined;
    try {
      st = lstatSync(abs, { bigint: true });
    } catch {
      st = undefined;
    }
    if (!st) {
      put(`missing ${rel}\n`);
      return;
    }
    if (st.isDirectory()) {
      put(`d ${rel}\n`);
      for (const name of readdirSync(abs).sort()) walk(`${rel}/${name}`);
    } else if (st.isSymbolicLink()) {
      put(`l ${rel} ${readlinkSync(abs)}\n`);
    } else if (/\/repodata\/repomd\.xml(\.asc)?$/.test(rel)) {
      put(`f ${rel} `);
      h.update(text).update(readFileSync(abs));
      text = '\n';
    } else {
      put(opts.inodes ? `f ${rel} ${st.size} ${st.mtimeNs} ${st.ino}\n` : `f ${rel} ${st.size} ${st.mtimeNs / 1_000_000_000n}\n`);
    }
  };
  for (const repo of [...repos].sort()) walk(repo);
  return h.update(text).digest('hex');
}
