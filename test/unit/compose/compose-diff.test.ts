import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  buildReport,
  compareComposes,
  diffRpms,
  parseNevra,
  renderMarkdown,
  summarizeReport,
  writeChangeReport,
} from '../../../tools/nx-releng/src/lib/compose/compose-diff';
import { addRpm, writeRpmsMetadata, type RpmsMap } from '../../../tools/nx-releng/src/lib/formats/productmd';
import { removeDir, tempDir } from '../../helpers/workspace';

/** rpms.json from "Variant arch name-epoch:version-release.arch [category]" lines. */
function rpmsMap(lines: string[]): RpmsMap {
  const rpms: RpmsMap = {};
  for (const line of lines) {
    const [variant, arch, nevra, category = 'binary'] = line.split(' ') as [string, string, string, string?];
    const n = parseNevra(nevra);
    const srpm = `${n.name.replace(/-debug(info|source)$/, '')}-${n.epoch}:${n.version}-${n.release}.src`;
    addRpm(rpms, variant, arch, srpm, nevra, {
      category: category as 'binary' | 'debug' | 'source',
      path: `${variant}/${arch}/os/Packages/${nevra[0]}/${nevra}.rpm`,
      sigkey: null,
    });
  }
  return rpms;
}

describe('parseNevra', () => {
  test('explicit and missing epochs, dashes in names, dots in releases', () => {
    assert.deepEqual(parseNevra('releng-hello-0:1.0-1.el8.x86_64'), { name: 'releng-hello', epoch: '0', version: '1.0', release: '1.el8', arch: 'x86_64' });
    assert.deepEqual(parseNevra('perl-IO-Socket-SSL-1:2.066-4.module+el8.3.0+6446+594cad75.noarch'), {
      name: 'perl-IO-Socket-SSL',
      epoch: '1',
      version: '2.066',
      release: '4.module+el8.3.0+6446+594cad75',
      arch: 'noarch',
    });
    assert.deepEqual(parseNevra('kernel-4.18.0-553.el8_10.src'), { name: 'kernel', epoch: '0', version: '4.18.0', release: '553.el8_10', arch: 'src' });
    assert.throws(() => parseNevra('not-a-nevra'), /not a NEVRA: 'not-a-nevra'/);
  });
});

