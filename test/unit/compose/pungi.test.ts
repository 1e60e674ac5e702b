import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadComposeModels, type ComposeModel } from '../../../tools/nx-releng/src/config/load';
import { channelPungi } from '../../../tools/nx-releng/src/config/pungi-settings';
import type { Channel } from '../../../tools/nx-releng/src/config/schema';
import { channelRelease, composePaths, resolveRoots } from '../../../tools/nx-releng/src/layout/paths';
import {
  checkSkipPhases,
  composeLabel,
  parseComposeDir,
  planPungiRun,
  pungiArgs,
  runPungi,
  verifyLabel,
  type PungiPlan,
} from '../../../tools/nx-releng/src/lib/compose/pungi';
import type { Log } from '../../../tools/nx-releng/src/lib/core/log';
import { REPO_ROOT, copyReleases, readJsonFile, removeDir, tempDir, writeJsonFile } from '../../helpers/workspace';

const ALL_8 = ['releases/8/Extras/compose.json', 'releases/8/Rocky-devel/compose.json', 'releases/8/Rocky/compose.json'];
const shipped = loadComposeModels(REPO_ROOT, ALL_8);
const model = (project: string) => shipped.find((m) => m.project === project) as ComposeModel;

function argvOf(m: ComposeModel, kind: 'produce' | 'update', channel: Channel = 'stable', relengRoot?: string): string[] {
  const ch = channelRelease(m.release, channel);
  const paths = composePaths(m, ch, resolveRoots(m.common, m.release, relengRoot));
  return pungiArgs(planPungiRun({ model: m, channel: ch, paths, kind, relengRoot }));
}

describe('pungi-koji argv from the shipped Rocky 8 model', () => {
  test('Rocky produce is produce-8.sh: nothing skipped, no old composes, --production --label RC-8.10', () => {
    assert.deepEqual(argvOf(model('Rocky-8'), 'produce'), [
      '--config=/etc/pungi-prod/r8.conf',
      '--target-dir=/mnt/compose/8',
      '--production',
      '--label',
      'RC-8.10',
      '--print-output-dir',
    ]);
  });

  test('Rocky update: ISO phases skipped, old composes from the compose root, RC label (as published composeinfo)', () => {
    assert.deepEqual(argvOf(model('Rocky-8'), 'update'), [
      '--config=/etc/pungi-prod/r8.conf',
      '--target-dir=/mnt/compose/8',
      '--old-composes=/mnt/compose/8',
      '--skip-phase',
      'buildinstall',
      '--skip-phase',
      'createiso',
      '--skip-phase',
      'extra_isos',
      '--production',
      '--label',
      'RC-8.10',
      '--print-output-dir',
    ]);
  });

  test('Rocky-devel update is updates-8-devel.sh: --production --no-label', () => {
    assert.deepEqual(argvOf(model('Rocky-devel-8'), 'update'), [
      '--config=/etc/pungi-prod/r8-devel.conf',
      '--target-dir=/mnt/compose/8',
      '--old-composes=/mnt/compose/8',
      '--skip-phase',
      'buildinstall',
      '--skip-phase',
      'createiso',
      '--skip-phase',
      'extra_isos',
      '--production',
      '--no-label',
      '--print-output-dir',
    ]);
    assert.deepEqual(argvOf(model('Rocky-devel-8'), 'produce').slice(-4), ['--production', '--label', 'RC-8.10', '--print-output-dir']);
  });

  test('each channel composes with its own config: beta is a produce compose of /etc/pungi-beta into 8-BETA', () => {
    const m = model('Rocky-8');
    assert.equal(channelPungi(m, 'beta')?.kind, 'produce');
    assert.deepEqual(argvOf(m, 'produce', 'beta'), [
      '--config=/etc/pungi-beta/r8-beta.conf',
      '--target-dir=/mnt/compose/8-BETA',
      '--production',
      '--label',
      'Beta-8.10',
      '--print-output-dir',
    ]);
    assert.deepEqual(argvOf(m, 'produce', 'lookahead'), [
      '--config=/etc/pungi-lh/r8.conf',
      '--target-dir=/mnt/compose/8-LookAhead',
      '--production',
      '--label',
      'RC-8.10',
      '--print-output-dir',
    ]);
    assert.equal(channelPungi(model('Extras-8'), 'lookahead')?.config, '/etc/pungi-lh/r8-extras.conf');
    assert.equal(channelPungi(model('Rocky-devel-8'), 'beta')?.config, '/etc/pungi-beta/r8-devel.conf');
  });

  test('RELENG_ROOT re-roots the config and the dirs of a channel; an update of it reuses its own compose root', () => {
    const beta = argvOf(model('Extras-8'), 'update', 'beta', '/sb');
    assert.deepEqual(beta.slice(0, 3), [
      '--config=/sb/etc/pungi-beta/r8-extras.conf',
      '--target-dir=/sb/mnt/compose/8-BETA',
      '--old-composes=/sb/mnt/compose/8-BETA',
    ]);
  });

  test('a channel without its own pungi block is refused, never composed with the stable config', () => {
    const m = model('Rocky-devel-8');
    const noBeta = { ...m, compose: { ...m.compose, channels: { lookahead: m.compose.channels!.lookahead } } };
    assert.throws(
      () => argvOf(noBeta, 'produce', 'beta'),
      /releases\/8\/Rocky-devel\/compose\.json: field channels\.beta\.pungi: required for a pungi compose of channel beta \(each channel composes with its own pungi config; the stable one is never used for another channel\)/,
    );
  });
});

