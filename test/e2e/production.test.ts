import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { stageSandbox, writeModuleMetadata } from '../../tools/sandbox/sandbox';
import { readJsonFile, writeJsonFile } from '../helpers/workspace';
import { stageLocalSource } from '../helpers/rpms';
import { taskOutcomes, type NxWorkspace } from '../helpers/nx-workspace';
import { openPipelineWorkspace, type PipelineWorkspace } from '../helpers/pipeline';
import { sampleRepos } from '../helpers/repo-consistency';
import { snapshotTree } from '../helpers/tree-snapshot';
import { mirrorStatePaths } from '../../tools/nx-releng/src/layout/paths';
import { readChangeJournals } from '../../tools/nx-releng/src/lib/production/change-journal';

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

/** The regular files under root/rel with their sizes (and mtimes, to the second, when asked). */
function filesOf(root: string, rel: string, withMtime = false): string[] {
  return readdirSync(join(root, rel), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const st = statSync(join(e.parentPath ?? e.path, e.name));
      return `${join(e.parentPath ?? e.path, e.name).slice(root.length)} ${st.size}${withMtime ? ` ${Math.floor(st.mtimeMs / 1000)}` : ''}`;
    })
    .sort();
}

/** fullfiletimelist-rocky names every file and link under the revision dirs, each with its size, and nothing else. */
function assertListsDescribeDisk(): void {
  const dir = join(prod, 'mirror/pub/rocky');
  const listed = new Map<string, string>();
  for (const m of readFileSync(join(dir, 'fullfiletimelist-rocky'), 'utf8').matchAll(/^\d+\t([fl])\t(\d+)\t(.+)$/gm)) {
    listed.set(m[3] as string, `${m[1]} ${m[1] === 'f' ? m[2] : ''}`);
  }
  const onDisk = new Map<string, string>();
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const rel = join(e.parentPath ?? e.path, e.name).slice(dir.length + 1);
    if (!rel.includes('/')) continue; // the lists themselves
    if (e.isSymbolicLink()) onDisk.set(rel, 'l ');
    else if (e.isFile()) onDisk.set(rel, `f ${statSync(join(dir, rel)).size}`);
  }
  const diffs = [...new Set([...listed.keys(), ...onDisk.keys()])].filter((k) => listed.get(k) !== onDisk.get(k));
  assert.deepEqual(diffs.map((k) => `${k}: listed ${listed.get(k)}, on disk ${onDisk.get(k)}`), [], 'the file list describes production');
}

/**
 * The lists the last mirror:filelist made from the change journal (it must have: `why` says when it may walk) are
 * byte for byte what a full walk of the tree makes: `--full` rewrites none of them.
 */
