import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile, chmod, mkdir, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  createrepo,
  createrepoVersion,
  fixOpenSize,
  modifyrepoModules,
  modifyrepoModulesArgs,
  parseCreaterepoVersion,
  pungiCreaterepoArgs,
  removeEmptyOpenSize,
  stagingCreaterepoArgs,
  versionAtLeast,
} from '../../../tools/nx-releng/src/lib/tools/createrepo';
import { buildFixtureRpms, COMPS_DIR } from '../../helpers/rpms';

describe('createrepo_c argv builders', () => {
  const pungiCases: Array<[string, Parameters<typeof pungiCreaterepoArgs>[0], string[]]> = [
    [
      'createrepo_c 0.17 without comps',
      { repoDir: '/c/compose/BaseOS/x86_64/debug/tree', pkglist: '/c/work/x86_64/repo_package_list/BaseOS.x86_64.debuginfo.conf', createrepoVersion: '0.17.3' },
      [
        '/c/compose/BaseOS/x86_64/debug/tree',
        '--outputdir=/c/compose/BaseOS/x86_64/debug/tree',
        '--pkglist=/c/work/x86_64/repo_package_list/BaseOS.x86_64.debuginfo.conf',
        '--update',
        '--skip-stat',
        '--no-database',
        '--checksum=sha256',
        '--unique-md-filenames',
        '--workers=3',
      ],
    ],
    [
      'createrepo_c 0.20 with comps',
      {
        repoDir: '/c/compose/BaseOS/x86_64/os',
        pkglist: '/c/work/x86_64/repo_package_list/BaseOS.x86_64.rpm.conf',
        groupfile: '/c/work/x86_64/comps/comps-BaseOS.x86_64.xml',
        createrepoVersion: '0.20.1',
      },
      [
        '/c/compose/BaseOS/x86_64/os',
        '--outputdir=/c/compose/BaseOS/x86_64/os',
        '--pkglist=/c/work/x86_64/repo_package_list/BaseOS.x86_64.rpm.conf',
        '--groupfile=/c/work/x86_64/comps/comps-BaseOS.x86_64.xml',
        '--update',
        '--skip-stat',
        '--no-database',
        '--checksum=sha256',
        '--unique-md-filenames',
        '--workers=3',
      ],
    ],
    [
      'createrepo_c 1.0 pins gz (its default is zstd)',
      { repoDir: '/r', pkglist: '/l', createrepoVersion: '1.0.0' },
      [
        '/r',
        '--outputdir=/r',
        '--pkglist=/l',
        '--update',
        '--skip-stat',
        '--no-database',
        '--checksum=sha256',
        '--unique-md-filenames',
        '--workers=3',
        '--general-compress-type=gz',
        '--compress-type=gz',
      ],
    ],
  ];
  for (const [name, input, expected] of pungiCases) {
    test(`pungiCreaterepoArgs: ${name}`, () => assert.deepEqual(pungiCreaterepoArgs(input), expected));
  }

  const base = { repoDir: '/staging/8/BaseOS/x86_64/os', major: '8', distroName: 'Rocky Linux', cpeVendor: 'rocky', workers: 12 };
  const stagingCases: Array<[string, Parameters<typeof stagingCreaterepoArgs>[0], string[]]> = [
    [
      'createrepo_update (no comps)',
      { ...base, createrepoVersion: '0.17.3' },
      ['--update', '/staging/8/BaseOS/x86_64/os', '--distro=cpe:/o:rocky:rocky:8,Rocky Linux 8', '--workers', '12'],
    ],
    [
      'createrepo_comps: revision is the major',
      { ...base, groupfile: '/c/work/x86_64/comps/comps-BaseOS.x86_64.xml', createrepoVersion: '0.17.3' },
      [
        '--update',
        '/staging/8/BaseOS/x86_64/os',
        '--groupfile=/c/work/x86_64/comps/comps-BaseOS.x86_64.xml',
        '--xz',
        '--revision=8',
        '--distro=cpe:/o:rocky:rocky:8,Rocky Linux 8',
        '--workers',
        '12',
        '--checksum=sha256',
      ],
    ],
    [
      'createrepo_comps with explicit revision, major 10, createrepo_c 1.1',
      { ...base, major: '10', workers: 4, groupfile: 'comps.xml', revision: '10.0', createrepoVersion: '1.1.2' },
      [
        '--update',
        '/staging/8/BaseOS/x86_64/os',
        '--groupfile=comps.xml',
        '--xz',
        '--revision=10.0',
        '--distro=cpe:/o:rocky:rocky:10,Rocky Linux 10',
        '--workers',
        '4',
        '--checksum=sha256',
        '--general-compress-type=gz',
      ],
    ],
    [
      'createrepo_update on createrepo_c 1.0 keeps gz XML and bz2 sqlite',
      { ...base, createrepoVersion: '1.0.2' },
      [
        '--update',
        '/staging/8/BaseOS/x86_64/os',
        '--distro=cpe:/o:rocky:rocky:8,Rocky Linux 8',
        '--workers',
        '12',
        '--general-compress-type=gz',
        '--compress-type=bz2',
      ],
    ],
  ];
  for (const [name, input, expected] of stagingCases) {
    test(`stagingCreaterepoArgs: ${name}`, () => {
      const args = stagingCreaterepoArgs(input);
      assert.deepEqual(args, expected);
      assert.ok(!args.includes('--keep-all-metadata'));
      assert.ok(!args.includes('--no-database'));
    });
  }

  test('modifyrepoModulesArgs', () => {
    assert.deepEqual(modifyrepoModulesArgs('/s/AppStream/x86_64/os/repodata', '/tmp/x/modules.yaml'), [
      '--mdtype=modules',
      '/tmp/x/modules.yaml',
      '/s/AppStream/x86_64/os/repodata',
      '--compress',
      '--compress-type=xz',
    ]);
    // pungi's createrepo phase compresses its modules record with gz.
    assert.deepEqual(modifyrepoModulesArgs('/c/AppStream/x86_64/os/repodata', '/tmp/x/modules.yaml', 'gz').at(-1), '--compress-type=gz');
  });

  test('version parsing and comparison', () => {
    assert.equal(parseCreaterepoVersion('Version: 0.17.3 (Features: DeltaRPM LegacyWeakdeps )\n'), '0.17.3');
    assert.equal(parseCreaterepoVersion('Version: 1.1.4 (Features: DeltaRPM LegacyWeakdeps ZSTD)'), '1.1.4');
    assert.throws(() => parseCreaterepoVersion('garbage'), /cannot parse createrepo_c --version/);
    assert.equal(versionAtLeast('0.17.3', '1.0'), false);
    assert.equal(versionAtLeast('0.20.1', '1.0'), false);
    assert.equal(versionAtLeast('1.0', '1.0'), true);
    assert.equal(versionAtLeast('1.0.0', '1.0'), true);
    assert.equal(versionAtLeast('10.1', '9.9'), true);
  });
});

