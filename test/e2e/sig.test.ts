import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { taskOutcomes, type NxWorkspace } from '../helpers/nx-workspace';
import { openPipelineWorkspace, type PipelineWorkspace } from '../helpers/pipeline';
import { stageLocalSource } from '../helpers/rpms';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot';
import { readJsonFile, writeJsonFile } from '../helpers/workspace';

/**
 * SIG repositories end to end with the real nx CLI: two SIGs added with `nx g repo` (one compose.json each) and
 * composed by the local backend in the empanadas layout, synced to staging and production beside a base release;
 * a package dropped from the next compose disappears from both (delete) while the other SIG and the base category
 * stay byte-identical; dnf installs from the production SIG repo; fullfiletimelist-sig lists it; a compose without
 * its <major>/<sig> dir is refused with staging unchanged.
 */

let pipeline: PipelineWorkspace;
let ws: NxWorkspace;
let staging: string;
let prod: string;
const runOk = (args: string[]) => pipeline.runOk(args);

const CLOUD = 'mirror/pub/sig/8/cloud';
const KERNEL = 'mirror/pub/sig/8/kernel';
const BASE = 'mirror/pub/rocky';

/** Files (with sizes) below a dir, relative, sorted. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => `${join(e.parentPath, e.name).slice(dir.length + 1)} ${statSync(join(e.parentPath, e.name)).size}`)
    .sort();
}

const rpmsOf = (dir: string) => files(dir).filter((f) => f.includes('.rpm')).map((f) => f.split(' ')[0]?.split('/').pop());

async function addSigs(w: NxWorkspace): Promise<void> {
  // A small base release beside the SIGs (the test is about SIGs): Rocky with BaseOS only.
  const rockyFile = join(w.dir, 'releases/8/Rocky/compose.json');
  writeJsonFile(rockyFile, { ...readJsonFile<object>(rockyFile), variants: ['BaseOS'] });
  // The shipped kernel SIG goes too: this test adds its own SIGs with the generator.
  for (const short of ['Extras', 'Rocky-devel', 'SIG-kernel', 'SIG-kmod']) rmSync(join(w.dir, 'releases/8', short), { recursive: true });
  // Adding a SIG is adding one compose.json, which the generator writes.
  for (const args of [
    ['--short=cloud', '--kind=sig', '--variants=cloud-common'],
    ['--short=SIG-kernel', '--variants=kernel-lts'],
  ]) {
    const r = w.nx(['g', '@nx-releng/plugin:repo', '--major=8', '--backend=local', '--no-interactive', ...args]);
    assert.equal(r.status, 0, r.output);
  }
  assert.deepEqual(readJsonFile(join(w.dir, 'releases/8/SIG-cloud/compose.json')), {
    kind: 'sig',
    variants: ['cloud-common'],
    backend: 'local',
  });
  w.git(['add', '-A']);
  w.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'two SIGs']);
  const koji = join(w.relengRoot, 'mnt/koji');
  await stageLocalSource(koji, '8', 'SIG-cloud', { 'cloud-common': ['releng-extras', 'releng-plus'] }, { comps: {} });
  await stageLocalSource(koji, '8', 'SIG-kernel', { 'kernel-lts': ['releng-hello'] }, { comps: {} });
}

before(async () => {
  pipeline = await openPipelineWorkspace('e2e-sig', addSigs);
  ws = pipeline.ws;
  staging = join(ws.relengRoot, 'mnt/repos-staging');
  prod = join(ws.relengRoot, 'mnt/repos-production');
});

after(() => pipeline?.close());

test('the SIG project: latest-SIG-<name>-<major>, no updateinfo or sign, verify right after sync-staging, stable only', () => {
  const r = ws.nx(['show', 'project', 'SIG-cloud-8', '--json']);
  assert.equal(r.status, 0, r.output);
  const project = JSON.parse(r.output.slice(r.output.indexOf('{')));
  assert.deepEqual(Object.keys(project.targets).sort(), ['compose', 'housekeeping', 'refresh', 'sync-prod', 'sync-staging', 'verify']);
  assert.deepEqual(project.targets.verify.dependsOn, ['sync-staging']);
  assert.deepEqual(Object.keys(project.targets['sync-staging'].configurations), ['stable']);
  const compose = join(ws.relengRoot, 'mnt/compose/8');
  assert.match(readdirSync(compose).join(' '), /latest-SIG-cloud-8/);
  // The empanadas layout, made by the local backend from the same inputs as a base compose.
  const top = join(compose, 'latest-SIG-cloud-8/compose');
  assert.deepEqual(readdirSync(top).sort(), ['8', 'metadata']);
  assert.deepEqual(readdirSync(join(top, '8/cloud')).sort(), ['aarch64', 'source', 'x86_64']);
  assert.deepEqual(readdirSync(join(top, '8/cloud/x86_64')).sort(), ['cloud-common', 'cloud-common-debug']);
  assert.deepEqual(readdirSync(join(top, '8/cloud/source')), ['cloud-common']);
  assert.deepEqual(readdirSync(join(compose, 'latest-SIG-kernel-8/compose/8/kernel/x86_64/kernel-lts-debug/Packages/r')).sort(), [
    'releng-hello-debuginfo-1.0-1.el8.x86_64.rpm',
    'releng-hello-debugsource-1.0-1.el8.x86_64.rpm',
  ]);
});

test('SIGs to staging and production beside the base release; dnf installs from the SIG; fullfiletimelist-sig lists it', async () => {
  await runOk(['run-many', '-t', 'verify']);
  const out = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  assert.match(out, /SIG-cloud-8:sync-prod synced/);
  const cloud = join(staging, CLOUD);
  const composeCloud = join(ws.relengRoot, 'mnt/compose/8/latest-SIG-cloud-8/compose/8/cloud');
  // Repodata as composed: the same repomd.xml bytes, no signature, no updateinfo.
  for (const repo of ['x86_64/cloud-common', 'aarch64/cloud-common-debug', 'source/cloud-common']) {
    assert.equal(
      readFileSync(join(cloud, repo, 'repodata/repomd.xml'), 'utf8'),
      readFileSync(join(composeCloud, repo, 'repodata/repomd.xml'), 'utf8'),
      repo,
    );
  }
  assert.deepEqual(files(cloud), files(composeCloud), 'staging holds exactly the compose SIG dir');
  assert.ok(!files(cloud).some((f) => /repomd\.xml\.asc|updateinfo/.test(f)));
  assert.deepEqual(rpmsOf(join(cloud, 'x86_64/cloud-common')), ['releng-extras-1.0-1.el8.noarch.rpm', 'releng-plus-1.0-1.el8.noarch.rpm']);
  assert.deepEqual(files(join(prod, CLOUD)), files(cloud), 'production holds what staging holds');
  assert.deepEqual(files(join(prod, KERNEL)), files(join(staging, KERNEL)));
  assert.ok(existsSync(join(prod, BASE, '8.10/BaseOS/x86_64/os/repodata/repomd.xml')), 'the base release went to production too');
  // mirror:hardlink went over the SIG production tree of the major.
  const hardlink = readJsonFile<{ trees: string[] }>(join(ws.dir, 'dist/releng/mirror/hardlink/manifest.json'));
  assert.ok(hardlink.trees.includes(join(prod, 'mirror/pub/sig/8')), JSON.stringify(hardlink.trees));
  const noarch = (arch: string) => statSync(join(prod, CLOUD, arch, 'cloud-common/Packages/r/releng-extras-1.0-1.el8.noarch.rpm')).ino;
  assert.equal(noarch('x86_64'), noarch('aarch64'), 'one inode for the noarch package of both arches');

  const timelist = readFileSync(join(prod, 'mirror/pub/sig/fullfiletimelist-sig'), 'utf8');
  assert.match(timelist, /\tf\t\d+\t8\/cloud\/x86_64\/cloud-common\/repodata\/repomd\.xml\n/);
  assert.match(timelist, /\tf\t\d+\t8\/kernel\/source\/kernel-lts\/Packages\/r\/releng-hello-1\.0-1\.el8\.src\.rpm\n/);
  assert.equal(readFileSync(join(prod, 'mirror/pub/sig/fullfiletimelist'), 'utf8'), timelist);
  assert.doesNotMatch(readFileSync(join(prod, BASE, 'fullfiletimelist-rocky'), 'utf8'), /cloud-common/);

  const tmp = await mkdtemp(join(tmpdir(), 'releng-sig-install-'));
  try {
    await writeFile(join(tmp, 'dnf.conf'), '[main]\n');
    await run('mkdir', ['-p', join(tmp, 'root'), join(tmp, 'repos.d')]);
    await run('dnf', [
      '-q', '-y', `--config=${join(tmp, 'dnf.conf')}`, `--installroot=${join(tmp, 'root')}`, '--disableplugin=*',
      `--setopt=reposdir=${join(tmp, 'repos.d')}`, '--releasever=8', '--nogpgcheck',
      `--repofrompath=sig-cloud,${join(prod, CLOUD, 'x86_64/cloud-common')}`, '--repo=sig-cloud', 'install', 'releng-plus',
    ], { env: { LC_ALL: 'C' } });
    assert.ok(existsSync(join(tmp, 'root/usr/share/releng-plus/README')), 'releng-plus installed from the SIG repo');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('an unchanged SIG is found up to date, then answered from the Nx cache', async () => {
  // The first sync was hashed before it wrote its record; the run after it checks the record and caches that.
  const sync = () => runOk(['run-many', '-t', 'sync-staging', '--projects=SIG-cloud-8,SIG-kernel-8']);
  const first = taskOutcomes(await sync(), 'sync-staging');
  for (const p of ['SIG-cloud-8', 'SIG-kernel-8']) assert.ok(['up-to-date', 'cache'].includes(first[p] as string), `${p}: ${first[p]}`);
  assert.deepEqual(taskOutcomes(await sync(), 'sync-staging'), { 'SIG-cloud-8': 'cache', 'SIG-kernel-8': 'cache' });
});

test('a package dropped from the next compose leaves staging and production; the other SIG and the base stay as they were', async () => {
  const untouched = async () => ({
    kernelStaging: await snapshotTree(join(staging, KERNEL)),
    kernelProd: await snapshotTree(join(prod, KERNEL)),
    baseStaging: await snapshotTree(join(staging, BASE)),
    baseProd: await snapshotTree(join(prod, BASE), { exclude: (rel) => rel.startsWith('fullfile') }),
  });
  const before = await untouched();
  const src = join(ws.relengRoot, 'mnt/koji/local/8/SIG-cloud/cloud-common');
  for (const f of readdirSync(src).filter((f) => f.startsWith('releng-plus-'))) rmSync(join(src, f));
  await runOk(['run', 'SIG-cloud-8:compose']);
  const out = await runOk(['run', 'SIG-cloud-8:verify']);
  assert.match(out, /SIG-cloud-8:sync-staging synced/);
  await runOk(['run', 'SIG-cloud-8:sync-prod']);
  await runOk(['run', 'mirror:filelist']);
  for (const root of [staging, prod]) {
    const all = files(join(root, CLOUD)).join('\n');
    assert.doesNotMatch(all, /releng-plus/, `${root}: releng-plus is gone from every arch and source`);
    assert.match(all, /x86_64\/cloud-common\/Packages\/r\/releng-extras-1\.0-1\.el8\.noarch\.rpm/);
    assert.match(all, /source\/cloud-common\/Packages\/r\/releng-extras-1\.0-1\.el8\.src\.rpm/);
  }
  assert.doesNotMatch(readFileSync(join(prod, 'mirror/pub/sig/fullfiletimelist-sig'), 'utf8'), /releng-plus/);
  const now = await untouched();
  assertSameTree(now.kernelStaging, before.kernelStaging, 'the kernel SIG in staging');
  assertSameTree(now.kernelProd, before.kernelProd, 'the kernel SIG in production');
  assertSameTree(now.baseStaging, before.baseStaging, 'the base category in staging');
  assertSameTree(now.baseProd, before.baseProd, 'the base category in production');
});

test('a SIG compose without its <major>/<sig> dir is refused by name, and staging is left as it was', async () => {
  const sigStaging = join(staging, 'mirror/pub/sig');
  const before = await snapshotTree(sigStaging);
  await runOk(['run', 'SIG-cloud-8:compose', '--skip-nx-cache']); // a fresh compose to break
  const top = join(ws.relengRoot, 'mnt/compose/8/latest-SIG-cloud-8/compose/8');
  renameSync(join(top, 'cloud'), join(top, 'cloudy'));
  const r = await pipeline.nx(['run', 'SIG-cloud-8:sync-staging']);
  assert.notEqual(r.status, 0, r.output);
  assert.match(
    r.output,
    /compose SIG-cloud-8\.10-updates-\d{8}\.\d+ has no compose\/8\/cloud directory \(.*\/compose\/8\/cloud\); releases\/8\/SIG-cloud\/compose\.json is a SIG compose, laid out compose\/<major>\/<sig>\/<arch>\/<repo> with <sig> = 'cloud'/,
  );
  assertSameTree(await snapshotTree(sigStaging), before, 'SIG staging after the refused sync');
});
