import { access, constants, lstat, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RelengError } from '../../errors';

/** Whether a path exists (following symlinks); errors of any kind count as no. */
export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

/** Whether two paths both exist and are names of one inode (neither followed if a link). */
export async function sameInode(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([lstat(a).catch(() => undefined), lstat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.ino === sb.ino && sa.dev === sb.dev;
}

/**
 * A destination dir must be a directory or creatable as one, and writable where the sync will write (the dir
 * and the given subtrees of it that exist), checked before anything is touched. Root ignores mode bits, so the
 * writability check mostly catches read-only mounts and immutable (chattr +i) dirs.
 */
export async function checkDestination(what: string, target: string, subtrees: readonly string[] = []): Promise<void> {
  let dir = target;
  for (;;) {
    try {
      if ((await stat(dir)).isDirectory()) break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && dirname(dir) !== dir) {
        dir = dirname(dir); // missing: the sync creates it, if what is above it is a directory
        continue;
      }
      throw new RelengError(`${what} directory ${target} cannot be used: ${(err as Error).message}`);
    }
    throw new RelengError(`${what} directory ${target} cannot be created: ${dir} is not a directory`);
  }
  const writable = [dir];
  if (dir === target) for (const sub of subtrees) if (await isDir(join(target, sub))) writable.push(join(target, sub));
  for (const path of writable) {
    try {
      await access(path, constants.W_OK);
    } catch (err) {
      throw new RelengError(`${what} directory ${path} is not writable (${(err as NodeJS.ErrnoException).code}); nothing was changed`);
    }
  }
}
