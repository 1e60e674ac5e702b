import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import { resolveRoots, housekeepingPaths } from '../../../tools/nx-releng/src/layout/paths';
import {
  globToRegExp,
  housekeeping,
  parseComposeId,
  planHousekeeping,
  removeComposes,
  type HousekeepingInput,
  type RootEntry,
  type RootLink,
} from '../../../tools/nx-releng/src/lib/compose/housekeeping';
import { localDate } from '../../../tools/nx-releng/src/lib/compose/local-compose';
import type { Log } from '../../../tools/nx-releng/src/lib/core/log';
import { REPO_ROOT, removeDir, tempDir } from '../../helpers/workspace';

const DAY = 86_400_000;
/** Local noon, so that the calendar-day arithmetic does not depend on the time zone the tests run in. */
const NOW = new Date(2024, 3, 20, 12, 0, 0);
const ROOT = '/mnt/compose/8';

/** A directory of the compose root, last modified `modifiedDaysAgo` days before NOW. */
function dir(name: string, modifiedDaysAgo: number): RootEntry {
  return { name, isDir: true, mtimeMs: NOW.getTime() - modifiedDaysAgo * DAY };
}

function plan(over: Partial<HousekeepingInput> & Pick<HousekeepingInput, 'entries'>) {
  const p = planHousekeeping({ composeRoot: ROOT, links: [], now: NOW, keepDays: 7, keep: [], short: 'Extras', major: '8', ...over });
  return {
    remove: p.remove.map((d) => d.name),
    keep: Object.fromEntries(p.keep.map((d) => [d.name, d.reason])),
    ignored: p.ignored,
  };
}

describe('parseComposeId', () => {
  const cases: Array<[string, string, string, ReturnType<typeof parseComposeId>]> = [
    ['Rocky-8.10-20240527.0', 'Rocky', '8', { version: '8.10', releaseType: '', date: '20240527', composeType: '', respin: 0 }],
    ['Rocky-8.9-updates-20240412.1', 'Rocky', '8', { version: '8.9', releaseType: 'updates', date: '20240412', composeType: '', respin: 1 }],
    ['Rocky-8-20210625.n.0', 'Rocky', '8', { version: '8', releaseType: '', date: '20210625', composeType: 'n', respin: 0 }],
    ['Rocky-8-updates-testing-20210721.12', 'Rocky', '8', { version: '8', releaseType: 'updates-testing', date: '20210721', composeType: '', respin: 12 }],
    ['Rocky-devel-8.10-updates-20240412.0', 'Rocky-devel', '8', { version: '8.10', releaseType: 'updates', date: '20240412', composeType: '', respin: 0 }],
    // Rocky is not Rocky-devel, SIG is not SIG-cloud, 8 is not 80 or 9.
    ['Rocky-devel-8.10-updates-20240412.0', 'Rocky', '8', undefined],
    ['SIG-cloud-8.10-20240412.0', 'SIG', '8', undefined],
    ['Rocky-80.1-20240412.0', 'Rocky', '8', undefined],
    ['Rocky-9.4-20240412.0', 'Rocky', '8', undefined],
    // Not compose ids: no respin, an unknown release type, an impossible date, a suffix.
    ['Rocky-8.10-updates-20240412', 'Rocky', '8', undefined],
    ['Rocky-8.10-beta-20240412.0', 'Rocky', '8', undefined],
    ['Rocky-8.10-20241341.0', 'Rocky', '8', undefined],
    ['Rocky-8.10-20240412.0.old', 'Rocky', '8', undefined],
    ['latest-Rocky-8', 'Rocky', '8', undefined],
  ];
  for (const [name, short, major, expected] of cases) {
    test(`${name} as ${short} ${major}`, () => assert.deepEqual(parseComposeId(name, short, major), expected));
  }
});

describe('keep patterns', () => {
  const cases: Array<[string, string, boolean]> = [
    ['SIG-*', 'SIG-cloud-8.10-20240101.0', true],
    ['SIG-*', 'Rocky-8.10-20240101.0', false],
    ['Rocky-8.10-2024*', 'Rocky-8.10-20240527.0', true],
    ['Rocky-8.10-2024*', 'Rocky-8.10-updates-20240527.0', false],
    ['Rocky-8.10-2024*', 'Rocky-devel-8.10-20240527.0', false],
    ['Rocky-8.10-2024*', 'XRocky-8.10-20240527.0', false],
    ['Rocky-[0-9].[0-9][0-9]-2*', 'Rocky-8.10-20240527.0', true],
    ['Rocky-[0-9].[0-9][0-9]-2*', 'Rocky-8.10-updates-20240527.0', false],
    ['Rocky-[!9].*', 'Rocky-8.10-20240527.0', true],
    ['Rocky-?.?-2*', 'Rocky-8.9-20231120.0', true],
    ['Rocky-?.?-2*', 'Rocky-8.10-20240527.0', false],
    ['Rocky-8.10-20240527.0', 'Rocky-8.10-20240527.0', true],
    ['Rocky-8.10-20240527.0', 'Rocky-8.10-20240527.01', false],
    ['Rocky-8.1[', 'Rocky-8.1[', true],
  ];
  for (const [glob, name, matches] of cases) {
    test(`${glob} ${matches ? 'matches' : 'does not match'} ${name}`, () => assert.equal(globToRegExp(glob).test(name), matches));
  }
});

