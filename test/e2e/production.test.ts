import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { stageSandbox, writeModuleMetadata } from '../../tools/sandbox/sandbox';
import { readJsonFile, writeJsonFile } from '../helpers/workspace';
import { stageLocalSource } from '../helpers/rpms';
import type { NxWorkspace } from '../helpers/nx-workspace';
import { openPipelineWorkspace, type PipelineWorkspace } from '../helpers/pipeline';
import { sampleRepos } from '../helpers/repo-consistency';

/**
 * Production end to end: two majors (8 and a 9 fixture) vetted in staging, then `nx run-many -t sync-prod
 * filelist`: every sync-prod first, the file lists once after all of them; identical reruns leave the lists'
 * bytes and mtimes alone; a SIGKILLed production sync converges on rerun, and no sample of production ever
 * shows a repomd.xml naming a missing or different file.
 */

let pipeline: PipelineWorkspace;
let ws: NxWorkspace;
let prod: string;
const nx = (args: string[]) => pipeline.nx(args);
const runOk = (args: string[]) => pipeline.runOk(args);

/** The `> nx run <task>` headers of a run, in order. */
function tasksRun(output: string): string[] {
  return [...output.matchAll(/^> nx run (\S+)/gm)].map((m) => m[1] as string);
}

const LISTS = ['fullfilelist', 'fullfiletimelist', 'fullfiletimelist-rocky', 'fullfiletimelist-rocky-linux'];

function listState(): Record<string, string> {
  const dir = join(prod, 'mirror/pub/rocky');
  return Object.fromEntries(
    LISTS.map((f) => [f, `${statSync(join(dir, f)).mtimeMs} ${readFileSync(join(dir, f)).toString('base64').length}:${readFileSync(join(dir, f), 'utf8')}`]),
  );
}

/** Rocky-8 kept small (three of its repos), and a 9 release with its own compose, before the composes run. */
async function addSmallRocky8And9(w: NxWorkspace): Promise<void> {
  const rockyFile = join(w.dir, 'releases/8/Rocky/compose.json');
  writeJsonFile(rockyFile, { ...readJsonFile<object>(rockyFile), variants: ['BaseOS', 'AppStream', 'PowerTools'] });
  const release8 = readJsonFile<Record<string, unknown>>(join(w.dir, 'releases/8/release.json'));
  writeJsonFile(join(w.dir, 'releases/9/release.json'), {
    ...release8,
    revision: '9.7',
    previousRevision: undefined,
    channels: { stable: { suffix: '-RC2' } },
    compsRepos: ['BaseOS', 'AppStream', 'CRB'],
    plainRepos: ['extras'],
    modularRepos: ['AppStream'],
    linkRepos: {},
    moduleMetadataDir: '/mnt/compose/9_metadata',
    repoclosure: { BaseOS: [], AppStream: ['BaseOS'], CRB: ['BaseOS', 'AppStream'], extras: ['BaseOS'] },
  });
  writeJsonFile(join(w.dir, 'releases/9/Rocky/compose.json'), { kind: 'base', variants: ['BaseOS', 'AppStream'], backend: 'local' });
  w.git(['add', '-A']);
  w.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'add 9']);
  await stageLocalSource(join(w.relengRoot, 'mnt/koji'), '9', 'Rocky', {
    BaseOS: ['releng-base', 'releng-hello'],
    AppStream: ['releng-app'],
  });
  await writeModuleMetadata(w.relengRoot, '9', ['AppStream']);
  mkdirSync(join(w.relengRoot, 'mnt/compose/9'), { recursive: true });
}

before(async () => {
  pipeline = await openPipelineWorkspace('e2e-prod', addSmallRocky8And9);
  ws = pipeline.ws;
  prod = join(ws.relengRoot, 'mnt/repos-production');
  await runOk(['run-many', '-t', 'verify']);
});

after(() => pipeline?.close());

test('sync-prod of both majors first, then hardlink and the file lists exactly once', async () => {
  // The task graph nx graph shows: one hardlink after every sync-prod, one filelist after it.
  const graphFile = join(ws.dir, 'dist/prod-graph.json');
  await runOk(['run-many', '-t', 'sync-prod', 'filelist', `--graph=${graphFile}`]);
  const graph = readJsonFile<{ tasks: { dependencies: Record<string, Array<{ id: string }>> } }>(graphFile).tasks.dependencies;
  assert.deepEqual(graph['mirror:filelist']?.map((d) => d.id), ['mirror:hardlink']);
  assert.deepEqual(
    graph['mirror:hardlink']?.map((d) => d.id).sort(),
    ['Extras-8:sync-prod', 'Rocky-8:sync-prod', 'Rocky-9:sync-prod', 'Rocky-devel-8:sync-prod'],
  );
  for (const t of ['Extras-8:sync-prod', 'Rocky-8:sync-prod']) assert.deepEqual(graph[t], [], `${t} does not pull in the staging chain`);
  const out = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  const tasks = tasksRun(out);
  const prodSyncs = tasks.filter((t) => t.endsWith(':sync-prod'));
  assert.deepEqual([...prodSyncs].sort(), ['Extras-8:sync-prod', 'Rocky-8:sync-prod', 'Rocky-9:sync-prod', 'Rocky-devel-8:sync-prod']);
  assert.deepEqual(tasks.filter((t) => t === 'mirror:filelist'), ['mirror:filelist']);
  assert.equal(tasks.at(-1), 'mirror:filelist');
  assert.ok(tasks.indexOf('mirror:hardlink') > Math.max(...prodSyncs.map((t) => tasks.indexOf(t))));
  const timelist = readFileSync(join(prod, 'mirror/pub/rocky/fullfiletimelist-rocky'), 'utf8');
  assert.match(timelist, /^\[Version\]\n2\n\n\[Files\]\n/);
  assert.match(timelist, /\tf\t\d+\t8\.10\/BaseOS\/x86_64\/os\/repodata\/repomd\.xml\n/);
  assert.match(timelist, /\tf\t\d+\t9\.7\/BaseOS\/x86_64\/os\/repodata\/repomd\.xml\n/);
  assert.doesNotMatch(timelist, /\tfullfiletimelist|\tfullfilelist/, 'a list never lists itself or its copies');
  for (const copy of ['fullfiletimelist', 'fullfiletimelist-rocky-linux']) {
    assert.equal(readFileSync(join(prod, 'mirror/pub/rocky', copy), 'utf8'), timelist);
  }
  assert.ok(existsSync(join(prod, 'fullfiletimelist-rocky')), 'the production root has its list');
  assert.ok(existsSync(join(prod, 'mirror/pub/sig/fullfiletimelist-sig')));
  // Staging names its revision with the channel suffix; production drops it.
  assert.deepEqual(readdirSync(join(prod, 'mirror/pub/rocky')).filter((d) => /^\d/.test(d)).sort(), ['8.10', '9.7']);
});

