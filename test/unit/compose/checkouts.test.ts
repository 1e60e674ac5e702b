import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import { resolveRoots } from '../../../tools/nx-releng/src/layout/paths';
import {
  channelCheckouts,
  checkCheckout,
  checkoutFingerprint,
  refreshComposeCheckouts,
  refreshCheckout,
  type Checkout,
} from '../../../tools/nx-releng/src/lib/compose/checkouts';
import type { Log } from '../../../tools/nx-releng/src/lib/core/log';
import { git, headOf, insteadOfEnv, makeCheckout, pushUpstream } from '../../helpers/checkouts';
import { REPO_ROOT, removeDir, tempDir } from '../../helpers/workspace';

/**
 * The checkouts a compose reads, with real git against local bare repositories: refresh brings them to their
 * branch, and fails naming the checkout; the fingerprint follows commits and uncommitted edits.
 */

const [rocky] = loadComposeModels(REPO_ROOT, ['releases/8/Rocky/compose.json']) as [ComposeModel];
const quiet: Log = { info: () => {}, warn: () => {} };
let R: string;
let bares: string;
let savedEnv: Record<string, string | undefined>;
let prod: Checkout;
let meta: Checkout;

before(() => {
  R = tempDir('checkouts');
  bares = join(R, 'git');
  const env = insteadOfEnv(bares);
  savedEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  mkdirSync(join(R, 'etc/pungi-prod'), { recursive: true });
  writeFileSync(join(R, 'etc/pungi-prod/r8.conf'), "from common import *\nrelease_short = 'Rocky'\n");
  writeFileSync(join(R, 'etc/pungi-prod/common.conf'), "gather_method = 'deps'\n");
  makeCheckout(join(R, 'etc/pungi-prod'), bares, 'pungi-rocky.git', 'r8');
  mkdirSync(join(R, 'mnt/compose/8_metadata/x86_64'), { recursive: true });
  writeFileSync(join(R, 'mnt/compose/8_metadata/x86_64/AppStream-modules.yaml'), '---\ndocument: modulemd\n');
  makeCheckout(join(R, 'mnt/compose/8_metadata'), bares, 'rocky-module-metadata.git', 'r8');
  [prod, meta] = channelCheckouts(rocky, 'stable', R) as [Checkout, Checkout];
});
after(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  removeDir(R);
});

describe('the checkouts of a channel', () => {
  test('compose.json names them per channel, re-rooted, with the field for messages', () => {
    assert.deepEqual(
      channelCheckouts(rocky, 'stable', R).map((c) => [c.field, c.dir, c.branch]),
      [
        ['pungi.checkout', `${R}/etc/pungi-prod`, 'r8'],
        ['pungi.moduleMetadata', `${R}/mnt/compose/8_metadata`, 'r8'],
      ],
    );
    assert.deepEqual(
      channelCheckouts(rocky, 'beta').map((c) => [c.field, c.dir, c.branch]),
      [['channels.beta.pungi.checkout', '/etc/pungi-beta', 'r8-beta']],
    );
  });
});

