import { readlinkSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from './lock';

/**
 * Private scratch dirs (GnuPG homes, file lists being written, temp copies) that a killed run cannot leak. The name
 * carries the maker's host, pid namespace, pid and process start time, as a lock does:
 * <prefix><host>.<pid ns>.<pid>.<start>-XXXXXX. Making one first removes those of this host and pid namespace
 * whose process is gone (a dead pid, or one reused by another process). Dirs of other hosts or namespaces, and
 * of older versions (no owner in the name), are left alone.
 */
export async function scratchDir(parent: string, prefix: string): Promise<string> {
  const start = processStartTime(process.pid);
  if (start === undefined) return mkdtemp(join(parent, prefix)); // no /proc: no way to tell a dead maker
  const mine = `${hostname()}.${pidNamespace()}`;
  const owned = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(.+)\\.(\\d+)\\.(\\d+)-[^.]{6}$`);
  for (const name of await readdir(parent).catch(() => [] as string[])) {
    const m = owned.exec(name);
    if (!m || m[1] !== mine) continue;
    if (processStartTime(Number(m[2])) !== m[3]) await rm(join(parent, name), { recursive: true, force: true });
  }
  return mkdtemp(join(parent, `${prefix}${mine}.${process.pid}.${start}-`));
}

/** The inode number of this process's pid namespace ("pid:[4026531836]"), 0 where /proc cannot tell. */
function pidNamespace(): string {
  try {
    return /\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0] ?? '0';
  } catch {
    return '0';
  }
}