describe('diffRpms', () => {
  const before = rpmsMap([
    'BaseOS x86_64 releng-hello-0:1.0-1.el8.x86_64',
    'BaseOS x86_64 releng-hello-debuginfo-0:1.0-1.el8.x86_64 debug',
    'BaseOS x86_64 releng-hello-0:1.0-1.el8.src source',
    'BaseOS x86_64 releng-base-0:1.0-1.el8.noarch',
    'BaseOS aarch64 releng-hello-0:1.0-1.el8.aarch64',
    'BaseOS aarch64 releng-base-0:1.0-1.el8.noarch',
    'AppStream x86_64 releng-app-0:2.0-1.el8.x86_64',
    'AppStream x86_64 gone-0:1-1.el8.x86_64',
    'AppStream x86_64 epochy-1:1.0-1.el8.x86_64',
  ]);
  const after = rpmsMap([
    'BaseOS x86_64 releng-hello-0:1.1-1.el8.x86_64',
    'BaseOS x86_64 releng-hello-debuginfo-0:1.1-1.el8.x86_64 debug',
    'BaseOS x86_64 releng-hello-0:1.1-1.el8.src source',
    'BaseOS x86_64 releng-base-0:1.0-1.el8.noarch',
    'BaseOS aarch64 releng-hello-0:1.1-1.el8.aarch64',
    'BaseOS aarch64 releng-base-0:1.0-1.el8.noarch',
    'AppStream x86_64 releng-app-0:1.9-9.el8.x86_64',
    'AppStream x86_64 epochy-0:9.0-1.el8.x86_64',
    'AppStream x86_64 newbie-0:0.1-1.el8.noarch',
    'PowerTools x86_64 releng-tools-0:1.0-1.el8.x86_64',
  ]);

  test('added, removed, upgraded and downgraded per variant and arch; binaries only; epochs count', () => {
    assert.deepEqual(diffRpms(before, after), [
      { kind: 'added', variant: 'AppStream', arch: 'x86_64', name: 'newbie', rpmArch: 'noarch', to: '0.1-1.el8' },
      { kind: 'removed', variant: 'AppStream', arch: 'x86_64', name: 'gone', rpmArch: 'x86_64', from: '1-1.el8' },
      { kind: 'downgraded', variant: 'AppStream', arch: 'x86_64', name: 'epochy', rpmArch: 'x86_64', from: '1:1.0-1.el8', to: '9.0-1.el8' },
      { kind: 'downgraded', variant: 'AppStream', arch: 'x86_64', name: 'releng-app', rpmArch: 'x86_64', from: '2.0-1.el8', to: '1.9-9.el8' },
      { kind: 'upgraded', variant: 'BaseOS', arch: 'aarch64', name: 'releng-hello', rpmArch: 'aarch64', from: '1.0-1.el8', to: '1.1-1.el8' },
      { kind: 'upgraded', variant: 'BaseOS', arch: 'x86_64', name: 'releng-hello', rpmArch: 'x86_64', from: '1.0-1.el8', to: '1.1-1.el8' },
      { kind: 'added', variant: 'PowerTools', arch: 'x86_64', name: 'releng-tools', rpmArch: 'x86_64', to: '1.0-1.el8' },
    ]);
  });

  test('identical composes have no changes; no previous compose makes everything added', () => {
    assert.deepEqual(diffRpms(after, after), []);
    const all = diffRpms(undefined, after);
    assert.equal(all.length, 8);
    assert.ok(all.every((c) => c.kind === 'added'));
  });

  test('several versions of one name.arch (module streams): compared by the newest, the rest listed', () => {
    const a = rpmsMap(['AppStream x86_64 nodejs-1:10.24.0-1.el8.x86_64', 'AppStream x86_64 nodejs-1:12.22.1-1.el8.x86_64']);
    const b = rpmsMap([
      'AppStream x86_64 nodejs-1:12.22.1-1.el8.x86_64',
      'AppStream x86_64 nodejs-1:14.17.0-1.el8.x86_64',
    ]);
    assert.deepEqual(diffRpms(a, b), [
      { kind: 'upgraded', variant: 'AppStream', arch: 'x86_64', name: 'nodejs', rpmArch: 'x86_64', from: '1:12.22.1-1.el8', to: '1:14.17.0-1.el8' },
    ]);
    const c = rpmsMap(['AppStream x86_64 nodejs-1:12.22.1-1.el8.x86_64', 'AppStream x86_64 nodejs-1:11.0-1.el8.x86_64']);
    assert.deepEqual(diffRpms(a, c), [
      { kind: 'added', variant: 'AppStream', arch: 'x86_64', name: 'nodejs', rpmArch: 'x86_64', to: '1:11.0-1.el8' },
      { kind: 'removed', variant: 'AppStream', arch: 'x86_64', name: 'nodejs', rpmArch: 'x86_64', from: '1:10.24.0-1.el8' },
    ]);
  });

  test('rpm ordering, not string ordering: 1.10 > 1.9, ~rc < release', () => {
    const a = rpmsMap(['BaseOS x86_64 p-0:1.9-1.x86_64', 'BaseOS x86_64 q-0:2.0-1.x86_64']);
    const b = rpmsMap(['BaseOS x86_64 p-0:1.10-1.x86_64', 'BaseOS x86_64 q-0:2.0~rc1-1.x86_64']);
    assert.deepEqual(
      diffRpms(a, b).map((c) => `${c.kind} ${c.name}`),
      ['upgraded p', 'downgraded q'],
    );
  });

  const report = buildReport({ id: 'Rocky-8.10-updates-20240102.0', dir: '/c/new' }, after, { id: 'Rocky-8.10-updates-20240101.0', dir: '/c/old' }, before);

  test('the summary: headline, grouped changes, downgrades as warnings', () => {
    assert.deepEqual(report.counts, { added: 2, removed: 1, upgraded: 2, downgraded: 2 });
    assert.equal(report.packages, 8);
    const { lines, warnings } = summarizeReport(report);
    assert.deepEqual(lines, [
      'changes since Rocky-8.10-updates-20240101.0: 2 added, 1 removed, 2 upgraded, 2 downgraded',
      '  upgraded releng-hello 1.0-1.el8 -> 1.1-1.el8 (BaseOS: aarch64, x86_64)',
      '  added newbie 0.1-1.el8 (AppStream: x86_64)',
      '  added releng-tools 1.0-1.el8 (PowerTools: x86_64)',
      '  removed gone 1-1.el8 (AppStream: x86_64)',
    ]);
    assert.deepEqual(warnings, [
      'DOWNGRADED epochy 1:1.0-1.el8 -> 9.0-1.el8 (AppStream: x86_64)',
      'DOWNGRADED releng-app 2.0-1.el8 -> 1.9-9.el8 (AppStream: x86_64)',
    ]);
    const short = summarizeReport(report, 1);
    assert.deepEqual(short.lines.slice(1), ['  upgraded releng-hello 1.0-1.el8 -> 1.1-1.el8 (BaseOS: aarch64, x86_64)', '  ... and 3 more']);
    assert.equal(short.warnings.length, 2, 'downgrades are never cut');
  });

  test('the Markdown report', () => {
    const md = renderMarkdown(report);
    assert.match(md, /^# What changed in Rocky-8\.10-updates-20240102\.0\n\nCompared with Rocky-8\.10-updates-20240101\.0 /);
    assert.match(md, /> \*\*WARNING: 2 package\(s\) DOWNGRADED\.\*\*/);
    assert.match(md, /\| AppStream \| x86_64 \| 1 \| 1 \| 0 \| 2 \|/);
    assert.match(md, /## BaseOS x86_64\n\n- upgraded releng-hello 1\.0-1\.el8 -> 1\.1-1\.el8\n/);
    assert.match(md, /- \*\*WARNING: downgraded releng-app 2\.0-1\.el8 -> 1\.9-9\.el8\*\*/);
    assert.match(md, /- added newbie 0\.1-1\.el8 \(noarch\)/);
    assert.ok(md.endsWith('\n') && !md.endsWith('\n\n'));
  });

  test('the first compose and an unchanged compose', () => {
    const first = buildReport({ id: 'X-1', dir: '/x' }, after, null, undefined);
    assert.deepEqual(summarizeReport(first), { lines: ['no previous compose to compare with: 8 binary packages, all new'], warnings: [] });
    assert.match(renderMarkdown(first), /No previous compose to compare with: all 8 binary packages are new\./);
    const same = buildReport({ id: 'X-2', dir: '/x2' }, after, { id: 'X-1', dir: '/x' }, after);
    assert.deepEqual(summarizeReport(same).lines, ['changes since X-1: 0 added, 0 removed, 0 upgraded, 0 downgraded']);
    assert.match(renderMarkdown(same), /No package changed\.\n$/);
  });
});

describe('compareComposes and writeChangeReport on disk', () => {
  test('reads both rpms.json; an unreadable previous compose is reported, not fatal', async () => {
    const root = tempDir('compose-diff');
    try {
      const write = async (id: string, lines: string[]) => {
        const dir = join(root, id);
        mkdirSync(join(dir, 'compose/metadata'), { recursive: true });
        await writeRpmsMetadata(join(dir, 'compose/metadata/rpms.json'), {
          header: { type: 'productmd.rpms', version: '1.2' },
          payload: { compose: { id, date: '20240101', respin: 0, type: 'production' }, rpms: rpmsMap(lines) },
        });
        return { id, dir };
      };
      const old = await write('R-1', ['BaseOS x86_64 releng-hello-0:1.0-1.el8.x86_64']);
      const cur = await write('R-2', ['BaseOS x86_64 releng-hello-0:1.1-1.el8.x86_64']);
      const report = await compareComposes(cur, old);
      assert.deepEqual(report.counts, { added: 0, removed: 0, upgraded: 1, downgraded: 0 });
      const out = join(root, 'dist/releng/Rocky-8/compose');
      const files = await writeChangeReport(out, report);
      assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')).changes, report.changes);
      assert.match(readFileSync(files.markdown, 'utf8'), /upgraded releng-hello 1\.0-1\.el8 -> 1\.1-1\.el8/);

      writeFileSync(join(old.dir, 'compose/metadata/rpms.json'), '{"header": {"type": "productmd.rpms", "version": "2.0"}}');
      const broken = await compareComposes(cur, old);
      assert.match(broken.previousProblem ?? '', /productmd header\.version is "2\.0"/);
      assert.match(summarizeReport(broken).warnings[0] ?? '', /^cannot compare with the previous compose R-1: /);
      await assert.rejects(compareComposes({ id: 'R-3', dir: join(root, 'R-3') }, cur), /cannot read .*R-3\/compose\/metadata\/rpms\.json/);
    } finally {
      removeDir(root);
    }
  });
});