describe('pungiArgs options', () => {
  const base: PungiPlan = {
    kind: 'update',
    config: '/etc/pungi-prod/kernel.conf',
    targetDir: '/mnt/compose/8',
    oldComposes: ['/mnt/compose/8', '/mnt/compose/8-SIG'],
    skipPhases: ['buildinstall', 'createiso', 'extra_isos', 'productimg'],
    composeType: 'nightly',
    label: null,
    latestLink: true,
    latestLinkStatus: 'FINISHED',
    channel: 'stable',
    source: 'releases/8/SIG-kernel/compose.json',
  };

  test('repeatable --old-composes, legacy productimg, nightly, --latest-link-status', () => {
    assert.deepEqual(pungiArgs(base), [
      '--config=/etc/pungi-prod/kernel.conf',
      '--target-dir=/mnt/compose/8',
      '--old-composes=/mnt/compose/8',
      '--old-composes=/mnt/compose/8-SIG',
      '--skip-phase',
      'buildinstall',
      '--skip-phase',
      'createiso',
      '--skip-phase',
      'extra_isos',
      '--skip-phase',
      'productimg',
      '--nightly',
      '--no-label',
      '--latest-link-status',
      'FINISHED',
      '--print-output-dir',
    ]);
  });

  test('--no-latest-link wins over a link status; --test', () => {
    const args = pungiArgs({ ...base, latestLink: false, composeType: 'test', label: 'Beta-8.10' });
    assert.deepEqual(args.slice(-5), ['--test', '--label', 'Beta-8.10', '--no-latest-link', '--print-output-dir']);
  });

  test('relative paths and invalid labels never reach pungi-koji', () => {
    assert.throws(() => pungiArgs({ ...base, config: 'r8.conf' }), /pungi config must be an absolute path, got 'r8\.conf'/);
    assert.throws(() => pungiArgs({ ...base, oldComposes: ['compose/8'] }), /pungi old composes dir must be an absolute path/);
    assert.throws(() => pungiArgs({ ...base, label: 'RC-8' }), /Label in unknown format: RC-8 /);
  });

  test('composeLabel: the pungi block per kind, else RC for produce and none for update', () => {
    assert.equal(composeLabel(model('Rocky-8').compose.pungi, 'update', '8.10'), 'RC-8.10');
    assert.equal(composeLabel(model('Extras-8').compose.pungi, 'update', '8.10'), null);
    assert.equal(composeLabel(undefined, 'produce', '9.7'), 'RC-9.7');
    assert.equal(composeLabel(undefined, 'update', '9.7'), null);
  });
});

describe('label validation (productmd verify_label)', () => {
  for (const ok of ['RC-8.10', 'Update-8.10', 'SecurityFix-8.9', 'Beta-9.0', 'EA-1.0', 'DevelPhaseExit-10.1', 'Snapshot-8.10']) {
    test(`accepts ${ok}`, () => verifyLabel(ok));
  }
  for (const bad of ['RC-8', 'RC-8.10.1', 'rc-8.10', 'RC8.10', 'RC-8.10-1', 'Final-8.10', 'RC-x.y', ' RC-8.10', 'RC-8.10\n', '']) {
    test(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => verifyLabel(bad), /Label in unknown format/));
  }
});

