import { randomBytes } from 'node:crypto';
import { lchown, lstat, readlink, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { RelengError, errorMessage } from '../../errors';

/**
 * The symbolic links the pipeline publishes: latest links in the compose root, 8-BETA and latest-8 in a staging
 * category, nfv -> NFV in a revision dir, Rocky-8-latest-*.iso. Each is replaced atomically, never followed into.
 */

/** Whether this process may give files away (rsync -o/-g, chown): only root. */
export function runningAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** Points <dir>/<name> at `target` (relative) atomically: a temp symlink renamed over the old one. */
export async function replaceLink(dir: string, name: string, target: string): Promise<string> {
  const linkPath = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await symlink(target, tmp);
    await rename(tmp, linkPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new RelengError(`cannot point ${linkPath} at ${target}: ${errorMessage(err)}`);
  }
  return linkPath;
}

/**
 * <dir>/<name> -> target, replaced only when it points elsewhere (a link already right keeps its times), and
 * given the configured owner when running as root. Whether it changed.
 */
export async function pointLink(dir: string, name: string, target: string, owner?: { uid: number; gid: number }): Promise<boolean> {
  if ((await readlink(join(dir, name)).catch(() => undefined)) === target) return false;
  const path = await replaceLink(dir, name, target);
  if (owner && runningAsRoot()) await lchown(path, owner.uid, owner.gid);
  return true;
}

/** A link about to be made must be a link or absent: a real file or directory there is refused, untouched. */
export async function checkLinkSlot(path: string, target: string, maker: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (st && !st.isSymbolicLink()) {
    throw new RelengError(
      `${path} is a ${st.isDirectory() ? 'directory' : 'file'}, not a link; ${maker} would replace it with a link to ${target}. ` +
        'Move it away first (nothing was changed)',
    );
  }
}
