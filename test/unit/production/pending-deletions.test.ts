import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadAllComposeModels } from '../../../tools/nx-releng/src/config/load';
import { channelRelease, mirrorStatePaths, productionPaths, resolveRoots } from '../../../tools/nx-releng/src/layout/paths';
import type { Log } from '../../../tools/nx-releng/src/lib/core/log';
import { readChangeJournals, removeJournals } from '../../../tools/nx-releng/src/lib/production/change-journal';
import {
  applyPendingDeletions,
  deletionsOf,
  pendingInProduction,
  recordPendingDeletions,
  unlistedPaths,
} from '../../../tools/nx-releng/src/lib/production/pending-deletions';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import { rsync } from '../../../tools/nx-releng/src/lib/tools/rsync';
import { copyReleases } from '../../helpers/workspace';

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

/** A workspace of the repo's releases under a temp RELENG_ROOT, with Extras-8's production revision dir. */
function extrasProduction() {
  const ws = join(root, 'ws');
  copyReleases(ws);
  const models = loadAllComposeModels(ws);
  const model = models.find((m) => m.project === 'Extras-8');
  assert.ok(model);
  const roots = resolveRoots(model.common, { ...model.release }, join(root, 'releng'));
  const pp = productionPaths(model, channelRelease(model.release, 'stable', model.files.release), roots);
  return { models, model, roots, pp, journalDir: mirrorStatePaths(roots).changeJournalDir };
}

const quiet: Log = { info: () => undefined, warn: () => undefined };

test('mirror:filelist journals every pending deletion (a directory with all below it) before it deletes it', async (t) => {
  const { models, model, roots, pp, journalDir } = extrasProduction();
  const os = 'extras/x86_64/os';
  tree(pp.revisionDir, [`${os}/Packages/a/a-1.rpm`, `${os}/Packages/a/a-2.rpm`, `${os}/Packages/b/b-1.rpm`, `${os}/Packages/b/sub/b-2.rpm`, `${os}/Packages/z/z-1.rpm`]);
  symlinkSync('b-1.rpm', join(pp.revisionDir, `${os}/Packages/b/latest.rpm`));
  await recordPendingDeletions(pp.pendingDeletions, model.project, pp.revisionDir, [`${os}/Packages/a/a-1.rpm`, `${os}/Packages/b`, `${os}/Packages/z`]);
  const pending = await pendingInProduction(models, roots);
  const rel = (p: string) => join(pp.revisionDir, p).slice(roots.production.length + 1);

  // z's file cannot be deleted (immutable): the run fails while deleting z, which the journal already names.
  const z = join(pp.revisionDir, `${os}/Packages/z/z-1.rpm`);
  const chattr = await run('chattr', ['+i', z], { allowFailure: true }).catch((err: Error) => ({ exitCode: 1, stderr: err.message }));
  if (chattr.exitCode !== 0) {
    t.skip(`chattr +i does not work here: ${chattr.stderr.trim()}`);
    return;
  }
  try {
    await assert.rejects(applyPendingDeletions(models, pending, unlistedPaths(pending), quiet), (err: Error) => {
      assert.match(err.message, new RegExp(`^Extras-8: cannot delete ${join(pp.revisionDir, `${os}/Packages/z`)}, a pending deletion: .*; it stays pending$`));
      return true;
    });
  } finally {
    await run('chattr', ['-i', z]);
  }
  let state = await readChangeJournals(journalDir, roots.production);
  assert.deepEqual(state.complete, []);
  assert.equal(state.incomplete.length, 1, 'a failed deletion leaves the journal without its end: the next lists walk');
  assert.deepEqual(readdirSync(join(pp.revisionDir, `${os}/Packages`)).sort(), ['a', 'z'], 'a-1 and b went, z did not');
  const failed = readFileSync(state.incomplete[0]?.file as string, 'utf8');
  for (const p of [`${os}/Packages/a/a-1.rpm`, `${os}/Packages/b/sub/b-2.rpm`, `${os}/Packages/b/latest.rpm`, `${os}/Packages/z`, `${os}/Packages/z/z-1.rpm`]) {
    assert.ok(failed.includes(JSON.stringify(rel(p)).slice(1, -1)), `${p} was journalled before its deletion was tried`);
  }
  await removeJournals(state.incomplete.map((i) => i.file));

  // Again (the record still names all three: a failed run leaves it as it was): z goes, and the journal ends.
  const again = await pendingInProduction(models, roots);
  assert.equal(await applyPendingDeletions(models, again, unlistedPaths(again), quiet), 3);
  state = await readChangeJournals(journalDir, roots.production);
  assert.deepEqual(state.incomplete, []);
  assert.deepEqual([...state.paths].sort(), [`${os}/Packages/a/a-1.rpm`, `${os}/Packages/b`, `${os}/Packages/z`, `${os}/Packages/z/z-1.rpm`].map(rel));
  assert.deepEqual(readdirSync(join(pp.revisionDir, `${os}/Packages`)), ['a']);
  assert.deepEqual(readdirSync(join(pp.revisionDir, `${os}/Packages/a`)), ['a-2.rpm']);
});
