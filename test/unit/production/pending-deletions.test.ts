import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { deletionsOf, recordPendingDeletions } from '../../../tools/nx-releng/src/lib/production/pending-deletions';
import { rsync } from '../../../tools/nx-releng/src/lib/tools/rsync';

const root = mkdtempSync(join(tmpdir(), 'pending-deletions-'));
after(() => rmSync(root, { recursive: true, force: true }));

function tree(dir: string, files: string[]): void {
  for (const f of files) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), f);
  }
}

test('what rsync --delete would remove, read from its dry run, relative to the revision dir', async () => {
  const staging = join(root, 'staging');
  const production = join(root, 'production');
  tree(staging, ['BaseOS/x86_64/os/Packages/a/a-2.rpm', 'BaseOS/x86_64/os/repodata/repomd.xml', 'BaseOS/x86_64/os/with space-2.rpm']);
  tree(production, [
    'BaseOS/x86_64/os/Packages/a/a-1.rpm',
    'BaseOS/x86_64/os/Packages/a/a-2.rpm',
    'BaseOS/x86_64/os/Packages/b/b-1.rpm',
    'BaseOS/x86_64/os/with space-1.rpm',
    'BaseOS/x86_64/os/repodata/repomd.xml',
  ]);
  const s = await rsync({ src: join(staging, 'BaseOS'), dest: join(production, 'BaseOS'), delete: true, dryRun: true });
  const paths = deletionsOf('BaseOS', s.changes).sort();
  assert.deepEqual(paths, [
    'BaseOS/x86_64/os/Packages/a/a-1.rpm',
    'BaseOS/x86_64/os/Packages/b',
    'BaseOS/x86_64/os/Packages/b/b-1.rpm',
    'BaseOS/x86_64/os/with space-1.rpm',
  ]);
  // The dry run changed nothing.
  assert.equal(readFileSync(join(production, 'BaseOS/x86_64/os/Packages/b/b-1.rpm'), 'utf8'), 'BaseOS/x86_64/os/Packages/b/b-1.rpm');

  // Recorded: a directory stands for what is below it; nothing to delete removes the record.
  const file = join(root, 'state/Rocky-8.pending-deletions.json');
  await recordPendingDeletions(file, 'Rocky-8', production, paths);
  const rec = JSON.parse(readFileSync(file, 'utf8'));
  assert.deepEqual(rec.paths, ['BaseOS/x86_64/os/Packages/a/a-1.rpm', 'BaseOS/x86_64/os/Packages/b', 'BaseOS/x86_64/os/with space-1.rpm']);
  assert.equal(rec.revisionDir, production);
  // 'a-c' sorts between 'a' and 'a/b': still only the shallowest is kept.
  await recordPendingDeletions(file, 'Rocky-8', production, ['x/a/b', 'x/a-c', 'x/a', 'x/a/b/c']);
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')).paths, ['x/a', 'x/a-c']);
  await recordPendingDeletions(file, 'Rocky-8', production, []);
  assert.throws(() => readFileSync(file), /ENOENT/);
});
