import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadComposeModels } from '../../../tools/nx-releng/src/config/load';
import { REPO_ROOT, copyReleases, readJsonFile, removeDir, tempDir, writeJsonFile } from '../../helpers/workspace';

const ALL_8 = ['releases/8/Extras/compose.json', 'releases/8/Rocky-devel/compose.json', 'releases/8/Rocky/compose.json'];

test('the shipped Rocky 8 model loads with the values of common and common_8', () => {
  const models = loadComposeModels(REPO_ROOT, ALL_8);
  assert.deepEqual(
    models.map((m) => m.project),
    ['Extras-8', 'Rocky-devel-8', 'Rocky-8'],
  );
  const rocky = models.find((m) => m.project === 'Rocky-8');
  assert.ok(rocky);
  assert.deepEqual(rocky.common.roots, {
    compose: '/mnt/compose',
    staging: '/mnt/repos-staging',
    production: '/mnt/repos-production',
    koji: '/mnt/koji',
  });
  assert.deepEqual(rocky.common.owner, { uid: 10004, gid: 10005 });
  assert.equal(rocky.release.revision, '8.10');
  assert.equal(rocky.release.channels.stable.suffix, '-RC2');
  assert.equal(rocky.release.channels.beta?.composeSuffix, '-BETA');
  assert.deepEqual(rocky.release.arches, ['x86_64', 'aarch64']);
  assert.deepEqual(rocky.release.modularRepos, ['AppStream', 'PowerTools']);
  assert.deepEqual(rocky.release.linkRepos, { NFV: 'nfv', Devel: 'devel' });
  // NFV gets errata; the lowercase link nfv is no repo of its own (apollo_tree -i nfv). The size limit defaults.
  assert.deepEqual(rocky.release.errata.ignoreRepos, ['devel', 'extras', 'plus']);
  assert.equal(rocky.release.errata.maxBytes, 256 * 1024 * 1024);
  assert.equal(rocky.compose.syncMetadata, true);
  assert.equal(models.find((m) => m.project === 'Extras-8')?.compose.syncMetadata, false);
});