describe('planHousekeeping', () => {
  test('age: both the id date and the mtime must be more than keepDays old', () => {
    const p = plan({
      entries: [
        dir('Extras-8.10-updates-20240412.0', 8), // 8 days by date and by mtime: removed
        dir('Extras-8.10-updates-20240413.0', 30), // 7 days by date: kept
        dir('Extras-8.10-updates-20240401.0', 7.99), // old date, but modified 7 whole days ago: kept
        dir('Extras-8.10-updates-20240402.0', 8.01), // both old: removed
        dir('Extras-8.10-updates-20240420.0', 0), // today
        dir('Extras-8.10-updates-20240425.0', 40), // a future date is never old
      ],
    });
    assert.deepEqual(p.remove, ['Extras-8.10-updates-20240402.0', 'Extras-8.10-updates-20240412.0']);
    assert.deepEqual(p.keep, {
      'Extras-8.10-updates-20240401.0': 'dated 20240401 but modified 7 days ago (keepDays 7)',
      'Extras-8.10-updates-20240413.0': 'dated 20240413, 7 days old (keepDays 7)',
      'Extras-8.10-updates-20240420.0': 'dated 20240420, 0 days old (keepDays 7)',
      'Extras-8.10-updates-20240425.0': 'dated 20240425, -5 days old (keepDays 7)',
    });
  });

  test('keepDays moves the boundary', () => {
    const entries = [dir('Extras-8.10-updates-20240418.0', 2), dir('Extras-8.10-updates-20240417.0', 3)];
    assert.deepEqual(plan({ entries, keepDays: 2 }).remove, ['Extras-8.10-updates-20240417.0']);
    assert.deepEqual(plan({ entries, keepDays: 1 }).remove, ['Extras-8.10-updates-20240417.0', 'Extras-8.10-updates-20240418.0']);
  });

  test('keep patterns: Rocky-8.10-2024* keeps the GA composes, not the updates', () => {
    const p = plan({
      short: 'Rocky',
      keep: ['SIG-*', 'Rocky-8.10-2024*'],
      entries: [
        dir('Rocky-8.10-20240527.0', 300),
        dir('Rocky-8.10-updates-20240601.0', 300),
        dir('Rocky-8.9-20231120.0', 400),
        dir('SIG-cloud-8.10-20240101.0', 400),
      ],
      now: new Date(2025, 3, 1, 12),
    });
    assert.deepEqual(p.remove, ['Rocky-8.9-20231120.0', 'Rocky-8.10-updates-20240601.0']);
    assert.deepEqual(p.keep, { 'Rocky-8.10-20240527.0': "matches keep pattern 'Rocky-8.10-2024*'" });
    assert.deepEqual(p.ignored, ['SIG-cloud-8.10-20240101.0']);
  });

  test('SIG-* keeps every compose of a SIG project, as the cron does', () => {
    const p = plan({ short: 'SIG-cloud', keep: ['SIG-*'], entries: [dir('SIG-cloud-8.10-20240101.0', 100)] });
    assert.deepEqual(p.remove, []);
    assert.deepEqual(p.keep, { 'SIG-cloud-8.10-20240101.0': "matches keep pattern 'SIG-*'" });
  });

  test('latest links: relative, absolute, into a subtree, of another short; links out of the root do not count', () => {
    const entries = [
      dir('Extras-8.10-updates-20240301.0', 50),
      dir('Extras-8.10-updates-20240302.0', 50),
      dir('Extras-8.10-updates-20240303.0', 50),
      dir('Extras-8.10-updates-20240304.0', 50),
      dir('Extras-8.10-updates-20240305.0', 50),
      dir('Extras-8.10-updates-20240306.0', 50),
      dir('Rocky-8.10-updates-20240301.0', 50),
    ];
    const links: RootLink[] = [
      { name: 'latest-Extras-8', target: 'Extras-8.10-updates-20240301.0' },
      { name: 'latest-Rocky-8', target: `${ROOT}/Extras-8.10-updates-20240302.0/` },
      { name: 'extras-compose-tree', target: './Extras-8.10-updates-20240303.0/compose' },
      // The same name in another root (8-BETA), and a link that climbs out and back in.
      { name: 'latest-Extras-8-beta', target: '../8-BETA/Extras-8.10-updates-20240304.0' },
      { name: 'roundabout', target: '../8/Extras-8.10-updates-20240305.0' },
      { name: 'elsewhere', target: '/srv/Extras-8.10-updates-20240306.0' },
    ];
    const p = plan({ entries, links });
    assert.deepEqual(p.remove, ['Extras-8.10-updates-20240304.0', 'Extras-8.10-updates-20240306.0']);
    assert.deepEqual(p.keep, {
      'Extras-8.10-updates-20240301.0': 'latest-Extras-8 points at it',
      'Extras-8.10-updates-20240302.0': 'latest-Rocky-8 points at it',
      'Extras-8.10-updates-20240303.0': 'extras-compose-tree points at it',
      'Extras-8.10-updates-20240305.0': 'roundabout points at it',
    });
    // A link protects even when the compose is also old enough and matches nothing else.
    const two = plan({
      entries,
      links: [links[0]!, { name: 'latest-Extras-8-old', target: 'Extras-8.10-updates-20240301.0' }],
    });
    assert.equal(two.keep['Extras-8.10-updates-20240301.0'], 'latest-Extras-8, latest-Extras-8-old point at it');
  });

  test('Rocky and Rocky-devel share the root and never see each other’s composes', () => {
    const entries = [
      dir('Rocky-8.10-updates-20240301.0', 50),
      dir('Rocky-devel-8.10-updates-20240301.0', 50),
      dir('Rocky-devel-8.10-updates-20240302.0', 50),
    ];
    const links: RootLink[] = [{ name: 'latest-Rocky-devel-8', target: 'Rocky-devel-8.10-updates-20240302.0' }];
    const rocky = plan({ short: 'Rocky', entries, links });
    assert.deepEqual(rocky.remove, ['Rocky-8.10-updates-20240301.0']);
    assert.deepEqual(rocky.keep, {});
    assert.deepEqual(rocky.ignored, ['Rocky-devel-8.10-updates-20240301.0', 'Rocky-devel-8.10-updates-20240302.0']);
    const devel = plan({ short: 'Rocky-devel', entries, links });
    assert.deepEqual(devel.remove, ['Rocky-devel-8.10-updates-20240301.0']);
    assert.deepEqual(devel.keep, { 'Rocky-devel-8.10-updates-20240302.0': 'latest-Rocky-devel-8 points at it' });
    assert.deepEqual(devel.ignored, ['Rocky-8.10-updates-20240301.0']);
  });

  test('what is not a compose dir of the project is never a candidate', () => {
    const p = plan({
      entries: [
        dir('scratch', 100),
        dir('.releng-housekeeping', 100),
        dir('Extras-8.10-updates', 100),
        dir('Extras-8.10-updates-20240101', 100),
        dir('Extras-8.10-updates-20240101.0.bak', 100),
        dir('Extras-9.4-updates-20240101.0', 100),
        dir('Extras-80-20240101.0', 100),
        dir('Extras-8.10-beta-20240101.0', 100),
        { name: 'Extras-8.10-updates-20240102.0', isDir: false, mtimeMs: 0 }, // a file (or a link) named like one
        dir('Extras-8-20210625.n.0', 1000), // this one is a compose: version 8, nightly
      ],
    });
    assert.deepEqual(p.remove, ['Extras-8-20210625.n.0']);
    assert.deepEqual(p.ignored, [
      '.releng-housekeeping',
      'Extras-8.10-beta-20240101.0',
      'Extras-8.10-updates',
      'Extras-8.10-updates-20240101',
      'Extras-8.10-updates-20240101.0.bak',
      'Extras-80-20240101.0',
      'Extras-9.4-updates-20240101.0',
      'scratch',
    ]);
  });

  test('removal order is oldest first, respins in order', () => {
    const p = plan({
      entries: [
        dir('Extras-8.10-updates-20240301.10', 50),
        dir('Extras-8.10-updates-20240301.2', 50),
        dir('Extras-8.10-20240201.0', 80),
      ],
    });
    assert.deepEqual(p.remove, ['Extras-8.10-20240201.0', 'Extras-8.10-updates-20240301.2', 'Extras-8.10-updates-20240301.10']);
  });
});

