import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readChangeJournals, removeJournals, withChangeJournal } from '../../../tools/nx-releng/src/lib/production/change-journal';
import { writerIdentity } from '../../../tools/nx-releng/src/lib/core/lock';
import { runInChild } from '../../helpers/in-child';
import { removeDir, tempDir } from '../../helpers/workspace';

/** The change journal on its own: what a reader makes of complete, incomplete, corrupt and foreign journals. */

let dir: string;
let prod: string;
before(() => {
  dir = tempDir('change-journal');
  prod = join(dir, 'production');
  mkdirSync(prod);
});
after(() => removeDir(dir));

/** A fresh journal dir per test. */
let n = 0;
const journalDir = () => join(dir, `journal-${++n}`);

/** A journal file as a writer of `production` leaves it, one JSON value a line (raw strings as given). */
function writeJournal(jd: string, name: string, lines: Array<object | string>, production = prod): string {
  mkdirSync(jd, { recursive: true });
  const file = join(jd, name);
  const head = { begin: '2026-01-01T00:00:00.000Z', writer: writerIdentity('test'), production };
  writeFileSync(file, [head, ...lines].map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return file;
}

test('a complete journal: its paths relative to the production root, from every record call', async () => {
  const jd = journalDir();
  const file = await withChangeJournal(jd, prod, 'Rocky-8:sync-prod', async (j) => {
    await j.record([join(prod, 'pub/rocky/8.10/BaseOS/x86_64/os/Packages/a/a-1.rpm'), join(prod, 'pub/rocky/8.10/BaseOS')]);
    await j.record([]);
    await j.record([join(prod, 'odd/back\\slash')]); // POSIX: a backslash is part of the name, not a separator
    // Parallel passes record at once, lines of over 512 KiB (which node writes in several chunks): each stays whole.
    await Promise.all(Array.from({ length: 8 }, (_, i) => j.record(Array.from({ length: 300 }, (_, k) => join(prod, `p${i}/${k}-${'x'.repeat(2000)}`)))));
    return j.file;
  });
  const state = await readChangeJournals(jd, prod);
  assert.deepEqual(state.complete, [file]);
  assert.deepEqual(state.incomplete, []);
  assert.equal(state.fullWalk, undefined);
  assert.deepEqual(
    [...state.paths].sort(),
    [
      'pub/rocky/8.10/BaseOS',
      'pub/rocky/8.10/BaseOS/x86_64/os/Packages/a/a-1.rpm',
      'odd/back\\slash',
      ...Array.from({ length: 8 }, (_, i) => Array.from({ length: 300 }, (_, k) => `p${i}/${k}-${'x'.repeat(2000)}`)).flat(),
    ].sort(),
  );
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines[0].production, prod);
  assert.equal(lines[0].writer.owner, 'Rocky-8:sync-prod');
  assert.equal(lines[0].writer.pid, process.pid);
  assert.equal(typeof lines.at(-1).end, 'string');
  await removeJournals([file, file]);
  assert.deepEqual(readdirSync(jd), []);
});

test('a writer that fails leaves its journal without the end line: incomplete, and its writer (this process) alive', async () => {
  const jd = journalDir();
  await assert.rejects(
    withChangeJournal(jd, prod, 'mirror:hardlink', async (j) => {
      await j.record([join(prod, 'a')]);
      // While it runs, its journal is incomplete and its writer is not known to be gone.
      const during = await readChangeJournals(jd, prod);
      assert.equal(during.incomplete.length, 1);
      assert.equal(during.incomplete[0]?.writerGone, undefined);
      throw new Error('rsync failed');
    }),
    /rsync failed/,
  );
  const state = await readChangeJournals(jd, prod);
  assert.deepEqual(state.complete, []);
  assert.equal(state.paths.size, 0, 'the paths of an incomplete journal are not taken');
  assert.equal(state.incomplete.length, 1);
  assert.match(state.incomplete[0]?.why ?? '', /no end line/);
  assert.equal(state.incomplete[0]?.writerGone, undefined, 'this process wrote it and is alive');
});

