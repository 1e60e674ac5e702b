import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fg from 'fast-glob';
import { parse as parseYaml } from 'yaml';
import { PLUGIN_SOURCE_INPUTS } from '../../tools/nx-releng/src/plugin/targets';
import { createNxWorkspace, type NxWorkspace } from '../helpers/nx-workspace';
import { REPO_ROOT, readJsonFile, writeJsonFile } from '../helpers/workspace';

/**
 * The project's own checks of what Nx sees, with the real nx CLI in a temporary workspace:
 * - `nx show project <p> --json` and `nx show target inputs <p>:<target> --json` against the golden files in
 *   test/golden/, for a base compose (Extras-8), a SIG (SIG-cloud-8, added here) and the production-wide project;
 *   `UPDATE_GOLDEN=1 node test/run.mjs graph-golden` rewrites them;
 * - the same facts asserted on their own (config layers are inputs, no npm dependency is, metadata is there), so
 *   a failure names its cause rather than only a diff;
 * - the example CI pipelines in ci-examples/: valid YAML, and the nx commands they run, run here.
 * The affected sets per config layer are checked in sync-staging.test.ts.
 */

const GOLDEN_DIR = join(REPO_ROOT, 'test/golden');
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const CHANNELS = ['stable', 'beta', 'lookahead'];
/** The Nx configuration of each channel (-c lh is the lookahead channel, as the bash RLREL=lh). */
const CONFIGURATIONS = ['stable', 'beta', 'lh'];
const COMPOSE_TARGETS = ['compose', 'housekeeping', 'refresh', 'sign', 'sync-prod', 'sync-staging', 'updateinfo', 'verify'];
const STAGING_CHAIN = ['sign', 'sync-staging', 'updateinfo', 'verify'];
/** A SIG: stable only, and no updateinfo or sign (its repodata is published as composed). */
const SIG_CHANNELS = ['stable'];
const SIG_TARGETS = ['compose', 'housekeeping', 'refresh', 'sync-prod', 'sync-staging', 'verify'];
const SIG_CHAIN = ['sync-staging', 'verify'];
/** The plugin's files stand for one line in the golden files; the test checks the list against the tree. */
const PLUGIN_FILES = '<every file matching PLUGIN_SOURCE_INPUTS (tools/nx-releng/{src/**,bin/**,*.json})>';
const SIG = { kind: 'sig', description: 'The Cloud SIG (a SIG of the golden test)', variants: ['plus'], backend: 'local' };

let ws: NxWorkspace;

before(() => {
  ws = createNxWorkspace('golden');
  writeJsonFile(join(ws.dir, 'releases/8/SIG-cloud/compose.json'), SIG);
  commit('add SIG-cloud');
});
after(() => ws?.dispose());

function commit(message: string): void {
  ws.git(['add', '-A']);
  ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', message]);
}