async function assertUpdatedListsEqualFullWalk(): Promise<void> {
  const manifest = readJsonFile<Array<{ madeBy?: { kind: string; why?: string } }>>(join(ws.dir, 'dist/releng/mirror/filelist/manifest.json'));
  assert.equal(manifest[0]?.madeBy?.kind, 'update', `the last lists came from a full walk: ${manifest[0]?.madeBy?.why}`);
  const out = await runOk(['run', 'mirror:filelist', '--full', '--excludeTaskDependencies']);
  assert.match(out, /walked the whole tree: asked for \(--full\)/);
  assert.match(out, /mirror:filelist file lists unchanged/);
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

test('a first sync-prod names everything it published in one complete change journal', async () => {
  const journalDir = mirrorStatePaths({ staging: join(ws.relengRoot, 'mnt/repos-staging') }).changeJournalDir;
  const before = await readChangeJournals(journalDir, prod);
  await runOk(['run', 'Rocky-9:sync-prod']);
  const after = await readChangeJournals(journalDir, prod);
  assert.deepEqual(after.incomplete, []);
  assert.equal(after.fullWalk, undefined);
  assert.equal(after.complete.filter((f) => !before.complete.includes(f)).length, 1, 'one journal for the push');
  const rev = 'mirror/pub/rocky/9.7';
  const published = readdirSync(join(prod, rev), { recursive: true, withFileTypes: true }).map((e) =>
    join(e.parentPath ?? e.path, e.name).slice(prod.length + 1),
  );
  assert.ok(published.some((p) => p.endsWith('/repodata/repomd.xml')) && published.length > 20, `${published.length} entries published`);
  assert.deepEqual(published.filter((p) => !after.paths.has(p)), [], 'every published entry is in the journal');
  // Nothing else: the revision dir and the dirs made above it.
  assert.deepEqual([...after.paths].filter((p) => !p.startsWith(`${rev}/`) && p !== rev && !rev.startsWith(`${p}/`)), []);
});

test('sync-prod of both majors first, then hardlink and the file lists exactly once', async () => {
  // The task graph nx graph shows: one hardlink after every sync-prod, one filelist after it.
  const graphFile = join(ws.dir, 'dist/prod-graph.json');
  await runOk(['run-many', '-t', 'sync-prod', 'filelist', `--graph=${graphFile}`]);
  const graph = readJsonFile<{ tasks: { dependencies: Record<string, Array<{ id: string }>> } }>(graphFile).tasks.dependencies;
  assert.deepEqual(graph['mirror:filelist']?.map((d) => d.id), ['mirror:hardlink']);
  assert.deepEqual(
    graph['mirror:hardlink']?.map((d) => d.id).sort(),
    ['Extras-8:sync-prod', 'Rocky-8:sync-prod', 'Rocky-9:sync-prod', 'Rocky-devel-8:sync-prod', 'SIG-kernel-8:sync-prod', 'SIG-kmod-8:sync-prod'],
  );
  for (const t of ['Extras-8:sync-prod', 'Rocky-8:sync-prod']) assert.deepEqual(graph[t], [], `${t} does not pull in the staging chain`);
  const out = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  const tasks = tasksRun(out);
  const prodSyncs = tasks.filter((t) => t.endsWith(':sync-prod'));
  assert.deepEqual([...prodSyncs].sort(), [
    'Extras-8:sync-prod',
    'Rocky-8:sync-prod',
    'Rocky-9:sync-prod',
    'Rocky-devel-8:sync-prod',
    'SIG-kernel-8:sync-prod',
    'SIG-kmod-8:sync-prod',
  ]);
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
  await assertUpdatedListsEqualFullWalk();
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
  // dnf's links moved ctimes in production with no change journal (a change by hand): the runbook's --full.
  assert.match(await runOk(['run', 'mirror:filelist', '--full', '--excludeTaskDependencies']), /walked the whole tree: asked for \(--full\)/);
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

test('a push where one project is refused still publishes and announces the others, then fails naming it', async () => {
  // Extras-8 holds a verified new compose (the test above); Rocky-8's staging changes after its verify.
  const staging = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  const pkgDir = join(staging, 'BaseOS/x86_64/os/Packages/r');
  const pkg = join(pkgDir, readdirSync(pkgDir).find((n) => n.startsWith('releng-hello-')) as string);
  writeFileSync(pkg, readFileSync(pkg)); // the same bytes, rewritten: not the file verify passed
  const rocky = () => ['BaseOS', 'AppStream', 'PowerTools'].flatMap((v) => filesOf(join(prod, 'mirror/pub/rocky/8.10'), v, true));
  const rockyBefore = rocky();
  const refusal = `Rocky-8: ${staging} changed since it passed verify at [^;]+; run nx run Rocky-8:verify again before syncing to production`;
  // Twice: sync-prod is never cached, so the second run decides again (and refuses again) rather than replaying a success.
  for (const round of [1, 2]) {
    const r = await nx(['run-many', '-t', 'sync-prod', 'filelist', '-p', 'Extras-8', 'mirror']);
    assert.notEqual(r.status, 0, `round ${round} must fail:\n${r.output}`);
    const outcomes = taskOutcomes(r.output, 'sync-prod');
    assert.equal(outcomes['Extras-8'], round === 1 ? 'synced' : 'up-to-date', `round ${round}`);
    assert.equal(outcomes['Rocky-8'], 'ran', `round ${round}: Rocky-8:sync-prod ran, not answered by the cache`);
    assert.match(r.output, new RegExp(`Rocky-8:sync-prod NOT PUBLISHED: ${refusal}`));
    const tasks = tasksRun(r.output);
    assert.ok(tasks.includes('mirror:hardlink') && tasks.at(-1) === 'mirror:filelist', tasks.join(' '));
    assert.match(
      r.output,
      new RegExp(`mirror:filelist FAILED: file lists ${round === 1 ? 'rewritten' : 'unchanged'} [^\n]*, but 1 project\\(s\\) were not published:\n\\s+Rocky-8: ${staging} changed since it passed verify`),
    );
    assert.deepEqual(filesOf(join(prod, 'mirror/pub/rocky/8.10'), 'extras'), filesOf(staging, 'extras'), 'Extras-8 is published');
    assert.deepEqual(rocky(), rockyBefore, 'Rocky-8 in production is untouched');
    assertListsDescribeDisk();
  }
  // Alone, the refused sync-prod fails as any step does.
  const alone = await nx(['run', 'Rocky-8:sync-prod']);
  assert.notEqual(alone.status, 0);
  assert.match(alone.output, new RegExp(`Rocky-8:sync-prod FAILED: ${refusal}`));
});

test('production is the whole vetted revision: images/, live/, top-level files go, what staging lost is deleted', async () => {
  const staging = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  const production = join(prod, 'mirror/pub/rocky/8.10');
  // Content no compose project claims (the cloud import's images/, live/, a top-level file): Rocky-8's, which
  // carries BaseOS. A retired variant only production still has: deleted by Rocky-8's push.
  mkdirSync(join(staging, 'images/x86_64'), { recursive: true });
  writeFileSync(join(staging, 'images/x86_64/Rocky-8-GenericCloud.latest.x86_64.qcow2'), 'qcow2');
  mkdirSync(join(staging, 'live/x86_64'), { recursive: true });
  writeFileSync(join(staging, 'live/x86_64/Rocky-8-Workstation.iso'), 'live');
  writeFileSync(join(staging, 'RELEASE-NOTES.txt'), 'notes\n');
  mkdirSync(join(production, 'Retired/x86_64/os'), { recursive: true });
  writeFileSync(join(production, 'Retired/x86_64/os/old.rpm'), 'old');
  // verify vouches for them: a cached verify would hide them, so Rocky-8's verify runs (its runtime input sees them).
  const verified = await runOk(['run-many', '-t', 'verify']);
  assert.equal(taskOutcomes(verified, 'verify')['Rocky-8'], 'passed');
  assert.match(verified, /Rocky-8:verify \d+ repos passed, and unclaimed RELEASE-NOTES\.txt images live /);

  // Changed after verify: refused, naming the path; neither tree changes.
  writeFileSync(join(staging, 'images/x86_64/Rocky-8-GenericCloud.latest.x86_64.qcow2'), 'QCOW2');
  const trees = async () => [await snapshotTree(staging), await snapshotTree(prod)];
  const before = await trees();
  let r = await nx(['run', 'Rocky-8:sync-prod']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, new RegExp(`Rocky-8:sync-prod FAILED: Rocky-8: ${staging} changed since it passed verify at [^;]+; run nx run Rocky-8:verify again before syncing to production \\(changed: ${staging}/images\\)`));
  assert.deepEqual(await trees(), before);
  // So is a top-level entry that appeared after verify.
  writeFileSync(join(staging, 'images/x86_64/Rocky-8-GenericCloud.latest.x86_64.qcow2'), 'qcow2');
  assert.equal(taskOutcomes(await runOk(['run', 'Rocky-8:verify']), 'verify')['Rocky-8'], 'passed', 'a changed images/ file is never a cache hit');
  writeFileSync(join(staging, 'EULA'), 'eula');
  r = await nx(['run', 'Rocky-8:sync-prod']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, new RegExp(`Rocky-8: ${staging}/EULA appeared in staging after verify at [^,]+, which vouched for every path sync-prod publishes; run nx run Rocky-8:verify again`));
  rmSync(join(staging, 'EULA'));
  // A link leaving the tree inside the owner's unclaimed content: the link policy names it before anything moves.
  symlinkSync('/etc/shadow', join(staging, 'live/x86_64/shadow'));
  const linkBefore = await trees();
  r = await nx(['run', 'Rocky-8:sync-prod']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, new RegExp(`Rocky-8:sync-prod FAILED: Rocky-8: staging ${staging}: ${staging}/live/x86_64/shadow is a symbolic link to the absolute path /etc/shadow`));
  assert.deepEqual(await trees(), linkBefore);
  rmSync(join(staging, 'live/x86_64/shadow'));

  await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  for (const rev of ['8.10', '9.7']) {
    const d = await run('diff', ['-r', '--no-dereference', join(ws.relengRoot, `mnt/repos-staging/mirror/pub/rocky/${rev}-RC2`), join(prod, 'mirror/pub/rocky', rev)], { allowFailure: true });
    assert.equal(`${d.stdout}`, '', `staging and production ${rev} differ`);
  }
  assert.ok(!existsSync(join(production, 'Retired')));
  assertListsDescribeDisk();
  await assertUpdatedListsEqualFullWalk();
  assert.match(readFileSync(join(prod, 'mirror/pub/rocky/fullfiletimelist-rocky'), 'utf8'), /\tf\t5\t8\.10\/images\/x86_64\/Rocky-8-GenericCloud\.latest\.x86_64\.qcow2\n/);
});

test('a push killed at any moment converges on rerun; no repomd.xml or file list ever names a missing path', async () => {
  // A newer Rocky compose (releng-hello 1.0 -> 1.1), and the owner's unclaimed content changes too: images/ gains
  // a file, live/ is gone from staging (so production's goes), so the whole-revision pass and its deletions run.
  const stagingRev = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  const production = join(prod, 'mirror/pub/rocky/8.10');
  await stageSandbox(ws.relengRoot, { version: '1.1', shorts: ['Rocky'] });
  await runOk(['run', 'Rocky-8:compose', '--backend=local']);
  writeFileSync(join(stagingRev, 'images/x86_64/Rocky-8-EC2.latest.x86_64.qcow2'), 'ec2');
  rmSync(join(stagingRev, 'live'), { recursive: true });
  await runOk(['run-many', '-t', 'verify']);
  const newPkg = join(production, 'BaseOS/x86_64/os/Packages/r/releng-hello-1.1-1.el8.x86_64.rpm');
  const oldPkg = join(production, 'BaseOS/x86_64/os/Packages/r/releng-hello-1.0-1.el8.x86_64.rpm');
  const mainList = join(prod, 'mirror/pub/rocky/fullfiletimelist-rocky');
  const repomd = join(production, 'BaseOS/x86_64/os/repodata/repomd.xml');
  assert.ok(existsSync(oldPkg) && !existsSync(newPkg) && existsSync(join(production, 'live')));

  // Production and its state as they are before the push, to start each killed push from.
  const prodState = join(ws.relengRoot, 'mnt/repos-staging/.releng/production');
  const saved = await mkdtemp(join(tmpdir(), 'e2e-prod-saved-'));
  const copyTree = (from: string, to: string) => run('rsync', ['-aH', '--delete', `${from}/`, `${to}/`]);
  await copyTree(prod, join(saved, 'prod'));
  await copyTree(prodState, join(saved, 'state'));
  const listIno = () => statSync(mainList).ino;
  const repomdBefore = readFileSync(repomd, 'utf8');
  const inoBefore = listIno();
  // Each push is killed when one step of it shows in production (polled every few ms).
  const killPoints: [string, () => boolean][] = [
    ['new packages landing', () => existsSync(newPkg)],
    ['new repodata in place', () => readFileSync(repomd, 'utf8') !== repomdBefore],
    ['file lists rewritten', () => listIno() !== inoBefore],
    ['old packages deleted', () => !existsSync(oldPkg)],
  ];
  const repos = () =>
    ['BaseOS', 'AppStream', 'PowerTools'].flatMap((v) => ['x86_64/os', 'aarch64/os', 'x86_64/debug/tree', 'source/tree'].map((r) => join(production, v, r)));
  const lists = ['mirror/pub/rocky/fullfiletimelist-rocky', 'mirror/pub/rocky/fullfilelist', 'fullfiletimelist-rocky', 'fullfilelist'].map((l) => join(prod, l));
  const killed: string[] = [];
  for (const [point, reached] of killPoints) {
    await copyTree(join(saved, 'prod'), prod);
    await copyTree(join(saved, 'state'), prodState);
    const sampler = sampleRepos(repos, lists);
    const push = ws.command(['run-many', '-t', 'sync-prod', 'filelist', '--output-style=static']);
    const child = spawn(push.argv[0] as string, push.argv.slice(1), { cwd: ws.dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: push.env });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    let exited = false;
    const closed = new Promise((r) => child.on('close', r));
    child.on('exit', () => (exited = true));
    const deadline = Date.now() + 120_000;
    while (!exited && !reached() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    if (!exited) {
      process.kill(-(child.pid as number), 'SIGKILL');
      killed.push(point);
    }
    await closed;
    // The rerun converges; the sampler watched the killed push and the rerun.
    const out = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
    assert.match(out, /Rocky-8:sync-prod (synced|up to date)/, `${point}: the rerun publishes\n${output}`);
    const { rounds, problems } = await sampler.stop();
    assert.deepEqual(problems, [], `killed at "${point}"`);
    assert.ok(rounds > 5, `the sampler ran ${rounds} rounds`);
    const d = await run('diff', ['-r', '--no-dereference', stagingRev, production], { allowFailure: true });
    assert.equal(`${d.stdout}`, '', `after a push killed at "${point}", staging and production differ`);
    assertListsDescribeDisk();
  }
  // The first kills land mid-push for sure (the lists are written only after every sync-prod); the later ones
  // may come after the push ended on a fast machine, which the rerun covers as well.
  assert.ok(killed.includes('new packages landing') && killed.includes('new repodata in place'), `killed at: ${killed.join(', ')}`);
  const again = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  assert.match(again, /Rocky-8:sync-prod up to date, nothing synced/);
  await assertUpdatedListsEqualFullWalk();
  await rm(saved, { recursive: true, force: true });
});

test('a push whose change journal is gone makes the next lists walk the whole tree, naming it', async () => {
  // As a push by a version of this tool that kept no journal leaves it: a sync record newer than the lists.
  const record = join(ws.relengRoot, 'mnt/repos-staging/.releng/production/state/mirror_pub_rocky/8.10/Rocky-8.sync-prod.json');
  writeJsonFile(record, { ...readJsonFile<object>(record), syncedAt: new Date().toISOString() });
  const out = await runOk(['run', 'mirror:filelist', '--excludeTaskDependencies']);
  assert.match(out, /walked the whole tree: Rocky-8:sync-prod at \S+ left no change journal/);
  // The walk took it in: the next run is an update again.
  assert.match(await runOk(['run', 'mirror:filelist', '--excludeTaskDependencies']), /updated from the change journal/);
});