describe('skip-phase validation (argparse choices and pungi.checks.check_skip_phases)', () => {
  test('the SOP lists pass', () => {
    checkSkipPhases([]);
    checkSkipPhases(['buildinstall', 'createiso', 'extra_isos']);
    checkSkipPhases(['buildinstall', 'createiso', 'extra_isos', 'productimg']);
    checkSkipPhases(['pkgset', 'gather', 'createrepo']);
  });
  test('an unknown phase names the allowed ones', () => {
    assert.throws(() => checkSkipPhases(['buildinstall', 'isos']), /unknown pungi phase 'isos' in --skip-phase; allowed: init, pkgset, buildinstall, .*extra_isos.*weaver, productimg/);
  });
  test('a phase skipped while the phase that needs it runs', () => {
    assert.throws(() => checkSkipPhases(['pkgset']), /pkgset phase is skipped but it's needed by gather phase/);
    assert.throws(() => checkSkipPhases(['pkgset', 'gather']), /gather phase is skipped but it's needed by createrepo phase/);
  });
  test('a phase listed twice', () => {
    assert.throws(() => checkSkipPhases(['createiso', 'createiso']), /pungi phase 'createiso' is skipped twice/);
  });
});

test('parseComposeDir takes the announced dir of --print-output-dir', () => {
  assert.equal(parseComposeDir('Compose dir: /mnt/compose/8/Rocky-8.10-20240527.0\n'), '/mnt/compose/8/Rocky-8.10-20240527.0');
  assert.equal(parseComposeDir('noise\nCompose dir: /a/b \nmore\n'), '/a/b');
  assert.equal(parseComposeDir('Compose dir: relative/x\n'), undefined);
  assert.equal(parseComposeDir(''), undefined);
});

describe('the pungi block of compose.json', () => {
  test('a block with only the config gets the SOP defaults', () => {
    const root = tempDir('pungi-config');
    try {
      copyReleases(root);
      writeJsonFile(join(root, 'releases/8/Extras/compose.json'), {
        kind: 'base',
        variants: ['extras'],
        backend: 'pungi',
        pungi: { config: '/etc/pungi-prod/r8-extras.conf' },
      });
      const [m] = loadComposeModels(root, ['releases/8/Extras/compose.json']);
      assert.deepEqual(m?.compose.pungi, {
        config: '/etc/pungi-prod/r8-extras.conf',
        refresh: true,
        kind: 'update',
        extraTags: [],
        finishedIncomplete: 'accept',
        composeType: 'production',
        label: { produce: 'RC', update: false },
        oldComposes: true,
        extraOldComposes: [],
        skipPhases: { update: ['buildinstall', 'createiso', 'extra_isos'], produce: [] },
        latestLink: true,
      });
    } finally {
      removeDir(root);
    }
  });

  const BAD: Array<{ name: string; edit: (v: any) => void; error: RegExp }> = [
    {
      name: 'backend pungi without a pungi block',
      edit: (v) => delete v.pungi,
      error: /releases\/8\/Extras\/compose\.json: field pungi: required when backend is "pungi"; give at least the pungi-koji config/,
    },
    {
      name: 'a config outside its checkout',
      edit: (v) => (v.pungi.config = '/etc/pungi-beta/r8-extras.conf'),
      error: /releases\/8\/Extras\/compose\.json: field pungi\.config: \/etc\/pungi-beta\/r8-extras\.conf is not inside the checkout pungi\.checkout\.dir \/etc\/pungi-prod/,
    },
    {
      name: 'a channel config outside its checkout',
      edit: (v) => (v.channels.beta.pungi.config = '/etc/pungi-prod/r8-extras.conf'),
      error: /field channels\.beta\.pungi\.config: \/etc\/pungi-prod\/r8-extras\.conf is not inside the checkout channels\.beta\.pungi\.checkout\.dir \/etc\/pungi-beta/,
    },
    {
      name: 'a checkout remote that is not a git URL',
      edit: (v) => (v.pungi.checkout.remote = 'git.rockylinux.org/rocky/pungi-rocky'),
      error: /field pungi\.checkout\.remote: must be a git URL/,
    },
    {
      name: 'a checkout branch git would refuse',
      edit: (v) => (v.pungi.checkout.branch = 'r8..beta'),
      error: /field pungi\.checkout\.branch: is not a valid git branch name/,
    },
    {
      name: 'a channel block with an unknown kind',
      edit: (v) => (v.channels.beta.pungi.kind = 'full'),
      error: /field channels\.beta\.pungi\.kind: Invalid option: expected one of "update"\|"produce"/,
    },
    {
      name: 'a finishedIncomplete policy that does not exist',
      edit: (v) => (v.pungi.finishedIncomplete = 'warn'),
      error: /field pungi\.finishedIncomplete: Invalid option: expected one of "accept"\|"refuse"/,
    },
    {
      name: 'a channel block for a channel release.json does not configure',
      edit: (v) => (v.channels.candidate = v.channels.beta),
      error: /field channels: Unrecognized key: "candidate"/,
    },
    {
      name: 'relative config',
      edit: (v) => (v.pungi.config = 'r8-extras.conf'),
      error: /releases\/8\/Extras\/compose\.json: invalid configuration\n {2}field pungi\.config: must be an absolute path/,
    },
    {
      name: 'config that is not a .conf',
      edit: (v) => (v.pungi.config = '/etc/pungi-prod/scripts/updates-8-extras.sh'),
      error: /field pungi\.config: must be a pungi config file \(\*\.conf\)/,
    },
    {
      name: 'unknown skip phase',
      edit: (v) => (v.pungi.skipPhases.update = ['buildinstall', 'iso']),
      error: /field pungi\.skipPhases\.update\.1: Invalid option: expected one of "init"\|"pkgset"\|"buildinstall"/,
    },
    {
      name: 'skip phase listed twice',
      edit: (v) => (v.pungi.skipPhases.produce = ['createiso', 'createiso']),
      error: /field pungi\.skipPhases\.produce: lists a phase twice/,
    },
    {
      name: 'skipping pkgset while gather runs',
      edit: (v) => (v.pungi.skipPhases.update = ['pkgset', 'createiso']),
      error: /field pungi\.skipPhases\.update: skips a phase the next one needs \(pungi refuses pkgset without gather/,
    },
    {
      name: 'unknown label name',
      edit: (v) => (v.pungi.label.update = 'rc'),
      error: /field pungi\.label\.update: /,
    },
    {
      name: 'compose type pungi has but the SOP does not use',
      edit: (v) => (v.pungi.composeType = 'ci'),
      error: /field pungi\.composeType: Invalid option: expected one of "production"\|"nightly"\|"test"/,
    },
    {
      name: 'latest link status other than FINISHED',
      edit: (v) => (v.pungi.latestLinkStatus = 'DOOMED'),
      error: /field pungi\.latestLinkStatus: /,
    },
    {
      name: 'misspelt key in the block',
      edit: (v) => (v.pungi.skipPhase = ['createiso']),
      error: /field pungi: Unrecognized key: "skipPhase"/,
    },
  ];
  for (const c of BAD) {
    test(`bad pungi config: ${c.name}`, () => {
      const root = tempDir('pungi-config');
      try {
        copyReleases(root);
        const file = join(root, 'releases/8/Extras/compose.json');
        const value = readJsonFile<any>(file);
        c.edit(value);
        writeJsonFile(file, value);
        assert.throws(() => loadComposeModels(root, ALL_8), c.error);
      } finally {
        removeDir(root);
      }
    });
  }

  test('a channel block for a channel release.json does not configure, and one on a SIG, are refused', () => {
    const root = tempDir('pungi-config');
    try {
      copyReleases(root);
      const release = readJsonFile<any>(join(root, 'releases/8/release.json'));
      delete release.channels.lookahead;
      writeJsonFile(join(root, 'releases/8/release.json'), release);
      assert.throws(
        () => loadComposeModels(root, ['releases/8/Extras/compose.json']),
        /releases\/8\/Extras\/compose\.json: field channels\.lookahead: channel 'lookahead' is not configured in releases\/8\/release\.json \(configured: stable, beta\)/,
      );
      const extras = readJsonFile<any>(join(root, 'releases/8/Extras/compose.json'));
      writeJsonFile(join(root, 'releases/8/SIG-x/compose.json'), { kind: 'sig', variants: ['x'], backend: 'pungi', pungi: extras.pungi, channels: { beta: extras.channels.beta } });
      assert.throws(() => loadComposeModels(root, ['releases/8/SIG-x/compose.json']), /releases\/8\/SIG-x\/compose\.json: field channels: a SIG has only the stable channel; remove it/);
    } finally {
      removeDir(root);
    }
  });
});

describe('runPungi checks before it starts pungi-koji', () => {
  const quiet: Log = { info: () => {}, warn: () => {} };
  test('a missing --target-dir is named', async () => {
    const root = tempDir('pungi-run');
    try {
      const plan: PungiPlan = { ...planFor(root), targetDir: join(root, 'mnt/compose/8') };
      await assert.rejects(
        runPungi(plan, { latestLink: join(root, 'mnt/compose/8/latest-Rocky-8'), allowIncomplete: false, log: quiet }),
        new RegExp(`compose target dir \\(pungi-koji --target-dir\\) ${root}/mnt/compose/8 does not exist`),
      );
    } finally {
      removeDir(root);
    }
  });
  test('an unreadable pungi config names compose.json and the field', async () => {
    const root = tempDir('pungi-run');
    try {
      mkdirSync(join(root, 'mnt/compose/8'), { recursive: true });
      const plan: PungiPlan = { ...planFor(root), targetDir: join(root, 'mnt/compose/8') };
      await assert.rejects(
        runPungi(plan, { latestLink: join(root, 'mnt/compose/8/latest-Rocky-8'), allowIncomplete: false, log: quiet }),
        /releases\/8\/Rocky\/compose\.json: field pungi\.config: pungi config .*\/etc\/pungi-prod\/r8\.conf cannot be read/,
      );
    } finally {
      removeDir(root);
    }
  });

  function planFor(root: string): PungiPlan {
    const m = model('Rocky-8');
    const ch = channelRelease(m.release, 'stable');
    return planPungiRun({ model: m, channel: ch, paths: composePaths(m, ch, resolveRoots(m.common, m.release, root)), kind: 'update', relengRoot: root });
  }
});
