import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, realpath, rename, rm, stat } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel } from '../../config/schema';
import { channelRelease, composePaths, type Roots, housekeepingPaths } from '../../layout/paths';
import { RelengError, errorMessage } from '../../errors';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';

/**
 * Housekeeping of a compose root (Rocky's cron/stable-cleanup-8:
 * `find . -maxdepth 1 -type d -mtime +7 | grep -vE 'SIG-|Rocky-8.10-2024'`), per project and with guards the
 * cron does not have:
 *
 * - Only directories named like a compose id of THIS project are candidates:
 *   `<Short>-<major>[.<minor>...][-<release type>]-<YYYYMMDD>[.<compose type>].<respin>` with the project's short
 *   exactly (so Rocky never matches Rocky-devel-8.10-..., Extras never matches SIG-...). The version may be the
 *   major alone or major.minor (pungi's release_version was '8' in 2021 and '8.10' later; all of them live in the
 *   per-major compose root), so composes of earlier minors are cleaned up too. Everything else in the root
 *   (other projects' composes, the metadata dirs, files, links, dot dirs) is never touched.
 * - Never a compose any link in the root points at (latest-* or any other; relative or absolute targets,
 *   and a link into a compose's subtree protects that compose).
 * - Never a compose whose name matches a keep pattern (releases/common.json housekeeping.keep: globs with
 *   `*`, `?` and `[...]`, matched against the whole directory name).
 * - Old means BOTH: the date in the compose id is more than keepDays calendar days before today (local time,
 *   as pungi dates its composes), AND the directory was last modified more than keepDays whole days ago (what
 *   `find -mtime +N` checks). The id date cannot be moved by touching the tree; the mtime keeps a compose
 *   written recently under an old date (a back-dated re-run) until it, too, has aged. Both must agree before
 *   anything is deleted.
 *
 * A removal renames the compose dir into <compose root>/.releng-housekeeping/trash first (atomic, so pungi's
 * --old-composes scan and the syncs never see a half-deleted compose), then deletes it there; a run that was
 * interrupted leaves its trash to the next run, which empties it first.
 */


/** An entry directly in the compose root, as lstat sees it (a link to a directory is not a directory). */
export interface RootEntry {
  name: string;
  isDir: boolean;
  mtimeMs: number;
}

/** A symbolic link in the compose root and its target as readlink returns it (relative or absolute). */
export interface RootLink {
  name: string;
  target: string;
}

/** pungi's release types (the suffix after the version; '' is ga). */
const RELEASE_TYPES = ['updates-testing', 'updates', 'eus', 'aus', 'els', 'tus', 'e4s', 'fast'];
/** Compose type suffixes pungi writes (.n, .t, .ci, .d) and the long forms productmd also accepts. */
const COMPOSE_TYPES = ['nightly', 'test', 'ci', 'n', 't', 'd'];

export interface ParsedComposeId {
  version: string;
  /** '' for a ga compose */
  releaseType: string;
  date: string;
  composeType: string;
  respin: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A compose id of exactly this short and major (see the module comment), or undefined. */
export function parseComposeId(name: string, short: string, major: string): ParsedComposeId | undefined {
  const re = new RegExp(
    `^${escapeRegExp(short)}-(${escapeRegExp(major)}(?:\\.\\d+)*)` +
      `(?:-(${RELEASE_TYPES.join('|')}))?-(\\d{8})(?:\\.(${COMPOSE_TYPES.join('|')}))?\\.(\\d+)$`,
  );
  const m = re.exec(name);
  if (!m) return undefined;
  const date = m[3] as string;
  if (dayNumber(date) === undefined) return undefined;
  return { version: m[1] as string, releaseType: m[2] ?? '', date, composeType: m[4] ?? '', respin: Number(m[5]) };
}

/** Days since the epoch of a YYYYMMDD date, or undefined for an impossible date (20241341). */
function dayNumber(date: string): number | undefined {
  const y = Number(date.slice(0, 4));
  const m = Number(date.slice(4, 6));
  const d = Number(date.slice(6, 8));
  const t = new Date(Date.UTC(y, m - 1, d));
  if (t.getUTCFullYear() !== y || t.getUTCMonth() !== m - 1 || t.getUTCDate() !== d) return undefined;
  return Math.round(t.getTime() / 86_400_000);
}

/** The local calendar day of `now`, in the same day numbers. */
function localDayNumber(now: Date): number {
  return Math.round(Date.UTC(now.getFullYear(), now.getMonth(), now.getDate()) / 86_400_000);
}

/**
 * A keep pattern as a RegExp over the whole name: `*` any run of characters, `?` one, `[abc]` `[a-z]` `[!a]`
 * a class; everything else literal (an unclosed `[` too).
 */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else re += escapeRegExp(c);
  }
  return new RegExp(`^${re}$`);
}

export interface HousekeepingInput {
  composeRoot: string;
  entries: readonly RootEntry[];
  links: readonly RootLink[];
  now: Date;
  keepDays: number;
  keep: readonly string[];
  short: string;
  major: string;
}