test('a writer killed mid-run (a child that exits inside the journal) leaves an incomplete journal of a dead writer', async () => {
  const jd = journalDir();
  const child = runInChild(
    `const { withChangeJournal } = load('tools/nx-releng/src/lib/production/change-journal.ts');
     await withChangeJournal(${JSON.stringify(jd)}, ${JSON.stringify(prod)}, 'Rocky-8:sync-prod', async (j) => {
       await j.record([${JSON.stringify(join(prod, 'half'))}]);
       report(process.pid);
       process.exit(0); // as a SIGKILL: nothing after this line runs
     });`,
  );
  assert.equal(typeof child.report, 'number', child.stderr);
  const state = await readChangeJournals(jd, prod);
  assert.equal(state.incomplete.length, 1);
  assert.equal(state.incomplete[0]?.writerGone, `pid ${child.report} is gone`);
  assert.deepEqual(state.complete, []);
});

test('corrupt lines, a line after the end, and a journal of another production root are incomplete, with why', async () => {
  const jd = journalDir();
  const end = { end: '2026-01-01T00:00:01.000Z' };
  writeJournal(jd, '1-notjson.jsonl', [{ paths: ['a'] }, '{"paths": [', end]);
  writeJournal(jd, '2-absolute.jsonl', [{ paths: ['/etc/passwd'] }, end]);
  writeJournal(jd, '3-dotdot.jsonl', [{ paths: ['a/../../b'] }, end]);
  writeJournal(jd, '4-after-end.jsonl', [end, { paths: ['late'] }]);
  writeJournal(jd, '5-other-root.jsonl', [{ paths: ['a'] }, end], join(dir, 'other-production'));
  writeFileSync(join(jd, '6-no-begin.jsonl'), `${JSON.stringify({ paths: ['a'] })}\n${JSON.stringify(end)}\n`);
  writeJournal(jd, '7-good.jsonl', [{ paths: ['good'] }, end]);
  writeFileSync(join(jd, 'notes.txt'), 'not a journal');
  const state = await readChangeJournals(jd, prod);
  assert.deepEqual(state.complete, [join(jd, '7-good.jsonl')]);
  assert.deepEqual([...state.paths], ['good']);
  const why = Object.fromEntries(state.incomplete.map((i) => [i.file.slice(jd.length + 1), i.why]));
  assert.deepEqual(why, {
    '1-notjson.jsonl': 'line 3 is not JSON',
    '2-absolute.jsonl': 'line 2 is neither a list of relative paths nor the end',
    '3-dotdot.jsonl': 'line 2 is neither a list of relative paths nor the end',
    '4-after-end.jsonl': 'line 3 follows the end line',
    '5-other-root.jsonl': `it is for production ${join(dir, 'other-production')}, not ${prod}`,
    '6-no-begin.jsonl': 'no begin line',
  });
  // No writer recorded: gone as far as anyone can tell (nothing will ever end it).
  assert.equal(state.incomplete.find((i) => i.file.endsWith('6-no-begin.jsonl'))?.writerGone, 'no writer recorded');
});

test('a writer that cannot name what it changed asks for a full walk; the paths it did name still count', async () => {
  const jd = journalDir();
  await withChangeJournal(jd, prod, 'Rocky-8:sync-prod', async (j) => {
    await j.record([join(prod, 'named')]);
    await j.requireFullWalk('rsync named a path that is not UTF-8 text');
  });
  const state = await readChangeJournals(jd, prod);
  assert.equal(state.complete.length, 1);
  assert.match(state.fullWalk ?? '', /\.jsonl: rsync named a path that is not UTF-8 text$/);
  assert.deepEqual([...state.paths], ['named']);
});

test('a path outside the production root (or the root itself) is refused, and the writer fails', async () => {
  for (const outside of [join(dir, 'elsewhere/x'), prod, join(prod, '../production-2/x'), 'relative/x']) {
    const jd = journalDir();
    await assert.rejects(
      withChangeJournal(jd, prod, 'test', (j) => j.record([outside])),
      (err: Error) => err.message === `change journal: ${outside} is not inside the production root ${prod}`,
    );
    const state = await readChangeJournals(jd, prod);
    assert.equal(state.incomplete.length, 1, outside);
    assert.equal(state.paths.size, 0);
  }
});

test('a journal dir that cannot be made is named, with nothing in production changed', async () => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, 'x');
  let ran = false;
  await assert.rejects(withChangeJournal(join(blocker, 'journal'), prod, 'test', async () => void (ran = true)), (err: Error) => {
    assert.match(err.message, new RegExp(`^cannot start the change journal in ${blocker}/journal: .*; nothing in production was changed$`));
    return true;
  });
  assert.equal(ran, false, 'the writer never ran');
  assert.equal(readFileSync(blocker, 'utf8'), 'x');
});