describe('refresh', () => {
  test('a new commit on the branch is fetched and checked out', async () => {
    pushUpstream(bares, 'pungi-rocky.git', 'r8', { 'common.conf': "gather_method = 'nodeps'\n" });
    const r = await refreshCheckout(prod);
    assert.equal(r.head, headOf(join(bares, 'pungi-rocky.git'), 'r8'));
    assert.notEqual(r.before, r.head);
    assert.equal(headOf(prod.dir), r.head);
  });

  test('a checkout on another branch is brought to its branch', async () => {
    git(prod.dir, ['checkout', '-q', '-b', 'hotfix']);
    await refreshCheckout(prod);
    assert.equal(git(prod.dir, ['symbolic-ref', '--short', 'HEAD']).trim(), 'r8');
  });

  test('local changes are refused, not wiped, naming the checkout and the files', async () => {
    appendFileSync(join(prod.dir, 'common.conf'), '# hand edit\n');
    try {
      await assert.rejects(
        refreshCheckout(prod),
        new RegExp(
          `^RelengError: releases/8/Rocky/compose\\.json: field pungi\\.checkout: checkout ${R}/etc/pungi-prod has local changes \\(common\\.conf\\); ` +
            'commit or discard them, or compose with --offline',
        ),
      );
    } finally {
      git(prod.dir, ['checkout', '-q', '--', 'common.conf']);
    }
  });

  test('a remote that cannot be reached fails naming the checkout and the remote', async () => {
    renameSync(join(bares, 'pungi-rocky.git'), join(bares, 'away.git'));
    try {
      await assert.rejects(
        refreshCheckout(prod),
        new RegExp(
          `field pungi\\.checkout: checkout ${R}/etc/pungi-prod cannot be refreshed: git fetch https://git\\.rockylinux\\.org/rocky/pungi-rocky\\.git r8 failed \\(exit code 128: `,
        ),
      );
    } finally {
      renameSync(join(bares, 'away.git'), join(bares, 'pungi-rocky.git'));
    }
  });

  test('a missing checkout and a plain directory are named, with how to make them', async () => {
    const missing = { ...prod, dir: join(R, 'etc/pungi-none') };
    await assert.rejects(
      refreshCheckout(missing),
      new RegExp(`checkout ${R}/etc/pungi-none does not exist or is not a directory; make it with: git clone -b r8 https://git\\.rockylinux\\.org/rocky/pungi-rocky\\.git ${R}/etc/pungi-none`),
    );
    // A directory inside another work tree (here the module metadata checkout) is not a checkout of its own.
    const plain = { ...prod, dir: join(R, 'mnt/compose/8_metadata/x86_64') };
    await assert.rejects(refreshCheckout(plain), /x86_64 is not a git checkout \(not the top of a git work tree\); make it with: rm -rf /);
    await assert.rejects(checkCheckout(plain), /is not a git checkout/);
  });

  test('offline: only checked; the wrong branch is refused', async () => {
    assert.equal((await checkCheckout(meta)).head, headOf(meta.dir));
    git(meta.dir, ['checkout', '-q', '-b', 'local-edits']);
    try {
      await assert.rejects(
        checkCheckout(meta),
        new RegExp(`field pungi\\.moduleMetadata: checkout ${R}/mnt/compose/8_metadata is on branch local-edits, not on r8; a refresh \\(without --offline\\) switches it`),
      );
    } finally {
      git(meta.dir, ['checkout', '-q', 'r8']);
    }
  });

  test('the refresh step: the local backend and a channel without checkouts refresh nothing; --offline fetches nothing', async () => {
    const roots = resolveRoots(rocky.common, rocky.release, R);
    const step = (o: { backend?: 'pungi' | 'local'; offline?: boolean; channel?: 'stable' | 'beta' }) =>
      refreshComposeCheckouts({ model: rocky, channel: o.channel ?? 'stable', backend: o.backend ?? 'pungi', offline: o.offline ?? false, roots, relengRoot: R, log: quiet });
    assert.equal((await step({ backend: 'local' })).mode, 'skipped');
    pushUpstream(bares, 'rocky-module-metadata.git', 'r8', { 'x86_64/PowerTools-modules.yaml': '---\ndocument: modulemd\n' });
    const before = headOf(meta.dir);
    const offline = await step({ offline: true });
    assert.equal(offline.mode, 'checked');
    assert.equal(headOf(meta.dir), before, '--offline fetched nothing');
    const online = await step({});
    assert.equal(online.mode, 'refreshed');
    assert.deepEqual(online.checkouts.map((c) => c.head), [headOf(prod.dir), headOf(join(bares, 'rocky-module-metadata.git'), 'r8')]);
    await assert.rejects(step({ channel: 'beta' }), /field channels\.beta\.pungi\.checkout: checkout \S+\/etc\/pungi-beta does not exist/);
  });
});

describe('fingerprint', () => {
  test('HEAD and the working tree: a commit, an edit, an untracked file each change it; undoing restores it', async () => {
    const clean = await checkoutFingerprint(prod);
    assert.match(clean, new RegExp(`^${R}/etc/pungi-prod r8 [0-9a-f]{40} worktree clean$`));
    appendFileSync(join(prod.dir, 'common.conf'), '# uncommitted\n');
    const edited = await checkoutFingerprint(prod);
    assert.match(edited, /worktree sha256:[0-9a-f]{64}$/);
    appendFileSync(join(prod.dir, 'common.conf'), '# more\n');
    assert.notEqual(await checkoutFingerprint(prod), edited, 'a second edit of the same file');
    git(prod.dir, ['checkout', '-q', '--', 'common.conf']);
    assert.equal(await checkoutFingerprint(prod), clean);
    writeFileSync(join(prod.dir, 'variants.xml'), '<variants/>\n');
    assert.notEqual(await checkoutFingerprint(prod), clean, 'an untracked file the config could read');
    git(prod.dir, ['add', 'variants.xml']);
    git(prod.dir, ['commit', '-q', '-m', 'variants']);
    const committed = await checkoutFingerprint(prod);
    assert.match(committed, /worktree clean$/);
    assert.notEqual(committed, clean);
  });
});
