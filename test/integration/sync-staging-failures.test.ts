import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { access, chmod, constants, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, test } from 'node:test';
import { loadComposeModels, type ComposeModel } from '../../tools/nx-releng/src/config/load';
import { channelRelease, composePaths, resolveRoots, stagingPaths, type Roots } from '../../tools/nx-releng/src/layout/paths';
import { RelengError } from '../../tools/nx-releng/src/errors';
import { withLock } from '../../tools/nx-releng/src/lib/core/lock';
import { createLocalCompose, type LocalComposeResult } from '../../tools/nx-releng/src/lib/compose/local-compose';
import { replaceLink } from '../../tools/nx-releng/src/lib/core/links';
import type { Log } from '../../tools/nx-releng/src/lib/core/log';
import { readSyncRecord } from '../../tools/nx-releng/src/lib/staging/record-schemas';
import { syncStaging } from '../../tools/nx-releng/src/lib/staging/sync-staging';
import type { SyncStagingRequest, SyncStagingResult } from '../../tools/nx-releng/src/lib/staging/work-copy';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { stageLocalSource } from '../helpers/rpms';
import {
  ACROSS_RUNS,
  assertSameTree,
  countFiles,
  maskRepomdTimes,
  snapshotTree,
  type TreeEntry,
  type TreeSnapshot,
} from '../helpers/tree-snapshot';
import { REPO_ROOT } from '../helpers/workspace';

/**
 * sync-staging on bad input and in bad conditions, at the library level: real composes from the local backend,
 * real rsync/createrepo_c/modifyrepo_c/hardlink. Every refusal must say what is wrong, and leave the staging tree
 * byte for byte as it was (checked by a recursive snapshot: type, mode, owner, links, inode, size, mtime, sha256).
 */

const MODELS = new Map(
  loadComposeModels(REPO_ROOT, [
    'releases/8/Extras/compose.json',
    'releases/8/Rocky/compose.json',
    'releases/8/Rocky-devel/compose.json',
  ]).map((m) => [m.project, m]),
);
const model = (project: string) => MODELS.get(project) as ComposeModel;
const EXTRAS = model('Extras-8');
const DEVEL = model('Rocky-devel-8');
const ROCKY = model('Rocky-8');

const temps: string[] = [];
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function temp(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `releng-${prefix}-`));
  temps.push(dir);
  return dir;
}

/** A RELENG_ROOT with the sandbox's compose inputs staged and nothing composed or synced yet. */
async function newRoot(prefix: string): Promise<string> {
  const root = await temp(prefix);
  await stageSandbox(root);
  return root;
}

const rootsOf = (root: string, m: ComposeModel): Roots => resolveRoots(m.common, m.release, root);
const stagingOf = (root: string, m: ComposeModel) => stagingPaths(m, channelRelease(m.release, 'stable'), rootsOf(root, m));
const composeOf = (root: string, m: ComposeModel) => composePaths(m, channelRelease(m.release, 'stable'), rootsOf(root, m));
const stagingRoot = (root: string) => join(root, 'mnt/repos-staging');

/** The compose executor's call of the local backend. */
function compose(root: string, m: ComposeModel): Promise<LocalComposeResult> {
  const cp = composeOf(root, m);
  return createLocalCompose({
    targetDir: cp.composeRoot,
    srcDir: cp.localSource,
    releaseName: m.common.distro.name,
    short: m.short,
    version: m.release.revision,
    variants: m.compose.variants,
    arches: m.release.arches,
    latestLinkName: `latest-${m.short}-${m.major}`,
  });
}

/** Moves the latest link to any compose dir (absolute), e.g. one of another RELENG_ROOT. */
async function pointLatest(root: string, m: ComposeModel, composeDir: string): Promise<void> {
  await replaceLink(composeOf(root, m).composeRoot, `latest-${m.short}-${m.major}`, composeDir);
}

/**
 * A new package in the project's inputs, so its next compose differs from the one already in staging. Only the
 * new RPMs are copied: re-copying an input would rewrite the inode the earlier compose hard-links (new mtime).
 */
