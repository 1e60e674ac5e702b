import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadComposeModel, parseRelease } from '../../../tools/nx-releng/src/config/load';
import { channelRelease, parseRepoPath, resolveRoots, stagingPaths } from '../../../tools/nx-releng/src/layout/paths';
import { localIsoPlan, treeinfoText } from '../../../tools/nx-releng/src/lib/compose/local-compose';
import {
  addTreeinfoVariants,
  checksumEntry,
  latestIsoLinks,
  manifestText,
  planMinorRelease,
} from '../../../tools/nx-releng/src/lib/staging/minor-release';
import { rsyncArgs } from '../../../tools/nx-releng/src/lib/tools/rsync';
import { REPO_ROOT, readJsonFile } from '../../helpers/workspace';

const BASEOS_TREEINFO = treeinfoText({
  releaseName: 'Rocky Linux',
  releaseShort: 'Rocky',
  releaseVersion: '8.10',
  variant: 'BaseOS',
  arch: 'x86_64',
  timestamp: 1716000000,
});

describe('treeinfoModder (addTreeinfoVariants)', () => {
  test('adds AppStream to [tree] variants and appends its section, with os or kickstart paths', () => {
    const os = addTreeinfoVariants(BASEOS_TREEINFO, 'x86_64', 'os', ['AppStream']);
    assert.equal(
      os,
      BASEOS_TREEINFO.replace(
        '[tree]\narch = x86_64\nbuild_timestamp = 1716000000\nplatforms = x86_64\nvariants = BaseOS\n',
        '[tree]\narch = x86_64\nbuild_timestamp = 1716000000\nplatforms = x86_64\nvariants = BaseOS,AppStream\n',
      ) +
        '[variant-AppStream]\nid = AppStream\nname = AppStream\npackages = ../../../AppStream/x86_64/os/Packages\n' +
        'repository = ../../../AppStream/x86_64/os/\ntype = variant\nuid = AppStream\n\n',
    );
    const ks = addTreeinfoVariants(BASEOS_TREEINFO, 'aarch64', 'kickstart', ['AppStream']);
    assert.match(ks, /packages = \.\.\/\.\.\/\.\.\/AppStream\/aarch64\/kickstart\/Packages\nrepository = \.\.\/\.\.\/\.\.\/AppStream\/aarch64\/kickstart\/\n/);
  });

  test('is idempotent: a second run gives the same bytes (the EL8 bash raised DuplicateSectionError)', () => {
    const once = addTreeinfoVariants(BASEOS_TREEINFO, 'x86_64', 'os', ['AppStream']);
    assert.equal(addTreeinfoVariants(once, 'x86_64', 'os', ['AppStream']), once);
    // A kickstart copy of the modified os file gets its paths corrected, not a second section.
    const ks = addTreeinfoVariants(once, 'x86_64', 'kickstart', ['AppStream']);
    assert.equal(ks.match(/\[variant-AppStream\]/g)?.length, 1);
    assert.equal(ks, addTreeinfoVariants(BASEOS_TREEINFO, 'x86_64', 'kickstart', ['AppStream']));
  });

  test('refuses what is not a productmd treeinfo, naming the file', () => {
    assert.throws(() => addTreeinfoVariants('[general]\nfamily = x\n', 'x86_64', 'os', ['AppStream'], '/s/BaseOS/x86_64/os/.treeinfo'), /\/s\/BaseOS\/x86_64\/os\/\.treeinfo: no \[tree\] section/);
    assert.throws(() => addTreeinfoVariants('[tree]\nnot a key value\n', 'x86_64', 'os', ['AppStream'], 'f'), /f: line 2 is not a section header or key = value/);
  });
});