describe('housekeeping on a compose root', () => {
  const quiet = (): Log & { lines: string[] } => {
    const lines: string[] = [];
    return { lines, info: (l) => lines.push(l), warn: (l) => lines.push(`WARNING: ${l}`) };
  };
  const daysAgo = (n: number) => localDate(new Date(Date.now() - n * DAY));

  function setup(): { tmp: string; model: ComposeModel; root: string; roots: ReturnType<typeof resolveRoots> } {
    const tmp = tempDir('housekeeping');
    const [loaded] = loadComposeModels(REPO_ROOT, ['releases/8/Extras/compose.json']);
    assert.ok(loaded);
    const model: ComposeModel = { ...loaded, common: { ...loaded.common, housekeeping: { keepDays: 7, keep: ['Extras-8.10-2*'] } } };
    const roots = resolveRoots(model.common, model.release, tmp);
    const root = join(roots.compose, '8');
    mkdirSync(root, { recursive: true });
    return { tmp, model, root, roots };
  }
  function compose(root: string, name: string, ageDays: number): string {
    const d = join(root, name);
    mkdirSync(join(d, 'compose'), { recursive: true });
    writeFileSync(join(d, 'STATUS'), 'FINISHED\n');
    const t = (Date.now() - ageDays * DAY) / 1000;
    utimesSync(d, t, t);
    return d;
  }

  test('dry run lists and keeps everything; the run removes only the old ones, under the root lock', async () => {
    const { tmp, model, root, roots } = setup();
    try {
      const old = compose(root, `Extras-8.10-updates-${daysAgo(20)}.0`, 20);
      const ga = compose(root, `Extras-8.10-${daysAgo(30)}.0`, 30);
      const linked = compose(root, `Extras-8.10-updates-${daysAgo(10)}.0`, 10);
      const recent = compose(root, `Extras-8.10-updates-${daysAgo(2)}.0`, 2);
      const devel = compose(root, `Rocky-devel-8.10-updates-${daysAgo(20)}.0`, 20);
      symlinkSync(`Extras-8.10-updates-${daysAgo(10)}.0`, join(root, 'latest-Extras-8'));

      const dry = await housekeeping({ model, roots, channel: 'stable', log: quiet(), dryRun: true });
      assert.equal(dry.dryRun, true);
      assert.deepEqual(dry.removed.map((d) => d.name), [`Extras-8.10-updates-${daysAgo(20)}.0`]);
      assert.deepEqual(dry.kept.map((d) => d.name).sort(), [ga, linked, recent].map((p) => p.split('/').pop()).sort());
      for (const d of [old, ga, linked, recent, devel]) assert.ok(existsSync(d), d);

      const log = quiet();
      const real = await housekeeping({ model, roots, channel: 'stable', log });
      assert.deepEqual(real.removed, dry.removed);
      assert.deepEqual(real.kept, dry.kept);
      assert.equal(existsSync(old), false);
      for (const d of [ga, linked, recent, devel]) assert.ok(existsSync(d), d);
      assert.ok(log.lines.some((l) => l.startsWith(`removing Extras-8.10-updates-${daysAgo(20)}.0: dated`)), log.lines.join('\n'));
      // The lock is released and the trash is empty.
      assert.equal(existsSync(housekeepingPaths(root).lockFile), false);
      assert.deepEqual(readdirSync(housekeepingPaths(root).trashDir), []);

      const again = await housekeeping({ model, roots, channel: 'stable', log: quiet() });
      assert.deepEqual(again.removed, []);
    } finally {
      removeDir(tmp);
    }
  });

  test('a compose that disappeared meanwhile is reported and the run goes on', async () => {
    const { tmp, root } = setup();
    try {
      const a = compose(root, 'Extras-8.10-updates-20240101.0', 100);
      const b = compose(root, 'Extras-8.10-updates-20240102.0', 100);
      rmSync(a, { recursive: true });
      const log = quiet();
      const r = await removeComposes(root, ['Extras-8.10-updates-20240101.0', 'Extras-8.10-updates-20240102.0'], log);
      assert.deepEqual(r, { removed: ['Extras-8.10-updates-20240102.0'], vanished: ['Extras-8.10-updates-20240101.0'], failed: [] });
      assert.equal(existsSync(b), false);
      assert.ok(log.lines.includes('Extras-8.10-updates-20240101.0 is already gone'));
    } finally {
      removeDir(tmp);
    }
  });

  test('what an interrupted run left in the trash is deleted by the next run', async () => {
    const { tmp, model, root, roots } = setup();
    try {
      const left = join(housekeepingPaths(root).trashDir, 'Extras-8.10-updates-20240101.0.123.abcd');
      mkdirSync(join(left, 'compose/extras'), { recursive: true });
      const log = quiet();
      await housekeeping({ model, roots, channel: 'stable', log });
      assert.equal(existsSync(left), false);
      assert.ok(log.lines.some((l) => l.includes('left in') && l.includes('by an interrupted run')), log.lines.join('\n'));
    } finally {
      removeDir(tmp);
    }
  });

  test('a channel whose compose root does not exist has nothing to clean', async () => {
    const { tmp, model, roots } = setup();
    try {
      const r = await housekeeping({ model, roots, channel: 'beta', log: quiet() });
      assert.deepEqual([r.composeRoot.endsWith('/mnt/compose/8-BETA'), r.removed, r.kept], [true, [], []]);
    } finally {
      removeDir(tmp);
    }
  });
});