async function addNewPackage(root: string, m: ComposeModel): Promise<void> {
  const koji = join(root, 'mnt/koji');
  if (m === ROCKY) await stageLocalSource(koji, '8', 'Rocky', { BaseOS: ['releng-hello'] }, { version: '1.1', comps: {} });
  else await stageLocalSource(koji, '8', 'Extras', { extras: ['releng-tools'] }, { comps: {} });
}

let seq = 0;
/** A Log that keeps its lines, each with a process-wide sequence number (to order lines of concurrent runs). */
class Lines implements Log {
  readonly entries: Array<{ seq: number; line: string }> = [];
  info = (line: string) => void this.entries.push({ seq: seq++, line });
  warn = (line: string) => void this.entries.push({ seq: seq++, line: `WARNING: ${line}` });
  get text(): string {
    return this.entries.map((e) => e.line).join('\n');
  }
}

async function sync(
  root: string,
  m: ComposeModel,
  extra: Partial<SyncStagingRequest> = {},
): Promise<SyncStagingResult & { log: Lines }> {
  const log = new Lines();
  const res = await syncStaging({ model: m, roots: rootsOf(root, m), channel: 'stable', log, ...extra });
  return { ...res, log };
}

/** The error of a sync that must fail, with its log. */
async function syncError(root: string, m: ComposeModel, extra: Partial<SyncStagingRequest> = {}) {
  const log = new Lines();
  try {
    const res = await syncStaging({ model: m, roots: rootsOf(root, m), channel: 'stable', log, ...extra });
    assert.fail(`expected ${m.project} to fail, but it returned ${res.outcome}\n${log.text}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    assert.ok(err instanceof RelengError, `expected a RelengError, got ${(err as Error).stack}`);
    return { message: err.message, log };
  }
}

const snapStaging = (root: string, exclude?: (rel: string) => boolean): Promise<TreeSnapshot> =>
  snapshotTree(stagingRoot(root), { exclude });
const published = (rel: string) => rel === '.releng';

/**
 * Runs a sync that must be refused before anything is touched: the whole staging root, including the lock,
 * record and work dirs under .releng, is the same afterwards. Returns the error message.
 */
async function expectRefusal(root: string, m: ComposeModel, extra: Partial<SyncStagingRequest> = {}): Promise<string> {
  const before = await snapStaging(root);
  const { message } = await syncError(root, m, extra);
  assertSameTree(await snapStaging(root), before, `staging changed by a refused sync (${message})`);
  return message;
}

/** A root whose staging holds compose A of the project, with compose B (different content) as latest. */
async function syncedThenNewCompose(prefix: string, m: ComposeModel) {
  const root = await newRoot(prefix);
  const a = await compose(root, m);
  assert.equal((await sync(root, m)).outcome, 'synced');
  await addNewPackage(root, m);
  const b = await compose(root, m);
  return { root, a, b };
}

const NEW_PACKAGE = /^releng-tools-1\.0-1\.el8\.\w+\.rpm$/;
async function stagingHasNewPackage(root: string): Promise<boolean> {
  const dir = join(stagingOf(root, EXTRAS).revisionDir, 'extras/x86_64/os/Packages/r');
  return (await readdir(dir).catch(() => [] as string[])).some((f) => NEW_PACKAGE.test(f));
}

async function withPath<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = path;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved;
  }
}

async function which(tool: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      await access(join(dir, tool), constants.X_OK);
      return join(dir, tool);
    } catch {
      /* next */
    }
  }
  throw new Error(`${tool} is not installed`);
}

// --- 1-2: the latest link ---------------------------------------------------------------------------------------

test('no compose yet: the missing latest link is refused by its path, staging is not created', async () => {
  const root = await newRoot('sf-nolink');
  const link = composeOf(root, EXTRAS).latestLink;
  const message = await expectRefusal(root, EXTRAS);
  assert.equal(message, `compose link ${link} does not exist`);
  assert.equal(await snapStaging(root), undefined, 'the staging root was created');
});

test('a dangling latest link is refused as dangling, naming its target', async () => {
  const { root, b } = await syncedThenNewCompose('sf-dangling', EXTRAS);
  await rm(b.composeDir, { recursive: true });
  const message = await expectRefusal(root, EXTRAS);
  assert.match(message, /dangling/);
  assert.ok(message.includes(composeOf(root, EXTRAS).latestLink), message);
  assert.ok(message.includes(`'${b.composeId}'`), message);
});

// --- 3: STATUS ------------------------------------------------------------------------------------------------------

test('composes that did not finish are refused by STATUS; FINISHED_INCOMPLETE only with allowIncomplete', async () => {
  const { root, b } = await syncedThenNewCompose('sf-status', EXTRAS);
  const status = join(b.composeDir, 'STATUS');
  const refused = async (content: string | undefined, extra: Partial<SyncStagingRequest> = {}) => {
    if (content === undefined) await rm(status);
    else await writeFile(status, `${content}\n`);
    return expectRefusal(root, EXTRAS, extra);
  };
  for (const s of ['DOOMED', 'STARTED']) {
    const message = await refused(s);
    assert.ok(message.includes(`compose ${b.composeDir} has STATUS ${s}`), message);
    assert.match(message, /only FINISHED composes are synced \(FINISHED_INCOMPLETE is accepted with --allowIncomplete\)/);
  }
  assert.match(await refused('DOOMED', { allowIncomplete: true }), /has STATUS DOOMED; only FINISHED or FINISHED_INCOMPLETE/);
  assert.equal(await refused(undefined), `compose ${b.composeDir} has no STATUS file; it is not a finished pungi compose`);
  assert.match(await refused('FINISHED_INCOMPLETE'), /has STATUS FINISHED_INCOMPLETE; .*accepted with --allowIncomplete/);
  assert.equal(await stagingHasNewPackage(root), false);

  const res = await sync(root, EXTRAS, { allowIncomplete: true });
  assert.equal(res.outcome, 'synced');
  assert.equal(res.composeId, b.composeId);
  assert.ok(await stagingHasNewPackage(root), 'the FINISHED_INCOMPLETE compose was synced');
});

// --- 4-5: the compose does not hold what the model says -------------------------------------------------------------

test('a compose without a variant listed in compose.json is refused, naming the variant and the file', async () => {
  const { root, b } = await syncedThenNewCompose('sf-variant', EXTRAS);
  await rm(join(b.composeDir, 'compose/plus'), { recursive: true });
  const message = await expectRefusal(root, EXTRAS);
  assert.equal(
    message,
    `compose ${b.composeId} has no compose/plus directory, but releases/8/Extras/compose.json lists variant 'plus'`,
  );
});

test('a comps repo whose compose has no comps file is refused before anything is touched', async () => {
  const { root, b } = await syncedThenNewCompose('sf-comps', ROCKY);
  const comps = join(b.composeDir, 'work/aarch64/comps/comps-AppStream.aarch64.xml');
  await rm(comps);
  const message = await expectRefusal(root, ROCKY);
  assert.match(message, /^AppStream is a comps repo \(compsRepos in releases\/8\/release\.json\)/);
  assert.ok(message.includes(`compose ${b.composeId} has no ${comps}`), message);
  assert.match(message, /refusing to publish AppStream\/aarch64\/os without its groups/);
});

// --- 6-7: tools -----------------------------------------------------------------------------------------------------

test('a missing createrepo_c is named with the package to install, before anything is touched', async () => {
  const { root } = await syncedThenNewCompose('sf-notool', EXTRAS);
  const bin = await temp('sf-bin');
  for (const tool of ['rsync', 'modifyrepo_c', 'hardlink', 'cp']) await symlink(await which(tool), join(bin, tool));
  const message = await withPath(bin, () => expectRefusal(root, EXTRAS));
  assert.equal(
    message,
    "required tool 'createrepo_c' was not found on PATH: install it (Debian: apt-get install createrepo-c; EL: dnf install createrepo_c)",
  );
});

test('createrepo_c failing midway leaves staging as it was, no work dir, no record; the next run syncs', async () => {
  const { root } = await syncedThenNewCompose('sf-toolfail', EXTRAS);
  const sp = stagingOf(root, EXTRAS);
  assert.ok(await readSyncRecord(sp.syncRecord, EXTRAS), 'the first sync wrote its record');
  const bin = await temp('sf-fakebin');
  // The one stand-in: createrepo_c that answers --version like the real one and fails any real work (disk full).
  const fake = join(bin, 'createrepo_c');
  await writeFile(
    fake,
    `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${await which('createrepo_c')} "$@"; fi\n` +
      `echo "createrepo_c: Cannot write primary.xml.gz: No space left on device" >&2\nexit 1\n`,
  );
  await chmod(fake, 0o755);
  const before = await snapStaging(root, published);
  const { message, log } = await withPath(`${bin}${delimiter}${process.env.PATH}`, () => syncError(root, EXTRAS));
  assert.match(message, /^createrepo_c .* failed with exit code 1:\ncreaterepo_c: Cannot write primary\.xml\.gz: No space left on device$/);
  assert.match(log.text, /^ {2}\[\d+\/\d+\] extras\/x86_64: \d+ files/m, 'the failure came after rsync had filled the work copy');
  assertSameTree(await snapStaging(root, published), before, 'staging changed by a sync that failed midway');
  assert.equal(existsSync(sp.workDir), false, `work dir left behind: ${sp.workDir}`);
  assert.deepEqual(await readdir(join(stagingRoot(root), '.releng/work/mirror_pub_rocky/8.10-RC2')), []);
  assert.equal(existsSync(sp.syncRecord), false, 'the record of the old sync must go: staging is not known to be in sync');
  assert.equal(existsSync(sp.lockFile), false, 'the lock was released');

  const res = await sync(root, EXTRAS);
  assert.equal(res.outcome, 'synced');
  assert.match(res.log.text, /\(no record of a previous sync\)/);
  assert.ok(await stagingHasNewPackage(root));
});

// --- 8: the destination -----------------------------------------------------------------------------------------

test('a staging category path that is a file is a clear error, and nothing is written', async () => {
  const root = await newRoot('sf-notdir');
  await compose(root, EXTRAS);
  const category = stagingOf(root, EXTRAS).categoryDir;
  await mkdir(join(category, '..'), { recursive: true });
  await writeFile(category, 'not a directory\n');
  const target = stagingOf(root, EXTRAS).revisionDir;
  const message = await expectRefusal(root, EXTRAS);
  assert.equal(message, `staging directory ${target} cannot be created: ${category} is not a directory`);
});

// --- 9: locking -----------------------------------------------------------------------------------------------------

/** The interval of log sequence numbers in which a run held the lock (from "syncing" to its last line). */
function heldInterval(log: Lines): [number, number] {
  const start = log.entries.find((e) => / syncing /.test(e.line));
  assert.ok(start, log.text);
  return [start.seq, (log.entries.at(-1) as { seq: number }).seq];
}

function assertSerialized(a: Lines, b: Lines): void {
  const [x, y] = [heldInterval(a), heldInterval(b)].sort((p, q) => p[0] - q[0]) as [[number, number], [number, number]];
  assert.ok(x[1] < y[0], `both runs held the lock at once:\n${a.text}\n---\n${b.text}`);
}

/**
 * A sync's progress reads in order whenever its compose was sized (before the lock while waiting, or while its
 * rsyncs already run): "syncing", then "to do", then one line per unit, counted up.
 */
function assertProgressOrder(log: Lines): void {
  const lines = log.entries.map((e) => e.line);
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const units = lines.filter((l) => /^ {2}\[\d+\/\d+\] \S+: \d+ files, .* copied in /.test(l));
  assert.ok(at(/ syncing /) >= 0 && at(/ syncing /) < at(/^ {2}to do: /), log.text);
  assert.ok(units.length > 0 && at(/^ {2}to do: /) < lines.indexOf(units[0] as string), log.text);
  assert.deepEqual(
    units.map((l) => /\[(\d+)\//.exec(l)?.[1]),
    units.map((_, i) => String(i + 1)),
    log.text,
  );
}

test('two projects of one major started at once: one waits for the lock, both sync, same tree as serial runs', async () => {
  const root = await newRoot('sf-concurrent');
  const composes = [await compose(root, EXTRAS), await compose(root, DEVEL)];
  const [x, y] = await Promise.all([sync(root, EXTRAS), sync(root, DEVEL)]);
  assert.deepEqual([x.outcome, y.outcome], ['synced', 'synced']);
  const waited = [x, y].filter((r) => /^waiting for lock .* held by (Extras|Rocky-devel)-8:sync-staging \(pid \d+ /m.test(r.log.text));
  assert.equal(waited.length, 1, `exactly one run waits:\n${x.log.text}\n---\n${y.log.text}`);
  assertSerialized(x.log, y.log);
  assertProgressOrder(x.log);
  assertProgressOrder(y.log);
  assert.equal(existsSync(stagingOf(root, EXTRAS).lockFile), false);

  const twin = await newRoot('sf-concurrent-twin');
  await pointLatest(twin, EXTRAS, (composes[0] as LocalComposeResult).composeDir);
  await pointLatest(twin, DEVEL, (composes[1] as LocalComposeResult).composeDir);
  assert.equal((await sync(twin, EXTRAS)).outcome, 'synced');
  assert.equal((await sync(twin, DEVEL)).outcome, 'synced');
  const opts = { exclude: published, normalize: maskRepomdTimes };
  const serial = await snapshotTree(stagingRoot(twin), opts);
  assert.ok(countFiles(serial, 'mirror/pub/rocky/8.10-RC2/devel/') > 10 && countFiles(serial, 'mirror/pub/rocky/8.10-RC2/plus/') > 10);
  assertSameTree(await snapshotTree(stagingRoot(root), opts), serial, 'concurrent runs differ from serial runs', ACROSS_RUNS);
});

async function writeLock(file: string, pid: number, owner: string): Promise<string> {
  const text = JSON.stringify({ pid, host: hostname(), owner, since: '2024-04-12T10:00:00.000Z' });
  await mkdir(join(file, '..'), { recursive: true });
  await writeFile(file, text);
  return text;
}

test('a lock held by a live process is refused after lockTimeoutSeconds, naming the holder', async () => {
  const { root } = await syncedThenNewCompose('sf-lock-live', EXTRAS);
  const lockFile = stagingOf(root, EXTRAS).lockFile;
  await writeLock(lockFile, process.ppid, 'Rocky-8:sync-staging');
  const impatient: ComposeModel = { ...EXTRAS, common: { ...EXTRAS.common, lockTimeoutSeconds: 0 } };
  const message = await expectRefusal(root, impatient);
  assert.equal(
    message,
    `${lockFile} is held by Rocky-8:sync-staging (pid ${process.ppid} on ${hostname()} since 2024-04-12T10:00:00.000Z); ` +
      'gave up after 0s (lockTimeoutSeconds in releases/common.json)',
  );
});

/** A pid that was just used and is gone. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  assert.equal(r.status, 0);
  return r.pid as number;
}

test('a lock left by a dead process is taken over with a warning', async () => {
  const { root } = await syncedThenNewCompose('sf-lock-dead', EXTRAS);
  const lockFile = stagingOf(root, EXTRAS).lockFile;
  const pid = deadPid();
  await writeLock(lockFile, pid, 'Rocky-8:sync-staging');
  const res = await sync(root, EXTRAS);
  assert.equal(res.outcome, 'synced');
  assert.ok(res.log.text.includes(`WARNING: removing stale lock ${lockFile} left by Rocky-8:sync-staging (pid ${pid} is gone)`), res.log.text);
  assert.equal(existsSync(lockFile), false);
  assert.ok(await stagingHasNewPackage(root));
});

test('a stale lock met by two runs at once is taken over by one of them only', async () => {
  const root = await newRoot('sf-lock-race');
  await compose(root, EXTRAS);
  await compose(root, DEVEL);
  await writeLock(stagingOf(root, EXTRAS).lockFile, deadPid(), 'Rocky-8:sync-staging');
  const [x, y] = await Promise.all([sync(root, EXTRAS), sync(root, DEVEL)]);
  assert.deepEqual([x.outcome, y.outcome], ['synced', 'synced']);
  assertSerialized(x.log, y.log);
});

test('the stale-lock takeover is exclusive: of three runs meeting one stale lock, one at a time holds it', async () => {
  // Lock level, many rounds: with lockTimeoutSeconds 0 the runs that lose give up at once instead of polling, so a
  // round takes milliseconds. A takeover that is not exclusive lets two runs hold the lock in ~10% of the rounds.
  const dir = await temp('sf-lock-stress');
  const pid = deadPid();
  for (let round = 0; round < 150; round++) {
    const file = join(dir, `round-${round}.lock`);
    await writeLock(file, pid, 'gone:sync-staging');
    const log = new Lines();
    let inside = 0;
    let most = 0;
    const runs = await Promise.allSettled(
      ['a', 'b', 'c'].map((owner) =>
        withLock(file, owner, 0, log, async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    assert.equal(most, 1, `round ${round}: ${most} runs held the lock at once\n${log.text}`);
    // A loser names the live holder (it may meet the winner's lock right after the stale one went), or the takeover.
    for (const r of runs) {
      if (r.status === 'rejected') assert.match(String(r.reason), /is held by ((a|b|c) \(pid \d+ on \S+ since [^)]+\)|another run|gone:sync-staging .* another run is taking it over);/);
    }
    assert.equal(log.entries.filter((e) => /removing stale lock/.test(e.line)).length, 1, log.text);
    assert.deepEqual(await readdir(dir), [], 'lock and takeover files are gone');
  }
});

// --- 10: killed midway ----------------------------------------------------------------------------------------------

/** A child node process running one sync of `project` on `root`, logging to stdout; optionally killed at the swap. */
async function childScript(dir: string): Promise<{ script: string; killAtSwap: string }> {
  const src = (p: string) => JSON.stringify(join(REPO_ROOT, p));
  const script = join(dir, 'sync-child.ts');
  await writeFile(
    script,
    `import { loadComposeModel } from ${src('tools/nx-releng/src/config/load')};
import { resolveRoots } from ${src('tools/nx-releng/src/layout/paths')};
import { syncStaging } from ${src('tools/nx-releng/src/lib/staging/sync-staging')};
const [root, projectRoot] = process.argv.slice(2) as [string, string];
const model = loadComposeModel(${JSON.stringify(REPO_ROOT)}, projectRoot);
const log = { info: (l: string) => console.log(l), warn: (l: string) => console.log('WARNING: ' + l) };
syncStaging({ model, roots: resolveRoots(model.common, model.release, root), channel: 'stable', log }).then(
  (r) => console.log('DONE ' + r.outcome),
  (e) => { console.log('FAILED ' + e.message); process.exitCode = 1; },
);
`,
  );
  // Fault injection, not a stand-in: the real rename runs, then the process dies between the two renames of a swap.
  const killAtSwap = join(dir, 'kill-at-swap.js');
  await writeFile(
    killAtSwap,
    `const fsp = require('node:fs/promises');
const { basename } = require('node:path');
const rename = fsp.rename;
fsp.rename = async (from, to) => {
  await rename(from, to);
  if (basename(String(to)).startsWith('.old-')) process.kill(process.pid, 'SIGKILL');
};
`,
  );
  return { script, killAtSwap };
}

type KillPoint = 'work dir created' | 'first repodata regenerated' | 'between the renames of the swap';

/** Runs the child until the kill point and SIGKILLs its process group (node and the tool it is running). */
async function killedSync(root: string, m: ComposeModel, files: { script: string; killAtSwap: string }, at: KillPoint) {
  const preload = at === 'between the renames of the swap' ? ['-r', files.killAtSwap] : [];
  const child = spawn(process.execPath, [...preload, '-r', '@swc-node/register', files.script, root, m.root], {
    cwd: REPO_ROOT,
    env: { ...process.env, SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json') },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  let done = false;
  void exited.then(() => (done = true));
  const workDir = stagingOf(root, m).workDir;
  const reached = () => (at === 'work dir created' ? existsSync(workDir) : /repodata regenerated/.test(out));
  if (at !== 'between the renames of the swap') {
    while (!done && !reached()) await new Promise((r) => setTimeout(r, 2));
    assert.ok(!done, `the child finished before it reached "${at}":\n${out}`);
    process.kill(-(child.pid as number), 'SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', `the child was not killed at "${at}":\n${out}`);
  assert.doesNotMatch(out, /^DONE/m);
  return out;
}

test('a sync killed midway (three kill points in a row) converges to the tree of an uninterrupted run', async () => {
  const { root, a, b } = await syncedThenNewCompose('sf-killed', EXTRAS);
  const sp = stagingOf(root, EXTRAS);
  const files = await childScript(await temp('sf-child'));
  const staged = await snapStaging(root, published);

  // The killed run's work copy (cp -al) still shares the published files' inodes until the next run removes it.
  const leftoverLinks = { ignoreFields: (e: TreeEntry) => (e.type === 'file' ? (['nlink'] as const) : []) };
  for (const at of ['work dir created', 'first repodata regenerated'] as const) {
    await killedSync(root, EXTRAS, files, at);
    assertSameTree(await snapStaging(root, published), staged, `staging changed by a run killed at "${at}"`, leftoverLinks);
    assert.ok(existsSync(sp.lockFile) && existsSync(sp.workDir), 'the killed run left its lock and work dir');
    assert.equal(existsSync(sp.syncRecord), false);
  }
  await killedSync(root, EXTRAS, files, 'between the renames of the swap');
  assert.equal(existsSync(join(sp.revisionDir, 'extras')), false, 'the kill landed between the renames');
  assert.ok(existsSync(join(sp.workDir, '.old-extras')));

  const res = await sync(root, EXTRAS);
  assert.equal(res.outcome, 'synced');
  assert.match(res.log.text, /^WARNING: removing stale lock .* \(pid \d+ is gone\)$/m);
  assert.equal(existsSync(sp.workDir), false);
  assert.equal((await readSyncRecord(sp.syncRecord, EXTRAS))?.composeId, b.composeId);

  const twin = await newRoot('sf-killed-twin');
  for (const c of [a, b]) {
    await pointLatest(twin, EXTRAS, c.composeDir);
    assert.equal((await sync(twin, EXTRAS)).outcome, 'synced');
  }
  const opts = { exclude: published, normalize: maskRepomdTimes };
  const uninterrupted = await snapshotTree(stagingRoot(twin), opts);
  assert.ok(countFiles(uninterrupted) > 40);
  assertSameTree(await snapshotTree(stagingRoot(root), opts), uninterrupted, 'killed-then-resumed differs', ACROSS_RUNS);
  assert.equal((await sync(root, EXTRAS)).outcome, 'up-to-date');
});

test('an interrupted minor-release swap is rolled back by the next daily sync: the only isos/ survives', async () => {
  const { root, b } = await syncedThenNewCompose('sf-minor-swap', EXTRAS);
  const sp = stagingOf(root, EXTRAS);
  // What a minor release killed between the two renames of its isos/ swap leaves: the published isos/ moved
  // aside into the work dir, the new one not yet in place. A daily sync does not have isos/ among its subtrees.
  const iso = 'x86_64/Rocky-8.10-x86_64-minimal.iso';
  await mkdir(join(sp.workDir, '.old-isos/x86_64'), { recursive: true });
  await writeFile(join(sp.workDir, '.old-isos', iso), 'the only copy');
  assert.equal(existsSync(join(sp.revisionDir, 'isos')), false);

  const res = await sync(root, EXTRAS);
  assert.equal(res.outcome, 'synced');
  assert.equal(readFileSync(join(sp.revisionDir, 'isos', iso), 'utf8'), 'the only copy', 'isos/ was deleted with the work dir');
  assert.equal(existsSync(sp.workDir), false);
  assert.equal((await readSyncRecord(sp.syncRecord, EXTRAS))?.composeId, b.composeId);
});
