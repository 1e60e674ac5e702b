import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { processStartTime } from '../../../tools/nx-releng/src/lib/core/lock';
import { scratchDir } from '../../../tools/nx-releng/src/lib/core/scratch';
import { runInChild } from '../../helpers/in-child';
import { removeDir, tempDir } from '../../helpers/workspace';

/** Scratch dirs (signing homes, file lists being written) of a run that was killed are removed by the next run. */

let parent: string;
before(() => (parent = tempDir('scratch')));
after(() => removeDir(parent));

const ns = () => /\d+/.exec(readlinkSync('/proc/self/ns/pid'))?.[0];

test('a run killed with its scratch dir leaks it only until the next run makes one', async () => {
  // The killed run: makes its GnuPG home, reports it, and dies by SIGKILL (no finally runs).
  const killed = runInChild(`
    const { scratchDir } = load('tools/nx-releng/src/lib/core/scratch.ts');
    const home = await scratchDir(${JSON.stringify(parent)}, 'releng-gpg-');
    require('node:fs').writeFileSync(home + '/pubring.kbx', 'keys');
    report(home);
    process.kill(process.pid, 'SIGKILL');`);
  const leaked = killed.report as string;
  assert.ok(leaked && existsSync(join(leaked, 'pubring.kbx')), `no dir was made: ${killed.stderr}`);
  assert.match(leaked, new RegExp(`/releng-gpg-${hostname().replace(/\./g, '\\.')}\\.${ns()}\\.\\d+\\.\\d+-\\w{6}$`));

  // Kept: a live run's dir (a sleep of this host, with its start time), another host's, an older version's,
  // another prefix's. Removed: a pid reused by another process (the sleep, with another start time).
  const sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
  await new Promise((resolve) => sleeper.once('spawn', resolve));
  const pid = sleeper.pid as number;
  const keep = [
    `releng-gpg-${hostname()}.${ns()}.${pid}.${processStartTime(pid)}-aaaaaa`,
    `releng-gpg-elsewhere.${ns()}.1.1-bbbbbb`,
    `releng-gpg-${hostname()}.1.${pid}.1-eeeeee`, // another pid namespace: its pid cannot be judged
    'releng-gpg-cccccc',
    `releng-sign-${hostname()}.${ns()}.1.1-dddddd`,
  ];
  const reused = `releng-gpg-${hostname()}.${ns()}.${pid}.1-ffffff`;
  for (const d of [...keep, reused]) mkdirSync(join(parent, d));
  try {
    const mine = await scratchDir(parent, 'releng-gpg-');
    assert.equal(existsSync(leaked), false, 'the killed run\'s dir is still there');
    assert.equal(existsSync(join(parent, reused)), false, 'the dir of a reused pid is still there');
    assert.deepEqual(readdirSync(parent).sort(), [...keep, mine.slice(parent.length + 1)].sort());
  } finally {
    sleeper.kill('SIGKILL');
  }
});
