/**
 * Byte-for-byte snapshots of a directory tree, to prove that a failed step left a tree exactly as it was, or that
 * two trees built different ways came out the same. Every entry records its type, mode, owner, link count, inode,
 * size, mtime (ns) and, for files, the sha256 of the content; symlinks record their target.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

export interface TreeEntry {
  /** Relative to the snapshot root; '.' is the root itself. */
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'other';
  mode: string;
  owner: string;
  nlink: number;
  ino: string;
  size: number;
  mtimeNs: string;
  sha256?: string;
  target?: string;
}

/** undefined when the root does not exist, so "still absent" is a checkable outcome too. */
export type TreeSnapshot = Map<string, TreeEntry> | undefined;

export interface SnapshotOptions {
  /** Relative paths (and everything below them) to leave out, e.g. '.releng'. */
  exclude?: (rel: string) => boolean;
  /** Rewrites a file's content before it is hashed, e.g. to mask timestamps a regeneration always changes. */
  normalize?: (rel: string, content: Buffer) => Buffer | string;
}

function typeOf(st: Awaited<ReturnType<typeof lstat>>): TreeEntry['type'] {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'other';
}

export async function snapshotTree(root: string, opts: SnapshotOptions = {}): Promise<TreeSnapshot> {
  try {
    await lstat(root);
  } catch {
    return undefined;
  }
  const entries = new Map<string, TreeEntry>();
  const visit = async (rel: string): Promise<void> => {
    const abs = rel === '.' ? root : join(root, rel);
    const st = await lstat(abs, { bigint: true });
    const type = typeOf(st as unknown as Awaited<ReturnType<typeof lstat>>);
    const entry: TreeEntry = {
      path: rel,
      type,
      mode: (st.mode & 0o7777n).toString(8),
      owner: `${st.uid}:${st.gid}`,
      nlink: Number(st.nlink),
      ino: String(st.ino),
      size: Number(st.size),
      mtimeNs: String(st.mtimeNs),
    };
    if (type === 'symlink') entry.target = await readlink(abs);
    if (type === 'file') {
      const content = await readFile(abs);
      entry.sha256 = createHash('sha256')
        .update(opts.normalize ? opts.normalize(rel, content) : content)
        .digest('hex');
    }
    entries.set(rel, entry);
    if (type !== 'dir') return;
    for (const name of (await readdir(abs)).sort()) {
      const child = rel === '.' ? name : `${rel}/${name}`;
      if (!opts.exclude?.(child)) await visit(child);
    }
  };
  await visit('.');
  return entries;
}

export interface CompareOptions {
  /**
   * Fields of an entry that do not matter for this comparison, e.g. inodes of trees built by different runs, or
   * mtimes and link counts of regenerated repodata.
   */
  ignoreFields?: (entry: TreeEntry) => ReadonlyArray<keyof TreeEntry>;
}

function comparable(e: TreeEntry, opts: CompareOptions): Partial<TreeEntry> {
  const out: Partial<TreeEntry> = { ...e };
  delete out.path;
  for (const field of opts.ignoreFields?.(e) ?? []) delete out[field];
  return out;
}

/** Human-readable differences, at most `limit` of them; empty when the trees are the same. */
export function diffSnapshots(a: TreeSnapshot, b: TreeSnapshot, opts: CompareOptions = {}, limit = 20): string[] {
  if (!a || !b) return a === b ? [] : [`tree ${a ? 'disappeared' : 'appeared'}`];
  const diffs: string[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(path);
    const y = b.get(path);
    if (!x || !y) {
      diffs.push(`${path}: ${x ? 'removed' : 'added'}`);
    } else {
      const cx = comparable(x, opts);
      const cy = comparable(y, opts);
      const fields = (Object.keys({ ...cx, ...cy }) as Array<keyof TreeEntry>).filter((k) => cx[k] !== cy[k]);
      if (fields.length) diffs.push(`${path}: ${fields.map((k) => `${k} ${cx[k]} -> ${cy[k]}`).join(', ')}`);
    }
    if (diffs.length >= limit) break;
  }
  return diffs;
}

export function assertSameTree(actual: TreeSnapshot, expected: TreeSnapshot, what: string, opts: CompareOptions = {}): void {
  const diffs = diffSnapshots(expected, actual, opts);
  assert.deepEqual(diffs, [], `${what}:\n  ${diffs.join('\n  ')}`);
}

/** Number of regular files in a snapshot, to check that it is not trivially empty. */
export function countFiles(snap: TreeSnapshot, under = ''): number {
  let n = 0;
  for (const e of snap?.values() ?? []) if (e.type === 'file' && e.path.startsWith(under)) n++;
  return n;
}

/**
 * repomd.xml of a regenerated repo carries the generation time (<timestamp>, and <revision> when createrepo_c
 * picks it); masking them lets two runs over the same compose compare equal.
 */
export function maskRepomdTimes(rel: string, content: Buffer): Buffer | string {
  if (!rel.endsWith('/repodata/repomd.xml')) return content;
  return content
    .toString('utf8')
    .replace(/<timestamp>\d+<\/timestamp>/g, '<timestamp>T</timestamp>')
    .replace(/<revision>\d{9,}<\/revision>/g, '<revision>T</revision>');
}

/**
 * Two runs over the same compose: inodes differ; directory mtimes and repodata mtimes are times of the run; and
 * `hardlink` links equal repodata files only when their mtimes happen to match, so their link counts vary too.
 */
export const ACROSS_RUNS: CompareOptions = {
  ignoreFields: (e) => {
    if (e.type === 'dir') return ['ino', 'mtimeNs'];
    if (e.path.includes('/repodata/')) return ['ino', 'mtimeNs', 'nlink'];
    return ['ino'];
  },
};