test('manifest: the bash pipeline (tail -n+2 | tr -d "\'" | cut -c2- | sort) over xorriso -find /', () => {
  const find = "'/'\n'/BaseOS'\n'/.treeinfo'\n'/BaseOS/Packages'\n'/.discinfo'\n'/BaseOS/Packages/r/releng-base-1.0-1.el8.noarch.rpm'\n'/BaseOS/Packages/r'\n";
  assert.equal(
    manifestText(find),
    '.discinfo\n.treeinfo\nBaseOS\nBaseOS/Packages\nBaseOS/Packages/r\nBaseOS/Packages/r/releng-base-1.0-1.el8.noarch.rpm\n',
  );
});

test('latest links: only to ISOs that exist; dvd prefers dvd1, else dvd', () => {
  const isos = ['Rocky-8.10-x86_64-boot.iso', 'Rocky-8.10-x86_64-dvd1.iso', 'Rocky-8.10-x86_64-dvd.iso'];
  assert.deepEqual(latestIsoLinks('Rocky', '8', '8.10', 'x86_64', isos), [
    { name: 'Rocky-8-latest-x86_64-boot.iso', target: 'Rocky-8.10-x86_64-boot.iso' },
    { name: 'Rocky-8-latest-x86_64-dvd.iso', target: 'Rocky-8.10-x86_64-dvd1.iso' },
  ]);
  assert.deepEqual(latestIsoLinks('Rocky', '10', '10.1', 'aarch64', ['Rocky-10.1-aarch64-dvd.iso', 'Rocky-10.1-aarch64-minimal.iso']), [
    { name: 'Rocky-10-latest-aarch64-dvd.iso', target: 'Rocky-10.1-aarch64-dvd.iso' },
    { name: 'Rocky-10-latest-aarch64-minimal.iso', target: 'Rocky-10.1-aarch64-minimal.iso' },
  ]);
});

test('CHECKSUM entries: the size comment, then sha256sum --tag', () => {
  assert.equal(
    checksumEntry('Rocky-8.10-x86_64-dvd1.iso', { size: 14037385216, sha256: 'ab'.repeat(32) }),
    `# Rocky-8.10-x86_64-dvd1.iso: 14037385216 bytes\nSHA256 (Rocky-8.10-x86_64-dvd1.iso) = ${'ab'.repeat(32)}\n`,
  );
});

test('local produce compose: pungi-named ISOs of the compose with an ISO-type variant only', () => {
  const plan = localIsoPlan('Rocky', '8.10', ['BaseOS', 'AppStream'], ['BaseOS', 'Minimal'], ['x86_64']);
  assert.deepEqual(
    plan.map((i) => [`${i.dir}/${i.name}`, i.tree, i.withPackages, i.volumeId]),
    [
      ['BaseOS/x86_64/iso/Rocky-8.10-x86_64-boot.iso', 'BaseOS/x86_64/os', false, 'Rocky-8-10-x86_64-dvd'],
      ['BaseOS/x86_64/iso/Rocky-8.10-x86_64-dvd1.iso', 'BaseOS/x86_64/os', true, 'Rocky-8-10-x86_64-dvd'],
      ['Minimal/x86_64/iso/Rocky-8.10-x86_64-minimal.iso', 'BaseOS/x86_64/os', true, 'Rocky-8-10-x86_64-minimal'],
    ],
  );
  assert.deepEqual(localIsoPlan('Extras', '8.10', ['extras', 'plus'], ['BaseOS', 'Minimal'], ['x86_64']), []);
});

test('kickstart trees are repos of their own kind: no errata, closure over kickstart trees', () => {
  assert.deepEqual(parseRepoPath('BaseOS/x86_64/kickstart'), { variant: 'BaseOS', arch: 'x86_64', kind: 'kickstart', path: 'BaseOS/x86_64/kickstart' });
  assert.equal(parseRepoPath('BaseOS/x86_64/os').kind, 'os');
  assert.ok(rsyncArgs({ src: '/a', dest: '/b', linkDest: '/a/Packages' }, false).includes('--link-dest=/a/Packages'));
});

