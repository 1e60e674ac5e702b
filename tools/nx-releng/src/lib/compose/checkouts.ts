/**
 * The git checkouts a compose reads (the pungi config checkout and the module metadata checkout of each
 * channel), as the cron handles them: brought to their branch before each compose (cron/stable-updates-8
 * re-clones them and aborts when that fails), and fingerprinted for the compose's cache key (HEAD plus what
 * differs from it in the working tree).
 */
import { createHash } from 'node:crypto';
import { lstat, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type ComposeModel } from '../../config/load';
import { channelPungi, pungiField } from '../../config/pungi-settings';
import type { Channel, CheckoutConfig } from '../../config/schema';
import { RelengError } from '../../errors';
import { checkoutLockPath, reRoot, type Roots } from '../../layout/paths';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';
import { run } from '../tools/exec';

export interface Checkout extends CheckoutConfig {
  /** The compose.json field that names it, e.g. channels.beta.pungi.checkout. */
  field: string;
  /** compose.json, for messages. */
  source: string;
}

/** The checkouts a channel's compose reads (dirs re-rooted like every configured path). */
export function channelCheckouts(model: ComposeModel, channel: Channel, relengRoot?: string): Checkout[] {
  const pungi = channelPungi(model, channel);
  if (!pungi) return [];
  const named = [
    ['checkout', pungi.checkout],
    ['moduleMetadata', pungi.moduleMetadata],
  ] as const;
  return named.flatMap(([key, c]) =>
    c ? [{ ...c, dir: reRoot(c.dir, relengRoot), field: `${pungiField(channel)}.${key}`, source: model.files.compose }] : [],
  );
}

/** git with an explicit argv, never prompting for credentials (a cron has no terminal). */
function git(dir: string, args: string[]) {
  return run('git', ['-C', dir, ...args], { allowFailure: true, env: { GIT_TERMINAL_PROMPT: '0' } });
}

const gitError = (r: { stderr: string; stdout: string; exitCode: number }) =>
  `exit code ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').filter(Boolean).slice(-3).join(' | ')}`;

function fail(c: Checkout, what: string): never {
  throw new RelengError(`${c.source}: field ${c.field}: checkout ${c.dir} ${what}`);
}

/** The checkout exists and is the top of its own git work tree (not a plain dir inside another repository). */
async function requireGitCheckout(c: Checkout): Promise<void> {
  const clone = `git clone -b ${c.branch} ${c.remote} ${c.dir}`;
  if (!(await stat(c.dir).then((s) => s.isDirectory(), () => false))) fail(c, `does not exist or is not a directory; make it with: ${clone}`);
  const top = await git(c.dir, ['rev-parse', '--show-toplevel']);
  const real = await realpath(c.dir);
  if (top.exitCode !== 0 || top.stdout.trim() !== real) {
    fail(c, `is not a git checkout (not the top of a git work tree); make it with: rm -rf ${c.dir} && ${clone}`);
  }
}

/** Why the checkout cannot be used at all (missing, not a git checkout), or undefined. */
export async function checkoutProblem(c: Checkout): Promise<string | undefined> {
  return requireGitCheckout(c).then(
    () => undefined,
    (err: Error) => err.message,
  );
}