describe('fixOpenSize', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'releng-opensize-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const repomd = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">',
    '  <revision>8</revision>',
    '  <data type="primary">',
    '    <size>898</size>',
    '    <open-size>3628</open-size>',
    '  </data>',
    '  <data type="modules">',
    '    <size>120</size>',
    '    <open-size></open-size>',
    '  </data>',
    '  <data type="updateinfo">',
    '    <size>77</size>\t<open-size></open-size>',
    '  </data>',
    '</repomd>',
    '',
  ].join('\n');

  test('removes only empty open-size elements, keeps everything else byte-identical', async () => {
    const file = join(dir, 'repomd.xml');
    await writeFile(file, repomd);
    await chmod(file, 0o640);
    assert.equal(await fixOpenSize(file), true);
    const fixed = await readFile(file, 'utf8');
    // A line holding only the empty element goes away entirely (like Rocky's sed '/…/d').
    // A line holding more than the element keeps the rest of its bytes (here the tab).
    assert.equal(fixed, repomd.replace('    <open-size></open-size>\n', '').replace('<open-size></open-size>', ''));
    assert.match(fixed, /<size>77<\/size>\t\n/);
    assert.match(fixed, /<open-size>3628<\/open-size>/);
    assert.doesNotMatch(fixed, /<open-size><\/open-size>/);
    assert.equal((await stat(file)).mode & 0o777, 0o640);
    // No temp file left behind; a second run is a no-op.
    assert.deepEqual(await readdir(dir), ['repomd.xml']);
    assert.equal(await fixOpenSize(file), false);
    assert.equal(await readFile(file, 'utf8'), fixed);
  });

  test('removeEmptyOpenSize handles CRLF and leaves files without empty elements alone', () => {
    assert.equal(removeEmptyOpenSize('<a>\r\n  <open-size></open-size>\r\n</a>\r\n'), '<a>\r\n</a>\r\n');
    assert.equal(removeEmptyOpenSize('<open-size>1</open-size>\n'), '<open-size>1</open-size>\n');
  });

  test('missing repomd is a clear error', async () => {
    await assert.rejects(fixOpenSize(join(dir, 'nope.xml')), /nope\.xml/);
  });
});

