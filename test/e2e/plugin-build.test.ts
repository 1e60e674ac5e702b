import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildIsCurrent, sourceDigest, stampFile } from '../../tools/nx-releng/src/build-stamp';
import { createNxWorkspace, type NxWorkspace } from '../helpers/nx-workspace';
import { removeDir, tempDir } from '../helpers/workspace';

/**
 * Nx loads the plugin, its executors and the runtime inputs from tools/nx-releng/dist (bin/build.js), plain
 * JavaScript, never through a TypeScript loader; and it refuses a build that src/ has moved past, since Nx hashes
 * src/ and a stale build would run, and be cached, under the new hash.
 */

let ws: NxWorkspace;
let hook: string;
let log: string;

/** Every node process nx starts (nx, runtime inputs, executors) records the plugin modules and loaders it loaded. */
const RECORDER = `
const { appendFileSync } = require('node:fs');
process.on('exit', () => {
  const mods = Object.keys(require.cache).filter((f) => /\\/(tools\\/nx-releng|@swc-node|@swc\\/core|zod|yaml|@xmldom)\\//.test(f));
  appendFileSync(process.env.RECORD_LOG, JSON.stringify({ argv: process.argv.slice(1, 4), mods }) + '\\n');
});
`;

before(() => {
  ws = createNxWorkspace('e2e-plugin-build');
  hook = join(ws.relengRoot, 'recorder.js');
  log = join(ws.relengRoot, 'loaded.jsonl');
  writeFileSync(hook, RECORDER);
  // Models kept by runs in the repository's own workspace came along with the build: start without them.
  rmSync(join(ws.dir, 'tools/nx-releng/dist/.models'), { recursive: true, force: true });
});

after(() => ws.dispose());

interface Loaded {
  argv: string[];
  mods: string[];
}

/** What each process of one nx command loaded; `mayFail`: the command may fail once its tasks are hashed. */
function recorded(args: string[], mayFail = false): Loaded[] {
  writeFileSync(log, '');
  const r = ws.nx([...args, '--output-style=static'], { NODE_OPTIONS: `--require ${hook}`, RECORD_LOG: log });
  if (!mayFail) assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
  return readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Loaded);
}

test('the plugin, an executor and a runtime input load built JavaScript from dist/, no TypeScript loader', () => {
  // housekeeping --dryRun runs an executor to the end; sync-staging hashes its runtime input (releng-state.js)
  // and then fails, as there is no compose to sync; a generator with --dry-run writes nothing.
  const first = recorded(['run', 'Extras-8:housekeeping', '--dryRun']);
  const runs = [
    ...first,
    ...recorded(['run', 'Extras-8:sync-staging'], true),
    // A base compose's runtime input also digests its module yaml files.
    ...recorded(['run', 'Rocky-8:sync-staging'], true),
    ...recorded(['g', '@nx-releng/plugin:release', '--major=8', '--to=rc', '--dry-run']),
  ];
  const mods = runs.flatMap((r) => r.mods);
  const plugin = mods.filter((m) => m.includes('/tools/nx-releng/'));
  for (const built of ['plugin/create-nodes.js', 'executors/housekeeping/executor.js', 'lib/cache/runtime-inputs.js', 'generators/release/generator.js']) {
    assert.ok(plugin.some((m) => m.endsWith(`/tools/nx-releng/dist/${built}`)), `dist/${built} was not loaded:\n${plugin.join('\n')}`);
  }
  assert.deepEqual(plugin.filter((m) => !/\/tools\/nx-releng\/(dist|bin)\/.*\.js$/.test(m)), [], 'plugin modules loaded from outside dist/ and bin/');
  assert.deepEqual(mods.filter((m) => /@swc/.test(m)), [], 'a TypeScript loader was loaded');
  const state = runs.filter((r) => r.argv.some((a) => a.endsWith('releng-state.js')));
  assert.equal(state.length, 2, `releng-state.js ran ${state.length} times`);
  // The first command validated the models (zod) and kept them; the runtime input and the next graph read them.
  const zod = (loaded: Loaded[]) => loaded.flatMap((r) => r.mods).filter((m) => m.includes('/zod/'));
  assert.notDeepEqual(zod(first), [], 'the first command did not validate (the checks below could not fail)');
  assert.deepEqual(zod(state), [], 'the runtime input loaded zod');
  // Nor a metadata parser: the runtime input hashes the module yaml's bytes; the sync parses it.
  const parsers = (loaded: Loaded[]) => loaded.flatMap((r) => r.mods).filter((m) => /\/node_modules\/(yaml|@xmldom)\//.test(m));
  assert.notDeepEqual(parsers(runs), [], 'no command loaded a parser (the check below could not fail)');
  assert.deepEqual(parsers(state), [], 'the runtime input loaded a metadata parser');
  const graph = zod(recorded(['show', 'projects']));
  assert.deepEqual(graph, [], 'nx show projects loaded zod');
});

test('a kept model is never used for a changed layer, by the graph or a runtime input', () => {
  const state = () => spawnSync(process.execPath, ['tools/nx-releng/bin/releng-state.js', 'sync-staging', 'Extras-8'], {
    cwd: ws.dir,
    encoding: 'utf8',
    env: { ...process.env, RELENG_ROOT: ws.relengRoot },
  });
  const first = state();
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /mnt\/compose\/8\/latest-Extras-8/);
  const commonFile = join(ws.dir, 'releases/common.json');
  const common = readFileSync(commonFile, 'utf8');
  writeFileSync(commonFile, common.replace('"compose": "/mnt/compose"', '"compose": "/srv/compose"'));
  const moved = state();
  assert.equal(moved.status, 0, moved.stderr);
  assert.match(moved.stdout, /srv\/compose\/8\/latest-Extras-8/);
  const composeFile = join(ws.dir, 'releases/8/Extras/compose.json');
  const compose = readFileSync(composeFile, 'utf8');
  writeFileSync(composeFile, compose.replace('"extras"', '"no-such-repo"'));
  const bad = state();
  assert.notEqual(bad.status, 0, bad.stdout);
  assert.match(bad.stderr, /releases\/8\/Extras\/compose.json: field variants.0: unknown repository 'no-such-repo'/);
  assert.match(bad.stdout, /^state unknown /);
  const graph = ws.nx(['show', 'projects']);
  assert.notEqual(graph.status, 0, graph.output);
  assert.match(graph.output, /releases\/8\/Extras\/compose.json: field variants.0: unknown repository 'no-such-repo'/);
  writeFileSync(commonFile, common);
  writeFileSync(composeFile, compose);
  assert.equal(state().stdout, first.stdout, 'back to the first model');
});

