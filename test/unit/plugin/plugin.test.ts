import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createNodes } from '../../../tools/nx-releng/src/plugin/create-nodes';
import { addRelease9, copyReleases, removeDir, tempDir } from '../../helpers/workspace';

async function infer(root: string, files: string[]) {
  const [glob, fn] = createNodes;
  assert.equal(glob, '{releases/common.json,releases/*/*/compose.json}');
  const results = await fn(files, undefined, { workspaceRoot: root, nxJsonConfiguration: {} });
  return Object.fromEntries(results.map(([file, r]) => [file, Object.values(r.projects ?? {})[0]]));
}

test('one project per compose, named like the latest link, with compose and sync-staging targets', async () => {
  const root = tempDir('plugin');
  try {
    copyReleases(root);
    addRelease9(root, { 'SIG-cloud': { kind: 'sig', variants: ['extras'], backend: 'local' } });
    const files = [
      'releases/8/Rocky/compose.json',
      'releases/8/Extras/compose.json',
      'releases/8/Rocky-devel/compose.json',
      'releases/9/Rocky/compose.json',
      'releases/9/SIG-cloud/compose.json',
    ];
    const projects = await infer(root, files);
    const byName = Object.fromEntries(Object.values(projects).map((p) => [p?.name, p]));
    assert.deepEqual(Object.keys(byName).sort(), ['Extras-8', 'Rocky-8', 'Rocky-9', 'Rocky-devel-8', 'SIG-cloud-9']);
    const rocky8 = byName['Rocky-8'];
    assert.ok(rocky8);
    assert.equal(rocky8.root, 'releases/8/Rocky');
    assert.deepEqual(rocky8.tags, ['type:compose', 'major:8', 'kind:base']);
    assert.deepEqual(byName['SIG-cloud-9']?.tags, ['type:compose', 'major:9', 'kind:sig']);
    const sync = rocky8.targets?.['sync-staging'];
    assert.ok(sync);
    // Syncing never starts a compose.
    assert.equal(sync.dependsOn, undefined);
    assert.equal(sync.cache, true);
    assert.deepEqual(sync.outputs, ['{workspaceRoot}/dist/releng/{projectName}/sync-staging']);
    assert.deepEqual(Object.keys(sync.configurations ?? {}), ['stable', 'beta', 'lh', 'minor-release']);
    assert.deepEqual(sync.configurations?.['minor-release'], { channel: 'stable', minorRelease: true });
    assert.deepEqual(Object.keys(byName['Rocky-9']?.targets?.['sync-staging']?.configurations ?? {}), ['stable', 'beta', 'minor-release']);
    // SIGs are stable only and have no minor release of their own; other targets have the channels only.
    assert.deepEqual(Object.keys(byName['SIG-cloud-9']?.targets?.['sync-staging']?.configurations ?? {}), ['stable']);
    assert.deepEqual(Object.keys(rocky8.targets?.['verify']?.configurations ?? {}), ['stable', 'beta', 'lh']);
    const inputs = JSON.stringify(sync.inputs);
    for (const expected of [
      '{workspaceRoot}/releases/common.json',
      '{workspaceRoot}/releases/8/release.json',
      '{projectRoot}/**/*',
      '{workspaceRoot}/tools/nx-releng/src/**/*',
      '{"env":"RELENG_ROOT"}',
      '{"externalDependencies":[]}',
      '{"runtime":"node tools/nx-releng/bin/releng-state.js sync-staging Rocky-8"}',
    ]) {
      assert.ok(inputs.includes(expected), `sync-staging inputs lack ${expected}: ${inputs}`);
    }
    // Errata are asked for on every run (Apollo publishes after the compose); sign and verify are cached on its manifest.
    assert.equal(rocky8.targets?.updateinfo?.cache, false);
    for (const step of ['sign', 'verify']) {
      assert.equal(rocky8.targets?.[step]?.cache, true, step);
      assert.ok(JSON.stringify(rocky8.targets?.[step]?.inputs).includes('"dependentTasksOutputFiles":"**/manifest.json"'), step);
    }
    // compose is skipped when what it is made from did not change (hashed by a runtime input, not here).
    const compose = rocky8.targets?.compose;
    assert.equal(compose?.cache, true);
    assert.equal(compose?.dependsOn, undefined);
    assert.ok(
      JSON.stringify(compose?.inputs).includes('{"runtime":"node tools/nx-releng/bin/releng-state.js compose Rocky-8"}'),
      JSON.stringify(compose?.inputs),
    );
    assert.deepEqual((rocky8.metadata as any).releng, {
      major: '8',
      short: 'Rocky',
      kind: 'base',
      backend: 'pungi',
      channels: ['stable', 'beta', 'lookahead'],
    });
  } finally {
    removeDir(root);
  }
});

test('an invalid compose.json fails graph creation with the file and field', async () => {
  const root = tempDir('plugin');
  try {
    copyReleases(root);
    addRelease9(root, { Extras: { kind: 'base', variants: ['extras'], backend: 'koji' } });
    await assert.rejects(
      async () => infer(root, ['releases/9/Extras/compose.json']),
      /releases\/9\/Extras\/compose\.json: invalid configuration\n {2}field backend/,
    );
  } finally {
    removeDir(root);
  }
});
