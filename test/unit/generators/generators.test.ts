import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { mock, test } from 'node:test';
import { logger, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { validateComposeModels } from '../../../tools/nx-releng/src/config/load';
import { formatJson } from '../../../tools/nx-releng/src/generators/json-format';
import { releaseGenerator } from '../../../tools/nx-releng/src/generators/release/generator';
import { repoGenerator } from '../../../tools/nx-releng/src/generators/repo/generator';
import { composeFilesOf, optionText, treeReader } from '../../../tools/nx-releng/src/generators/tree-model';
import { REPO_ROOT } from '../../helpers/workspace';

const RELEASE = 'releases/8/release.json';

/** What the generators tell the operator (nx prints it); kept out of the test report. */
const logs: string[] = [];
mock.method(logger, 'info', (message: string) => void logs.push(message));
const lastLog = (): string => logs[logs.length - 1] ?? '';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((e) => {
    const p = join(dir, e);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** A virtual workspace holding the repository's own release model; `writes` records every write. */
function seededTree(): { tree: Tree; writes: string[] } {
  const tree = createTreeWithEmptyWorkspace();
  for (const file of filesUnder(join(REPO_ROOT, 'releases'))) {
    tree.write(relative(REPO_ROOT, file), readFileSync(file));
  }
  const writes: string[] = [];
  const write = tree.write.bind(tree);
  tree.write = (path, content, options) => {
    writes.push(path);
    write(path, content, options);
  };
  return { tree, writes };
}

const json = (tree: Tree, file: string): any => JSON.parse(tree.read(file, 'utf-8') ?? 'null');
const text = (tree: Tree, file: string): string => tree.read(file, 'utf-8') ?? '';
/** The whole model of major 8 through the loader's validation path, as the project graph sees it. */
const models8 = (tree: Tree) => validateComposeModels(treeReader(tree), composeFilesOf(tree, '8'));

function setRelease(tree: Tree, edit: (r: any) => void): void {
  const r = json(tree, RELEASE);
  edit(r);
  tree.write(RELEASE, formatJson(r));
}

test('the JSON writer reproduces the shipped release.json and compose.json byte for byte', () => {
  for (const file of filesUnder(join(REPO_ROOT, 'releases/8'))) {
    const original = readFileSync(file, 'utf8');
    assert.equal(formatJson(JSON.parse(original)), original, relative(REPO_ROOT, file));
  }
});

test('the JSON writer: scalars inline, one more level inline only within 100 columns, deeper one per line', () => {
  const value = {
    a: [1, 'x', null, true],
    b: { c: [] as number[], d: {} },
    long: { list: ['a'.repeat(40), 'b'.repeat(40)], more: 'c'.repeat(20) },
    deep: { e: { f: { g: 1 } } },
    empty: [] as unknown[],
  };
  const out = formatJson(value);
  assert.deepEqual(JSON.parse(out), value);
  assert.equal(
    out,
    '{\n  "a": [1, "x", null, true],\n  "b": { "c": [], "d": {} },\n  "long": {\n' +
      `    "list": ["${'a'.repeat(40)}", "${'b'.repeat(40)}"],\n    "more": "${'c'.repeat(20)}"\n  },\n` +
      '  "deep": {\n    "e": { "f": { "g": 1 } }\n  },\n  "empty": []\n}\n',
  );
});

test('repo: a new SIG compose is written, valid, and becomes project SIG-cloud-8', async () => {
  const { tree } = seededTree();
  await repoGenerator(tree, {
    major: '8',
    short: 'cloud',
    kind: 'sig',
    variants: 'extras, plus',
    backend: 'local',
    description: 'Cloud SIG images and packages',
  });
  const file = 'releases/8/SIG-cloud/compose.json';
  assert.equal(
    text(tree, file),
    '{\n  "kind": "sig",\n  "description": "Cloud SIG images and packages",\n  "variants": ["extras", "plus"],\n  "backend": "local"\n}\n',
  );
  assert.equal(lastLog(), 'project SIG-cloud-8: sig compose of extras, plus (backend local)');
  const model = models8(tree).find((m) => m.project === 'SIG-cloud-8');
  assert.ok(model);
  assert.equal(model.compose.kind, 'sig');
  assert.deepEqual(model.compose.variants, ['extras', 'plus']);
  assert.equal(model.root, 'releases/8/SIG-cloud');
});

test('repo: a pungi compose gets its pungi config; the other pungi settings keep their defaults', async () => {
  const { tree, writes } = seededTree();
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'SIG-cloud', variants: 'plus' }),
    /backend pungi needs --pungiConfig=<absolute path/,
  );
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'SIG-cloud', variants: 'plus', backend: 'local', pungiConfig: '/etc/x.conf' }),
    /--pungiConfig and --kojiTag are for backend pungi/,
  );
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'SIG-cloud', variants: 'plus', pungiConfig: 'etc/sig-cloud.conf' }),
    /releases\/8\/SIG-cloud\/compose\.json: invalid configuration\n {2}field pungi\.config: must be an absolute path/,
  );
  // A SIG compose has no compose metadata to stage (its sync copies compose/<major>/<sig> only).
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'SIG-cloud', variants: 'plus', pungiConfig: '/etc/pungi-sig/cloud.conf', syncMetadata: true }),
    /releases\/8\/SIG-cloud\/compose\.json: field syncMetadata: a SIG compose has no compose metadata to stage; remove it/,
  );
  assert.deepEqual(writes, []);
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'SIG-cloud', variants: 'plus', pungiConfig: '/etc/x.conf', kojiTag: 'sig/cloud8' }),
    /releases\/8\/SIG-cloud\/compose\.json: invalid configuration\n {2}field pungi\.tag: must be a plain name/,
  );
  assert.deepEqual(writes, []);
  await repoGenerator(tree, {
    major: '8',
    short: 'SIG-cloud',
    variants: 'plus',
    pungiConfig: '/etc/pungi-sig/cloud.conf',
    kojiTag: 'sig-cloud8-compose',
  });
  assert.equal(
    text(tree, 'releases/8/SIG-cloud/compose.json'),
    '{\n  "kind": "sig",\n  "variants": ["plus"],\n  "backend": "pungi",\n  "pungi": { "config": "/etc/pungi-sig/cloud.conf", "tag": "sig-cloud8-compose" }\n}\n',
  );
  const model = models8(tree).find((m) => m.project === 'SIG-cloud-8');
  assert.equal(model?.compose.pungi?.config, '/etc/pungi-sig/cloud.conf');
  assert.equal(model?.compose.pungi?.tag, 'sig-cloud8-compose');
});

