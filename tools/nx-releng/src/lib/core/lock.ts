import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync, watch, type FSWatcher } from 'node:fs';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname } from 'node:path';
import { RelengError } from '../../errors';
import type { Log } from './log';

/**
 * An exclusive lock file. A second run waits up to the timeout (with backoff), then refuses with the holder's
 * identity. A lock left by a dead process of this host is taken over, so a SIGKILLed run does not block forever.
 */

export interface LockInfo {
  pid: number;
  host: string;
  owner: string;
  since: string;
  // Written since issue #14; absent from older locks, which are judged by host and pid alone.
  /** /etc/machine-id: two machines may share a hostname (and a lock dir on NFS). */
  machineId?: string;
  /** /proc/sys/kernel/random/boot_id: a holder from before a reboot is gone whatever its pid. */
  bootId?: string;
  /** /proc/self/ns/pid: a pid means nothing in another pid namespace. */
  pidNs?: string;
  /** /proc/<pid>/stat field 22 (start time in clock ticks since boot): a reused pid has another one. */
  startTime?: string;
}

/** A lock file as found: its exact text (to remove only what was judged) and what it says, if it parses. */
interface Found {
  text: string;
  info?: LockInfo;
}

function readOr(read: () => string): string | undefined {
  try {
    return read().trim();
  } catch {
    return undefined; // not Linux, or no /proc: that clue is missing, the others still count
  }
}

/** Field 22 of /proc/<pid>/stat; the command name (field 2) may hold spaces and parentheses, so count from the last ')'. */
export function processStartTime(pid: number): string | undefined {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

let self: Omit<LockInfo, 'owner' | 'since'> | undefined;
function identity(): Omit<LockInfo, 'owner' | 'since'> {
  self ??= {
    pid: process.pid,
    host: hostname(),
    machineId: readOr(() => readFileSync('/etc/machine-id', 'utf8')),
    bootId: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8')),
    pidNs: readOr(() => readlinkSync('/proc/self/ns/pid')),
    startTime: processStartTime(process.pid),
  };
  return self;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the holder of a lock is certainly gone, or undefined while it may be alive (then the lock is respected). */
function whyStale(found: Found, me: LockInfo): string | undefined {
  const h = found.info;
  // Locks are written whole (temp file + link), so one that does not parse is left by an older version's failed write.
  if (!h) return `${found.text ? 'unreadable' : 'empty'}: not a lock this tool wrote`;
  if (h.host !== me.host) return undefined;
  if (h.machineId && me.machineId && h.machineId !== me.machineId) return undefined; // another machine of that name
  if (h.bootId && me.bootId && h.bootId !== me.bootId) return 'the host rebooted since';
  if (h.pidNs && me.pidNs && h.pidNs !== me.pidNs) return undefined; // its pid cannot be checked from here
  if (!pidAlive(h.pid)) return `pid ${h.pid} is gone`;
  if (h.startTime && me.startTime) {
    const now = processStartTime(h.pid);
    if (now !== undefined && now !== h.startTime) return `pid ${h.pid} is gone, reused by another process`;
  }
  return undefined;
}

/** This process, as a lock (or a change journal, production/change-journal.ts) records its writer. */
export function writerIdentity(owner: string): LockInfo {
  return { ...identity(), owner, since: new Date().toISOString() };
}

/** Why the writer recorded as `info` is certainly gone, or undefined while it may be alive. */
export function writerGone(info: unknown): string | undefined {
  const h = info as LockInfo | undefined;
  const valid = typeof h?.pid === 'number' && typeof h.host === 'string';
  return whyStale({ text: valid ? 'x' : '', info: valid ? h : undefined }, writerIdentity('check'));
}

async function readLock(file: string): Promise<Found | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RelengError(`cannot read lock ${file}: ${(err as Error).message}`);
  }
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info?.pid === 'number' && typeof info.host === 'string' ? { text, info } : { text };
  } catch {
    return { text };
  }
}

/**
 * Creates `file` holding `text`, all or nothing: the text goes to a private temp file that is then linked into
 * place (link fails if the name exists, like O_EXCL). A full disk leaves no empty lock behind.
 */
