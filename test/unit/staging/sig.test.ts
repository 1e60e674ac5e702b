import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import {
  channelRelease,
  composePaths,
  parseSigRepoPath,
  productionPaths,
  projectChannels,
  resolveRoots,
  sigName,
  stagingPaths,
} from '../../../tools/nx-releng/src/layout/paths';
import { createLocalSigCompose } from '../../../tools/nx-releng/src/lib/compose/local-sig-compose';
import { planSigCompose } from '../../../tools/nx-releng/src/lib/staging/sig';
import { readRpmsMetadata } from '../../../tools/nx-releng/src/lib/formats/productmd';
import { composeTargets } from '../../../tools/nx-releng/src/plugin/targets';
import { repoquery } from '../../helpers/dnf';
import { stageLocalSource } from '../../helpers/rpms';
import { copyReleases, removeDir, tempDir, writeJsonFile } from '../../helpers/workspace';

/** Loads releases/8/<short>/compose.json written with `compose` beside the shipped model. */
function sigModel(short: string, compose: object): ComposeModel {
  const root = tempDir('sig-unit');
  try {
    copyReleases(root);
    writeJsonFile(join(root, `releases/8/${short}/compose.json`), compose);
    return loadComposeModels(root, [`releases/8/${short}/compose.json`])[0] as ComposeModel;
  } finally {
    removeDir(root);
  }
}

const CLOUD = { kind: 'sig', variants: ['cloud-common', 'cloud-tools'], backend: 'local' };

test('a SIG is one compose.json: its repos are its own, not release.json repositories', () => {
  const model = sigModel('SIG-cloud', CLOUD);
  assert.equal(model.project, 'SIG-cloud-8');
  assert.equal(sigName(model), 'cloud');
});

test('the loader refuses a SIG outside a SIG-<name> dir, a SIG- dir of kind base, a listed -debug tree, syncMetadata', () => {
  assert.throws(() => sigModel('cloud', CLOUD), /releases\/8\/cloud\/compose\.json: a SIG compose \(kind sig\) must be in a directory named SIG-<name>, e\.g\. releases\/8\/SIG-cloud \(its latest link is latest-SIG-<name>-8\); got 'cloud'/);
  assert.throws(
    () => sigModel('SIG-cloud', { ...CLOUD, kind: 'base' }),
    /releases\/8\/SIG-cloud\/compose\.json: field kind: 'base', but a compose directory named SIG-\* is a SIG; set "kind": "sig"/,
  );
  assert.throws(
    () => sigModel('SIG-cloud', { ...CLOUD, variants: ['cloud-common', 'cloud-common-debug'] }),
    /field variants\.1: 'cloud-common-debug' is the debug tree of 'cloud-common' \(<arch>\/<repo>-debug\); list only the repository/,
  );
  assert.throws(() => sigModel('SIG-cloud', { ...CLOUD, syncMetadata: true }), /field syncMetadata: a SIG compose has no compose metadata to stage/);
  // A base compose still only takes repositories of release.json.
  assert.throws(() => sigModel('Cloud', { ...CLOUD, kind: 'base' }), /field variants\.0: unknown repository 'cloud-common'/);
});

test('SIG paths: latest-SIG-<name>-<major>, <stub>/<major>/<sig> in staging and production, stable only', () => {
  const model = sigModel('SIG-cloud', CLOUD);
  const roots = resolveRoots(model.common, model.release, '/r');
  const stable = channelRelease(model.release, 'stable');
  assert.equal(composePaths(model, stable, roots).latestLink, '/r/mnt/compose/8/latest-SIG-cloud-8');
  assert.equal(composePaths(model, stable, roots).localSource, '/r/mnt/koji/local/8/SIG-cloud');
  const sp = stagingPaths(model, stable, roots);
  assert.equal(sp.revisionName, '8');
  assert.equal(sp.revisionDir, '/r/mnt/repos-staging/mirror/pub/sig/8');
  assert.equal(sp.lockFile, '/r/mnt/repos-staging/.releng/locks/mirror_pub_sig--8.lock');
  assert.equal(sp.syncRecord, '/r/mnt/repos-staging/.releng/state/mirror_pub_sig/8/SIG-cloud-8.sync-staging.json');
  assert.equal(sp.workDir, '/r/mnt/repos-staging/.releng/work/mirror_pub_sig/8/SIG-cloud-8');
  const pp = productionPaths(model, stable, roots);
  assert.equal(pp.revisionDir, '/r/mnt/repos-production/mirror/pub/sig/8');
  assert.equal(pp.lockFile, '/r/mnt/repos-staging/.releng/production/locks/mirror_pub_sig--8.lock');
  assert.deepEqual(projectChannels(model), ['stable']);
  const beta = channelRelease(model.release, 'beta');
  for (const f of [stagingPaths, productionPaths, composePaths]) {
    assert.throws(() => f(model, beta, roots), /SIG-cloud-8: SIG composes have only the stable channel .*refusing channel beta/);
  }
});

