import assert from 'node:assert/strict';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CreateDependenciesContext, ProjectConfiguration } from '@nx/devkit';
import fg from 'fast-glob';
import { loadAllComposeModels, loadComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import { channelRelease, resolveRoots, stagingPaths } from '../../../tools/nx-releng/src/layout/paths';
import { verifyState } from '../../../tools/nx-releng/src/lib/cache/runtime-inputs';
import { createNodes } from '../../../tools/nx-releng/src/plugin/create-nodes';
import { createDependencies, releaseEdges } from '../../../tools/nx-releng/src/plugin/dependencies';
import { REPO_ROOT, addRelease9, copyReleases, removeDir, tempDir, writeJsonFile } from '../../helpers/workspace';

async function inferAll(root: string, files: string[], options?: unknown) {
  const [glob, fn] = createNodes;
  // Every common.json and compose.json: the model's dir is an option, known only when the function runs.
  assert.equal(glob, '**/{common,compose}.json');
  const results = await fn(files, options as never, { workspaceRoot: root, nxJsonConfiguration: {} });
  return Object.fromEntries(results.map(([file, r]) => [file, Object.values(r.projects ?? {})[0]]));
}

const infer = (root: string, files: string[]) => inferAll(root, files);

/** The inferred projects by name. */
function byNameOf(projects: Awaited<ReturnType<typeof inferAll>>): Record<string, ProjectConfiguration> {
  return Object.fromEntries(Object.values(projects).map((p) => [p?.name, p as ProjectConfiguration]));
}

/** What Nx hands createDependencies: the projects createNodes made (the edges need no file map: they are implicit). */
async function dependencyContext(root: string, options?: unknown): Promise<CreateDependenciesContext> {
  const inferred = await inferAll(root, fg.sync('**/{common,compose}.json', { cwd: root }), options);
  const projects: Record<string, ProjectConfiguration> = {};
  for (const p of Object.values(inferred)) if (p?.name) projects[p.name] = p as ProjectConfiguration;
  const fileMap = { projectFileMap: {}, nonProjectFiles: [] };
  return { projects, externalNodes: {}, nxJsonConfiguration: {}, fileMap, filesToProcess: fileMap, workspaceRoot: root };
}

/** A temp workspace with the shipped releases/ and a release 9 with `composes`, removed after `body`. */
async function withRelease9(composes: Record<string, unknown>, body: (root: string) => Promise<void>): Promise<void> {
  const root = tempDir('plugin');
  try {
    copyReleases(root);
    addRelease9(root, composes);
    await body(root);
  } finally {
    removeDir(root);
  }
}

const edgesOf = (deps: { source: string; target: string }[]) => deps.map((d) => `${d.source} -> ${d.target}`).sort();

/** The project edges the shipped release model implies (release.json repoclosure, mirror on every compose). */
const SHIPPED_EDGES = [
  'Extras-8 -> Rocky-8',
  'Rocky-devel-8 -> Rocky-8',
  'mirror -> Extras-8',
  'mirror -> Rocky-8',
  'mirror -> Rocky-devel-8',
  'mirror -> SIG-kernel-8',
  'mirror -> SIG-kmod-8',
];

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
    // ...hashed after refresh brought the checkouts to their branch (refresh gets --offline and --backend).
    assert.deepEqual(compose?.dependsOn, [{ target: 'refresh', params: 'forward' }]);
    assert.equal(rocky8.targets?.refresh?.cache, false);
    assert.ok(
      JSON.stringify(compose?.inputs).includes(
        '{"dependentTasksOutputFiles":"**/manifest.json","transitive":false},{"runtime":"node tools/nx-releng/bin/releng-state.js compose Rocky-8"}',
      ),
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

test('every target has a description and technologies; targets with options have help; the chain and the push are groups', async () =>
  withRelease9({ 'SIG-cloud': { kind: 'sig', variants: ['extras'], backend: 'local' } }, async (root) => {
    const byName = byNameOf(await inferAll(root, fg.sync('releases/**/{common,compose}.json', { cwd: root })));
    assert.deepEqual(Object.keys(byName).sort(), ['Extras-8', 'Rocky-8', 'Rocky-9', 'Rocky-devel-8', 'SIG-cloud-9', 'SIG-kernel-8', 'SIG-kmod-8', 'mirror']);
    for (const p of Object.values(byName)) {
      assert.ok(p?.metadata?.description, `${p?.name} has no description`);
      for (const [name, t] of Object.entries(p?.targets ?? {})) {
        const m = t.metadata;
        assert.ok(m?.description && !m.description.includes('\n'), `${p?.name}:${name} has no one-line description`);
        assert.ok(m?.technologies?.length, `${p?.name}:${name} has no technologies`);
        for (const tech of m?.technologies ?? []) assert.ok(p?.metadata?.technologies?.includes(tech), `${p?.name} lacks ${tech}`);
      }
    }
    const rocky8 = byName['Rocky-8'];
    assert.deepEqual(rocky8?.metadata?.technologies, ['rpm', 'git', 'pungi', 'koji', 'rsync', 'createrepo_c', 'gpg', 'dnf', 'mktorrent']);
    // help where the target takes options beyond the channel: nx lists them from the executor's schema.
    const helped = Object.entries(rocky8?.targets ?? {}).filter(([, t]) => t.metadata?.help).map(([n]) => n).sort();
    assert.deepEqual(helped, ['compose', 'housekeeping', 'refresh', 'sync-prod', 'sync-staging']);
    assert.deepEqual(rocky8?.targets?.['sync-staging']?.metadata?.help, {
      command: 'npx nx run Rocky-8:sync-staging --help',
      example: { options: { dryRun: true } },
    });
    assert.deepEqual(rocky8?.metadata?.targetGroups, {
      'Staging chain': ['sync-staging', 'updateinfo', 'sign', 'verify'],
      'Push to production': ['sync-prod'],
    });
    assert.deepEqual(byName['SIG-cloud-9']?.metadata?.targetGroups, {
      'Staging chain': ['sync-staging', 'verify'],
      'Push to production': ['sync-prod'],
    });
    assert.deepEqual(byName['SIG-cloud-9']?.targets?.['sync-staging']?.metadata?.technologies, ['rpm', 'rsync']);
    assert.deepEqual(byName['mirror']?.metadata?.targetGroups, { 'Push to production': ['hardlink', 'filelist'] });
    // verify waits for the updateinfo of the composes its repoclosure reads (the project graph's edges); a SIG has none.
    assert.deepEqual(rocky8?.targets?.verify?.dependsOn, ['sign', '^updateinfo']);
    assert.deepEqual(byName['SIG-cloud-9']?.targets?.verify?.dependsOn, ['sync-staging']);
  }));

test('project edges: mirror on every compose, Extras-8 and Rocky-devel-8 on Rocky-8 (repoclosure), none for a SIG', async () =>
  withRelease9(
    {
      Extras: { kind: 'base', variants: ['extras'], backend: 'local' },
      'SIG-cloud': { kind: 'sig', variants: ['extras'], backend: 'local' },
    },
    async (root) => {
      const ctx = await dependencyContext(root);
      const deps = await createDependencies(undefined, ctx);
      assert.deepEqual(edgesOf(deps), [
        'Extras-8 -> Rocky-8',
        'Extras-9 -> Rocky-9',
        'Rocky-devel-8 -> Rocky-8',
        'mirror -> Extras-8',
        'mirror -> Extras-9',
        'mirror -> Rocky-8',
        'mirror -> Rocky-9',
        'mirror -> Rocky-devel-8',
        'mirror -> SIG-cloud-9',
        'mirror -> SIG-kernel-8',
        'mirror -> SIG-kmod-8',
      ]);
      // Implicit edges (computed afresh each time: they come from several files).
      assert.ok(deps.every((d) => d.type === 'implicit' && !('sourceFile' in d)), JSON.stringify(deps));
      // An edge to a project Nx does not have (left out by nx.json include/exclude, say) is refused by name.
      const { ['Rocky-8']: _gone, ...rest } = ctx.projects;
      await assert.rejects(
        async () => createDependencies(undefined, { ...ctx, projects: rest }),
        /releases\/8\/Extras\/compose\.json: Extras-8 depends on Rocky-8, which is not a project of this workspace/,
      );
    },
  ));

test('project edges: a repository the repoclosure map needs that no compose has is an error naming release.json', () => {
  const models = loadAllComposeModels(REPO_ROOT).filter((m) => m.project !== 'Rocky-8');
  assert.throws(
    () => releaseEdges(models, 'releases/common.json'),
    /releases\/8\/release\.json: field repoclosure\.(extras|devel): 'BaseOS' is needed by (Extras|Rocky-devel)-8 \(variant '(extras|devel)' of releases\/8\/(Extras|Rocky-devel)\/compose\.json\), but no compose of major 8 has it \(composes: Extras-8, Rocky-devel-8, SIG-kernel-8, SIG-kmod-8\)/,
  );
  // The shipped model: exactly the edges it implies.
  assert.deepEqual(edgesOf(releaseEdges(loadAllComposeModels(REPO_ROOT), 'releases/common.json')), SHIPPED_EDGES);
});

test('the releasesDir option moves the model: projects, inputs, the runtime input, the edges; other dirs are ignored', async () => {
  const root = tempDir('plugin');
  try {
    mkdirSync(join(root, 'config'), { recursive: true });
    cpSync(join(REPO_ROOT, 'releases'), join(root, 'config/rel'), { recursive: true });
    // A decoy in the default place: with the option set, it is not the model.
    writeJsonFile(join(root, 'releases/8/Decoy/compose.json'), { kind: 'base' });
    const options = { releasesDir: 'config/rel' };
    const byName = byNameOf(await inferAll(root, fg.sync('**/{common,compose}.json', { cwd: root }), options));
    assert.deepEqual(Object.keys(byName).sort(), ['Extras-8', 'Rocky-8', 'Rocky-devel-8', 'SIG-kernel-8', 'SIG-kmod-8', 'mirror']);
    assert.equal(byName['Rocky-8']?.root, 'config/rel/8/Rocky');
    assert.equal(byName['mirror']?.root, 'config/rel');
    const sync = JSON.stringify(byName['Rocky-8']?.targets?.['sync-staging']?.inputs);
    for (const expected of [
      '{workspaceRoot}/config/rel/common.json',
      '{workspaceRoot}/config/rel/8/release.json',
      '{"runtime":"node tools/nx-releng/bin/releng-state.js sync-staging Rocky-8 config/rel"}',
    ]) {
      assert.ok(sync.includes(expected), `sync-staging inputs lack ${expected}: ${sync}`);
    }
    assert.ok(JSON.stringify(byName['mirror']?.targets?.filelist?.inputs).includes('{workspaceRoot}/config/rel/*/release.json'));
    // The runtime input finds the moved model.
    assert.match(await verifyState(root, 'Extras-8', join(root, 'mnt'), 'config/rel'), /^stable: not synced$/m);
    const deps = await createDependencies(options, await dependencyContext(root, options));
    assert.deepEqual(edgesOf(deps), SHIPPED_EDGES);
  } finally {
    removeDir(root);
  }
});

test('bad plugin options are refused naming nx.json and what is allowed', async () => {
  for (const [options, error] of [
    [{ releasesDir: '../elsewhere' }, /nx\.json: plugins entry @nx-releng\/plugin, options\.releasesDir: "\.\.\/elsewhere" is not a workspace-relative dir/],
    [{ releasesDir: '/abs' }, /options\.releasesDir: "\/abs" is not a workspace-relative dir/],
    [{ releasesDir: 'rel/' }, /options\.releasesDir: "rel\/" is not a workspace-relative dir/],
    [{ releasesDir: 'rel/*' }, /options\.releasesDir: "rel\/\*" is not a workspace-relative dir/],
    [{ releasesdir: 'rel' }, /nx\.json: plugins entry @nx-releng\/plugin, options: unknown option 'releasesdir'; allowed: releasesDir/],
    ['releases', /options: must be an object/],
  ] as const) {
    await assert.rejects(async () => inferAll(REPO_ROOT, ['releases/common.json'], options), error);
  }
});

test("verify's hash sees the repodata of the composes it waits for: Rocky-8's BaseOS changes it, Rocky-devel-8's devel does not", async () => {
  const root = tempDir('plugin');
  try {
    copyReleases(root);
    const relengRoot = join(root, 'mnt');
    const [extras] = loadComposeModels(root, ['releases/8/Extras/compose.json']) as [ComposeModel];
    const sp = stagingPaths(extras, channelRelease(extras.release, 'stable'), resolveRoots(extras.common, extras.release, relengRoot));
    const repomd = (repo: string, text: string) => {
      mkdirSync(join(sp.revisionDir, repo, 'repodata'), { recursive: true });
      writeFileSync(join(sp.revisionDir, repo, 'repodata/repomd.xml'), text);
    };
    repomd('extras/x86_64/os', 'extras');
    repomd('BaseOS/x86_64/os', 'BaseOS 1');
    repomd('AppStream/x86_64/os', 'AppStream 1');
    repomd('devel/x86_64/os', 'devel 1');
    writeJsonFile(sp.syncRecord, { version: 1, project: 'Extras-8', channel: 'stable', destination: sp.revisionDir, dirs: {}, repos: ['extras/x86_64/os'] });
    const state = () => verifyState(root, 'Extras-8', relengRoot);
    const before = await state();
    assert.match(before, /^stable: \S+ deps \S+$/m);
    repomd('devel/x86_64/os', 'devel 2');
    assert.equal(await state(), before, 'a repo Extras-8 does not close over changed its verify hash');
    repomd('BaseOS/x86_64/os', 'BaseOS 2');
    assert.notEqual(await state(), before, "Rocky-8's BaseOS changed, but Extras-8's verify hash did not");
  } finally {
    removeDir(root);
  }
});
