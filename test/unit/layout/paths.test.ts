import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadComposeModels } from '../../../tools/nx-releng/src/config/load';
import {
  channelRelease,
  composePaths,
  majorOf,
  productionPaths,
  productionRevisionName,
  reRoot,
  repoDirs,
  resolveRoots,
  stagingPaths,
} from '../../../tools/nx-releng/src/layout/paths';
import { REPO_ROOT, addRelease9, copyReleases, removeDir, tempDir, writeJsonFile } from '../../helpers/workspace';

test('production revision names drop the channel suffix whatever the width of major and minor', () => {
  // The bash scripts used ${REV:0:3} and ${REVISION:0:1}: both broke at 8.10 and at 10.x.
  const table: Array<[string, string]> = [
    ['8.10-RC2', '8.10'],
    ['8.9-RC1', '8.9'],
    ['8.10-BETA', '8.10'],
    ['10.1-RC1', '10.1'],
    ['10.12-LookAhead', '10.12'],
    ['9.7', '9.7'],
  ];
  for (const [staging, prod] of table) assert.equal(productionRevisionName(staging), prod, staging);
  assert.equal(majorOf('8.10'), '8');
  assert.equal(majorOf('10.1'), '10');
  assert.equal(majorOf('12.0'), '12');
});

test('RELENG_ROOT re-roots absolute roots and rejects a relative root', () => {
  assert.equal(reRoot('/mnt/compose', undefined), '/mnt/compose');
  assert.equal(reRoot('/mnt/compose', '/tmp/sb'), '/tmp/sb/mnt/compose');
  assert.equal(reRoot('/mnt/compose', '/tmp/sb/'), '/tmp/sb/mnt/compose');
  assert.throws(() => reRoot('/mnt/compose', 'sb'), /RELENG_ROOT must be an absolute path/);
});

test('paths of Rocky 8 match the bash toolkit for every channel', () => {
  const [rocky] = loadComposeModels(REPO_ROOT, ['releases/8/Rocky/compose.json']);
  assert.ok(rocky);
  const roots = resolveRoots(rocky.common, rocky.release);
  const rows: Array<[string, string, string, string, string]> = [
    // channel, latest link, staging revision dir, production revision dir, lock
    [
      'stable',
      '/mnt/compose/8/latest-Rocky-8',
      '/mnt/repos-staging/mirror/pub/rocky/8.10-RC2',
      '/mnt/repos-production/mirror/pub/rocky/8.10',
      '/mnt/repos-staging/.releng/locks/mirror_pub_rocky--8.10-RC2.lock',
    ],
    [
      'beta',
      '/mnt/compose/8-BETA/latest-Rocky-8',
      '/mnt/repos-staging/mirror/pub/rocky/8.10-BETA',
      '/mnt/repos-production/mirror/pub/rocky/8.10',
      '/mnt/repos-staging/.releng/locks/mirror_pub_rocky--8.10-BETA.lock',
    ],
    [
      'lookahead',
      '/mnt/compose/8-LookAhead/latest-Rocky-8',
      '/mnt/repos-staging/mirror/pub/rocky/8.10-LookAhead',
      '/mnt/repos-production/mirror/pub/rocky/8.10',
      '/mnt/repos-staging/.releng/locks/mirror_pub_rocky--8.10-LookAhead.lock',
    ],
  ];
  const channelLinks: Record<string, string | undefined> = {
    stable: undefined,
    beta: '/mnt/repos-staging/mirror/pub/rocky/8-BETA',
    lookahead: '/mnt/repos-staging/mirror/pub/rocky/8-LookAhead',
  };
  for (const [channel, link, staging, prod, lock] of rows) {
    const ch = channelRelease(rocky.release, channel as 'stable');
    assert.equal(composePaths(rocky, ch, roots).latestLink, link);
    assert.equal(stagingPaths(rocky, ch, roots).revisionDir, staging);
    assert.equal(stagingPaths(rocky, ch, roots).lockFile, lock);
    assert.equal(stagingPaths(rocky, ch, roots).channelLink, channelLinks[channel]);
    assert.equal(productionPaths(rocky, ch, roots).revisionDir, prod);
  }
  assert.equal(composePaths(rocky, channelRelease(rocky.release, 'stable'), roots).localSource, '/mnt/koji/local/8/Rocky');
});

