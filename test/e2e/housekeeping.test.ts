import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { createLocalCompose, localDate, type LocalComposeOptions } from '../../tools/nx-releng/src/lib/compose/local-compose';
import { createNxWorkspace, type NxWorkspace } from '../helpers/nx-workspace';
import { readJsonFile } from '../helpers/workspace';

/**
 * The housekeeping target with the real nx CLI: three real Extras-8 composes made by the local backend, aged by
 * their dates and mtimes, beside directories of other projects and things that are no composes at all.
 */

const DAY = 86_400_000;
const daysAgo = (n: number) => localDate(new Date(Date.now() - n * DAY));

let ws: NxWorkspace;
let root: string;
const names = {
  old: `Extras-8.10-updates-${daysAgo(20)}.0`,
  ga: `Extras-8.10-${daysAgo(30)}.0`,
  linked: `Extras-8.10-updates-${daysAgo(10)}.0`,
  recent: `Extras-8.10-updates-${daysAgo(1)}.0`,
  rocky: `Rocky-8.10-updates-${daysAgo(20)}.0`,
  devel: `Rocky-devel-8.10-updates-${daysAgo(20)}.0`,
  scratch: 'scratch',
};

function runOk(args: string[]): string {
  const r = ws.nx([...args, '--output-style=static']);
  assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

function age(name: string, days: number): void {
  const t = (Date.now() - days * DAY) / 1000;
  utimesSync(join(root, name), t, t);
}

const present = () => Object.fromEntries(Object.entries(names).map(([k, n]) => [k, existsSync(join(root, n))]));

before(async () => {
  ws = createNxWorkspace('e2e-housekeeping');
  // The test's keep pattern: Extras GA composes (no release type after the version), as Rocky's cron keeps Rocky's.
  const commonFile = join(ws.dir, 'releases/common.json');
  const common = JSON.parse(readFileSync(commonFile, 'utf8'));
  common.housekeeping = { keepDays: 7, keep: ['SIG-*', 'Extras-8.10-2*'] };
  writeFileSync(commonFile, `${JSON.stringify(common, null, 2)}\n`);

  root = await stageSandbox(ws.relengRoot, { shorts: ['Extras'] });
  const base: LocalComposeOptions = {
    targetDir: root,
    srcDir: join(ws.relengRoot, 'mnt/koji/local/8/Extras'),
    releaseName: 'Rocky Linux',
    short: 'Extras',
    version: '8.10',
    variants: ['extras', 'plus'],
    arches: ['x86_64', 'aarch64'],
    latestLinkName: 'latest-Extras-8',
  };
  await createLocalCompose({ ...base, releaseType: 'ga', label: 'RC-8.10', date: daysAgo(30) });
  await createLocalCompose({ ...base, releaseType: 'updates', date: daysAgo(20) });
  // Made last, so latest-Extras-8 points at it. (`nx run Extras-8:compose --date=YYYYMMDD` cannot be used here:
  // the nx CLI parses 20240412 as a number and the compose schema then rejects it as not a string.)
  await createLocalCompose({ ...base, releaseType: 'updates', date: daysAgo(10) });
  assert.equal(readlinkSync(join(root, 'latest-Extras-8')), names.linked);
  for (const n of [names.recent, names.rocky, names.devel, names.scratch]) mkdirSync(join(root, n));
  symlinkSync(names.devel, join(root, 'latest-Rocky-devel-8'));
  age(names.ga, 30);
  age(names.old, 20);
  age(names.linked, 10);
  age(names.rocky, 20);
  age(names.devel, 20);
  age(names.scratch, 100);
});

after(() => ws?.dispose());

test('--dryRun lists what it would remove and why the rest stays, and removes nothing', () => {
  const out = runOk(['run', 'Extras-8:housekeeping', '--dryRun']);
  assert.match(out, new RegExp(`would remove ${names.old}: dated ${daysAgo(20)}, 20 days old, modified 20 days ago \\(keepDays 7\\)`));
  assert.match(out, new RegExp(`keep ${names.linked}: latest-Extras-8 points at it`));
  assert.match(out, new RegExp(`keep ${names.ga}: matches keep pattern 'Extras-8\\.10-2\\*'`));
  assert.match(out, new RegExp(`keep ${names.recent}: dated ${daysAgo(1)}, 1 day old`));
  assert.match(out, /Extras-8:housekeeping dry run: would remove 1 old compose, kept 3 \(/);
  assert.doesNotMatch(out, /Rocky-|scratch/);
  assert.deepEqual(present(), { old: true, ga: true, linked: true, recent: true, rocky: true, devel: true, scratch: true });
});

test('a run removes exactly the old composes of its own project', () => {
  const out = runOk(['run', 'Extras-8:housekeeping']);
  assert.match(out, new RegExp(`removed ${names.old}`));
  assert.match(out, /Extras-8:housekeeping removed 1 old compose, kept 3 \(/);
  assert.deepEqual(present(), { old: false, ga: true, linked: true, recent: true, rocky: true, devel: true, scratch: true });
  const manifest = readJsonFile<any>(join(ws.dir, 'dist/releng/Extras-8/housekeeping/manifest.json'));
  assert.deepEqual(manifest.removed.map((d: any) => d.name), [names.old]);
  assert.equal(manifest.dryRun, false);
  // The kept composes are still whole: the linked one is still what staging would sync.
  assert.equal(readFileSync(join(root, names.linked, 'STATUS'), 'utf8'), 'FINISHED\n');
  assert.ok(existsSync(join(root, names.linked, 'compose/extras/x86_64/os/repodata/repomd.xml')));
});

test('run-many: the projects sharing the root take turns and each removes only its own', () => {
  const out = runOk(['run-many', '-t', 'housekeeping']);
  assert.match(out, /Extras-8:housekeeping removed 0 old composes, kept 3/);
  assert.match(out, /Rocky-8:housekeeping removed 1 old compose, kept 0/);
  assert.match(out, /Rocky-devel-8:housekeeping removed 0 old composes, kept 1/);
  assert.match(out, new RegExp(`keep ${names.devel}: latest-Rocky-devel-8 points at it`));
  assert.deepEqual(present(), { old: false, ga: true, linked: true, recent: true, rocky: false, devel: true, scratch: true });
});