test('SIG repo paths parse back to repo, arch and kind, a repo named *-debug included', () => {
  const repos = ['cloud-common', 'kmod-debug'];
  assert.deepEqual(parseSigRepoPath('cloud/x86_64/cloud-common', repos), { variant: 'cloud-common', arch: 'x86_64', kind: 'os', path: 'cloud/x86_64/cloud-common' });
  assert.deepEqual(parseSigRepoPath('cloud/aarch64/cloud-common-debug', repos), { variant: 'cloud-common', arch: 'aarch64', kind: 'debug', path: 'cloud/aarch64/cloud-common-debug' });
  assert.deepEqual(parseSigRepoPath('cloud/source/cloud-common', repos), { variant: 'cloud-common', arch: 'source', kind: 'source', path: 'cloud/source/cloud-common' });
  assert.equal(parseSigRepoPath('cloud/x86_64/kmod-debug', repos).kind, 'os');
  assert.equal(parseSigRepoPath('cloud/x86_64/kmod-debug-debug', repos).kind, 'debug');
});

test('SIG targets: no updateinfo or sign, verify right after sync-staging, only the stable configuration', () => {
  const targets = composeTargets(sigModel('SIG-cloud', CLOUD));
  assert.deepEqual(Object.keys(targets).sort(), ['compose', 'housekeeping', 'refresh', 'sync-prod', 'sync-staging', 'verify']);
  assert.deepEqual(targets['verify']?.dependsOn, ['sync-staging']);
  for (const t of Object.values(targets)) assert.deepEqual(Object.keys(t.configurations ?? {}), ['stable']);
  assert.match(String(targets['sync-staging']?.metadata?.description), /compose\/8\/cloud of latest-SIG-cloud-8 to mirror\/pub\/sig\/8\/cloud in staging with delete/);
  // A base compose keeps its whole chain.
  const base = composeTargets(sigModel('Plus', { kind: 'base', variants: ['plus'], backend: 'local' }));
  assert.deepEqual(base['verify']?.dependsOn, ['sign', '^updateinfo']);
  assert.ok(base['updateinfo'] && base['sign']);
});

