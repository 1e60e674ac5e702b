import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  composeIdFor,
  createLocalCompose,
  type LocalComposeOptions,
  type LocalComposeResult,
} from '../../../tools/nx-releng/src/lib/compose/local-compose';
import {
  parseProductmd,
  readComposeInfo,
  readModulesMetadata,
  readRpmsMetadata,
  serializeProductmd,
} from '../../../tools/nx-releng/src/lib/formats/productmd';
import { modulemdText, parseModulemd } from '../../../tools/nx-releng/src/lib/formats/modulemd';
import { readMetadataFile, readRepomd } from '../../../tools/nx-releng/src/lib/formats/repomd';
import { groupList, moduleList, repoquery } from '../../helpers/dnf';
import { stageLocalSource } from '../../helpers/rpms';

const VARIANTS = ['BaseOS', 'AppStream', 'PowerTools'];
const ARCHES = ['x86_64', 'aarch64'];
const DATE = '20240412';
const LAYOUT = { BaseOS: ['releng-base', 'releng-hello'], AppStream: ['releng-app'], PowerTools: ['releng-tools'] };

/** AppStream's module build (koji's modulemd): stream releng-app:1 built from the releng-app source package. */
function moduleBuilds(component = 'releng-app'): string {
  return modulemdText([
    {
      name: 'releng-app',
      stream: '1',
      version: '8100020240101000000',
      context: '5b4d1e8d',
      summary: 'App module',
      description: 'The AppStream module of the fixtures.',
      license: ['MIT'],
      profiles: { common: ['releng-app'] },
      components: [component],
      defaultProfiles: ['common'],
    },
  ]);
}

