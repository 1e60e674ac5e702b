import assert from 'node:assert/strict';
import { chmodSync, linkSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readChangeJournals, withChangeJournal } from '../../../tools/nx-releng/src/lib/production/change-journal';
import { deletionsOf } from '../../../tools/nx-releng/src/lib/production/pending-deletions';
import { decodeRsyncName, parseItemizedLine, parseRsyncStats, rsync, rsyncArgs, type RsyncOptions } from '../../../tools/nx-releng/src/lib/tools/rsync';
import { removeDir, tempDir } from '../../helpers/workspace';

/** rsync's --itemize-changes read one way for dry runs and real runs, and what a real run into production changed. */

let dir: string;
before(() => (dir = tempDir('rsync-itemize')));
after(() => removeDir(dir));

test('itemized names: rsync escapes decoded, links split at their arrow, deletions and unchanged entries told apart', () => {
  assert.equal(decodeRsyncName('nl\\#012name'), 'nl\nname');
  assert.equal(decodeRsyncName('back\\#134#123'), 'back\\#123', 'a backslash before #ddd is itself escaped');
  assert.equal(decodeRsyncName('caf\\#303\\#251'), 'café', 'UTF-8 bytes escaped one by one (C locale)');
  assert.equal(decodeRsyncName('café'), 'café', 'or printed as they are (UTF-8 locale)');
  assert.equal(decodeRsyncName('bad\\#377'), undefined, 'not UTF-8: no string names it');
  assert.equal(decodeRsyncName('bad\uFFFD'), undefined, 'raw bytes that were not UTF-8, replaced as stdout was read');
  assert.equal(decodeRsyncName('plain\\#12'), 'plain\\#12', 'not an escape: three octal digits are');

  const at = (line: string) => parseItemizedLine(line);
  assert.deepEqual(at('>f+++++++++ Packages/a/a-1.rpm')?.splits, [['Packages/a/a-1.rpm']]);
  assert.deepEqual(at('cd+++++++++ Packages/b/')?.splits, [['Packages/b']]);
  assert.deepEqual(at('.d..t...... ./')?.splits, [['.']]);
  assert.deepEqual(at('cL+++++++++ latest -> 8.10')?.splits, [['latest', '8.10']]);
  assert.deepEqual(at('cL+++++++++ sl -> t -> a -> b')?.splits, [['sl', 't -> a -> b'], ['sl -> t', 'a -> b'], ['sl -> t -> a', 'b']]);
  const hard = at('hf+++++++++ b/two => a/one');
  assert.equal(hard?.hardLink, true);
  assert.deepEqual(hard?.splits, [['b/two', 'a/one']]);
  assert.deepEqual(at('>f+++++++++ not -> a link')?.splits, [['not -> a link']], 'the arrow splits only a link line');
  const del = at('*deleting   old dir/');
  assert.equal(del?.deleting, true);
  assert.deepEqual(del?.splits, [['old dir']]);
  assert.deepEqual(at('*deleting     two leading spaces')?.splits, [['  two leading spaces']]);
  assert.match(at('>f+++++++++ bad\\#377')?.unsure ?? '', /^rsync named a path that is not UTF-8 text: >f\+{9} bad\\#377$/);
  for (const other of ['Number of files: 13 (reg: 8, dir: 2)', 'created directory dest', 'sent 606 bytes  received 172 bytes', '']) {
    assert.equal(at(other), undefined, other);
  }

  const stdout = ['.d..t...... ./', '.f          same', '>f.st...... changed', '*deleting   gone', 'Number of regular files transferred: 1,234', 'Total transferred file size: 5,678 bytes'].join('\n');
  assert.deepEqual(parseRsyncStats(stdout), { filesTransferred: 1234, bytesTransferred: 5678, deleted: 0, changes: ['>f.st...... changed', '*deleting   gone'] });
  // The pending deletions read the same parser: an escaped name is the real name.
  assert.deepEqual(deletionsOf('BaseOS', ['*deleting   nl\\#012name', '*deleting   d/', '>f+++++++++ kept']), ['BaseOS/nl\nname', 'BaseOS/d']);
  assert.throws(() => deletionsOf('BaseOS', ['*deleting   bad\\#377']), /cannot record the pending deletion of bad\\#377 under BaseOS: rsync named a path that is not UTF-8 text/);
});

test('a real run itemizes only when asked; a dry run always does', () => {
  const o: RsyncOptions = { src: '/s', dest: '/d' };
  assert.equal(rsyncArgs(o, false).includes('--itemize-changes'), false);
  assert.ok(rsyncArgs({ ...o, itemize: true }, false).includes('--itemize-changes'));
  assert.deepEqual(rsyncArgs({ ...o, dryRun: true }, false).filter((a) => a.startsWith('--d') || a.startsWith('--i')), ['--dry-run', '--itemize-changes']);
});

function file(path: string, content: string, mtime?: number): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  if (mtime !== undefined) utimesSync(path, mtime, mtime);
}

/** Runs one itemized pass inside a journal and returns the journal's paths (relative to `prod`). */
async function journalled(prod: string, o: RsyncOptions): Promise<{ paths: string[]; fullWalk?: string }> {
  const jd = join(dir, `journal-${Date.now()}-${Math.random()}`);
  await withChangeJournal(jd, prod, 'test', async (j) => {
    const s = await rsync({ ...o, itemize: true });
    assert.ok(s.changed, 'an itemized real run reports its changed paths');
    await j.record(s.changed.paths);
    for (const why of s.changed.unsure) await j.requireFullWalk(why);
  });
  const state = await readChangeJournals(jd, prod);
  assert.equal(state.complete.length, 1);
  return { paths: [...state.paths].sort(), fullWalk: state.fullWalk };
}

test('a real rsync pass into production records exactly what it changed', async () => {
  const staging = join(dir, 'staging-1');
  const prod = join(dir, 'production-1');
  const T = 1_700_000_000;
  file(join(staging, 'keep'), 'keep', T);
  file(join(staging, 'replace'), 'old', T);
  file(join(staging, 'chmod'), 'chmod', T);
  file(join(staging, 'h1'), 'linked', T);
  file(join(staging, 'deep/unchanged'), 'u', T);
  utimesSync(join(staging, 'deep'), T, T);
  await rsync({ src: staging, dest: join(prod, 'rev') });

  file(join(staging, 'replace'), 'new content', T + 10);
  chmodSync(join(staging, 'chmod'), 0o600);
  file(join(staging, 'add'), 'add');
  file(join(staging, 'newdir/f'), 'f');
  symlinkSync('keep', join(staging, 'lnk'));
  linkSync(join(staging, 'h1'), join(staging, 'h2')); // h1 is unchanged: its link count is what changes
  file(join(staging, 'nl\nname'), 'odd');
  file(join(staging, 'back\\#123'), 'odd');
  file(join(staging, 'é'), 'odd');
  symlinkSync('a -> b', join(staging, 'sl -> t'));
  linkSync(join(staging, 'keep'), join(staging, 'h => x'));

  const { paths, fullWalk } = await journalled(prod, { src: staging, dest: join(prod, 'rev') });
  assert.equal(fullWalk, undefined);
  assert.deepEqual(
    paths,
    ['rev', 'add', 'replace', 'chmod', 'newdir', 'newdir/f', 'lnk', 'h1', 'h2', 'nl\nname', 'back\\#123', 'é', 'sl -> t', 'h => x', 'keep']
      .map((p) => (p === 'rev' ? p : `rev/${p}`))
      .sort(),
  );
});

test('a real run that deletes records what it deleted; directories it makes above the destination are recorded', async () => {
  const staging = join(dir, 'staging-2');
  const prod = join(dir, 'production-2');
  const T = 1_700_000_000;
  file(join(staging, 'old/x'), 'x', T);
  file(join(staging, 'old/y'), 'y', T);
  await rsync({ src: staging, dest: join(prod, 'rev') });
  rmSync(join(staging, 'old/x'));
  utimesSync(join(staging, 'old'), T + 5, T + 5);
  const deleted = await journalled(prod, { src: staging, dest: join(prod, 'rev'), delete: true });
  assert.deepEqual(deleted.paths, ['rev', 'rev/old', 'rev/old/x']);
  assert.deepEqual(readdirSync(join(prod, 'rev/old')), ['y']);

  // rsync makes only the last dir of the destination: the ones made before it are changes too.
  const made = await journalled(prod, { src: staging, dest: join(prod, 'new/deep/rev') });
  assert.deepEqual(made.paths, ['new', 'new/deep', 'new/deep/rev', 'new/deep/rev/old', 'new/deep/rev/old/y']);
});

test('--delay-updates: the dir of each updated file is recorded (rsync made and removed its .~tmp~ there)', async () => {
  const staging = join(dir, 'staging-3');
  const prod = join(dir, 'production-3');
  file(join(staging, 'repodata/sub/repomd.xml'), 'v1', 1_700_000_000);
  file(join(staging, 'repodata/sub/other'), 'o', 1_700_000_000);
  await rsync({ src: staging, dest: join(prod, 'repo') });
  file(join(staging, 'repodata/sub/repomd.xml'), 'v2 longer', 1_700_000_100); // the dir's own time is unchanged
  const { paths } = await journalled(prod, { src: staging, dest: join(prod, 'repo'), delayUpdates: true });
  assert.deepEqual(paths, ['repo', 'repo/repodata/sub', 'repo/repodata/sub/repomd.xml']);
});

test('a name that is not UTF-8 cannot be recorded: the journal asks for a full walk, the other paths still count', async () => {
  const staging = join(dir, 'staging-4');
  const prod = join(dir, 'production-4');
  mkdirSync(prod);
  file(join(staging, 'fine'), 'f');
  writeFileSync(Buffer.concat([Buffer.from(`${staging}/bad`), Buffer.from([0xff])]), 'b');
  const { paths, fullWalk } = await journalled(prod, { src: staging, dest: join(prod, 'rev') });
  assert.deepEqual(paths, ['rev', 'rev/fine']);
  assert.match(fullWalk ?? '', /rsync named a path that is not UTF-8 text: >f\+{9} bad\\#377$/);
});