async function currentBranch(c: Checkout): Promise<string | undefined> {
  const r = await git(c.dir, ['symbolic-ref', '--quiet', '--short', 'HEAD']);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

async function head(c: Checkout): Promise<string> {
  const r = await git(c.dir, ['rev-parse', '--verify', 'HEAD']);
  if (r.exitCode !== 0) fail(c, `has no commit checked out (${gitError(r)})`);
  return r.stdout.trim();
}

export interface CheckoutState {
  field: string;
  dir: string;
  branch: string;
  head: string;
}

/**
 * Brings a checkout to the tip of its configured branch of its configured remote: fetch, then that commit
 * checked out as the branch. A checkout with local changes is refused rather than wiped (the cron re-clones);
 * anything else that fails names the checkout.
 */
export async function refreshCheckout(c: Checkout): Promise<CheckoutState & { before: string }> {
  await requireGitCheckout(c);
  const status = await git(c.dir, ['status', '--porcelain', '--untracked-files=all']);
  if (status.exitCode !== 0) fail(c, `cannot be read by git status (${gitError(status)})`);
  const changed = status.stdout.split('\n').filter(Boolean);
  if (changed.length) {
    fail(
      c,
      `has local changes (${changed.slice(0, 5).map((l) => l.slice(3)).join(', ')}${changed.length > 5 ? ', ...' : ''}); ` +
        `commit or discard them, or compose with --offline to use the checkout as it is`,
    );
  }
  const before = (await git(c.dir, ['rev-parse', '--verify', '--quiet', 'HEAD'])).stdout.trim();
  const fetched = await git(c.dir, ['fetch', '--quiet', '--no-tags', c.remote, `refs/heads/${c.branch}`]);
  if (fetched.exitCode !== 0) fail(c, `cannot be refreshed: git fetch ${c.remote} ${c.branch} failed (${gitError(fetched)})`);
  const switched = await git(c.dir, ['checkout', '--quiet', '-B', c.branch, 'FETCH_HEAD']);
  if (switched.exitCode !== 0) fail(c, `cannot be refreshed: git checkout -B ${c.branch} failed (${gitError(switched)})`);
  return { field: c.field, dir: c.dir, branch: c.branch, head: await head(c), before };
}

/** Without a refresh (--offline, or refresh false): the checkout must still be a git checkout on its branch. */
export async function checkCheckout(c: Checkout): Promise<CheckoutState> {
  await requireGitCheckout(c);
  const branch = await currentBranch(c);
  if (branch !== c.branch) {
    fail(c, `is on ${branch ? `branch ${branch}` : 'a detached HEAD'}, not on ${c.branch}; a refresh (without --offline) switches it`);
  }
  return { field: c.field, dir: c.dir, branch: c.branch, head: await head(c) };
}

/**
 * What the checkout holds, for the compose's cache key: its HEAD commit, and a digest of the working tree's
 * differences from it (git status, and the content of every changed or untracked file), so an edit that was
 * never committed still changes the key. Throws (naming the checkout) when git cannot tell.
 */
export async function checkoutFingerprint(c: Checkout): Promise<string> {
  await requireGitCheckout(c);
  const commit = await head(c);
  const status = await git(c.dir, ['status', '--porcelain=v1', '-z', '--untracked-files=all']);
  if (status.exitCode !== 0) fail(c, `cannot be read by git status (${gitError(status)})`);
  const h = createHash('sha256').update(status.stdout);
  // -z entries: "XY path", a rename followed by its source path as a separate entry.
  const entries = status.stdout.split('\0').filter(Boolean);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] as string;
    if (entry[0] === 'R' || entry[0] === 'C') i++;
    const path = join(c.dir, entry.slice(3));
    const s = await lstat(path).catch(() => undefined);
    if (!s) continue;
    h.update(`\0${entry.slice(3)}\0`);
    if (s.isSymbolicLink()) h.update(await readlink(path));
    else if (s.isFile()) h.update(await readFile(path));
  }
  const branch = (await currentBranch(c)) ?? '(detached)';
  return `${c.dir} ${branch} ${commit} worktree ${entries.length ? `sha256:${h.digest('hex')}` : 'clean'}`;
}

export interface RefreshResult {
  channel: Channel;
  /** refreshed: fetched and checked out; checked: --offline or refresh false; skipped: nothing to read. */
  mode: 'refreshed' | 'checked' | 'skipped';
  why?: string;
  checkouts: CheckoutState[];
}

/**
 * The refresh step before compose: every checkout of the channel brought to its branch (one at a time per
 * checkout: the composes of a host share them), or with --offline / refresh false only checked.
 */
export async function refreshComposeCheckouts(o: {
  model: ComposeModel;
  channel: Channel;
  backend: 'pungi' | 'local';
  offline: boolean;
  roots: Roots;
  relengRoot?: string;
  log: Log;
}): Promise<RefreshResult> {
  const { model, channel, log } = o;
  if (o.backend === 'local') return { channel, mode: 'skipped', why: 'the local backend reads no checkout', checkouts: [] };
  const checkouts = channelCheckouts(model, channel, o.relengRoot);
  if (!checkouts.length) return { channel, mode: 'skipped', why: `${model.files.compose} names no checkout for ${channel}`, checkouts: [] };
  const offline = o.offline || channelPungi(model, channel)?.refresh === false;
  const states: CheckoutState[] = [];
  for (const c of checkouts) {
    if (offline) {
      states.push(await checkCheckout(c));
      continue;
    }
    const lock = checkoutLockPath(o.roots, c.dir);
    const done = await withLock(lock, `${model.project}:refresh`, model.common.lockTimeoutSeconds, log, () => refreshCheckout(c));
    log.info(`${c.field}: ${c.dir} ${done.before === done.head ? 'already at' : `${done.before.slice(0, 12) || '(none)'} ->`} ${c.branch} ${done.head.slice(0, 12)}`);
    states.push({ field: done.field, dir: done.dir, branch: done.branch, head: done.head });
  }
  return { channel, mode: offline ? 'checked' : 'refreshed', checkouts: states };
}
