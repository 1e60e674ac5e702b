import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadAllComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import { keptReleaseState } from '../../../tools/nx-releng/src/lib/staging/minor-release';
import { ownsUnclaimed, revisionClaims, vouchedDigest, vouchedPaths } from '../../../tools/nx-releng/src/lib/vetting/vouched-paths';
import { REPO_ROOT } from '../../helpers/workspace';

const root = mkdtempSync(join(tmpdir(), 'vouched-paths-'));
after(() => rmSync(root, { recursive: true, force: true }));
const models = loadAllComposeModels(REPO_ROOT);
const model = (project: string) => models.find((m) => m.project === project) as ComposeModel;

test('the compose carrying BaseOS owns what no compose project of the revision claims', () => {
  assert.deepEqual(models.filter(ownsUnclaimed).map((m) => m.project), ['Rocky-8']);
  const claims = revisionClaims(models, model('Extras-8'));
  for (const name of ['BaseOS', 'NFV', 'extras', 'plus', 'devel', 'metadata', 'isos', 'nfv']) assert.ok(claims.includes(name), name);
  for (const name of ['images', 'live', 'Minimal']) assert.ok(!claims.includes(name), name);
});

test('each project vouches for its whole top-level subtrees; the owner for the unclaimed entries too', async () => {
  const rev = join(root, '8.10-RC2');
  for (const d of ['BaseOS/x86_64/os', 'metadata', 'extras/x86_64/os', 'images', 'live', 'isos/x86_64']) mkdirSync(join(rev, d), { recursive: true });
  writeFileSync(join(rev, 'RELEASE-NOTES'), 'x');
  symlinkSync('NFV', join(rev, 'nfv'));
  const claims = revisionClaims(models, model('Rocky-8'));
  const rec = { repos: ['BaseOS/x86_64/os', 'BaseOS/source/tree'], extraSubtrees: ['isos'], links: [{ name: 'nfv', target: 'NFV' }] };
  assert.deepEqual(await vouchedPaths(model('Rocky-8'), claims, rev, rec), {
    subtrees: ['BaseOS', 'isos', 'metadata'],
    unclaimed: ['RELEASE-NOTES', 'images', 'live'],
    links: [{ name: 'nfv', target: 'NFV' }],
  });
  assert.deepEqual(await vouchedPaths(model('Extras-8'), claims, rev, { repos: ['extras/x86_64/os'] }), { subtrees: ['extras'], unclaimed: [], links: [] });

  // A daily sync keeps what staging holds of the minor release: isos/ and the links its variants own.
  assert.deepEqual(await keptReleaseState(model('Rocky-8'), rev), { extraSubtrees: ['isos'], links: [{ name: 'nfv', target: 'NFV' }] });
  assert.deepEqual(await keptReleaseState(model('Extras-8'), rev), {});
  rmSync(join(rev, 'nfv'));
  symlinkSync('PowerTools', join(rev, 'nfv'));
  assert.deepEqual(await keptReleaseState(model('Rocky-8'), rev), { extraSubtrees: ['isos'] }, 'a link elsewhere is not the minor release\'s');

  // The digest names the path that changed.
  const before = vouchedDigest(rev, ['BaseOS', 'images']);
  writeFileSync(join(rev, 'images/cloud.qcow2'), 'q');
  const now = vouchedDigest(rev, ['BaseOS', 'images']);
  assert.notEqual(now.digest, before.digest);
  assert.deepEqual(Object.keys(now.byPath).filter((p) => now.byPath[p] !== before.byPath[p]), ['images']);
});
