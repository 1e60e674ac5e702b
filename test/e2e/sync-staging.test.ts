import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { groupList, repoquery } from '../helpers/dnf';
import { createNxWorkspace, dropShippedSigs, taskOutcomes, type NxWorkspace } from '../helpers/nx-workspace';
import { readJsonFile } from '../helpers/workspace';

/**
 * The foundation end to end: real nx CLI in a temporary workspace, real composes made by the local backend
 * from real RPMs, real rsync/createrepo_c/modifyrepo_c/hardlink, and dnf reading the staging repos.
 * The steps share one workspace and run in order.
 */

const PROJECTS = ['Extras-8', 'Rocky-8', 'Rocky-devel-8'];
let ws: NxWorkspace;
let staging: string;

function runOk(args: string[]): string {
  const r = ws.nx(args);
  assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

function syncAll(): Record<string, string> {
  return taskOutcomes(runOk(['run-many', '-t', 'sync-staging', '--output-style=static']), 'sync-staging');
}

before(async () => {
  ws = createNxWorkspace('e2e-staging');
  dropShippedSigs(ws);
  staging = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  await stageSandbox(ws.relengRoot);
  runOk(['run-many', '-t', 'compose', '--backend=local', '--output-style=static']);
});

after(() => ws?.dispose());

test('first run syncs every compose; dnf sees the packages, groups and modules in staging', async () => {
  const outcomes = syncAll();
  assert.deepEqual(outcomes, { 'Extras-8': 'synced', 'Rocky-8': 'synced', 'Rocky-devel-8': 'synced' });
  const baseos = join(staging, 'BaseOS/x86_64/os');
  const appstream = join(staging, 'AppStream/x86_64/os');
  assert.deepEqual(await repoquery({ baseos }, { arch: 'x86_64' }), [
    'releng-base-0:1.0-1.el8.noarch',
    'releng-hello-0:1.0-1.el8.x86_64',
  ]);
  assert.deepEqual(await repoquery({ baseos: join(staging, 'BaseOS/aarch64/os') }, { arch: 'aarch64' }), [
    'releng-base-0:1.0-1.el8.noarch',
    'releng-hello-0:1.0-1.el8.aarch64',
  ]);
  assert.ok((await repoquery({ src: join(staging, 'BaseOS/source/tree') }, { arch: 'src' })).includes('releng-hello-0:1.0-1.el8.src'));
  assert.deepEqual(await repoquery({ debug: join(staging, 'BaseOS/x86_64/debug/tree') }, { arch: 'x86_64' }), [
    'releng-hello-debuginfo-0:1.0-1.el8.x86_64',
    'releng-hello-debugsource-0:1.0-1.el8.x86_64',
  ]);
  assert.deepEqual(await repoquery({ extras: join(staging, 'extras/x86_64/os') }, { arch: 'x86_64' }), ['releng-extras-0:1.0-1.el8.noarch']);
  assert.deepEqual(await repoquery({ devel: join(staging, 'devel/aarch64/os') }, { arch: 'aarch64' }), ['releng-devel-lib-0:1.0-1.el8.aarch64']);
  const groups = await groupList({ baseos, appstream }, { arch: 'x86_64', ids: true });
  assert.ok(groups.length >= 2, `expected the BaseOS and AppStream groups, got ${groups.join(', ')}`);
  // Rocky's staging repodata: comps as xz with the major as revision and the distro tag; modules re-added.
  const repomd = readFileSync(join(appstream, 'repodata/repomd.xml'), 'utf8');
  assert.match(repomd, /<revision>8<\/revision>/);
  assert.match(repomd, /<distro cpeid="cpe:\/o:rocky:rocky:8">Rocky Linux 8<\/distro>/);
  assert.match(repomd, /<data type="group_xz">/);
  assert.match(repomd, /<data type="modules">/);
  assert.doesNotMatch(repomd, /<open-size><\/open-size>/);
  // Installer files never reach staging from an update compose.
  assert.equal(existsSync(join(baseos, '.treeinfo')), false);
  assert.equal(existsSync(join(baseos, 'media.repo')), false);
  assert.ok(existsSync(join(staging, 'metadata/composeinfo.json')), 'the Rocky compose metadata is staged');
});

test('an unchanged compose syncs nothing, and the run after is answered by the Nx cache', () => {
  const second = syncAll();
  for (const p of PROJECTS) assert.ok(['up-to-date', 'cache'].includes(second[p] as string), `${p}: ${second[p]}`);
  assert.deepEqual(syncAll(), { 'Extras-8': 'cache', 'Rocky-8': 'cache', 'Rocky-devel-8': 'cache' });
});

test('a new compose of Extras only syncs only Extras-8', () => {
  // --skip-nx-cache: nothing it is made from changed, and this test needs a new compose.
  runOk(['run', 'Extras-8:compose', '--backend=local', '--skip-nx-cache', '--output-style=static']);
  assert.deepEqual(syncAll(), { 'Extras-8': 'synced', 'Rocky-8': 'cache', 'Rocky-devel-8': 'cache' });
});

test('a staging tree changed behind the tool is never hidden by a cache hit', async () => {
  syncAll(); // settle Extras-8 into the cache
  rmSync(join(staging, 'devel'), { recursive: true });
  const pkgDir = join(staging, 'BaseOS/x86_64/os/Packages/r');
  const base = readdirSync(pkgDir).find((f) => f.startsWith('releng-base-'));
  assert.ok(base);
  rmSync(join(pkgDir, base));
  const outcomes = syncAll();
  assert.deepEqual(outcomes, { 'Extras-8': 'cache', 'Rocky-8': 'synced', 'Rocky-devel-8': 'synced' });
  assert.ok(existsSync(join(pkgDir, base)), 'the deleted package is back');
  assert.deepEqual(await repoquery({ devel: join(staging, 'devel/x86_64/os') }, { arch: 'x86_64' }), ['releng-devel-lib-0:1.0-1.el8.x86_64']);
});

test('older packages stay in staging when a newer compose arrives (no delete on update syncs)', async () => {
  await stageSandbox(ws.relengRoot, { version: '1.1', shorts: ['Rocky'] });
  runOk(['run', 'Rocky-8:compose', '--backend=local', '--output-style=static']);
  assert.equal(syncAll()['Rocky-8'], 'synced');
  const nevras = await repoquery({ baseos: join(staging, 'BaseOS/x86_64/os') }, { arch: 'x86_64' });
  assert.ok(nevras.includes('releng-hello-0:1.0-1.el8.x86_64'), nevras.join(' '));
  assert.ok(nevras.includes('releng-hello-0:1.1-1.el8.x86_64'), nevras.join(' '));
});

test('channels are configurations: -c beta reads 8-BETA and writes 8.10-BETA', () => {
  const r = ws.nx(['run', 'Extras-8:sync-staging', '-c', 'beta', '--output-style=static']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /compose link .*\/mnt\/compose\/8-BETA\/latest-Extras-8 does not exist/);
  assert.equal(existsSync(join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-BETA')), false);
  mkdirSync(join(ws.relengRoot, 'mnt/compose/8-BETA'), { recursive: true }); // pungi's --target-dir must exist
  runOk(['run', 'Extras-8:compose', '-c', 'beta', '--backend=local', '--output-style=static']);
  const out = runOk(['run', 'Extras-8:sync-staging', '-c', 'beta', '--output-style=static']);
  assert.match(out, /Extras-8:sync-staging synced: .*8\.10-BETA/);
  assert.ok(existsSync(join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-BETA/extras/x86_64/os/repodata/repomd.xml')));
});

test('--dryRun prints what would change and changes nothing', () => {
  runOk(['run', 'Rocky-devel-8:compose', '--backend=local', '--skip-nx-cache', '--output-style=static']);
  const before = readdirSync(join(staging, 'devel/x86_64/os/repodata')).sort();
  const out = runOk(['run', 'Rocky-devel-8:sync-staging', '--dryRun', '--output-style=static']);
  assert.match(out, /dry run of Rocky-devel-8\.10-updates-\d{8}\.\d+ -> /);
  assert.match(out, /would regenerate repodata of devel\/x86_64\/os/);
  assert.deepEqual(readdirSync(join(staging, 'devel/x86_64/os/repodata')).sort(), before);
});

test('a config change that does not shape staging misses the cache but syncs nothing', () => {
  const commonFile = join(ws.dir, 'releases/common.json');
  const common = readJsonFile<any>(commonFile);
  common.fileLists[0].copies.push('fullfiletimelist-extra');
  writeFileSync(commonFile, `${JSON.stringify(common, null, 2)}\n`);
  assert.equal(taskOutcomes(runOk(['run', 'Extras-8:sync-staging', '--output-style=static']), 'sync-staging')['Extras-8'], 'up-to-date');
  ws.git(['checkout', 'releases/common.json']);
});

test('nx affected follows the config layers, the plugin source, and ignores npm changes', () => {
  const graphFile = join(ws.dir, 'dist/affected.json');
  const tasksOf = (args: string[]) => {
    const r = ws.nx(['affected', '-t', 'sync-staging', ...args, `--graph=${graphFile}`]);
    assert.equal(r.status, 0, r.output);
    return Object.keys(readJsonFile<any>(graphFile).tasks.tasks).sort();
  };
  const affected = (files: string) => tasksOf([`--files=${files}`]);
  const all = PROJECTS.map((p) => `${p}:sync-staging`);
  assert.deepEqual(affected('releases/common.json'), all);
  assert.deepEqual(affected('releases/8/release.json'), all);
  assert.deepEqual(affected('releases/8/Extras/compose.json'), ['Extras-8:sync-staging']);
  assert.deepEqual(affected('tools/nx-releng/src/lib/tools/rsync.ts'), all);
  // An unrelated npm package: a real package.json change, committed, compared with the commit before.
  const pkgFile = join(ws.dir, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8'));
  pkg.devDependencies['left-pad'] = '1.3.0';
  writeFileSync(pkgFile, `${JSON.stringify(pkg, null, 2)}\n`);
  ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'add an npm package']);
  assert.deepEqual(tasksOf(['--base=HEAD~1', '--head=HEAD']), []);
  // The same check must be able to fail: a compose.json change in the same way is seen.
  const extras = join(ws.dir, 'releases/8/Extras/compose.json');
  writeFileSync(extras, readFileSync(extras, 'utf8').replace('Extras and plus for Rocky Linux 8', 'Extras and plus (edited)'));
  ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'edit Extras']);
  assert.deepEqual(tasksOf(['--base=HEAD~1', '--head=HEAD']), ['Extras-8:sync-staging']);
});
