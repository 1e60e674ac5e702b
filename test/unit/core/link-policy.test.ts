import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { layoutDirs, linkTargetProblem, refuseLinks, treeLinkProblems } from '../../../tools/nx-releng/src/lib/core/link-policy';
import { removeDir, tempDir } from '../../helpers/workspace';

const tmp = tempDir('link-policy');
after(() => removeDir(tmp));
let n = 0;

/** A small revision tree: two variants' x86_64 os repos, with the links a release legitimately has. */
function tree(): string {
  const root = join(tmp, `t${n++}`);
  for (const v of ['BaseOS', 'NFV']) {
    mkdirSync(join(root, v, 'x86_64/os/Packages/r'), { recursive: true });
    mkdirSync(join(root, v, 'x86_64/os/repodata'), { recursive: true });
    writeFileSync(join(root, v, 'x86_64/os/Packages/r/r-1.rpm'), 'rpm');
    writeFileSync(join(root, v, 'x86_64/os/repodata/repomd.xml'), '<repomd/>');
  }
  mkdirSync(join(root, 'isos/x86_64'), { recursive: true });
  writeFileSync(join(root, 'isos/x86_64/Rocky-8.10-x86_64-dvd1.iso'), 'iso');
  symlinkSync('Rocky-8.10-x86_64-dvd1.iso', join(root, 'isos/x86_64/Rocky-8-latest-x86_64-dvd.iso'));
  symlinkSync('NFV', join(root, 'nfv'));
  symlinkSync('../../../../NFV/x86_64/os/Packages/r/r-1.rpm', join(root, 'BaseOS/x86_64/os/Packages/r/nfv-r.rpm'));
  return root;
}

const SUBTREES = ['BaseOS', 'NFV', 'isos'];
const LAYOUT = layoutDirs(['BaseOS/x86_64/os', 'NFV/x86_64/os']);

test('linkTargetProblem: relative links that stay inside pass; absolute, climbing out, .. after a name do not', () => {
  const t = '/s/8.10';
  assert.equal(linkTargetProblem(t, '/s/8.10/nfv', 'NFV'), undefined);
  assert.equal(linkTargetProblem(t, '/s/8.10/isos/x86_64/latest.iso', './Rocky-8.10-x86_64-dvd1.iso'), undefined);
  assert.equal(linkTargetProblem(t, '/s/8.10/BaseOS/x86_64/os/a', '../../../NFV/x86_64/os'), undefined);
  assert.equal(linkTargetProblem(t, '/s/8.10/nfv', '/etc/shadow'), '/s/8.10/nfv is a symbolic link to the absolute path /etc/shadow, outside /s/8.10');
  assert.equal(linkTargetProblem(t, '/s/8.10/BaseOS/a', '../../8.9/BaseOS'), '/s/8.10/BaseOS/a is a symbolic link to ../../8.9/BaseOS, which leaves /s/8.10');
  assert.equal(linkTargetProblem(t, '/s/8.10/a', '..'), '/s/8.10/a is a symbolic link to .., which leaves /s/8.10');
  assert.equal(
    linkTargetProblem(t, '/s/8.10/BaseOS/a', 'x/../../..'),
    "/s/8.10/BaseOS/a is a symbolic link to x/../../.., which climbs back with '..' after a name",
  );
});

test('layoutDirs: every directory on the way to each repository, and the repository', () => {
  assert.deepEqual(layoutDirs(['BaseOS/x86_64/os', 'BaseOS/source/tree']), ['BaseOS', 'BaseOS/x86_64', 'BaseOS/x86_64/os', 'BaseOS/source', 'BaseOS/source/tree']);
});

test('a release tree with its legitimate links passes', async () => {
  assert.deepEqual(await treeLinkProblems(tree(), SUBTREES, LAYOUT), []);
});

test('a link in place of a layout dir is refused even when it stays inside; a link out of the tree anywhere', async () => {
  const cases: Array<[string, (root: string) => void, (root: string) => string]> = [
    ['variant dir', (r) => (removeDir(join(r, 'NFV')), symlinkSync('/srv/elsewhere', join(r, 'NFV'))), (r) => `${r}/NFV is a symbolic link (to /srv/elsewhere) where the layout has a directory`],
    ['arch dir', (r) => (removeDir(join(r, 'NFV/x86_64')), symlinkSync('../BaseOS/x86_64', join(r, 'NFV/x86_64'))), (r) => `${r}/NFV/x86_64 is a symbolic link (to ../BaseOS/x86_64) where the layout has a directory`],
    ['repodata', (r) => (removeDir(join(r, 'BaseOS/x86_64/os/repodata')), symlinkSync('../../../NFV/x86_64/os/repodata', join(r, 'BaseOS/x86_64/os/repodata'))), (r) => `${r}/BaseOS/x86_64/os/repodata is a symbolic link (to ../../../NFV/x86_64/os/repodata) where the layout has a directory`],
    ['Packages', (r) => (removeDir(join(r, 'BaseOS/x86_64/os/Packages')), symlinkSync('/tmp', join(r, 'BaseOS/x86_64/os/Packages'))), (r) => `${r}/BaseOS/x86_64/os/Packages is a symbolic link (to /tmp) where the layout has a directory`],
    ['a file to /etc/shadow', (r) => symlinkSync('/etc/shadow', join(r, 'BaseOS/x86_64/os/Packages/r/shadow')), (r) => `${r}/BaseOS/x86_64/os/Packages/r/shadow is a symbolic link to the absolute path /etc/shadow, outside ${r}`],
    ['an ISO climbing out', (r) => symlinkSync('../../../x.iso', join(r, 'isos/x86_64/x.iso')), (r) => `${r}/isos/x86_64/x.iso is a symbolic link to ../../../x.iso, which leaves ${r}`],
  ];
  for (const [name, breakIt, expected] of cases) {
    const root = tree();
    breakIt(root);
    assert.deepEqual(await treeLinkProblems(root, SUBTREES, LAYOUT), [expected(root)], name);
    await assert.rejects(refuseLinks('compose X', root, SUBTREES, LAYOUT), (err: unknown) => {
      assert.ok(err instanceof RelengError);
      assert.ok(err.message.startsWith(`compose X: ${expected(root)}\n`), err.message);
      assert.match(err.message, /Refused by the link policy: a link must be relative and stay inside its tree.*nothing was changed$/);
      return true;
    });
  }
});

test('a subtree below a linked dir is refused at the link (lstat follows every component but the last)', async () => {
  const root = tree();
  removeDir(join(root, 'BaseOS'));
  symlinkSync('NFV', join(root, 'BaseOS'));
  assert.deepEqual(await treeLinkProblems(root, ['BaseOS/x86_64/os']), [`${root}/BaseOS is a symbolic link (to NFV) where the layout has a directory`]);
  // Missing subtrees (a destination not written yet) are fine.
  assert.deepEqual(await treeLinkProblems(root, ['AppStream/x86_64/os', 'isos']), []);
});