test('the local backend lays a SIG compose out the empanadas way, with repodata dnf reads', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'releng-sig-compose-'));
  try {
    const targetDir = join(tmp, 'compose/8');
    await mkdir(targetDir, { recursive: true });
    const srcDir = await stageLocalSource(join(tmp, 'koji'), '8', 'SIG-kernel', { 'kernel-lts': ['releng-hello', 'releng-base'] }, { comps: {} });
    const made = await createLocalSigCompose({
      targetDir,
      srcDir,
      short: 'SIG-kernel',
      sig: 'kernel',
      major: '8',
      version: '8.10',
      repos: ['kernel-lts'],
      arches: ['x86_64', 'aarch64'],
      date: '20240412',
      latestLinkName: 'latest-SIG-kernel-8',
    });
    assert.equal(made.composeId, 'SIG-kernel-8.10-updates-20240412.0');
    assert.equal(await readlink(join(targetDir, 'latest-SIG-kernel-8')), made.composeId);
    assert.equal((await readFile(join(made.composeDir, 'STATUS'), 'utf8')).trim(), 'FINISHED');
    const sig = join(made.composeDir, 'compose/8/kernel');
    assert.deepEqual((await readdir(sig)).sort(), ['aarch64', 'source', 'x86_64']);
    assert.deepEqual((await readdir(join(sig, 'x86_64'))).sort(), ['kernel-lts', 'kernel-lts-debug']);
    assert.deepEqual((await readdir(join(sig, 'x86_64/kernel-lts'))).sort(), ['Packages', 'repodata'], 'no install-tree files');
    assert.deepEqual(await repoquery({ k: join(sig, 'x86_64/kernel-lts') }, { arch: 'x86_64' }), [
      'releng-base-0:1.0-1.el8.noarch',
      'releng-hello-0:1.0-1.el8.x86_64',
    ]);
    assert.deepEqual(await repoquery({ k: join(sig, 'x86_64/kernel-lts-debug') }, { arch: 'x86_64' }), [
      'releng-hello-debuginfo-0:1.0-1.el8.x86_64',
      'releng-hello-debugsource-0:1.0-1.el8.x86_64',
    ]);
    assert.deepEqual(await repoquery({ k: join(sig, 'source/kernel-lts') }, { arch: 'src' }), [
      'releng-base-0:1.0-1.el8.src',
      'releng-hello-0:1.0-1.el8.src',
    ]);
    // rpms.json (read by the what-changed report) names the SIG layout's paths.
    const rpms = (await readRpmsMetadata(join(made.composeDir, 'compose/metadata/rpms.json'))).payload.rpms;
    const paths = Object.values(rpms['kernel-lts']?.['x86_64'] ?? {}).flatMap((byNevra) => Object.values(byNevra).map((e) => e.path));
    assert.ok(paths.includes('8/kernel/x86_64/kernel-lts/Packages/r/releng-hello-1.0-1.el8.x86_64.rpm'), paths.join('\n'));
    assert.ok(paths.includes('8/kernel/source/kernel-lts/Packages/r/releng-hello-1.0-1.el8.src.rpm'), paths.join('\n'));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('a SIG compose holding a link out of the compose, or a link in place of an arch or repo dir, is refused by the link policy', async () => {
  const model = sigModel('SIG-cloud', { ...CLOUD, variants: ['cloud-common'] });
  const make = async (name: string) => {
    const composeDir = join(await mkdtemp(join(tmpdir(), 'releng-sig-links-')), name);
    for (const dir of ['x86_64/cloud-common', 'aarch64/cloud-common', 'source/cloud-common']) {
      await mkdir(join(composeDir, 'compose/8/cloud', dir, 'repodata'), { recursive: true });
      await writeFile(join(composeDir, 'compose/8/cloud', dir, 'repodata/repomd.xml'), '<repomd/>');
    }
    return { compose: { latestLink: '', composeDir, composeId: name, status: 'FINISHED' }, sig: join(composeDir, 'compose/8/cloud') };
  };
  const good = await make('SIG-cloud-8.10-updates-20240412.0');
  assert.equal((await planSigCompose(model, good.compose)).repos.length, 3);

  const shadow = await make('SIG-cloud-8.10-updates-20240412.1');
  await symlink('/etc/shadow', join(shadow.sig, 'x86_64/cloud-common/shadow'));
  await assert.rejects(
    planSigCompose(model, shadow.compose),
    new RegExp(`compose SIG-cloud-8\\.10-updates-20240412\\.1: ${shadow.sig}/x86_64/cloud-common/shadow is a symbolic link to the absolute path /etc/shadow, outside ${shadow.compose.composeDir}/compose/8\\n`),
  );
  const arch = await make('SIG-cloud-8.10-updates-20240412.2');
  await rm(join(arch.sig, 'aarch64'), { recursive: true });
  await symlink('x86_64', join(arch.sig, 'aarch64'));
  await assert.rejects(planSigCompose(model, arch.compose), new RegExp(`${arch.sig}/aarch64 is a symbolic link \\(to x86_64\\) where the layout has a directory`));
  for (const c of [good, shadow, arch]) await rm(join(c.compose.composeDir, '..'), { recursive: true, force: true });
});