describe('createrepo_c / modifyrepo_c runners (real tools)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'releng-createrepo-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('createrepoVersion reads the installed createrepo_c', async () => {
    const v = await createrepoVersion();
    assert.match(v, /^\d+\.\d+\.\d+$/);
    assert.equal(await createrepoVersion(), v);
  });

  test("staging createrepo with comps gives Rocky's published repomd shape, then modules are added", async () => {
    const { rpms } = await buildFixtureRpms();
    const repo = join(dir, 'BaseOS/x86_64/os');
    await mkdir(join(repo, 'Packages/r'), { recursive: true });
    for (const r of rpms.filter((x) => x.category === 'binary' && ['releng-base', 'releng-hello'].includes(x.name) && x.arch !== 'aarch64')) {
      await copyFile(r.file, join(repo, 'Packages/r', basename(r.file)));
    }
    const comps = join(dir, 'comps-BaseOS.x86_64.xml');
    await copyFile(join(COMPS_DIR, 'comps-BaseOS.xml'), comps);
    await createrepo(
      stagingCreaterepoArgs({
        repoDir: repo,
        major: '8',
        distroName: 'Rocky Linux',
        cpeVendor: 'rocky',
        workers: 2,
        groupfile: comps,
        createrepoVersion: await createrepoVersion(),
      }),
    );
    let xml = await readFile(join(repo, 'repodata/repomd.xml'), 'utf8');
    assert.match(xml, /<revision>8<\/revision>/);
    assert.match(xml, /<distro cpeid="cpe:\/o:rocky:rocky:8">Rocky Linux 8<\/distro>/);
    for (const type of ['primary', 'filelists', 'other', 'primary_db', 'filelists_db', 'other_db', 'group', 'group_xz']) {
      assert.match(xml, new RegExp(`<data type="${type}">`), type);
    }
    assert.match(xml, /-primary\.sqlite\.xz"/);
    assert.match(xml, /-comps-BaseOS\.x86_64\.xml\.xz"/);

    const yaml = join(dir, 'some-name.yaml');
    await writeFile(
      yaml,
      [
        '---',
        'document: modulemd-defaults',
        'version: 1',
        'data:',
        '  module: releng',
        '  stream: "1"',
        '  profiles:',
        '    "1": [common]',
        '...',
        '',
      ].join('\n'),
    );
    await modifyrepoModules(join(repo, 'repodata'), await readFile(yaml, 'utf8'));
    xml = await readFile(join(repo, 'repodata/repomd.xml'), 'utf8');
    // The record is named after the staged copy (modules.yaml), whatever the input file was called.
    assert.match(xml, /<data type="modules">/);
    assert.match(xml, /-modules\.yaml\.xz"/);
    assert.ok((await readdir(join(repo, 'repodata'))).some((f) => f.endsWith('-modules.yaml.xz')));
    // fixOpenSize keeps a valid repomd valid (no empty elements here from createrepo_c 0.17).
    await fixOpenSize(join(repo, 'repodata/repomd.xml'));
    assert.doesNotMatch(await readFile(join(repo, 'repodata/repomd.xml'), 'utf8'), /<open-size><\/open-size>/);
  });

  test('a createrepo_c failure is a RelengError naming the tool', async () => {
    await assert.rejects(createrepo([join(dir, 'does-not-exist')]), (err: Error) => {
      assert.equal(err.name, 'RelengError');
      assert.match(err.message, /createrepo_c/);
      return true;
    });
  });
});
