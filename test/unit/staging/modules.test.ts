import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadComposeModel } from '../../../tools/nx-releng/src/config/load';
import { moduleYaml, repoDirs, resolveRoots, type RepoDir } from '../../../tools/nx-releng/src/layout/paths';
import { modulemdText, type ModuleStreamSpec } from '../../../tools/nx-releng/src/lib/formats/modulemd';
import { isModularRepo, moduleMetadataOf } from '../../../tools/nx-releng/src/lib/staging/modules';
import { modifyrepoModules } from '../../../tools/nx-releng/src/lib/tools/createrepo';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import { REPO_ROOT } from '../../helpers/workspace';

const stream = (name: string): ModuleStreamSpec => ({
  name,
  stream: '1',
  version: '8100020240101000000',
  context: '5b4d1e8d',
  arch: 'x86_64',
  summary: 's',
  description: 'd',
  license: ['MIT'],
  profiles: { common: [name] },
  artifacts: [`${name}-0:1.0-1.el8.x86_64`],
});

describe('moduleMetadataOf: which module metadata a sync adds to a modular repo', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'releng-modules-'));
  const model = loadComposeModel(REPO_ROOT, 'releases/8/Rocky');
  const roots = resolveRoots(model.common, model.release, tmp);
  const appstream: RepoDir = { variant: 'AppStream', arch: 'x86_64', kind: 'os', path: 'AppStream/x86_64/os' };
  const repos = [appstream, ...repoDirs('BaseOS', ['x86_64'])];
  const yaml = moduleYaml(roots, 'x86_64', 'AppStream');
  const composeId = 'Rocky-8.10-20250101.0';
  const composeDir = join(tmp, 'mnt/compose/8', composeId);
  const composeRepo = join(composeDir, 'compose/AppStream/x86_64/os');
  const compose = { composeId, composeDir };
  const pungiText = modulemdText([stream('from-pungi')]);
  const yamlText = modulemdText([stream('from-yaml')]);

  before(async () => {
    mkdirSync(composeRepo, { recursive: true });
    await run('createrepo_c', ['--quiet', composeRepo]);
    await modifyrepoModules(join(composeRepo, 'repodata'), pungiText, 'gz');
    mkdirSync(join(yaml, '..'), { recursive: true });
    writeFileSync(yaml, yamlText);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test('a daily sync adds the hand-maintained yaml, whatever the compose carries', async () => {
    const { modules, yamls } = await moduleMetadataOf(model, roots, repos);
    assert.deepEqual([...modules], [[appstream.path, { text: yamlText, origin: yaml }]]);
    assert.deepEqual([...yamls], [[appstream.path, yamlText]]);
  });

  test("a release tree (minor release, beta, lookahead) keeps pungi's record over the yaml; both record the same yaml", async () => {
    const { modules, yamls } = await moduleMetadataOf(model, roots, repos, compose);
    const kept = modules.get(appstream.path);
    assert.equal(kept?.text, pungiText);
    assert.match(kept?.origin ?? '', new RegExp(`^${composeRepo}/repodata/[0-9a-f]{64}-modules\\.yaml\\.gz$`));
    assert.deepEqual([...modules.keys()], [appstream.path], 'only modular os repos get modules');
    // The sync record hashes the yaml alone: a daily sync after a minor release of the same compose is up to date.
    assert.deepEqual(yamls, (await moduleMetadataOf(model, roots, repos)).yamls);
  });

  test('a release tree whose compose has no modules record gets the yaml; with neither it is refused naming both', async () => {
    await run('modifyrepo_c', ['--remove', 'modules', join(composeRepo, 'repodata')]);
    try {
      const { modules } = await moduleMetadataOf(model, roots, repos, compose);
      assert.deepEqual(modules.get(appstream.path), { text: yamlText, origin: yaml });
      rmSync(yaml);
      await assert.rejects(moduleMetadataOf(model, roots, repos, compose), (err: Error) => {
        assert.equal(err.name, 'RelengError');
        assert.equal(
          err.message,
          `AppStream is a modular repo (modularRepos in releases/8/release.json) but compose ${composeId} has no modules record in ` +
            `${composeRepo}/repodata/repomd.xml and its module metadata ${yaml} cannot be read (ENOENT: no such file or directory, open '${yaml}'); ` +
            'refusing to publish AppStream/x86_64/os without modules (moduleMetadataDir is the rocky-module-metadata checkout)',
        );
        return true;
      });
      // A daily sync needs the yaml whatever the compose has.
      await assert.rejects(moduleMetadataOf(model, roots, repos), /its module metadata .*AppStream-modules\.yaml cannot be read/);
    } finally {
      writeFileSync(yaml, yamlText);
      await modifyrepoModules(join(composeRepo, 'repodata'), pungiText, 'gz');
    }
  });

  test("a compose record that is no module metadata, or a yaml that does not parse, is refused naming the file", async () => {
    await modifyrepoModules(join(composeRepo, 'repodata'), '---\nfoo: bar\n', 'gz');
    try {
      await assert.rejects(moduleMetadataOf(model, roots, repos, compose), /^RelengError: .*AppStream\/x86_64\/os\/repodata\/[0-9a-f]{64}-modules\.yaml\.gz: YAML document 1 is not module metadata/);
    } finally {
      await modifyrepoModules(join(composeRepo, 'repodata'), pungiText, 'gz');
    }
    writeFileSync(yaml, 'document: [');
    try {
      // Even when the compose's record wins: the next daily sync would refuse it, so it is said now.
      await assert.rejects(moduleMetadataOf(model, roots, repos, compose), new RegExp(`${yaml}: YAML document 1 does not parse`));
    } finally {
      writeFileSync(yaml, yamlText);
    }
  });

  test('modular repos: the os and kickstart trees of modularRepos, not their debug or source trees', () => {
    const kinds = (variant: string) =>
      [...repoDirs(variant, ['x86_64']), { variant, arch: 'x86_64', kind: 'kickstart' as const, path: `${variant}/x86_64/kickstart` }]
        .filter((r) => isModularRepo(model, r))
        .map((r) => r.path);
    assert.deepEqual(kinds('AppStream'), ['AppStream/x86_64/os', 'AppStream/x86_64/kickstart']);
    assert.deepEqual(kinds('BaseOS'), []);
  });
});