describe('createLocalCompose', () => {
  let tmp: string;
  let targetDir: string;
  let srcDir: string;
  let first: LocalComposeResult;
  let options: LocalComposeOptions;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'releng-local-compose-'));
    targetDir = join(tmp, 'compose/8');
    await mkdir(targetDir, { recursive: true });
    srcDir = await stageLocalSource(join(tmp, 'koji'), '8', 'Rocky', LAYOUT);
    await writeFile(join(srcDir, 'AppStream/modules.yaml'), moduleBuilds());
    options = {
      targetDir,
      srcDir,
      releaseName: 'Rocky Linux',
      short: 'Rocky',
      version: '8.10',
      label: 'Update-8.10',
      variants: VARIANTS,
      arches: ARCHES,
      date: DATE,
      latestLinkName: 'latest-Rocky-8',
    };
    first = await createLocalCompose(options);
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  const c = (...p: string[]) => join(first.composeDir, ...p);

  test('staged source layout', async () => {
    assert.equal(srcDir, join(tmp, 'koji/local/8/Rocky'));
    const base = (await readdir(join(srcDir, 'BaseOS'))).sort();
    assert.ok(base.includes('comps.xml'));
    assert.ok(base.includes('releng-hello-debuginfo-1.0-1.el8.aarch64.rpm'));
    assert.ok(base.includes('releng-hello-1.0-1.el8.src.rpm'));
    assert.ok(!(await readdir(join(srcDir, 'PowerTools'))).includes('comps.xml'));
  });

  test('result, COMPOSE_ID, STATUS and the relative latest link', async () => {
    assert.equal(first.composeId, 'Rocky-8.10-updates-20240412.0');
    assert.equal(first.composeDir, join(targetDir, first.composeId));
    assert.equal(first.status, 'FINISHED');
    assert.equal(first.latestLink, join(targetDir, 'latest-Rocky-8'));
    // base noarch + src, hello x86_64/aarch64/src + 2x2 debug, app 2 + src, tools + src
    assert.equal(first.rpmCount, 14);
    assert.equal(await readFile(c('COMPOSE_ID'), 'utf8'), first.composeId);
    assert.equal(await readFile(c('STATUS'), 'utf8'), 'FINISHED\n');
    assert.equal(await readlink(first.latestLink), first.composeId);
    assert.ok((await readFile(c('logs/global/pungi.global.log'), 'utf8')).includes('Compose finished'));
  });

  test('compose id formation', () => {
    const o = { short: 'Rocky', version: '8.9', releaseType: 'updates', date: '20240412', composeType: 'production' as const, respin: 1 };
    assert.equal(composeIdFor(o), 'Rocky-8.9-updates-20240412.1');
    assert.equal(composeIdFor({ ...o, version: '8', releaseType: 'ga', composeType: 'nightly', respin: 0 }), 'Rocky-8-20240412.n.0');
  });

  test('hashed Packages/<letter>/ layout: noarch to every arch, arch RPMs to theirs, debug and source apart', async () => {
    const ls = async (p: string) => (existsSync(c(p)) ? (await readdir(c(p))).sort() : []);
    assert.deepEqual(await ls('compose/BaseOS/x86_64/os/Packages'), ['r']);
    assert.deepEqual(await ls('compose/BaseOS/x86_64/os/Packages/r'), [
      'releng-base-1.0-1.el8.noarch.rpm',
      'releng-hello-1.0-1.el8.x86_64.rpm',
    ]);
    assert.deepEqual(await ls('compose/BaseOS/aarch64/os/Packages/r'), [
      'releng-base-1.0-1.el8.noarch.rpm',
      'releng-hello-1.0-1.el8.aarch64.rpm',
    ]);
    assert.deepEqual(await ls('compose/BaseOS/x86_64/debug/tree/Packages/r'), [
      'releng-hello-debuginfo-1.0-1.el8.x86_64.rpm',
      'releng-hello-debugsource-1.0-1.el8.x86_64.rpm',
    ]);
    assert.deepEqual(await ls('compose/BaseOS/source/tree/Packages/r'), [
      'releng-base-1.0-1.el8.src.rpm',
      'releng-hello-1.0-1.el8.src.rpm',
    ]);
    assert.deepEqual(await ls('compose/PowerTools/aarch64/os/Packages/r'), ['releng-tools-1.0-1.el8.noarch.rpm']);
    assert.deepEqual(await ls('compose/PowerTools/x86_64/debug/tree/Packages'), []);
    // Hardlinked from the source, not copied (same filesystem).
    const a = await stat(c('compose/BaseOS/x86_64/os/Packages/r/releng-base-1.0-1.el8.noarch.rpm'));
    const b = await stat(join(srcDir, 'BaseOS/releng-base-1.0-1.el8.noarch.rpm'));
    assert.equal(a.ino, b.ino);
  });

  test('work/ package lists and comps are where pungi puts them', async () => {
    assert.equal(
      await readFile(c('work/x86_64/repo_package_list/BaseOS.x86_64.rpm.conf'), 'utf8'),
      'Packages/r/releng-base-1.0-1.el8.noarch.rpm\nPackages/r/releng-hello-1.0-1.el8.x86_64.rpm\n',
    );
    assert.equal(
      await readFile(c('work/aarch64/repo_package_list/BaseOS.aarch64.debuginfo.conf'), 'utf8'),
      'Packages/r/releng-hello-debuginfo-1.0-1.el8.aarch64.rpm\nPackages/r/releng-hello-debugsource-1.0-1.el8.aarch64.rpm\n',
    );
    assert.equal(
      await readFile(c('work/global/repo_package_list/AppStream.None.srpm.conf'), 'utf8'),
      'Packages/r/releng-app-1.0-1.el8.src.rpm\n',
    );
    assert.equal(await readFile(c('work/x86_64/repo_package_list/PowerTools.x86_64.debuginfo.conf'), 'utf8'), '');
    assert.match(await readFile(c('work/x86_64/comps/comps-BaseOS.x86_64.xml'), 'utf8'), /<id>releng-core<\/id>/);
    assert.ok(existsSync(c('work/aarch64/comps/comps-AppStream.aarch64.xml')));
    assert.ok(!existsSync(c('work/x86_64/comps/comps-PowerTools.x86_64.xml')));
    assert.ok(existsSync(c('work/global/variants.xml')));
  });

  test('repodata for os, debug and source of every variant and arch; comps only in os repos with comps', async () => {
    for (const v of VARIANTS) {
      const repos = [...ARCHES.flatMap((a) => [`${v}/${a}/os`, `${v}/${a}/debug/tree`]), `${v}/source/tree`];
      for (const r of repos) {
        const repomd = await readFile(c('compose', r, 'repodata/repomd.xml'), 'utf8');
        assert.match(repomd, /<data type="primary">/, r);
        // pungi's --no-database: no sqlite
        assert.doesNotMatch(repomd, /primary_db/, r);
        assert.equal(/<data type="group">/.test(repomd), r.endsWith('/os') && v !== 'PowerTools', r);
      }
    }
  });

  test('.treeinfo, .discinfo and media.repo in os and source trees', async () => {
    const ti = await readFile(c('compose/AppStream/aarch64/os/.treeinfo'), 'utf8');
    assert.match(ti, /^\[general\]\n; WARNING\.0 = /);
    assert.match(ti, /\[header\]\ntype = productmd\.treeinfo\nversion = 1\.2\n/);
    assert.match(ti, /\[tree\]\narch = aarch64\n/);
    assert.match(ti, /\[variant-AppStream\]\nid = AppStream\n/);
    assert.doesNotMatch(ti, /\[checksums\]/);
    assert.match(await readFile(c('compose/AppStream/source/tree/.treeinfo'), 'utf8'), /\[tree\]\narch = src\n/);
    const di = (await readFile(c('compose/BaseOS/x86_64/os/.discinfo'), 'utf8')).split('\n');
    assert.match(di[0]!, /^\d+\.\d{6}$/);
    assert.deepEqual(di.slice(1), ['Rocky Linux 8.10', 'x86_64', 'ALL', '']);
    assert.match(await readFile(c('compose/BaseOS/source/tree/media.repo'), 'utf8'), /^\[InstallMedia\]\nname=Rocky Linux 8\.10\n/);
    assert.ok(!existsSync(c('compose/BaseOS/x86_64/debug/tree/.treeinfo')));
  });

  test('composeinfo.json: productmd 1.2, label/final, source paths under each binary arch', async () => {
    const file = c('compose/metadata/composeinfo.json');
    const text = await readFile(file, 'utf8');
    assert.ok(!text.endsWith('\n'));
    assert.match(text, /^\{\n {4}"header": \{\n {8}"type": "productmd\.composeinfo",\n {8}"version": "1\.2"\n {4}\},/);
    const ci = await readComposeInfo(file);
    assert.equal(serializeProductmd(ci), text, 'keys sorted, indent 4');
    assert.deepEqual(ci.payload.compose, {
      date: DATE,
      final: true,
      id: first.composeId,
      label: 'Update-8.10',
      respin: 0,
      type: 'production',
    });
    assert.deepEqual(ci.payload.release, { internal: false, name: 'Rocky Linux', short: 'Rocky', type: 'updates', version: '8.10' });
    assert.deepEqual(Object.keys(ci.payload.variants).sort(), [...VARIANTS].sort());
    const base = ci.payload.variants.BaseOS!;
    assert.deepEqual(base.arches, ['aarch64', 'x86_64']);
    assert.equal(base.type, 'variant');
    assert.deepEqual(base.paths.source_tree, { aarch64: 'BaseOS/source/tree', x86_64: 'BaseOS/source/tree' });
    assert.deepEqual(base.paths.packages, { aarch64: 'BaseOS/aarch64/os/Packages', x86_64: 'BaseOS/x86_64/os/Packages' });
    assert.deepEqual(base.paths.debug_repository, { aarch64: 'BaseOS/aarch64/debug/tree', x86_64: 'BaseOS/x86_64/debug/tree' });
    assert.ok(!('src' in base.paths.source_packages!));
    assert.ok(!('isos' in base.paths));
    for (const cat of Object.values(base.paths)) for (const p of Object.values(cat)) assert.ok(existsSync(c('compose', p)), p);

    const baseInfo = await readComposeInfo(c('work/global/composeinfo-base.json'));
    assert.deepEqual(baseInfo.payload.compose, ci.payload.compose);
    assert.deepEqual(baseInfo.payload.variants, {});
  });

  test('rpms.json: NEVRA keys with epoch, SRPMs filed under each binary arch, relative paths', async () => {
    const rpms = (await readRpmsMetadata(c('compose/metadata/rpms.json'))).payload;
    assert.deepEqual(rpms.compose, { date: DATE, id: first.composeId, respin: 0, type: 'production' });
    assert.deepEqual(Object.keys(rpms.rpms.BaseOS!).sort(), ['aarch64', 'x86_64']);
    assert.deepEqual(rpms.rpms.BaseOS!.x86_64!['releng-hello-0:1.0-1.el8.src'], {
      'releng-hello-0:1.0-1.el8.src': {
        category: 'source',
        path: 'BaseOS/source/tree/Packages/r/releng-hello-1.0-1.el8.src.rpm',
        sigkey: null,
      },
      'releng-hello-0:1.0-1.el8.x86_64': {
        category: 'binary',
        path: 'BaseOS/x86_64/os/Packages/r/releng-hello-1.0-1.el8.x86_64.rpm',
        sigkey: null,
      },
      'releng-hello-debuginfo-0:1.0-1.el8.x86_64': {
        category: 'debug',
        path: 'BaseOS/x86_64/debug/tree/Packages/r/releng-hello-debuginfo-1.0-1.el8.x86_64.rpm',
        sigkey: null,
      },
      'releng-hello-debugsource-0:1.0-1.el8.x86_64': {
        category: 'debug',
        path: 'BaseOS/x86_64/debug/tree/Packages/r/releng-hello-debugsource-1.0-1.el8.x86_64.rpm',
        sigkey: null,
      },
    });
    assert.deepEqual(Object.keys(rpms.rpms.PowerTools!.aarch64!['releng-tools-0:1.0-1.el8.src']!).sort(), [
      'releng-tools-0:1.0-1.el8.noarch',
      'releng-tools-0:1.0-1.el8.src',
    ]);
    for (const byArch of Object.values(rpms.rpms)) {
      assert.ok(!('src' in byArch));
      for (const bySrpm of Object.values(byArch))
        for (const byRpm of Object.values(bySrpm))
          for (const e of Object.values(byRpm)) assert.ok(existsSync(c('compose', e.path)), e.path);
    }
    const modules = await readModulesMetadata(c('compose/metadata/modules.json'));
    assert.deepEqual(Object.keys(modules.payload.modules), ['AppStream']);
    assert.equal(modules.payload.compose.id, first.composeId);
  });

  test('a modular variant: every os repo gets a modules record naming its own packages, as pungi adds it', async () => {
    const modules = (await readModulesMetadata(c('compose/metadata/modules.json'))).payload.modules;
    const uid = 'releng-app:1:8100020240101000000:5b4d1e8d';
    for (const arch of ARCHES) {
      const repo = `AppStream/${arch}/os`;
      const record = (await readRepomd(c('compose', repo))).records.find((r) => r.type === 'modules');
      assert.ok(record, `${repo} has a modules record`);
      assert.match(record.location, /^repodata\/[0-9a-f]{64}-modules\.yaml\.gz$/, 'pungi compresses it with gz');
      const text = await readMetadataFile(c('compose', repo, record.location));
      assert.deepEqual(parseModulemd(text, repo), ['releng-app:1']);
      // The artifacts are the repo's real packages: this arch's, not the other's, no source RPM.
      assert.ok(text.includes(`  arch: ${arch}\n  artifacts:\n    rpms:\n      - releng-app-0:1.0-1.el8.${arch}\n...\n`), text);
      assert.match(text, /document: modulemd-defaults/);
      assert.deepEqual(modules.AppStream?.[arch]?.[uid], {
        metadata: { uid, name: 'releng-app', stream: '1', version: '8100020240101000000', context: '5b4d1e8d', koji_tag: 'module-releng-app-1-8100020240101000000-5b4d1e8d' },
        modulemd_path: { binary: `${repo}/${record.location}` },
        rpms: [`releng-app-0:1.0-1.el8.${arch}`],
      });
    }
    for (const repo of ['BaseOS/x86_64/os', 'PowerTools/x86_64/os', 'AppStream/x86_64/debug/tree', 'AppStream/source/tree']) {
      assert.equal((await readRepomd(c('compose', repo))).records.find((r) => r.type === 'modules'), undefined, `${repo} has no modules`);
    }
    assert.match(await moduleList({ appstream: c('compose/AppStream/aarch64/os') }, { arch: 'aarch64' }), /^releng-app\s+1 \[d\]\s+common \[d\]/m);
  });

  test('productmd readers reject other header versions/types naming the file', async () => {
    const file = join(tmp, 'composeinfo-2.0.json');
    const text = (await readFile(c('compose/metadata/composeinfo.json'), 'utf8')).replace('"version": "1.2"', '"version": "2.0"');
    await writeFile(file, text);
    await assert.rejects(readComposeInfo(file), (err: Error) => {
      assert.equal(err.name, 'RelengError');
      assert.ok(err.message.includes(file));
      assert.match(err.message, /2\.0/);
      return true;
    });
    assert.throws(() => parseProductmd(text.replace('2.0', '1.2'), 'productmd.rpms', 'x.json'), /x\.json: header\.type/);
    assert.throws(() => parseProductmd('{', 'productmd.rpms', 'y.json'), /y\.json: not valid JSON/);
  });

  test('the real dnf sees the os repos, the comps groups, debug and source repos', async () => {
    const os = (v: string, a: string) => c('compose', v, a, 'os');
    assert.deepEqual(await repoquery({ baseos: os('BaseOS', 'x86_64') }, { arch: 'x86_64' }), [
      'releng-base-0:1.0-1.el8.noarch',
      'releng-hello-0:1.0-1.el8.x86_64',
    ]);
    assert.deepEqual(await repoquery({ baseos: os('BaseOS', 'aarch64') }, { arch: 'aarch64' }), [
      'releng-base-0:1.0-1.el8.noarch',
      'releng-hello-0:1.0-1.el8.aarch64',
    ]);
    assert.deepEqual(await groupList({ baseos: os('BaseOS', 'x86_64') }, { arch: 'x86_64' }), ['Releng Core']);
    assert.deepEqual(await groupList({ baseos: os('BaseOS', 'x86_64') }, { arch: 'x86_64', ids: true }), ['releng-core']);
    assert.deepEqual(
      await groupList({ baseos: os('BaseOS', 'aarch64'), appstream: os('AppStream', 'aarch64') }, { arch: 'aarch64' }),
      ['Releng Apps', 'Releng Core'],
    );
    assert.deepEqual(await repoquery({ debug: c('compose/BaseOS/x86_64/debug/tree') }, { arch: 'x86_64' }), [
      'releng-hello-debuginfo-0:1.0-1.el8.x86_64',
      'releng-hello-debugsource-0:1.0-1.el8.x86_64',
    ]);
    assert.deepEqual(await repoquery({ src: c('compose/BaseOS/source/tree') }, { arch: 'src' }), [
      'releng-base-0:1.0-1.el8.src',
      'releng-hello-0:1.0-1.el8.src',
    ]);
    // Dependencies resolve across variants: PowerTools -> AppStream -> BaseOS.
    const all = {
      baseos: os('BaseOS', 'x86_64'),
      appstream: os('AppStream', 'x86_64'),
      powertools: os('PowerTools', 'x86_64'),
    };
    assert.deepEqual(await repoquery(all, { arch: 'x86_64', extraArgs: ['--requires', '--resolve', 'releng-tools'] }), [
      'releng-app-0:1.0-1.el8.x86_64',
    ]);
  });

  test('a second compose the same day gets respin 1 and moves the link', async () => {
    const src2 = await stageLocalSource(join(tmp, 'koji2'), '8', 'Rocky', LAYOUT, { version: '1.1' });
    const second = await createLocalCompose({ ...options, srcDir: src2 });
    assert.equal(second.composeId, 'Rocky-8.10-updates-20240412.1');
    assert.equal(await readlink(join(targetDir, 'latest-Rocky-8')), second.composeId);
    assert.equal(await readFile(join(first.composeDir, 'STATUS'), 'utf8'), 'FINISHED\n');
    assert.equal((await readRpmsMetadata(join(second.composeDir, 'compose/metadata/rpms.json'))).payload.compose.respin, 1);
    assert.deepEqual(await repoquery({ b: join(targetDir, 'latest-Rocky-8/compose/BaseOS/x86_64/os') }, { arch: 'x86_64' }), [
      'releng-base-0:1.0-1.el8.noarch',
      'releng-hello-0:1.1-1.el8.x86_64',
    ]);
    // No stray temp links next to the compose dirs.
    assert.deepEqual((await readdir(targetDir)).sort(), [first.composeId, second.composeId, 'latest-Rocky-8'].sort());
  });

  test('a missing variant dir dooms the compose and leaves the latest link alone', async () => {
    const before = await readlink(join(targetDir, 'latest-Rocky-8'));
    await assert.rejects(createLocalCompose({ ...options, variants: [...VARIANTS, 'Extras'] }), (err: Error) => {
      assert.equal(err.name, 'RelengError');
      assert.ok(err.message.includes(join(srcDir, 'Extras')), err.message);
      assert.match(err.message, /DOOMED/);
      return true;
    });
    const doomed = join(targetDir, 'Rocky-8.10-updates-20240412.2');
    assert.equal(await readFile(join(doomed, 'STATUS'), 'utf8'), 'DOOMED\n');
    assert.equal(await readlink(join(targetDir, 'latest-Rocky-8')), before);
    assert.match(await readFile(join(doomed, 'logs/global/pungi.global.log'), 'utf8'), /Compose failed/);
  });

  test('allowEmptyVariant makes empty but complete repos for a missing variant dir', async () => {
    const target = join(tmp, 'compose-empty');
    await mkdir(target);
    const res = await createLocalCompose({
      ...options,
      targetDir: target,
      variants: ['BaseOS', 'Extras'],
      arches: ['x86_64'],
      releaseType: 'ga',
      label: undefined,
      allowEmptyVariant: true,
      latestLinkName: 'latest-Rocky-8',
    });
    assert.equal(res.composeId, 'Rocky-8.10-20240412.0');
    // base noarch+src, hello x86_64+src+debuginfo+debugsource; the aarch64 RPMs are ignored
    assert.equal(res.rpmCount, 6);
    assert.deepEqual(await repoquery({ e: join(res.composeDir, 'compose/Extras/x86_64/os') }, { arch: 'x86_64' }), []);
    assert.ok(existsSync(join(res.composeDir, 'compose/Extras/source/tree/repodata/repomd.xml')));
    const ci = await readComposeInfo(join(res.composeDir, 'compose/metadata/composeinfo.json'));
    assert.equal(ci.payload.compose.label, undefined);
    assert.equal(ci.payload.release.type, 'ga');
    assert.ok(!existsSync(join(res.composeDir, 'compose/BaseOS/aarch64')));
    const rpms = await readRpmsMetadata(join(res.composeDir, 'compose/metadata/rpms.json'));
    assert.deepEqual(Object.keys(rpms.payload.rpms), ['BaseOS']);
  });

  test('a module component with no RPM in the variant dooms the compose, naming the modules.yaml and the component', async () => {
    const target = join(tmp, 'compose-bad-module');
    await mkdir(target);
    const src = await stageLocalSource(join(tmp, 'koji-bad-module'), '8', 'Rocky', LAYOUT);
    await writeFile(join(src, 'AppStream/modules.yaml'), moduleBuilds('releng-missing'));
    await assert.rejects(createLocalCompose({ ...options, srcDir: src, targetDir: target }), (err: Error) => {
      assert.equal(err.name, 'RelengError');
      assert.ok(err.message.includes(`${join(src, 'AppStream/modules.yaml')}: module component releng-missing has no RPM in ${join(src, 'AppStream')}`), err.message);
      return true;
    });
    assert.deepEqual(await readdir(target), ['Rocky-8.10-updates-20240412.0']);
  });

  test('checks before anything is created: target dir, label, date', async () => {
    await assert.rejects(createLocalCompose({ ...options, targetDir: join(tmp, 'nope') }), /compose target dir .*nope/);
    await assert.rejects(createLocalCompose({ ...options, label: 'RC-8' }), /invalid compose label 'RC-8'/);
    await assert.rejects(createLocalCompose({ ...options, date: '2024-04-12' }), /YYYYMMDD/);
    assert.ok(!existsSync(join(targetDir, 'Rocky-8.10-updates-20240412.3')));
    assert.equal(basename(await readlink(join(targetDir, 'latest-Rocky-8'))), 'Rocky-8.10-updates-20240412.1');
  });
});
