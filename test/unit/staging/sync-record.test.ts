import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { readProdRecord, readSyncRecord } from '../../../tools/nx-releng/src/lib/staging/record-schemas';
import { readVerifyRecord } from '../../../tools/nx-releng/src/lib/vetting/staging-steps';
import { copyReleases, removeDir, tempDir } from '../../helpers/workspace';

const tmp = tempDir('sync-record');
after(() => removeDir(tmp));

function model(short: string): ComposeModel {
  const root = join(tmp, `releases-${short}`);
  copyReleases(root);
  return loadComposeModels(root, [`releases/8/${short}/compose.json`])[0] as ComposeModel;
}
const ROCKY = model('Rocky');

const SYNC = {
  version: 1,
  project: 'Rocky-8',
  channel: 'stable',
  composeId: 'Rocky-8.10-20240101.0',
  composeDir: '/mnt/compose/8/Rocky-8.10-20240101.0',
  configHash: 'abc',
  syncedAt: '2024-01-01T00:00:00.000Z',
  destination: '/mnt/repos-staging/mirror/pub/rocky/8.10-RC2',
  dirs: { BaseOS: '1:2', 'BaseOS/x86_64': '3:4', isos: '5:6' },
  repos: ['BaseOS/x86_64/os', 'AppStream/source/tree'],
  minorRelease: 'def',
  extraSubtrees: ['isos'],
  links: [{ name: 'nfv', target: 'NFV' }],
};
const VERIFY = {
  ...SYNC,
  stagingDir: SYNC.destination,
  subtrees: ['AppStream', 'BaseOS', 'isos'],
  unclaimed: ['images'],
  digest: '00',
  pathDigests: { BaseOS: '01', AppStream: '02', isos: '03', images: '04', nfv: '05' },
  verifiedAt: SYNC.syncedAt,
};
const PROD = { version: 1, project: 'Rocky-8', composeId: 'x', verifyDigest: '00', productionDigest: '11', subtrees: ['BaseOS', 'isos', 'metadata'], links: ['nfv'], syncedAt: SYNC.syncedAt };

function file(name: string, value: unknown): string {
  const path = join(tmp, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

function refused(field: string, value: string) {
  return (err: unknown) => {
    assert.ok(err instanceof RelengError, String(err));
    assert.match(err.message, new RegExp(`\\.json: field ${field.replace(/\./g, '\\.')}: '${value.replace(/[./]/g, '\\$&')}' is not `));
    assert.match(err.message, /This record is refused .*; remove it and run the step that writes it again$/);
    return true;
  };
}

test('records the tool wrote are read back whole; a missing, cut off or other-version record is no record', async () => {
  assert.deepEqual(await readSyncRecord(file('good.json', SYNC), ROCKY), SYNC);
  assert.deepEqual(await readVerifyRecord(file('good-verify.json', VERIFY), ROCKY), VERIFY);
  assert.deepEqual(await readProdRecord(file('good-prod.json', { ...PROD, extra: 'kept' }), ROCKY), { ...PROD, extra: 'kept' });
  assert.equal(await readSyncRecord(join(tmp, 'missing.json'), ROCKY), undefined);
  assert.equal(await readSyncRecord(file('cut.json', '{ "version": 1, "repos": ['), ROCKY), undefined);
  assert.equal(await readVerifyRecord(file('v2.json', { ...VERIFY, version: 2 }), ROCKY), undefined);
  const { subtrees: _s, pathDigests: _p, ...older } = VERIFY;
  assert.equal(await readVerifyRecord(file('v0.json', older), ROCKY), undefined, 'a record without subtrees vouches for nothing');
});

test('a path outside the project\'s own subtrees is refused, naming the file and the field', async () => {
  await assert.rejects(readSyncRecord(file('s1.json', { ...SYNC, repos: ['BaseOS/x86_64/os', '../..'] }), ROCKY), refused('repos.1', '../..'));
  await assert.rejects(readSyncRecord(file('s2.json', { ...SYNC, repos: ['Extras/x86_64/os'] }), ROCKY), refused('repos.0', 'Extras/x86_64/os'));
  await assert.rejects(readSyncRecord(file('s3.json', { ...SYNC, dirs: { '/etc': '1:2' } }), ROCKY), refused('dirs./etc', '/etc'));
  await assert.rejects(readSyncRecord(file('s4.json', { ...SYNC, extraSubtrees: ['isos/../..'] }), ROCKY), refused('extraSubtrees.0', 'isos/../..'));
  await assert.rejects(readSyncRecord(file('s5.json', { ...SYNC, links: [{ name: '../../etc', target: 'NFV' }] }), ROCKY), refused('links.0.name', '../../etc'));
  await assert.rejects(readVerifyRecord(file('v1.json', { ...VERIFY, repos: ['BaseOS/./x86_64'] }), ROCKY), refused('repos.0', 'BaseOS/./x86_64'));
  await assert.rejects(readVerifyRecord(file('v2b.json', { ...VERIFY, extraSubtrees: ['/'] }), ROCKY), refused('extraSubtrees.0', '/'));
  await assert.rejects(readProdRecord(file('p1.json', { ...PROD, subtrees: ['BaseOS', '../..'] }), ROCKY), refused('subtrees.1', '../..'));
  await assert.rejects(readVerifyRecord(file('v3.json', { ...VERIFY, stagingDir: 'relative/dir' }), ROCKY), /v3\.json: field stagingDir: must be an absolute path without "\.\."/);
  await assert.rejects(readSyncRecord(file('v4.json', { ...SYNC, repos: 'BaseOS' }), ROCKY), /v4\.json: field repos: Invalid input: expected array, received string/);
});
