import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { processStartTime, withLock } from '../../../tools/nx-releng/src/lib/core/lock';
import type { Log } from '../../../tools/nx-releng/src/lib/core/log';
import { runInChild } from '../../helpers/in-child';
import { removeDir, tempDir } from '../../helpers/workspace';

/** Locks: the wait loop with a leftover takeover file, all-or-nothing lock writes, and pids that were reused. */

let dir: string;
const children: ChildProcess[] = [];
before(() => (dir = tempDir('lock')));
after(() => {
  for (const c of children) c.kill('SIGKILL');
  removeDir(dir);
});

const warnings: string[] = [];
const log: Log = { info: () => undefined, warn: (l) => warnings.push(l) };
const held = () => withLock(join(dir, 'x'), 'probe', 0, log, async () => 'ran');

/** A pid that no process has (one that just exited; pids are not reused this soon). */
function deadPid(): number {
  const r = spawnSync('sh', ['-c', 'echo $$']);
  return Number(r.stdout.toString().trim());
}

async function liveProcess(): Promise<number> {
  const c = spawn('sleep', ['600'], { stdio: 'ignore' });
  children.push(c);
  await new Promise((resolve, reject) => c.once('spawn', resolve).once('error', reject));
  return c.pid as number;
}

/** The lock of a run of this host, as withLock writes it (override any field). */
function lockOf(over: Record<string, unknown>): string {
  return JSON.stringify({
    pid: process.pid,
    host: hostname(),
    owner: 'Rocky-8:sync-staging',
    since: '2024-04-12T10:00:00.000Z',
    machineId: readFileSync('/etc/machine-id', 'utf8').trim(),
    bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
    pidNs: readlinkSync('/proc/self/ns/pid'),
    startTime: processStartTime(process.pid),
    ...over,
  });
}

describe('a stale lock plus a leftover takeover file', () => {
  // In a child: the old loop spun without sleeping or looking at the deadline, so it never returned.
  const waitInChild = (lockDir: string, timeoutSeconds: number) =>
    runInChild(
      `const { withLock } = load('tools/nx-releng/src/lib/core/lock.ts');
       const cpu = process.cpuUsage();
       const outcome = await withLock(${JSON.stringify(join(lockDir, 'staging.lock'))}, 'test', ${timeoutSeconds},
         { info() {}, warn() {} }, async () => 'acquired').catch((err) => err.message);
       const used = process.cpuUsage(cpu);
       report({ outcome, cpuSeconds: (used.user + used.system) / 1e6 });`,
      60,
    );

  test('an empty takeover file left by an older run is cleared and the stale lock taken over', () => {
    const d = join(dir, 'empty-guard');
    mkdirSync(d);
    writeFileSync(join(d, 'staging.lock'), JSON.stringify({ pid: deadPid(), host: hostname(), owner: 'Rocky-8:sync-staging', since: '2024-04-12T10:00:00.000Z' }));
    writeFileSync(join(d, 'staging.lock.takeover'), '');
    const r = waitInChild(d, 5);
    assert.equal(r.killed, false, 'the wait never ended (spinning past its timeout)');
    assert.equal(r.report?.outcome, 'acquired', r.stderr);
    assert.ok(r.report.cpuSeconds < 1, `the wait used ${r.report.cpuSeconds}s of CPU`);
    assert.deepEqual(readdirSync(d), [], 'the lock, the takeover file and temp files are gone');
  });

  test('a takeover held by a live run: the wait ends by the timeout, with backoff, naming the holder', () => {
    const d = join(dir, 'live-guard');
    mkdirSync(d);
    writeFileSync(join(d, 'staging.lock'), lockOf({ pid: deadPid() }));
    writeFileSync(join(d, 'staging.lock.takeover'), lockOf({ owner: 'Extras-8:sync-prod' })); // this test process: alive
    const r = waitInChild(d, 3);
    assert.equal(r.killed, false, 'the wait never ended');
    assert.match(
      r.report?.outcome ?? r.stderr,
      /staging\.lock is held by Rocky-8:sync-staging \(pid \d+ on .*\) and is stale \(pid \d+ is gone\), but another run is taking it over; gave up after 3s/,
    );
    assert.ok(r.report.cpuSeconds < 1, `the wait used ${r.report.cpuSeconds}s of CPU`);
  });
});