test('repo: the kind follows a SIG- name, and a base compose may not be named SIG-', async () => {
  const { tree } = seededTree();
  await repoGenerator(tree, { major: 8, short: 'SIG-hpc', variants: ['plus'], backend: 'local' });
  assert.equal(json(tree, 'releases/8/SIG-hpc/compose.json').kind, 'sig');
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'SIG-core', kind: 'base', variants: 'plus', backend: 'local' }),
    /--short 'SIG-core': names starting with SIG- are SIG composes; use --kind=sig/,
  );
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'SIG-', variants: 'plus', backend: 'local' }),
    /a SIG needs a name/,
  );
});

test('repo: a second run with the same options changes nothing', async () => {
  const { tree, writes } = seededTree();
  const options = { major: '8', short: 'Plus', variants: 'plus', backend: 'local' as const, syncMetadata: false };
  await repoGenerator(tree, options);
  const first = text(tree, 'releases/8/Plus/compose.json');
  writes.length = 0;
  await repoGenerator(tree, options);
  await repoGenerator(tree, { ...options, variants: ['plus'] });
  assert.deepEqual(writes, []);
  assert.equal(lastLog(), 'releases/8/Plus/compose.json already says this; nothing to change (project Plus-8)');
  assert.equal(text(tree, 'releases/8/Plus/compose.json'), first);
});

test('repo: regenerating a shipped compose from its own content is a no-op', async () => {
  const { tree, writes } = seededTree();
  // The generator writes no checkouts and no channel blocks (they are added by hand): a shipped compose without them.
  const { checkout, ...stablePungi } = json(tree, 'releases/8/Extras/compose.json').pungi;
  const { channels, ...rest } = json(tree, 'releases/8/Extras/compose.json');
  tree.write('releases/8/Extras/compose.json', formatJson({ ...rest, pungi: stablePungi }));
  writes.length = 0;
  const shipped = json(tree, 'releases/8/Extras/compose.json');
  await repoGenerator(tree, {
    major: '8',
    short: 'Extras',
    kind: shipped.kind,
    variants: shipped.variants.join(','),
    backend: shipped.backend,
    description: shipped.description,
    syncMetadata: shipped.syncMetadata,
    pungiConfig: shipped.pungi?.config,
    kojiTag: shipped.pungi?.tag,
  });
  assert.deepEqual(writes, []);
});