/** Each case edits one file of a copy of the shipped model and expects an error naming file, field and rule. */
const BAD_INPUTS: Array<{ name: string; file: string; edit: (v: any) => void; error: RegExp }> = [
  {
    name: 'unknown arch',
    file: 'releases/8/release.json',
    edit: (v) => (v.arches = ['x86_64', 'x86-64']),
    error: /releases\/8\/release\.json: invalid configuration\n {2}field arches\.1: Invalid option: expected one of "x86_64"\|"aarch64"/,
  },
  {
    name: 'relative root',
    file: 'releases/common.json',
    edit: (v) => (v.roots.staging = 'mnt/repos-staging'),
    error: /releases\/common\.json: invalid configuration\n {2}field roots\.staging: must be an absolute path/,
  },
  {
    name: 'root with ..',
    file: 'releases/common.json',
    edit: (v) => (v.roots.production = '/mnt/../etc'),
    error: /releases\/common\.json: .*\n {2}field roots\.production: must not contain "\.\." segments/,
  },
  {
    name: 'stub that climbs out',
    file: 'releases/common.json',
    edit: (v) => (v.stubs.category = '../../etc'),
    error: /field stubs\.category: must not contain "\.\." segments/,
  },
  {
    name: 'negative uid',
    file: 'releases/common.json',
    edit: (v) => (v.owner.uid = -1),
    error: /field owner\.uid: Too small/,
  },
  {
    name: 'misspelt key',
    file: 'releases/8/release.json',
    edit: (v) => (v.arch = ['x86_64']),
    error: /releases\/8\/release\.json: .*\n {2}field \(top level\): Unrecognized key: "arch"/,
  },
  {
    name: 'revision with a suffix',
    file: 'releases/8/release.json',
    edit: (v) => (v.revision = '8.10-RC2'),
    error: /field revision: must look like <major>\.<minor>, e\.g\. 8\.10/,
  },
  {
    name: 'revision of another major',
    file: 'releases/8/release.json',
    edit: (v) => (v.revision = '9.7'),
    error: /releases\/8\/release\.json: field revision: '9\.7' does not belong to major 8/,
  },
  {
    name: 'bad channel suffix',
    file: 'releases/8/release.json',
    edit: (v) => (v.channels.stable.suffix = 'RC2'),
    error: /field channels\.stable\.suffix: must be empty or a dash and a word/,
  },
  {
    name: 'unknown repository in a compose',
    file: 'releases/8/Extras/compose.json',
    edit: (v) => (v.variants = ['extras', 'Plus']),
    error: /releases\/8\/Extras\/compose\.json: field variants\.1: unknown repository 'Plus'; allowed .*: BaseOS, .*plus/,
  },
  {
    name: 'path traversal in a variant name',
    file: 'releases/8/Extras/compose.json',
    edit: (v) => (v.variants = ['../../etc']),
    error: /field variants\.0: must be a plain name/,
  },
  {
    name: 'koji tag that is not a plain name',
    file: 'releases/8/Extras/compose.json',
    edit: (v) => (v.pungi.tag = 'dist-rocky8 --help'),
    error: /releases\/8\/Extras\/compose\.json: invalid configuration\n {2}field pungi\.tag: must be a plain name/,
  },
  {
    name: 'unknown backend',
    file: 'releases/8/Extras/compose.json',
    edit: (v) => (v.backend = 'mock'),
    error: /field backend: Invalid option: expected one of "pungi"\|"local"/,
  },
  {
    name: 'modular repo that is not a repo',
    file: 'releases/8/release.json',
    edit: (v) => (v.modularRepos = ['AppStream', 'Powertools']),
    error: /field modularRepos\.1: unknown repository 'Powertools'/,
  },
  {
    name: 'sign command that is not an absolute path',
    file: 'releases/8/release.json',
    edit: (v) => (v.signing.command = ['sign-repo-8.sh']),
    error: /field signing\.command: the program must be an absolute path/,
  },
  {
    name: 'unknown signer type',
    file: 'releases/8/release.json',
    edit: (v) => (v.signing = { type: 'sigul', key: 'x' }),
    error: /releases\/8\/release\.json: invalid configuration\n {2}field signing\.type: Invalid discriminator value\. Expected 'gpg' \| 'command'/,
  },
  {
    name: 'errata URL that is not http',
    file: 'releases/8/release.json',
    edit: (v) => (v.errata.source.baseUrl = 'ftp://apollo'),
    error: /field errata\.source\.baseUrl: must be an http\(s\) URL/,
  },
  {
    name: 'an errata size limit that is not a positive whole number',
    file: 'releases/8/release.json',
    edit: (v) => (v.errata.maxBytes = 0),
    error: /releases\/8\/release\.json: invalid configuration\n {2}field errata\.maxBytes: /,
  },
  {
    name: 'repo without a repoclosure entry',
    file: 'releases/8/release.json',
    edit: (v) => delete v.repoclosure.plus,
    error: /field repoclosure: no entry for 'plus' \(variants\.1 of releases\/8\/Extras\/compose\.json\)/,
  },
  {
    name: 'repoclosure naming an unknown repo',
    file: 'releases/8/release.json',
    edit: (v) => (v.repoclosure.AppStream = ['BaseOs']),
    error: /field repoclosure\.AppStream\.0: unknown repository 'BaseOs'/,
  },
  {
    name: 'file list with a bad name',
    file: 'releases/common.json',
    edit: (v) => (v.fileLists[0].timelist = 'timelist-rocky'),
    error: /field fileLists\.0\.timelist: must be fullfiletimelist-<module>/,
  },
  {
    name: 'no createrepo_c run at a time',
    file: 'releases/common.json',
    edit: (v) => (v.createrepo.parallel = 0),
    error: /releases\/common\.json: invalid configuration\n {2}field createrepo\.parallel: Too small/,
  },
  {
    name: 'housekeeping that would keep nothing',
    file: 'releases/common.json',
    edit: (v) => (v.housekeeping.keepDays = 0),
    error: /field housekeeping\.keepDays: Too small/,
  },
];

for (const c of BAD_INPUTS) {
  test(`bad config: ${c.name}`, () => {
    const root = tempDir('config');
    try {
      copyReleases(root);
      const file = join(root, c.file);
      const value = readJsonFile(file);
      c.edit(value);
      writeJsonFile(file, value);
      assert.throws(() => loadComposeModels(root, ALL_8), c.error);
    } finally {
      removeDir(root);
    }
  });
}

test('bad config: not JSON, and missing files, name the file', () => {
  const root = tempDir('config');
  try {
    copyReleases(root);
    writeFileSync(join(root, 'releases/8/Rocky/compose.json'), '{ "kind": "base", ');
    assert.throws(() => loadComposeModels(root, ALL_8), /releases\/8\/Rocky\/compose\.json: is not valid JSON/);
    mkdirSync(join(root, 'releases/7/Rocky'), { recursive: true });
    writeJsonFile(join(root, 'releases/7/Rocky/compose.json'), { kind: 'base', variants: ['BaseOS'], backend: 'local' });
    assert.throws(
      () => loadComposeModels(root, ['releases/7/Rocky/compose.json']),
      /releases\/7\/release\.json: cannot be read \(ENOENT\)/,
    );
  } finally {
    removeDir(root);
  }
});

test('bad config: compose directories with unsafe names are refused', () => {
  assert.throws(() => loadComposeModels(REPO_ROOT, ['releases/8/.hidden/compose.json']), /must be a plain name/);
  assert.throws(() => loadComposeModels(REPO_ROOT, ['releases/eight/Rocky/compose.json']), /must be a number/);
  assert.throws(() => loadComposeModels(REPO_ROOT, ['releases/8/Rocky/x/compose.json']), /must be at releases\/<major>\/<Short>\/compose\.json/);
});
