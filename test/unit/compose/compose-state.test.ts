import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import { composeInputState, kojiListTagged, type KojiLister } from '../../../tools/nx-releng/src/lib/compose/compose-state';
import { makeCheckout } from '../../helpers/checkouts';
import { REPO_ROOT, removeDir, tempDir } from '../../helpers/workspace';

/**
 * The runtime input of compose (what Nx hashes to skip an unchanged compose), on a re-rooted /mnt with a fake
 * koji lister; the real lister against the koji stand-in of test/fixtures/bin.
 */

const [devel] = loadComposeModels(REPO_ROOT, ['releases/8/Rocky-devel/compose.json']) as [ComposeModel];
const NONCE = /nonce [0-9a-f-]{36}/;
let R: string;
let tagged: string;
const koji: KojiLister = async () => ({ ok: true, stdout: tagged });
const state = (lister: KojiLister = koji, model: ComposeModel = devel) => composeInputState(model, R, lister);

/** A compose dir with a STATUS and the latest link at it, as pungi leaves them. */
function makeCompose(id: string, status: string): void {
  mkdirSync(join(R, 'mnt/compose/8', id, 'compose'), { recursive: true });
  writeFileSync(join(R, 'mnt/compose/8', id, 'STATUS'), `${status}\n`);
  writeFileSync(join(R, 'mnt/compose/8', id, 'COMPOSE_ID'), `${id}\n`);
  rmSync(join(R, 'mnt/compose/8/latest-Rocky-devel-8'), { force: true });
  symlinkSync(id, join(R, 'mnt/compose/8/latest-Rocky-devel-8'));
}

before(() => {
  R = tempDir('compose-state');
  tagged = 'releng-devel-lib-1.0-1.el8  dist-rocky8-compose  releng\n';
  mkdirSync(join(R, 'etc/pungi-prod'), { recursive: true });
  writeFileSync(join(R, 'etc/pungi-prod/r8-devel.conf'), "release_short = 'Rocky-devel'\n");
  makeCheckout(join(R, 'etc/pungi-prod'), join(R, 'git'), 'pungi-rocky.git', 'r8');
  mkdirSync(join(R, 'mnt/koji/local/8/Rocky-devel/devel'), { recursive: true });
  writeFileSync(join(R, 'mnt/koji/local/8/Rocky-devel/devel/a-1.0-1.el8.noarch.rpm'), 'rpm');
  utimesSync(join(R, 'mnt/koji/local/8/Rocky-devel/devel/a-1.0-1.el8.noarch.rpm'), 1_700_000_000, 1_700_000_000);
  mkdirSync(join(R, 'mnt/compose/8'), { recursive: true });
});
after(() => removeDir(R));