export interface Decision {
  name: string;
  /** The date in the compose id. */
  date: string;
  /** Calendar days between that date and today. */
  ageDays: number;
  /** Whole days since the directory was last modified. */
  modifiedDaysAgo: number;
  reason: string;
}

export interface HousekeepingPlan {
  /** Oldest first. */
  remove: Decision[];
  /** Every other compose dir of this project, with why it stays. */
  keep: Decision[];
  /** Directories in the root that are not this project's composes (never touched). */
  ignored: string[];
}

/** Which compose dirs of the project go and why each other one stays. Pure. */
export function planHousekeeping(input: HousekeepingInput): HousekeepingPlan {
  const root = posix.resolve(input.composeRoot);
  const linkedBy = new Map<string, string[]>();
  for (const link of input.links) {
    const resolved = posix.resolve(root, link.target);
    if (!resolved.startsWith(`${root}/`)) continue;
    const top = resolved.slice(root.length + 1).split('/')[0] as string;
    const names = linkedBy.get(top) ?? [];
    if (!names.includes(link.name)) names.push(link.name);
    linkedBy.set(top, names.sort());
  }
  const patterns = input.keep.map((p) => ({ p, re: globToRegExp(p) }));
  const today = localDayNumber(input.now);
  const ignored: string[] = [];
  const decided: Array<{ decision: Decision; remove: boolean; respin: number }> = [];
  for (const entry of input.entries) {
    if (!entry.isDir) continue;
    const id = parseComposeId(entry.name, input.short, input.major);
    if (!id) {
      ignored.push(entry.name);
      continue;
    }
    const ageDays = today - (dayNumber(id.date) as number);
    const modifiedDaysAgo = Math.floor((input.now.getTime() - entry.mtimeMs) / 86_400_000);
    const links = linkedBy.get(entry.name);
    const pattern = patterns.find(({ re }) => re.test(entry.name));
    const keepDays = `keepDays ${input.keepDays}`;
    const old = `${ageDays} day${ageDays === 1 ? '' : 's'} old`;
    const modified = `modified ${modifiedDaysAgo} day${modifiedDaysAgo === 1 ? '' : 's'} ago`;
    let reason: string;
    let remove = false;
    if (links) reason = `${links.join(', ')} ${links.length === 1 ? 'points' : 'point'} at it`;
    else if (pattern) reason = `matches keep pattern '${pattern.p}'`;
    else if (ageDays <= input.keepDays) reason = `dated ${id.date}, ${old} (${keepDays})`;
    else if (modifiedDaysAgo <= input.keepDays) {
      reason = `dated ${id.date} but ${modified} (${keepDays})`;
    } else {
      reason = `dated ${id.date}, ${old}, ${modified} (${keepDays})`;
      remove = true;
    }
    decided.push({ decision: { name: entry.name, date: id.date, ageDays, modifiedDaysAgo, reason }, remove, respin: id.respin });
  }
  decided.sort(
    (a, b) => a.decision.date.localeCompare(b.decision.date) || a.respin - b.respin || a.decision.name.localeCompare(b.decision.name),
  );
  const plan: HousekeepingPlan = { remove: [], keep: [], ignored: ignored.sort() };
  for (const { decision, remove } of decided) (remove ? plan.remove : plan.keep).push(decision);
  return plan;
}

/** The entries and links directly in a compose root. The links' real targets are added, so that a link to a
 * link, or a compose root reached through a symlink, still protects the compose it ends at. */
export async function scanComposeRoot(composeRoot: string): Promise<{ entries: RootEntry[]; links: RootLink[] }> {
  const entries: RootEntry[] = [];
  const links: RootLink[] = [];
  const realRoot = await realpath(composeRoot);
  for (const name of (await readdir(composeRoot)).sort()) {
    const path = posix.join(composeRoot, name);
    let st;
    try {
      st = await lstat(path);
    } catch {
      continue; // gone since readdir
    }
    if (st.isSymbolicLink()) {
      try {
        links.push({ name, target: await readlink(path) });
      } catch {
        continue;
      }
      try {
        const real = await realpath(path);
        if (real.startsWith(`${realRoot}/`)) links.push({ name, target: real.slice(realRoot.length + 1) });
      } catch {
        /* dangling: its textual target is all there is */
      }
      continue;
    }
    entries.push({ name, isDir: st.isDirectory(), mtimeMs: st.mtimeMs });
  }
  return { entries, links };
}

export interface RemoveResult {
  removed: string[];
  /** Gone (or no longer a directory) before this run got to them: another run, a person. Not an error. */
  vanished: string[];
  failed: Array<{ name: string; error: string }>;
}

async function removeTree(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true, maxRetries: 2 });
}

/** Deletes what an interrupted run left in the trash. */
export async function emptyTrash(composeRoot: string, log: Log): Promise<string[]> {
  const trash = housekeepingPaths(composeRoot).trashDir;
  let names: string[];
  try {
    names = await readdir(trash);
  } catch {
    return [];
  }
  for (const name of names) {
    log.info(`finishing the removal of ${name}, left in ${trash} by an interrupted run`);
    await removeTree(posix.join(trash, name));
  }
  return names;
}

