import assert from 'node:assert/strict';
import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readChangeJournals, withChangeJournal } from '../../../tools/nx-releng/src/lib/production/change-journal';
import { hardlink, parseHardlinkOutput, splitHardlinkRecord } from '../../../tools/nx-releng/src/lib/tools/hardlink';
import { removeDir, tempDir } from '../../helpers/workspace';

/** util-linux hardlink -v: both paths of every link it makes, read from its output, even for awkward names. */

let dir: string;
before(() => (dir = tempDir('hardlink-journal')));
after(() => removeDir(dir));

function file(path: string, content: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
}

test("hardlink -v's records: one per link, a record may span lines, the summary's count", () => {
  const out = ['Linking /p/a/f to /p/b/f (-5 B)', 'Linking /p/a/nl', 'q to /p/b/nl', 'q (-1.2 KiB)', 'Mode:                     real', 'Linked:                   2 files', ''].join('\n');
  assert.deepEqual(parseHardlinkOutput(out), { linked: 2, records: ['/p/a/f to /p/b/f', '/p/a/nl\nq to /p/b/nl\nq'] });
});

test('a real hardlink over a production tree records both paths of each link in the journal', async () => {
  const prod = join(dir, 'production');
  const tree = join(prod, 'pub/rocky/8.10');
  for (const sub of ['BaseOS', 'AppStream']) {
    file(join(tree, sub, 'Packages/same.rpm'), 'same');
    file(join(tree, sub, 'x to y.rpm'), 'same'); // ' to ' in a name: the split is the one whose sides share an inode
    file(join(tree, sub, 'dir to /z.rpm'), 'other'); // ' to /' in a path: a dir named 'dir to '
    file(join(tree, sub, 'nl\nname.rpm'), 'third'); // a name that breaks the line
    file(join(tree, sub, 'repodata/repomd.xml'), 'same'); // keeps its own inode (-x)
  }
  file(join(tree, 'BaseOS/unique.rpm'), 'unique');

  const jd = join(dir, 'journal');
  let linked = -1;
  await withChangeJournal(jd, prod, 'mirror:hardlink', async (j) => {
    const r = await hardlink([tree], { listLinks: true });
    assert.deepEqual(r.unsure, []);
    linked = r.linked;
    await j.record(r.paths);
    for (const why of r.unsure) await j.requireFullWalk(why);
  });
  const state = await readChangeJournals(jd, prod);
  assert.equal(state.fullWalk, undefined);
  const inode = (rel: string) => statSync(join(tree, rel)).ino;
  assert.equal(inode('BaseOS/Packages/same.rpm'), inode('AppStream/x to y.rpm'), 'linked');
  assert.notEqual(inode('BaseOS/repodata/repomd.xml'), inode('BaseOS/Packages/same.rpm'), 'xml keeps its inode');
  // same (4 files: 3 links), 'dir to /z' (2 files: 1 link), nl (2 files: 1 link)
  assert.equal(linked, 5);
  const all = ['Packages/same.rpm', 'x to y.rpm', 'dir to /z.rpm', 'nl\nname.rpm'].flatMap((f) => ['BaseOS', 'AppStream'].map((s) => `pub/rocky/8.10/${s}/${f}`));
  assert.deepEqual([...state.paths].sort(), all.sort());
});

test('a record that does not split one way only is not guessed at', async () => {
  const d = join(dir, 'ambiguous');
  file(join(d, 'a'), 'x');
  file(join(d, 'b'), 'y');
  assert.equal(await splitHardlinkRecord(`${d}/a to ${d}/b`), undefined, 'two files that do not share an inode');
  assert.equal(await splitHardlinkRecord(`${d}/gone to ${d}/b`), undefined);
});