function nxOk(args: string[]): string {
  const r = ws.nx(args);
  assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

/** nx's --json output (stderr, merged after it, may carry warnings). */
function nxJson<T = any>(args: string[]): T {
  const out = nxOk(args);
  return JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as T;
}

/** Machine-specific bits out: the temp workspace, the RELENG_ROOT under it, this checkout, the temp dir. */
function normalise<T>(value: T): T {
  let text = JSON.stringify(value);
  const pairs: [string, string][] = [
    [ws.relengRoot, '<releng-root>'],
    [realpathSync(ws.relengRoot), '<releng-root>'],
    [ws.dir, '<workspace>'],
    [realpathSync(ws.dir), '<workspace>'],
    [REPO_ROOT, '<repo>'],
    [tmpdir(), '<tmp>'],
  ];
  for (const [from, to] of pairs) text = text.split(JSON.stringify(from).slice(1, -1)).join(to);
  return JSON.parse(text) as T;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

function matchGolden(name: string, actual: unknown): void {
  const file = join(GOLDEN_DIR, name);
  const value = sortKeys(normalise(actual));
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  assert.ok(existsSync(file), `${file} is missing: UPDATE_GOLDEN=1 node test/run.mjs graph-golden writes it`);
  assert.deepEqual(value, readJsonFile(file), `${name} differs from the golden file (UPDATE_GOLDEN=1 rewrites it)`);
}

/** What the plugin inputs match in this workspace: the list nx must report, file by file. */
function pluginFiles(): string[] {
  return fg.sync(PLUGIN_SOURCE_INPUTS.map((p) => p.replace('{workspaceRoot}/', '')), { cwd: ws.dir, dot: true }).sort();
}

interface TargetInputs {
  project: string;
  target: string;
  files: string[];
  runtime?: string[];
  environment?: string[];
  external?: string[];
}

/** `nx show target inputs --json`, the plugin's files checked against the tree and folded into one line. */
function targetInputs(target: string): TargetInputs {
  const inputs = nxJson<TargetInputs>(['show', 'target', 'inputs', target, '--json']);
  const plugin = inputs.files.filter((f) => f.startsWith('tools/nx-releng/'));
  assert.deepEqual(plugin, pluginFiles(), `${target}: the plugin's files are not all inputs`);
  return { ...inputs, files: [...inputs.files.filter((f) => !plugin.includes(f)), PLUGIN_FILES] };
}

function assertNoNpmInputs(inputs: TargetInputs): void {
  // With `externalDependencies: []` nx lists no external input at all; without it, AllExternalDependencies.
  assert.deepEqual(inputs.external ?? [], [], `${inputs.project}:${inputs.target} hashes npm packages: ${inputs.external}`);
}

for (const [project, kind, root] of [
  ['Extras-8', 'base', 'releases/8/Extras'],
  ['SIG-cloud-8', 'sig', 'releases/8/SIG-cloud'],
] as const) {
  test(`${project} (${kind}): nx show project matches the golden file; metadata and target descriptions are there`, () => {
    const shown = nxJson(['show', 'project', project, '--json']);
    assert.equal(shown.root, root);
    assert.deepEqual(shown.tags, ['type:compose', 'major:8', `kind:${kind}`]);
    assert.equal(shown.metadata.releng.major, '8');
    assert.equal(shown.metadata.releng.kind, kind);
    const channels = kind === 'sig' ? SIG_CHANNELS : CHANNELS;
    assert.deepEqual(shown.metadata.releng.channels, channels);
    assert.deepEqual(Object.keys(shown.targets).sort(), kind === 'sig' ? SIG_TARGETS : COMPOSE_TARGETS);
    assert.ok(shown.metadata.technologies.includes('rpm'), `${project} technologies: ${shown.metadata.technologies}`);
    assert.deepEqual(shown.metadata.targetGroups['Staging chain'], kind === 'sig' ? SIG_CHAIN : ['sync-staging', 'updateinfo', 'sign', 'verify']);
    assert.deepEqual(shown.metadata.targetGroups['Push to production'], ['sync-prod']);
    // verify waits for the updateinfo of the composes its repoclosure reads; a SIG has no repoclosure.
    assert.deepEqual(shown.targets.verify.dependsOn, kind === 'sig' ? ['sync-staging'] : ['sign', '^updateinfo']);
    for (const [name, target] of Object.entries<any>(shown.targets)) {
      assert.ok(target.metadata?.description?.length > 10, `${project}:${name} has no description`);
      assert.ok(target.metadata?.technologies?.length > 0, `${project}:${name} has no technologies`);
      // A base compose's sync-staging also has the minor-release configuration.
      const configurations = kind === 'sig' ? SIG_CHANNELS : name === 'sync-staging' ? [...CONFIGURATIONS, 'minor-release'] : CONFIGURATIONS;
      assert.deepEqual(Object.keys(target.configurations ?? {}), configurations, `${project}:${name} configurations`);
    }
    matchGolden(`${project}.project.json`, shown);
  });

  test(`${project} (${kind}): sync-staging inputs are the three config layers, the plugin, RELENG_ROOT, the state; no npm`, () => {
    const inputs = targetInputs(`${project}:sync-staging`);
    for (const f of ['releases/common.json', 'releases/8/release.json', `${root}/compose.json`]) {
      assert.ok(inputs.files.includes(f), `${f} is not an input of ${project}:sync-staging: ${inputs.files}`);
    }
    assert.ok(!inputs.files.some((f) => f.startsWith('releases/8/') && !f.startsWith(`${root}/`) && f !== 'releases/8/release.json'),
      `another compose's config is an input of ${project}: ${inputs.files}`);
    assertNoNpmInputs(inputs);
    assert.ok(inputs.environment?.includes('RELENG_ROOT'), `${inputs.environment}`);
    assert.deepEqual(inputs.runtime, [`node tools/nx-releng/bin/releng-state.js sync-staging ${project}`]);
    matchGolden(`${project}.sync-staging.inputs.json`, inputs);
  });

  test(`${project} (${kind}): compose is cached on its config layers, the plugin, RELENG_ROOT and its runtime input`, () => {
    const inputs = targetInputs(`${project}:compose`);
    for (const f of ['releases/common.json', 'releases/8/release.json', `${root}/compose.json`]) {
      assert.ok(inputs.files.includes(f), `${f} is not an input of ${project}:compose: ${inputs.files}`);
    }
    assertNoNpmInputs(inputs);
    assert.ok(inputs.environment?.includes('RELENG_ROOT'), `${inputs.environment}`);
    // The pungi config, the package set and the latest compose's STATUS: hashed when the task is, not here.
    assert.deepEqual(inputs.runtime, [`node tools/nx-releng/bin/releng-state.js compose ${project}`]);
    matchGolden(`${project}.compose.inputs.json`, inputs);
  });
}

test('mirror: nx show project and filelist inputs match the golden files', () => {
  const shown = nxJson(['show', 'project', 'mirror', '--json']);
  assert.equal(shown.root, 'releases');
  assert.deepEqual(shown.tags, ['type:production']);
  assert.ok(shown.metadata?.description, 'mirror has no description');
  assert.deepEqual(Object.keys(shown.targets).sort(), ['filelist', 'hardlink', 'status']);
  assert.deepEqual(shown.metadata.targetGroups, { 'Push to production': ['hardlink', 'filelist'] });
  for (const [name, target] of Object.entries<any>(shown.targets)) {
    assert.ok(target.metadata?.description?.length > 10, `mirror:${name} has no description`);
    assert.ok(target.metadata?.technologies?.length > 0, `mirror:${name} has no technologies`);
  }
  matchGolden('mirror.project.json', shown);

  const inputs = targetInputs('mirror:filelist');
  assert.ok(inputs.files.includes('releases/common.json'), `${inputs.files}`);
  assert.ok(inputs.files.includes('releases/8/release.json'), `${inputs.files}`);
  assert.ok(!inputs.files.some((f) => f.endsWith('/compose.json')), `a compose's config is an input of filelist: ${inputs.files}`);
  assertNoNpmInputs(inputs);
  matchGolden('mirror.filelist.inputs.json', inputs);
});

test('the npm check can fail: a target without externalDependencies: [] hashes every npm package', () => {
  const dir = join(ws.dir, 'tools/control');
  writeJsonFile(join(dir, 'project.json'), {
    name: 'control',
    targets: { x: { executor: '@nx-releng/plugin:sync-staging', inputs: ['{projectRoot}/**/*'] } },
  });
  try {
    const inputs = nxJson<TargetInputs>(['show', 'target', 'inputs', 'control:x', '--json']);
    assert.deepEqual(inputs.external, ['AllExternalDependencies']);
    assert.throws(() => assertNoNpmInputs(inputs), /hashes npm packages/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// ci-examples/: parsed as YAML (the `yaml` package nx itself depends on), their nx commands checked and run here.

const AFFECTED = ['affected', '-t', 'verify', '--base="$BASE"', '--head=HEAD', '--output-style=static'];
const GRAPH = ['graph', '--file=dist/graph/index.html'];

function loadYaml(name: string): any {
  const doc = parseYaml(readFileSync(join(REPO_ROOT, 'ci-examples', name), 'utf8'), { prettyErrors: true });
  assert.ok(doc && typeof doc === 'object', `${name} is not a YAML mapping`);
  return doc;
}

/** Every `npx nx ...` line of some shell text, as its words. */
function nxCommands(scripts: string[]): string[][] {
  return scripts
    .flatMap((s) => s.split('\n'))
    .map((l) => l.trim())
    .filter((l) => /(^|\s)npx nx\s/.test(l))
    .map((l) => l.slice(l.indexOf('npx nx ') + 'npx nx '.length).split(/\s+/));
}

function gitlab() {
  const doc = loadYaml('gitlab-ci.yml');
  const jobs = Object.entries<any>(doc).filter(([, v]) => v && typeof v === 'object' && 'script' in v);
  const scripts = (job: any): string[] => [...(job.before_script ?? []), ...job.script, ...(job.after_script ?? [])];
  return { doc, jobs: Object.fromEntries(jobs), scripts: jobs.flatMap(([, j]) => scripts(j)) };
}

function github() {
  const doc = loadYaml('github-actions.yml');
  const steps = Object.values<any>(doc.jobs).flatMap((j) => j.steps as any[]);
  return { doc, steps, scripts: steps.filter((s) => typeof s.run === 'string').map((s) => s.run as string) };
}

/** The pipeline's own line that picks the base, run in the temp workspace. */
function resolveBase(line: string, tag: string): string {
  const r = spawnSync('bash', ['-euo', 'pipefail', '-c', `${line}\nprintf %s "\${BASE:-\${base:-}}"`], {
    cwd: ws.dir,
    encoding: 'utf8',
    env: { ...process.env, LAST_GREEN_TAG: tag },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('ci-examples: valid YAML whose nx commands are affected -t verify from the last green commit, and the graph', () => {
  const gl = gitlab();
  assert.deepEqual(nxCommands(gl.scripts), [AFFECTED, GRAPH]);
  assert.equal(gl.doc.variables.GIT_DEPTH, '0', 'nx affected needs the whole history');
  assert.equal(gl.doc.variables.LAST_GREEN_TAG, 'releng/last-green');
  const rules = gl.doc.workflow.rules as any[];
  assert.ok(rules.some((r) => r.changes?.includes('releases/**/*')), 'no rule for a change to releases/');
  assert.ok(rules.some((r) => /schedule/.test(r.if)), 'no rule for a schedule');
  assert.ok(gl.jobs.staging.artifacts.paths.includes('dist/graph/'));
  assert.equal(gl.jobs.staging.artifacts.when, 'always');
  assert.ok(gl.jobs['mark-green'].script.some((l: string) => /git tag -f "\$LAST_GREEN_TAG" "\$CI_COMMIT_SHA"/.test(l)));
  assert.equal(gl.doc.stages.indexOf('mark-green'), gl.doc.stages.indexOf(gl.jobs.staging.stage) + 1);

  const gh = github();
  assert.deepEqual(nxCommands(gh.scripts), [AFFECTED, GRAPH]);
  assert.ok(gh.doc.on.push.paths.includes('releases/**'), 'no trigger on a change to releases/');
  assert.ok(gh.doc.on.schedule?.length > 0, 'no schedule');
  assert.equal(gh.doc.env.LAST_GREEN_TAG, 'releng/last-green');
  const checkout = gh.steps.find((s) => String(s.uses).startsWith('actions/checkout@'));
  assert.equal(checkout?.with?.['fetch-depth'], 0, 'nx affected needs the whole history');
  const upload = gh.steps.find((s) => String(s.uses).startsWith('actions/upload-artifact@'));
  assert.match(upload?.with?.path, /^dist\/graph\/$/m);
  assert.equal(upload?.if, 'always()');
  const affected = gh.steps.find((s) => /npx nx affected/.test(s.run ?? ''));
  assert.equal(affected.env.BASE, '${{ steps.base.outputs.sha }}');
  // The tag moves last, and only when every step before it passed (no `if:`).
  const last = gh.steps[gh.steps.length - 1];
  assert.match(last.run, /git tag -f "\$LAST_GREEN_TAG" "\$GITHUB_SHA"/);
  assert.equal(last.if, undefined);
});

test('ci-examples: their base lines and nx commands run: every compose before the first green run, then only what changed', () => {
  const glLine = (gitlab().jobs.staging.script as string[]).find((l) => l.startsWith('BASE='));
  const ghLine = github().steps.find((s) => s.id === 'base')?.run.split('\n').find((l: string) => l.startsWith('base='));
  assert.ok(glLine && ghLine, 'a base line is missing');
  const tag = 'releng/last-green';
  const graphFile = join(ws.dir, 'dist/ci-affected.json');
  // The pipeline's affected command, with --graph added so nothing runs: the tasks it would run.
  const wouldRun = (base: string) => {
    const args = AFFECTED.map((a) => a.replace('"$BASE"', base)).filter((a) => a !== '--output-style=static');
    nxOk([...args, `--graph=${graphFile}`]);
    return Object.keys(readJsonFile<any>(graphFile).tasks.tasks).sort();
  };
  const chain = (projects: string[]) =>
    projects.flatMap((p) => (p.startsWith('SIG-') ? SIG_CHAIN : STAGING_CHAIN).map((t) => `${p}:${t}`)).sort();

  // No tag yet: both pipelines fall back to the empty tree, and every compose's staging chain is affected.
  const first = resolveBase(glLine, tag);
  assert.equal(resolveBase(ghLine, tag), first);
  assert.equal(first, ws.git(['hash-object', '-t', 'tree', '/dev/null']).trim());
  assert.deepEqual(wouldRun(first), chain(['Extras-8', 'Rocky-8', 'Rocky-devel-8', 'SIG-cloud-8', 'SIG-kernel-8', 'SIG-kmod-8']));

  // Green at HEAD: the exact command runs, and runs nothing.
  ws.git(['tag', '-f', tag, 'HEAD']);
  const green = resolveBase(glLine, tag);
  assert.equal(green, ws.git(['rev-parse', 'HEAD']).trim());
  assert.equal(resolveBase(ghLine, tag), green);
  assert.match(nxOk(AFFECTED.map((a) => a.replace('"$BASE"', green))), /No tasks were run/);

  // A change to one compose after the green commit: only its chain.
  const sig = join(ws.dir, 'releases/8/SIG-cloud/compose.json');
  writeJsonFile(sig, { ...SIG, description: 'The Cloud SIG (edited)' });
  commit('edit SIG-cloud');
  assert.deepEqual(wouldRun(resolveBase(glLine, tag)), chain(['SIG-cloud-8']));

  // The graph command writes the static site the pipelines publish.
  nxOk(GRAPH);
  assert.ok(existsSync(join(ws.dir, 'dist/graph/index.html')));
  assert.ok(existsSync(join(ws.dir, 'dist/graph/static/main.js')));
});