test('release.json treeinfoVariants must name comps repos', () => {
  const release = readJsonFile<Record<string, unknown>>(join(REPO_ROOT, 'releases/8/release.json'));
  assert.deepEqual(parseRelease('8', release).treeinfoVariants, { BaseOS: ['AppStream'] });
  assert.throws(
    () => parseRelease('8', { ...release, treeinfoVariants: { BaseOS: ['AppStream', 'extras'] } }),
    /releases\/8\/release\.json: field treeinfoVariants\.BaseOS\.1: 'extras' is not a comps repository; a \.treeinfo names os and kickstart trees, which only compsRepos have \(BaseOS, /,
  );
  const { treeinfoVariants: _, ...without } = release;
  assert.deepEqual(parseRelease('8', without).treeinfoVariants, {});
});

describe('planMinorRelease checks before anything is touched', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'releng-minor-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const setup = (project: string) => {
    const model = loadComposeModel(REPO_ROOT, `releases/8/${project}`);
    const roots = resolveRoots(model.common, model.release, tmp);
    const ch = channelRelease(model.release, 'stable');
    const sp = stagingPaths(model, ch, roots);
    const composeDir = join(tmp, 'mnt/compose/8', `${project}-8.10-20250101.0`);
    const compose = { latestLink: '', composeDir, composeId: `${project}-8.10-20250101.0`, status: 'FINISHED' };
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (l: string) => warnings.push(l) };
    return { model, ch, sp, compose, log, warnings, roots };
  };

  test("the model's devel compose has a variant devel, so devel -> Devel is not made: said, not done", async () => {
    const s = setup('Rocky-devel');
    const plan = await planMinorRelease(s.model, s.ch, s.compose, s.sp, s.log);
    assert.deepEqual(plan.repoLinks, []);
    assert.deepEqual(plan.isoDirs, []);
    assert.deepEqual(plan.categoryLinks, [
      { name: 'latest-8', target: '8.10-RC2' },
      { name: '8.10', target: '8.10-RC2' },
    ]);
    assert.deepEqual(s.warnings, [
      'releases/8/release.json: linkRepos Devel -> devel is not made: devel is a variant (a directory) of Rocky-devel-8 and no compose of 8 has a variant Devel',
    ]);
  });

  test('a real directory where a link goes is refused; a link there is replaced', async () => {
    const s = setup('Extras');
    mkdirSync(join(s.sp.categoryDir, 'latest-8'), { recursive: true });
    await assert.rejects(
      planMinorRelease(s.model, s.ch, s.compose, s.sp, s.log),
      new RegExp(`${s.sp.categoryDir}/latest-8 is a directory, not a link; the minor release would replace it with a link to 8\\.10-RC2\\. Move it away first \\(nothing was changed\\)`),
    );
    rmSync(join(s.sp.categoryDir, 'latest-8'), { recursive: true });
    symlinkSync('8.9', join(s.sp.categoryDir, 'latest-8'));
    await planMinorRelease(s.model, s.ch, s.compose, s.sp, s.log); // a link is fine: it is replaced
  });

  test('beta: no kickstart trees, no category links, and no ISOs is no error', async () => {
    const s = setup('Rocky');
    mkdirSync(join(s.compose.composeDir, 'compose/BaseOS/x86_64/os/repodata'), { recursive: true });
    const stable = await planMinorRelease(s.model, s.ch, s.compose, s.sp, s.log).catch((e: Error) => e.message);
    assert.match(String(stable), /has no ISOs in compose\/BaseOS\/x86_64\/iso/);
    const beta = channelRelease(s.model.release, 'beta');
    const plan = await planMinorRelease(s.model, beta, s.compose, stagingPaths(s.model, beta, s.roots), s.log);
    assert.deepEqual(plan.kickstart, []);
    assert.deepEqual(plan.categoryLinks, []);
    assert.deepEqual(plan.isoDirs, []);
    assert.deepEqual(plan.repoLinks, [{ name: 'nfv', target: 'NFV' }]);
  });
});