async function createWhole(file: string, text: string): Promise<boolean> {
  // Not even a temp file while the lock is held: a refused run leaves the lock dir as it found it.
  if (await readLock(file)) return false;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, text, { flag: 'wx' });
    await link(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new RelengError(`cannot create lock ${file}: ${(err as Error).message}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Removes `file` if it still holds exactly `text` (it may have been replaced since it was judged). */
async function removeIfSame(file: string, text: string): Promise<boolean> {
  const now = await readLock(file);
  if (now?.text !== text) return false;
  await unlink(file);
  return true;
}

/**
 * Removes a stale lock; true when this run removed it. Several runs can find the same stale lock: a plain
 * unlink by a slower one would remove the lock a faster one had just taken, and both would run. So the check
 * and the unlink happen under a second exclusive file, held for those two calls only.
 */
async function removeStale(file: string, stale: Found, me: LockInfo): Promise<boolean> {
  const guard = `${file}.takeover`;
  if (!(await createWhole(guard, JSON.stringify(me)))) {
    // A run killed in the middle of a takeover must not block every later one.
    const other = await readLock(guard);
    if (other && whyStale(other, me)) await removeIfSame(guard, other.text).catch(() => undefined);
    return false;
  }
  try {
    return await removeIfSame(file, stale.text);
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/**
 * The waits of one run for a lock: each ends after its pause, or as soon as the lock file is created or removed
 * in its dir (inotify), so a queued run takes a released lock at once instead of at its next poll. The pause
 * stays the fallback (a missed event, NFS, no inotify): the poll decides, the event only wakes it early.
 */
function lockWaits(file: string): { pause(ms: number): Promise<void>; close(): void } {
  let changed = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, name) => {
      if (name !== null && name.toString() !== basename(file)) return;
      changed = true;
      wake?.();
    });
    watcher.on('error', () => undefined); // the dir went away: the pauses still end
  } catch {
    /* no watching here: the pauses alone */
  }
  return {
    pause: (ms) =>
      new Promise((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          wake = undefined;
          changed = false;
          resolve();
        };
        const timer = setTimeout(done, changed ? 0 : ms); // a change since the last try: try again now
        wake = done;
      }),
    close: () => watcher?.close(),
  };
}

export async function withLock<T>(
  file: string,
  owner: string,
  timeoutSeconds: number,
  log: Log,
  fn: () => Promise<T>,
): Promise<T> {
  await mkdir(dirname(file), { recursive: true });
  const me: LockInfo = { ...identity(), owner, since: new Date().toISOString() };
  const mine = JSON.stringify(me);
  const deadline = Date.now() + timeoutSeconds * 1000;
  let announced = false;
  let pause = 50;
  let waits: ReturnType<typeof lockWaits> | undefined;
  try {
    while (!(await createWhole(file, mine))) {
      const held = await readLock(file);
      if (!held) continue; // released between the two calls
      const stale = whyStale(held, me);
      if (stale && (await removeStale(file, held, me))) {
        log.warn(`removing stale lock ${file} left by ${held.info?.owner ?? 'an unknown run'} (${stale})`);
        continue;
      }
      const h = held.info;
      const who = h ? `${h.owner} (pid ${h.pid} on ${h.host} since ${h.since})` : 'another run';
      if (Date.now() >= deadline) {
        throw new RelengError(
          `${file} is held by ${who}${stale ? ` and is stale (${stale}), but another run is taking it over` : ''}; ` +
            `gave up after ${timeoutSeconds}s (lockTimeoutSeconds in releases/common.json)`,
        );
      }
      if (!announced) {
        log.info(`waiting for lock ${file} held by ${who}`);
        announced = true;
      }
      // Watching starts after a failed try: a release between the two is caught by the pause.
      waits ??= lockWaits(file);
      await waits.pause(Math.min(pause, deadline - Date.now()));
      // Capped low: the projects of a revision queue on its lock, and a hand-over the watch misses waits out the
      // pause (a few small reads a second cost nothing; a 1 s cap cost ~0.5 s per task of a first sync).
      pause = Math.min(pause * 2, 200);
    }
  } finally {
    waits?.close();
  }
  try {
    return await fn();
  } finally {
    await removeIfSame(file, mine).catch(() => undefined);
  }
}