describe('writing a lock is all or nothing', () => {
  let mnt: string | undefined;
  let why = '';
  before(() => {
    const m = join(dir, 'tiny');
    mkdirSync(m);
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', m], { encoding: 'utf8' });
    if (r.status === 0) mnt = m;
    else why = `cannot mount a tmpfs here: ${r.stderr.trim() || r.error?.message}`;
  });
  after(() => {
    if (mnt) spawnSync('umount', [mnt]);
  });

  test('ENOSPC leaves no lock file behind, and the next run takes the lock', async (t) => {
    if (!mnt) return t.skip(why);
    const lock = join(mnt, 'locks', 'staging.lock');
    mkdirSync(join(mnt, 'locks'));
    // Fill the file system: a file can still be created, but nothing written into it.
    spawnSync('sh', ['-c', `cat /dev/zero > ${join(mnt, 'filler')}`]);
    await assert.rejects(
      withLock(lock, 'Rocky-8:sync-staging', 0, log, async () => 'ran'),
      (err: Error) => err.message.startsWith(`cannot create lock ${lock}: ENOSPC`),
    );
    assert.deepEqual(readdirSync(join(mnt, 'locks')), [], 'an empty lock (or a temp file) was left');
    rmSync(join(mnt, 'filler'));
    assert.equal(await withLock(lock, 'Rocky-8:sync-staging', 0, log, async () => 'ran'), 'ran');
    assert.deepEqual(readdirSync(join(mnt, 'locks')), []);
  });

  test('an empty lock file (left by an older version on a full disk) is taken over, not held forever', async () => {
    const lock = join(dir, 'empty.lock');
    writeFileSync(lock, '');
    warnings.length = 0;
    assert.equal(await withLock(lock, 'Rocky-8:sync-staging', 0, log, async () => 'ran'), 'ran');
    assert.deepEqual(warnings, [`removing stale lock ${lock} left by an unknown run (empty: not a lock this tool wrote)`]);
  });
});

describe('who holds a lock: pid reuse, reboots, other pid namespaces', () => {
  const lock = () => join(dir, 'x');
  const attempt = async (content: string) => {
    writeFileSync(lock(), content);
    warnings.length = 0;
    return held().catch((err: Error) => err.message);
  };

  test('a pid now used by another process (other start time) is a dead holder: taken over', async () => {
    const pid = await liveProcess();
    assert.equal(await attempt(lockOf({ pid, startTime: '1' })), 'ran');
    assert.match(warnings.join('\n'), new RegExp(`left by Rocky-8:sync-staging \\(pid ${pid} is gone, reused by another process\\)`));
  });

  test('the same pid with its own start time is alive: refused', async () => {
    const pid = await liveProcess();
    assert.match(await attempt(lockOf({ pid, startTime: processStartTime(pid) })), /is held by Rocky-8:sync-staging \(pid \d+/);
  });

  test('a holder from before a reboot is dead, whatever its pid', async () => {
    assert.equal(await attempt(lockOf({ bootId: '00000000-0000-0000-0000-000000000000' })), 'ran');
    assert.match(warnings.join('\n'), /left by Rocky-8:sync-staging \(the host rebooted since\)/);
  });

  test('a dead pid of another pid namespace or another machine of the same name cannot be judged: refused', async () => {
    assert.match(await attempt(lockOf({ pid: deadPid(), pidNs: 'pid:[1]' })), /is held by Rocky-8:sync-staging/);
    assert.match(await attempt(lockOf({ pid: deadPid(), machineId: 'another-machine' })), /is held by Rocky-8:sync-staging/);
  });

  test('a lock of an older version (host and pid only) is judged as before', async () => {
    const old = (pid: number) => JSON.stringify({ pid, host: hostname(), owner: 'Rocky-8:sync-staging', since: 'x' });
    assert.equal(await attempt(old(deadPid())), 'ran');
    assert.match(await attempt(old(await liveProcess())), /is held by/);
  });
  after(() => rmSync(lock(), { force: true }));
});

describe('runs queued on one lock', () => {
  test('each takes the lock in turn once it is released, never two at once; nothing is left open or behind', () => {
    const d = join(dir, 'queue');
    mkdirSync(d);
    // In a child: a watch left open by a wait would keep it from exiting (killed = true).
    const r = runInChild(
      `const { withLock } = load('tools/nx-releng/src/lib/core/lock.ts');
       const log = { info() {}, warn() {} };
       let inside = 0, most = 0;
       const order = [];
       const run = (name) => withLock(${JSON.stringify(join(d, 'staging.lock'))}, name, 30, log, async () => {
         most = Math.max(most, ++inside);
         order.push(name);
         await new Promise((r) => setTimeout(r, 30));
         inside--;
       });
       await Promise.all(['Rocky-8', 'Extras-8', 'Rocky-devel-8'].map(run));
       report({ order, most });`,
      60,
    );
    assert.equal(r.killed, false, `the child did not exit: ${r.stderr}`);
    assert.equal(r.report?.most, 1, r.stderr);
    assert.deepEqual([...r.report.order].sort(), ['Extras-8', 'Rocky-8', 'Rocky-devel-8']);
    assert.deepEqual(readdirSync(d), []);
  });
});