/**
 * Removes the named compose dirs of the root: each is renamed into the trash (atomic), then deleted there.
 * A dir that disappeared meanwhile is reported, not an error; one that is no longer a plain directory is left.
 */
export async function removeComposes(composeRoot: string, names: readonly string[], log: Log): Promise<RemoveResult> {
  const result: RemoveResult = { removed: [], vanished: [], failed: [] };
  const trash = housekeepingPaths(composeRoot).trashDir;
  await mkdir(trash, { recursive: true });
  for (const name of names) {
    const path = posix.join(composeRoot, name);
    try {
      let st;
      try {
        st = await lstat(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        log.info(`${name} is already gone`);
        result.vanished.push(name);
        continue;
      }
      if (!st.isDirectory()) {
        log.warn(`${path} is no longer a directory; left alone`);
        result.vanished.push(name);
        continue;
      }
      const trashed = posix.join(trash, `${name}.${process.pid}.${randomBytes(4).toString('hex')}`);
      try {
        await rename(path, trashed);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          log.info(`${name} is already gone`);
          result.vanished.push(name);
          continue;
        }
        if (code !== 'EXDEV') throw err;
        await removeTree(path); // the trash is on another filesystem: delete in place
        result.removed.push(name);
        log.info(`removed ${name}`);
        continue;
      }
      await removeTree(trashed);
      result.removed.push(name);
      log.info(`removed ${name}`);
    } catch (err) {
      result.failed.push({ name, error: errorMessage(err) });
      log.warn(`cannot remove ${path}: ${errorMessage(err)}`);
    }
  }
  return result;
}

export interface HousekeepingRequest {
  model: ComposeModel;
  roots: Roots;
  channel: Channel;
  log: Log;
  dryRun?: boolean;
  /** For tests; default the current time. */
  now?: Date;
}

export interface HousekeepingResult {
  project: string;
  channel: Channel;
  composeRoot: string;
  dryRun: boolean;
  keepDays: number;
  keep: string[];
  /** Removed, or in a dry run what would be. */
  removed: Array<{ name: string; reason: string }>;
  vanished: string[];
  kept: Array<{ name: string; reason: string }>;
  seconds: number;
}

/**
 * Removes the project's old composes from its compose root (the channel's: /mnt/compose/8, 8-BETA, ...).
 * A dry run lists what would go and why the rest stays, and changes nothing. A real run plans again under the
 * compose root's lock, so what it removes is what the root holds when it has the lock.
 */
export async function housekeeping(req: HousekeepingRequest): Promise<HousekeepingResult> {
  const started = Date.now();
  const { model, log } = req;
  const { keepDays, keep } = model.common.housekeeping;
  const ch = channelRelease(model.release, req.channel, model.files.release);
  const { composeRoot } = composePaths(model, ch, req.roots);
  const dryRun = req.dryRun ?? false;
  const base = { project: model.project, channel: ch.channel, composeRoot, dryRun, keepDays, keep: [...keep] };
  const done = (removed: HousekeepingResult['removed'], vanished: string[], kept: HousekeepingResult['kept']) => ({
    ...base,
    removed,
    vanished,
    kept,
    seconds: (Date.now() - started) / 1000,
  });

  try {
    // stat, not lstat: the compose root itself may be reached through a symlink (/mnt/compose/8 -> /data/8).
    if (!(await stat(composeRoot)).isDirectory()) throw new RelengError(`${composeRoot} is not a directory`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    log.info(`${composeRoot} does not exist: no composes to clean up`);
    return done([], [], []);
  }

  const plan = async () => {
    const { entries, links } = await scanComposeRoot(composeRoot);
    const p = planHousekeeping({
      composeRoot,
      entries,
      links,
      now: req.now ?? new Date(),
      keepDays,
      keep,
      short: model.short,
      major: model.major,
    });
    for (const d of p.keep) log.info(`keep ${d.name}: ${d.reason}`);
    return p;
  };
  const brief = (ds: Decision[]) => ds.map(({ name, reason }) => ({ name, reason }));

  if (dryRun) {
    const p = await plan();
    for (const d of p.remove) log.info(`would remove ${d.name}: ${d.reason}`);
    return done(brief(p.remove), [], brief(p.keep));
  }

  return withLock(housekeepingPaths(composeRoot).lockFile, `${model.project}:housekeeping`, model.common.lockTimeoutSeconds, log, async () => {
    await emptyTrash(composeRoot, log);
    const p = await plan();
    for (const d of p.remove) log.info(`removing ${d.name}: ${d.reason}`);
    const r = await removeComposes(composeRoot, p.remove.map((d) => d.name), log);
    if (r.failed.length) {
      throw new RelengError(
        `could not remove ${r.failed.length} of ${p.remove.length} old composes in ${composeRoot}: ` +
          r.failed.map((f) => `${f.name} (${f.error})`).join('; '),
      );
    }
    const removed = new Set(r.removed);
    return done(brief(p.remove.filter((d) => removed.has(d.name))), r.vanished, brief(p.keep));
  });
}