describe('composeInputState', () => {
  test('no finished compose yet: a nonce for the channel and the reason; other channels without a root are stable', async () => {
    const s = await state();
    assert.equal(s.lines.length, 7, s.lines.join('\n'));
    assert.match(s.lines[0] as string, new RegExp(`^stable: pungi-config ${R}/etc/pungi-prod/r8-devel\\.conf sha256:[0-9a-f]{64}$`));
    assert.match(s.lines[1] as string, new RegExp(`^stable: pungi\\.checkout ${R}/etc/pungi-prod r8 [0-9a-f]{40} worktree clean$`));
    assert.match(s.lines[2] as string, /^stable: koji-tag dist-rocky8-compose sha256:[0-9a-f]{64} 1 builds$/);
    assert.match(s.lines[3] as string, new RegExp(`^stable: ${NONCE.source}$`));
    assert.equal(s.lines[4], `beta: no compose root ${R}/mnt/compose/8-BETA`);
    assert.equal(s.lines[5], `lookahead: no compose root ${R}/mnt/compose/8-LookAhead`);
    assert.match(s.lines[6] as string, new RegExp(`^local ${R}/mnt/koji/local/8/Rocky-devel sha256:[0-9a-f]{64} 1 files$`));
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(s.notes, [
      `stable: compose link ${R}/mnt/compose/8/latest-Rocky-devel-8 does not exist, so there is no finished compose a cache hit could stand for`,
    ]);
  });

  test('a FINISHED latest compose gives the same value every time, whichever compose it is', async () => {
    makeCompose('Rocky-devel-8.10-updates-20241115.0', 'FINISHED');
    const first = await state();
    assert.equal(first.lines[3], 'stable: latest compose FINISHED');
    assert.deepEqual(first.notes, []);
    makeCompose('Rocky-devel-8.10-updates-20241115.1', 'FINISHED');
    assert.deepEqual((await state()).lines, first.lines, 'a new compose moving the link is not a change of input');
  });

  test('each input that changes changes the value', async () => {
    const base = (await state()).lines;
    tagged += 'releng-tools-1.0-1.el8  dist-rocky8-compose  releng\n';
    const kojiChanged = (await state()).lines;
    assert.notEqual(kojiChanged[2], base[2]);
    assert.match(kojiChanged[2] as string, / 2 builds$/);
    assert.deepEqual((await state(async () => ({ ok: true, stdout: tagged.split('\n').reverse().join('\n') }))).lines, kojiChanged, 'koji output order does not matter');

    appendFileSync(join(R, 'etc/pungi-prod/r8-devel.conf'), '# a comment\n');
    const confChanged = (await state()).lines;
    assert.notEqual(confChanged[0], kojiChanged[0]);
    assert.notEqual(confChanged[1], kojiChanged[1], 'an uncommitted edit changes the checkout line');
    writeFileSync(join(R, 'etc/pungi-prod/common.conf'), "gather_method = 'deps'\n");
    const imported = (await state()).lines;
    assert.equal(imported[0], confChanged[0], 'the config itself did not change');
    assert.notEqual(imported[1], confChanged[1], 'a file the config imports did');

    const rpm = join(R, 'mnt/koji/local/8/Rocky-devel/devel/a-1.0-1.el8.noarch.rpm');
    utimesSync(rpm, 1_700_000_100, 1_700_000_100);
    const touched = (await state()).lines;
    assert.notEqual(touched[6], imported[6], 'an mtime change is a change');
    writeFileSync(join(R, 'mnt/koji/local/8/Rocky-devel/devel/b-1.0-1.el8.noarch.rpm'), 'rpm');
    const added = (await state()).lines;
    assert.match(added[6] as string, / 2 files$/);
    assert.deepEqual(added.slice(3, 6), base.slice(3, 6));
  });

  test('a compose that did not finish, or a dangling link, is never a hit', async () => {
    makeCompose('Rocky-devel-8.10-updates-20241115.2', 'DOOMED');
    const doomed = await state();
    assert.match(doomed.lines[3] as string, NONCE);
    assert.notEqual((await state()).lines[3], doomed.lines[3]);
    assert.match(doomed.notes[0] as string, /latest-Rocky-devel-8 points at a compose with STATUS DOOMED/);
    rmSync(join(R, 'mnt/compose/8/Rocky-devel-8.10-updates-20241115.2'), { recursive: true });
    const dangling = await state();
    assert.match(dangling.lines[3] as string, NONCE);
    assert.match(dangling.notes[0] as string, /latest-Rocky-devel-8 is dangling: it points at 'Rocky-devel-8\.10-updates-20241115\.2'/);
    makeCompose('Rocky-devel-8.10-updates-20241115.3', 'FINISHED');
  });

  test('koji failing, or no tag configured: a nonce and a warning that says so', async () => {
    const failing: KojiLister = async () => ({ ok: false, error: 'exit code 1: Connection refused' });
    const a = await state(failing);
    const b = await state(failing);
    assert.match(a.lines[2] as string, new RegExp(`^stable: koji-tag dist-rocky8-compose failed ${NONCE.source}$`));
    assert.notEqual(a.lines[2], b.lines[2]);
    assert.deepEqual(a.warnings, [
      'koji list-tagged --latest --quiet dist-rocky8-compose failed (exit code 1: Connection refused): the package set ' +
        'cannot be fingerprinted, so this compose is not skipped (it never is until koji answers)',
    ]);
    const untagged = { ...devel, compose: { ...devel.compose, pungi: { ...devel.compose.pungi!, tag: undefined } } };
    const c = await state(koji, untagged);
    assert.match(c.lines[2] as string, new RegExp(`^stable: koji-tag none ${NONCE.source}$`));
    assert.match(c.warnings[0] as string, /releases\/8\/Rocky-devel\/compose\.json has no pungi\.tag, so .* never skipped/);
  });

  test('the local backend never asks koji', async () => {
    const local = { ...devel, compose: { ...devel.compose, backend: 'local' as const } };
    const s = await state(async () => assert.fail('koji was asked'), local);
    assert.ok(!s.lines.some((l) => l.includes('koji-tag')), s.lines.join('\n'));
  });

  test('every tag of the channel is fingerprinted; a checkout git cannot read gives a nonce and a warning naming it', async () => {
    const asked: string[] = [];
    const lister: KojiLister = async (tag) => (asked.push(tag), { ok: true, stdout: `${tag}-build-1-1.el8  ${tag}  releng\n` });
    const tagged2 = { ...devel, compose: { ...devel.compose, pungi: { ...devel.compose.pungi!, extraTags: ['dist-rocky8-module-compose'] } } };
    const s = await state(lister, tagged2);
    assert.deepEqual(asked, ['dist-rocky8-compose', 'dist-rocky8-module-compose']);
    assert.match(s.lines[3] as string, /^stable: koji-tag dist-rocky8-module-compose sha256:[0-9a-f]{64} 1 builds$/);

    // A checkout git cannot read at all fails the pungi backend's refresh: a stable line (a --backend=local
    // compose, which reads no checkout, may be skipped); anything else git fails at is a nonce and a warning.
    rmSync(join(R, 'etc/pungi-prod/.git'), { recursive: true });
    const broken = await state();
    assert.match(
      broken.lines[1] as string,
      new RegExp(`^stable: pungi\\.checkout unusable: releases/8/Rocky-devel/compose\\.json: field pungi\\.checkout: checkout ${R}/etc/pungi-prod is not a git checkout `),
    );
    assert.equal((await state()).lines[1], broken.lines[1]);
    assert.deepEqual(broken.warnings, []);
    makeCheckout(join(R, 'etc/pungi-prod'), join(R, 'git2'), 'pungi-rocky.git', 'r8');
    const nx = join(R, 'etc/pungi-prod/.git/HEAD');
    writeFileSync(nx, 'ref: refs/heads/unborn\n');
    const unborn = await state();
    assert.match(unborn.lines[1] as string, new RegExp(`^stable: pungi\\.checkout ${NONCE.source}$`));
    assert.match(unborn.warnings[0] as string, /checkout \S+\/etc\/pungi-prod has no commit checked out .*: it cannot be fingerprinted, so this compose is not skipped$/);
  });
});