test('an identical second run leaves every list byte-identical with its old mtime', async () => {
  const before = listState();
  const out = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  assert.match(out, /Rocky-8:sync-prod up to date, nothing synced/);
  assert.match(out, /mirror:filelist file lists unchanged/);
  assert.deepEqual(listState(), before);
});

// After the list checks: dnf installing from a local path links and unlinks the package files, which moves
// their ctime, and the timelist records max(mtime, ctime), as create-filelist does.
test('dnf installs a package from the production tree', async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'releng-install-'));
  try {
    await writeFile(join(tmp, 'dnf.conf'), '[main]\n');
    await run('mkdir', ['-p', join(tmp, 'root'), join(tmp, 'repos.d')]);
    const repo = (id: string, dir: string) => `--repofrompath=${id},${join(prod, 'mirror/pub/rocky/8.10', dir)}`;
    await run('dnf', [
      '-q', '-y', `--config=${join(tmp, 'dnf.conf')}`, `--installroot=${join(tmp, 'root')}`, '--disableplugin=*',
      `--setopt=reposdir=${join(tmp, 'repos.d')}`, '--releasever=8', '--nogpgcheck',
      repo('baseos', 'BaseOS/x86_64/os'), repo('appstream', 'AppStream/x86_64/os'), '--repo=baseos,appstream',
      'install', 'releng-app',
    ], { env: { LC_ALL: 'C' } });
    assert.ok(existsSync(join(tmp, 'root/usr/bin/releng-hello')), 'releng-app pulled in releng-hello from BaseOS');
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
});

test('beta never reaches production, and unverified staging is refused', async () => {
  let r = await nx(['run', 'Extras-8:sync-prod', '-c', 'beta', '--excludeTaskDependencies']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /beta never reaches production/);
  // A new compose synced to staging but not yet verified.
  await runOk(['run', 'Extras-8:compose', '--backend=local', '--skip-nx-cache']);
  await runOk(['run', 'Extras-8:sync-staging']);
  r = await nx(['run', 'Extras-8:sync-prod']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /changed since it passed verify .* run nx run Extras-8:verify again/);
  await runOk(['run', 'Extras-8:verify']);
});

test('a production sync killed midway converges on rerun, and production never names a missing file', async () => {
  await stageSandbox(ws.relengRoot, { version: '1.1', shorts: ['Rocky'] });
  await runOk(['run', 'Rocky-8:compose', '--backend=local']);
  await runOk(['run', 'Rocky-8:verify']);
  const repos = () =>
    ['BaseOS', 'AppStream', 'PowerTools'].flatMap((v) =>
      ['x86_64/os', 'aarch64/os', 'x86_64/debug/tree', 'source/tree'].map((r) => join(prod, 'mirror/pub/rocky/8.10', v, r)),
    );
  const sampler = sampleRepos(repos);
  // Kill the whole nx process group as soon as the new packages start landing in production.
  const syncProd = ws.command(['run', 'Rocky-8:sync-prod', '--output-style=static']);
  const child = spawn(syncProd.argv[0] as string, syncProd.argv.slice(1), { cwd: ws.dir, detached: true, stdio: 'ignore', env: syncProd.env });
  const newPkg = join(prod, 'mirror/pub/rocky/8.10/BaseOS/x86_64/os/Packages/r/releng-hello-1.1-1.el8.x86_64.rpm');
  const deadline = Date.now() + 60_000;
  while (!existsSync(newPkg) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  process.kill(-(child.pid as number), 'SIGKILL');
  await new Promise((r) => child.on('close', r));
  const out = await runOk(['run', 'Rocky-8:sync-prod']);
  assert.match(out, /Rocky-8:sync-prod synced/);
  const { rounds, problems } = await sampler.stop();
  assert.deepEqual(problems, []);
  assert.ok(rounds > 10, `the sampler ran ${rounds} rounds`);
  // Converged: production holds exactly what staging holds for this project.
  const staging = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  for (const repo of ['BaseOS/x86_64/os', 'AppStream/aarch64/os', 'PowerTools/source/tree']) {
    const list = (root: string) =>
      readdirSync(join(root, repo), { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => `${join(e.parentPath ?? e.path, e.name).slice(root.length)} ${statSync(join(e.parentPath ?? e.path, e.name)).size}`)
        .sort();
    assert.deepEqual(list(join(prod, 'mirror/pub/rocky/8.10')), list(staging), repo);
  }
  const again = await runOk(['run', 'Rocky-8:sync-prod']);
  assert.match(again, /up to date, nothing synced/);
});
