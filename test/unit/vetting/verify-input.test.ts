import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { loadAllComposeModels } from '../../../tools/nx-releng/src/config/load';
import { channelRelease, resolveRoots, stagingPaths } from '../../../tools/nx-releng/src/layout/paths';
import { verifyState } from '../../../tools/nx-releng/src/lib/cache/runtime-inputs';
import { REPO_ROOT } from '../../helpers/workspace';

const relengRoot = mkdtempSync(join(tmpdir(), 'verify-input-'));
after(() => rmSync(relengRoot, { recursive: true, force: true }));

/**
 * verify is cached on its runtime input: every path it vouches for must move it, or a cache hit would hide a change
 * that sync-prod then publishes (compose metadata, files outside the repo dirs, and the owner's unclaimed content).
 */
test('verify runs again when anything it vouches for changes, and only for the project that vouches for it', async () => {
  const models = loadAllComposeModels(REPO_ROOT);
  let rev = '';
  for (const [project, repos] of [['Rocky-8', ['BaseOS/x86_64/os']], ['Extras-8', ['extras/x86_64/os']]] as const) {
    const m = models.find((x) => x.project === project);
    assert.ok(m);
    const sp = stagingPaths(m, channelRelease(m.release, 'stable'), resolveRoots(m.common, m.release, relengRoot));
    rev = sp.revisionDir;
    for (const r of repos) mkdirSync(join(rev, r, 'repodata'), { recursive: true });
    mkdirSync(dirname(sp.syncRecord), { recursive: true });
    writeFileSync(sp.syncRecord, JSON.stringify({ version: 1, repos, dirs: {}, destination: rev }));
  }
  mkdirSync(join(rev, 'metadata'), { recursive: true });
  const state = async () => [await verifyState(REPO_ROOT, 'Rocky-8', relengRoot), await verifyState(REPO_ROOT, 'Extras-8', relengRoot)];
  let last = await state();
  const changes: Array<[string, string, boolean, boolean]> = [
    ['metadata/composeinfo.json', 'compose metadata', true, false],
    ['BaseOS/x86_64/README', 'a file outside the repo dirs', true, false],
    ['images/cloud.qcow2', 'unclaimed content (Rocky-8 owns it)', true, false],
    ['RELEASE-NOTES', 'an unclaimed top-level file', true, false],
    ['extras/README', "Extras-8's own subtree", false, true],
  ];
  for (const [rel, what, rocky, extras] of changes) {
    mkdirSync(dirname(join(rev, rel)), { recursive: true });
    writeFileSync(join(rev, rel), what);
    const now = await state();
    assert.equal(now[0] !== last[0], rocky, `${what}: Rocky-8's verify input`);
    assert.equal(now[1] !== last[1], extras, `${what}: Extras-8's verify input`);
    last = now;
  }
});
