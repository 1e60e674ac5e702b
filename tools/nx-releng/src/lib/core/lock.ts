import { hostname } from 'node:os';
import { mkdir, open, readFile, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RelengError } from '../../errors';
import type { Log } from './log';

/**
 * An exclusive lock file (O_EXCL create). A second run waits up to the timeout, then refuses with the holder's
 * identity. A lock left by a dead process on this host is taken over, so a SIGKILLed run does not block forever.
 */

interface LockInfo {
  pid: number;
  host: string;
  owner: string;
  since: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readLock(file: string): Promise<LockInfo | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LockInfo;
  } catch {
    return undefined; // gone, or half-written by a holder that is just starting
  }
}

async function tryAcquire(file: string, info: LockInfo): Promise<boolean> {
  try {
    const fh = await open(file, 'wx');
    await fh.writeFile(JSON.stringify(info));
    await fh.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new RelengError(`cannot create lock ${file}: ${(err as Error).message}`);
  }
}

function sameHolder(a: LockInfo, b: LockInfo): boolean {
  return a.pid === b.pid && a.host === b.host && a.owner === b.owner && a.since === b.since;
}

/**
 * Removes a stale lock; true when this run removed it. Several runs can find the same stale lock: a plain
 * unlink by a slower one would remove the lock a faster one had just taken, and both would run. So the check
 * and the unlink happen under a second O_EXCL file, held for those two calls only.
 */
async function removeStale(file: string, stale: LockInfo, me: LockInfo): Promise<boolean> {
  const guard = `${file}.takeover`;
  if (!(await tryAcquire(guard, me))) {
    // A run killed in the middle of a takeover must not block every later one.
    const other = await readLock(guard);
    if (other && other.host === me.host && !alive(other.pid)) await unlink(guard).catch(() => undefined);
    return false;
  }
  try {
    const now = await readLock(file);
    if (!now || !sameHolder(now, stale)) return false;
    await unlink(file);
    return true;
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

export async function withLock<T>(
  file: string,
  owner: string,
  timeoutSeconds: number,
  log: Log,
  fn: () => Promise<T>,
): Promise<T> {
  await mkdir(dirname(file), { recursive: true });
  const me: LockInfo = { pid: process.pid, host: hostname(), owner, since: new Date().toISOString() };
  const deadline = Date.now() + timeoutSeconds * 1000;
  let announced = false;
  while (!(await tryAcquire(file, me))) {
    const holder = await readLock(file);
    if (holder && holder.host === me.host && !alive(holder.pid)) {
      if (await removeStale(file, holder, me)) {
        log.warn(`removing stale lock ${file} left by ${holder.owner} (pid ${holder.pid} is gone)`);
      }
      continue;
    }
    const who = holder ? `${holder.owner} (pid ${holder.pid} on ${holder.host} since ${holder.since})` : 'another run';
    if (Date.now() >= deadline) {
      throw new RelengError(
        `${file} is held by ${who}; gave up after ${timeoutSeconds}s (lockTimeoutSeconds in releases/common.json)`,
      );
    }
    if (!announced) {
      log.info(`waiting for lock ${file} held by ${who}`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  try {
    return await fn();
  } finally {
    const holder = await readLock(file);
    if (holder && sameHolder(holder, me)) await unlink(file).catch(() => undefined);
  }
}