test('a 9 release with its own revision per channel, and a 10.1 release, need no code changes', () => {
  const root = tempDir('layout');
  try {
    copyReleases(root);
    addRelease9(root);
    writeJsonFile(`${root}/releases/10/release.json`, {
      revision: '10.1',
      arches: ['x86_64', 'aarch64', 'ppc64le', 's390x', 'riscv64'],
      channels: { stable: { suffix: '-RC1' } },
      compsRepos: ['BaseOS', 'AppStream', 'CRB'],
      plainRepos: ['extras'],
      modularRepos: [],
      linkRepos: {},
      isoTypes: ['BaseOS'],
      moduleMetadataDir: '/mnt/compose/10_metadata',
      errata: { source: { type: 'dir', path: '/mnt/errata' }, ignoreRepos: [] },
      signing: { type: 'command', command: ['/usr/local/bin/sign'], publicKey: '/etc/pki/key' },
      repoclosure: { BaseOS: [] },
    });
    writeJsonFile(`${root}/releases/10/Rocky/compose.json`, {
      kind: 'base',
      variants: ['BaseOS'],
      backend: 'pungi',
      pungi: { config: '/etc/pungi-prod/r10.conf' },
    });
    const [r10, r9] = loadComposeModels(root, ['releases/10/Rocky/compose.json', 'releases/9/Rocky/compose.json']).sort(
      (a, b) => a.project.localeCompare(b.project),
    );
    assert.ok(r9 && r10);
    assert.equal(r10.project, 'Rocky-10');
    const roots = resolveRoots(r9.common, r9.release, '/sb');
    const beta = channelRelease(r9.release, 'beta');
    assert.equal(composePaths(r9, beta, roots).latestLink, '/sb/mnt/compose/9-BETA/latest-Rocky-9');
    assert.equal(stagingPaths(r9, beta, roots).revisionDir, '/sb/mnt/repos-staging/mirror/pub/rocky/9.8-BETA');
    assert.equal(stagingPaths(r9, beta, roots).channelLink, '/sb/mnt/repos-staging/mirror/pub/rocky/9-BETA');
    assert.equal(roots.moduleMetadata, '/sb/mnt/compose/9_metadata');
    const r10roots = resolveRoots(r10.common, r10.release);
    const ch10 = channelRelease(r10.release, 'stable');
    assert.equal(stagingPaths(r10, ch10, r10roots).revisionDir, '/mnt/repos-staging/mirror/pub/rocky/10.1-RC1');
    assert.equal(productionPaths(r10, ch10, r10roots).revisionDir, '/mnt/repos-production/mirror/pub/rocky/10.1');
    assert.equal(composePaths(r10, ch10, r10roots).latestLink, '/mnt/compose/10/latest-Rocky-10');
    assert.throws(() => channelRelease(r10.release, 'beta', 'releases/10/release.json'), /releases\/10\/release.json: channel 'beta' is not configured \(configured: stable\)/);
  } finally {
    removeDir(root);
  }
});

test('repo dirs follow pungi: os and debug/tree per arch, source/tree once', () => {
  assert.deepEqual(
    repoDirs('BaseOS', ['x86_64', 'aarch64']).map((r) => `${r.kind}:${r.path}`),
    [
      'os:BaseOS/x86_64/os',
      'debug:BaseOS/x86_64/debug/tree',
      'os:BaseOS/aarch64/os',
      'debug:BaseOS/aarch64/debug/tree',
      'source:BaseOS/source/tree',
    ],
  );
});