test('repo: an existing compose with other content is refused and left as it was', async () => {
  const { tree, writes } = seededTree();
  const before = text(tree, 'releases/8/Extras/compose.json');
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'Extras', variants: 'extras', backend: 'local' }),
    (err: Error) => {
      assert.match(err.message, /^releases\/8\/Extras\/compose\.json already exists with other content; edit it by hand/);
      assert.match(err.message, /variants: \["extras","plus"\] there, \["extras"\] requested/);
      assert.match(err.message, /backend: "pungi" there, "local" requested/);
      return true;
    },
  );
  assert.deepEqual(writes, []);
  assert.equal(text(tree, 'releases/8/Extras/compose.json'), before);
});

test('repo: an unknown major is refused with the majors that exist', async () => {
  const { tree, writes } = seededTree();
  await assert.rejects(
    repoGenerator(tree, { major: '9', short: 'Rocky', variants: 'BaseOS', backend: 'local' }),
    /unknown major 9: releases\/9\/release\.json does not exist \(known majors: 8\)/,
  );
  await assert.rejects(
    repoGenerator(tree, { major: '8.10', short: 'Rocky', variants: 'BaseOS', backend: 'local' }),
    /--major '8\.10' must be a major version number/,
  );
  assert.deepEqual(writes, []);
});

test('repo: an unknown repository is refused, naming the allowed ones', async () => {
  const { tree, writes } = seededTree();
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'Cloud', variants: 'extras,cloud', backend: 'local' }),
    new RegExp(
      "releases/8/Cloud/compose\\.json: field variants\\.1: unknown repository 'cloud'; allowed " +
        '\\(compsRepos and plainRepos of releases/8/release\\.json\\): BaseOS, AppStream, HighAvailability, ' +
        'ResilientStorage, PowerTools, RT, NFV, extras, devel, plus',
    ),
  );
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'Empty', variants: ' , ', backend: 'local' }),
    /releases\/8\/Empty\/compose\.json: invalid configuration\n {2}field variants:/,
  );
  await assert.rejects(
    repoGenerator(tree, { major: '8', short: 'X', variants: 'plus', backend: 'rsync' as 'local' }),
    /field backend: Invalid option: expected one of "pungi"\|"local"/,
  );
  assert.deepEqual(writes, []);
});

test('repo: names that could leave releases/<major> are refused before anything is written', async () => {
  const { tree, writes } = seededTree();
  for (const short of ['../../etc', '..', 'a/b', 'a\\b', '.hidden', '-x', 'a b', '']) {
    await assert.rejects(
      repoGenerator(tree, { major: '8', short, variants: 'plus', backend: 'local' }),
      /must be a plain (directory )?name/,
      JSON.stringify(short),
    );
  }
  assert.deepEqual(writes, []);
  assert.ok(!tree.exists('etc/compose.json'));
});

test('release: --to=rc moves the stable candidate -RC2 -> -RC3 and changes only that line', async () => {
  const { tree } = seededTree();
  const before = text(tree, RELEASE);
  await releaseGenerator(tree, { major: '8', to: 'rc' });
  const after = text(tree, RELEASE);
  assert.equal(json(tree, RELEASE).channels.stable.suffix, '-RC3');
  assert.equal(lastLog(), 'releases/8/release.json: 8.10-RC2 -> 8.10-RC3');
  assert.equal(after, before.replace('"stable": { "suffix": "-RC2" }', '"stable": { "suffix": "-RC3" }'));
  await releaseGenerator(tree, { major: '8', to: 'rc' });
  assert.equal(json(tree, RELEASE).channels.stable.suffix, '-RC4');
  assert.equal(models8(tree)[0]?.release.channels.stable.suffix, '-RC4');
});

test('release: --to=rc on a release without an RC suffix starts at -RC1', async () => {
  const { tree } = seededTree();
  setRelease(tree, (r) => (r.channels.stable.suffix = ''));
  await releaseGenerator(tree, { major: '8', to: 'rc' });
  assert.equal(json(tree, RELEASE).channels.stable.suffix, '-RC1');
});

test('release: --to=minor moves 8.10 to 8.11, keeps 8.10 as previousRevision and restarts at -RC1', async () => {
  const { tree } = seededTree();
  setRelease(tree, (r) => (r.channels.beta.revision = '8.10'));
  const before = json(tree, RELEASE);
  await releaseGenerator(tree, { major: '8', to: 'minor' });
  const after = json(tree, RELEASE);
  assert.equal(lastLog(), 'releases/8/release.json: 8.10-RC2 -> 8.11-RC1, previousRevision 8.10');
  assert.equal(after.revision, '8.11');
  assert.equal(after.previousRevision, '8.10');
  assert.equal(after.channels.stable.suffix, '-RC1');
  assert.equal(after.channels.beta.revision, '8.11');
  assert.equal(after.channels.lookahead.revision, undefined);
  assert.equal(after.moduleMetadataDir, '/mnt/compose/8_metadata');
  const { revision, previousRevision, channels, ...rest } = after;
  const { revision: r0, previousRevision: p0, channels: c0, ...rest0 } = before;
  assert.deepEqual(rest, rest0);
  assert.deepEqual(channels.lookahead, c0.lookahead);
  assert.deepEqual(Object.keys(after), Object.keys(before));
  assert.ok(models8(tree).every((m) => m.release.revision === '8.11'));
});