test('a build that src/ has moved past is refused by name until bin/build.js rebuilds it', () => {
  appendFileSync(join(ws.dir, 'tools/nx-releng/src/errors.ts'), '// an edit after the build\n');
  const stale = ws.nx(['show', 'projects']);
  assert.notEqual(stale.status, 0, stale.output);
  assert.match(stale.output, /tools\/nx-releng\/dist was not built from the current tools\/nx-releng\/src; run `node tools\/nx-releng\/bin\/build.js`/);
  const build = spawnSync(process.execPath, ['tools/nx-releng/bin/build.js'], { cwd: ws.dir, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const fresh = ws.nx(['show', 'projects']);
  assert.equal(fresh.status, 0, fresh.output);
  assert.match(fresh.output, /^Extras-8$/m);
});

test('buildIsCurrent: any added, changed or removed file under src/ makes a build stale', () => {
  const pkg = tempDir('build-stamp');
  try {
    const dist = join(pkg, 'dist');
    mkdirSync(join(pkg, 'src/lib'), { recursive: true });
    mkdirSync(dist);
    writeFileSync(join(pkg, 'src/a.ts'), 'export const a = 1;\n');
    writeFileSync(join(pkg, 'src/lib/b.js'), 'exports.b = 2;\n');
    assert.equal(buildIsCurrent(dist, pkg), false, 'no stamp yet');
    const stamp = () => writeFileSync(stampFile(dist), `${sourceDigest(pkg)}\n`);
    stamp();
    assert.equal(buildIsCurrent(dist, pkg), true);
    for (const change of [
      () => writeFileSync(join(pkg, 'src/a.ts'), 'export const a = 2;\n'),
      () => writeFileSync(join(pkg, 'src/lib/c.ts'), ''),
      () => removeDir(join(pkg, 'src/lib/c.ts')),
      () => writeFileSync(join(pkg, 'src/lib/b.js'), 'exports.b = 3;\n'),
    ]) {
      change();
      assert.equal(buildIsCurrent(dist, pkg), false, `after ${change}`);
      stamp();
      assert.equal(buildIsCurrent(dist, pkg), true);
    }
    assert.deepEqual(readdirSync(join(pkg, 'src/lib')), ['b.js']);
  } finally {
    removeDir(pkg);
  }
});