test('releng-state.js: a failure still prints a nonce, since Nx hashes stdout and ignores the exit code', () => {
  const run = () =>
    spawnSync(process.execPath, [join(REPO_ROOT, 'tools/nx-releng/bin/releng-state.js'), 'compose', 'Rocky-devel-8'], {
      cwd: R, // no releases/ here
      encoding: 'utf8',
    });
  const [a, b] = [run(), run()];
  assert.equal(a.status, 1);
  assert.match(a.stdout, /^state unknown [0-9a-f-]{36}\n$/);
  assert.notEqual(a.stdout, b.stdout);
  assert.equal(a.stderr, 'releases/common.json: cannot be read (ENOENT)\n');
});

describe('kojiListTagged (the koji CLI on PATH)', () => {
  const withPath = async <T>(path: string, env: Record<string, string>, fn: () => Promise<T>): Promise<T> => {
    const set = { PATH: path, ...env };
    const saved = Object.fromEntries(Object.keys(set).map((k) => [k, process.env[k]]));
    Object.assign(process.env, set);
    try {
      return await fn();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  };
  const BIN = join(REPO_ROOT, 'test/fixtures/bin');

  test('answers from the stand-in; a missing tag and a missing koji are errors that say why', async () => {
    const dir = join(R, 'tagged');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'dist-rocky8-compose'), 'x-1-1.el8  dist-rocky8-compose  releng\n');
    const path = `${BIN}${delimiter}${process.env.PATH}`;
    assert.deepEqual(await withPath(path, { KOJI_STANDIN_TAGGED: dir }, () => kojiListTagged('dist-rocky8-compose')), {
      ok: true,
      stdout: 'x-1-1.el8  dist-rocky8-compose  releng\n',
    });
    assert.deepEqual(await withPath(path, { KOJI_STANDIN_TAGGED: dir }, () => kojiListTagged('dist-rocky8-nope')), {
      ok: false,
      error: 'exit code 2: Usage: koji list-tagged [options] <tag> [<package>] | koji: error: No such tag: dist-rocky8-nope',
    });
    assert.deepEqual(await withPath(join(R, 'empty-bin'), {}, () => kojiListTagged('dist-rocky8-compose')), {
      ok: false,
      error: "required tool 'koji' was not found on PATH: install it (Debian: apt-get install koji; EL: dnf install koji)",
    });
  });
});