test('release: minors compare as numbers, 8.9 -> 8.10', async () => {
  const { tree } = seededTree();
  setRelease(tree, (r) => {
    r.revision = '8.9';
    delete r.previousRevision;
    r.channels.stable.suffix = '';
  });
  await releaseGenerator(tree, { major: '8', to: 'minor' });
  let r = json(tree, RELEASE);
  assert.deepEqual([r.revision, r.previousRevision, r.channels.stable.suffix], ['8.10', '8.9', '-RC1']);
  assert.deepEqual(Object.keys(r).slice(0, 2), ['revision', 'previousRevision']);

  setRelease(tree, (x) => {
    x.revision = '8.9';
    x.previousRevision = '8.8';
  });
  await releaseGenerator(tree, { major: '8', to: '8.10' });
  r = json(tree, RELEASE);
  assert.deepEqual([r.revision, r.previousRevision, r.channels.stable.suffix], ['8.10', '8.9', '-RC1']);
  await releaseGenerator(tree, { major: '8', to: '8.12-RC2' });
  r = json(tree, RELEASE);
  assert.deepEqual([r.revision, r.previousRevision, r.channels.stable.suffix], ['8.12', '8.10', '-RC2']);
});

test('release: an explicit lower revision, another major or a bad value is refused', async () => {
  const { tree, writes } = seededTree();
  await assert.rejects(
    releaseGenerator(tree, { major: '8', to: '8.9' }),
    /--to '8\.9': 8\.9 is lower than the current revision 8\.10 of releases\/8\/release\.json/,
  );
  await assert.rejects(releaseGenerator(tree, { major: '8', to: '9.0' }), /revision 9\.0 is not of major 8/);
  await assert.rejects(releaseGenerator(tree, { major: '8', to: 'ga' }), /expected rc, minor, or a revision such as 8\.11/);
  await assert.rejects(releaseGenerator(tree, { major: '10', to: 'rc' }), /unknown major 10/);
  assert.deepEqual(writes, []);
});

test('release: an explicit --to equal to the current release changes nothing; a candidate is set once', async () => {
  const { tree, writes } = seededTree();
  await releaseGenerator(tree, { major: '8', to: '8.10' });
  await releaseGenerator(tree, { major: '8', to: '8.10-RC2' });
  assert.deepEqual(writes, []);
  assert.equal(lastLog(), 'releases/8/release.json: already at 8.10-RC2; nothing to change');
  await releaseGenerator(tree, { major: '8', to: '8.10-RC3' });
  assert.deepEqual(writes, [RELEASE]);
  await releaseGenerator(tree, { major: '8', to: '8.10-RC3' });
  assert.deepEqual(writes, [RELEASE]);
  const r = json(tree, RELEASE);
  assert.deepEqual([r.revision, r.previousRevision, r.channels.stable.suffix], ['8.10', '8.9', '-RC3']);
});

test('release: an invalid release.json is refused before anything is written', async () => {
  const { tree, writes } = seededTree();
  setRelease(tree, (r) => (r.arches = ['x86-64']));
  writes.length = 0;
  await assert.rejects(releaseGenerator(tree, { major: '8', to: 'rc' }), /releases\/8\/release\.json: invalid configuration\n {2}field arches\.0/);
  assert.deepEqual(writes, []);
});

test('options that nx parsed as numbers are read back as typed (8.10 is not 8.1)', () => {
  const argv = ['node', 'nx.js', 'g', '@nx-releng/plugin:release', '--major=8', '--to', '8.10'];
  assert.equal(optionText('to', 8.1, argv), '8.10');
  assert.equal(optionText('to', 8.1, ['--to=8.10']), '8.10');
  assert.equal(optionText('major', 8, argv), '8');
  assert.equal(optionText('major', 10, []), '10');
  assert.equal(optionText('to', ' minor ', argv), 'minor');
  assert.throws(() => optionText('to', 8.1, []), /--to 8\.1 arrived as a number, which cannot tell 8\.1 from 8\.10; pass it as text/);
});
