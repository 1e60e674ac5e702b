import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, test } from 'node:test';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { createNxWorkspace, type NxWorkspace } from '../helpers/nx-workspace';
import { insteadOfEnv, makeCheckout } from '../helpers/checkouts';
import { REPO_ROOT, readJsonFile } from '../helpers/workspace';

/**
 * The pungi backend of `compose` end to end: the real nx CLI in a temporary workspace, with the pungi-koji
 * stand-in (test/fixtures/bin) first on PATH. The stand-in records its argv and makes a pungi-shaped compose
 * with the local backend from the sandbox's real RPMs; its failure modes leave DOOMED and STARTED composes.
 */

const BIN = join(REPO_ROOT, 'test/fixtures/bin');
let ws: NxWorkspace;
let R: string;
let composeRoot: string;
let argvLog: string;
let taggedDir: string;

const PUNGI_CONFIGS: Record<string, { file: string; short: string; variants: string[] }> = {
  'Rocky-8': {
    file: 'r8.conf',
    short: 'Rocky',
    variants: ['BaseOS', 'AppStream', 'PowerTools', 'HighAvailability', 'ResilientStorage', 'RT', 'NFV'],
  },
  'Rocky-devel-8': { file: 'r8-devel.conf', short: 'Rocky-devel', variants: ['devel'] },
};

/** One compose run through nx, with the stand-in on PATH; returns the status, output and the argv it got. */
async function compose(project: string, args: string[] = [], mode = 'normal') {
  writeFileSync(argvLog, '');
  const short = PUNGI_CONFIGS[project]?.short as string;
  const r = await ws.nxAsync(['run', `${project}:compose`, ...args, '--output-style=static'], {
    PATH: `${BIN}${delimiter}${process.env.PATH}`,
    PUNGI_STANDIN_ARGV_LOG: argvLog,
    PUNGI_STANDIN_SRC: join(R, 'mnt/koji/local/8', short),
    PUNGI_STANDIN_MODE: mode,
    KOJI_STANDIN_TAGGED: taggedDir,
    ...insteadOfEnv(join(R, 'git')),
  });
  const calls = readFileSync(argvLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);
  return { ...r, calls };
}

const link = (name: string) => readlinkSync(join(composeRoot, name));
const outDir = (project: string) => join(ws.dir, 'dist/releng', project, 'compose');

before(async () => {
  ws = createNxWorkspace('e2e-pungi');
  R = ws.relengRoot;
  composeRoot = await stageSandbox(R, { shorts: ['Rocky', 'Rocky-devel'] });
  argvLog = join(ws.dir, 'pungi-argv.jsonl');
  // What the koji stand-in answers for the tag both composes name (`koji list-tagged --latest --quiet <tag>`).
  taggedDir = join(ws.dir, 'koji-tagged');
  mkdirSync(taggedDir);
  writeFileSync(join(taggedDir, 'dist-rocky8-compose'), 'releng-hello-1.0-1.el8  dist-rocky8-compose  releng\n');
  // The pungi-rocky checkouts the compose.json files name (/etc/pungi-prod/*.conf, and the beta and lookahead
  // ones of Rocky-8), re-rooted like every path.
  const configs: Array<[string, { file: string; short: string; variants: string[] }]> = [
    ...Object.values(PUNGI_CONFIGS).map((c): [string, typeof c] => ['etc/pungi-prod', c]),
    ['etc/pungi-beta', { ...(PUNGI_CONFIGS['Rocky-8'] as (typeof PUNGI_CONFIGS)[string]), file: 'r8-beta.conf' }],
    ['etc/pungi-lh', PUNGI_CONFIGS['Rocky-8'] as (typeof PUNGI_CONFIGS)[string]],
  ];
  for (const [dir, { file, short, variants }] of configs) {
    mkdirSync(join(R, dir), { recursive: true });
    writeFileSync(
      join(R, dir, file),
      [
        `release_name = 'Rocky Linux'`,
        `release_short = '${short}'`,
        `release_version = '8.10'`,
        `tree_variants = [${variants.map((v) => `'${v}'`).join(', ')}]`,
        `tree_arches = ['x86_64', 'aarch64']`,
        '',
      ].join('\n'),
    );
  }
  for (const root of ['8-BETA', '8-LookAhead']) mkdirSync(join(R, 'mnt/compose', root), { recursive: true });
  // Each a git clone of a local bare repository, on the branch compose.json names, which the refresh fetches.
  const bares = join(R, 'git');
  makeCheckout(join(R, 'etc/pungi-prod'), bares, 'pungi-rocky.git', 'r8');
  makeCheckout(join(R, 'etc/pungi-beta'), bares, 'pungi-rocky.git', 'r8-beta');
  makeCheckout(join(R, 'etc/pungi-lh'), bares, 'pungi-rocky.git', 'r8s');
  makeCheckout(join(R, 'mnt/compose/8_metadata'), bares, 'rocky-module-metadata.git', 'r8');
  writeFileSync(join(taggedDir, 'dist-rocky8-module-compose'), '');
});

after(() => ws?.dispose());

test('an update compose runs pungi-koji with the argv of updates-8-devel.sh and moves the latest link', async () => {
  const r = await compose('Rocky-devel-8');
  assert.equal(r.status, 0, r.output);
  assert.deepEqual(r.calls, [
    [
      `--config=${R}/etc/pungi-prod/r8-devel.conf`,
      `--target-dir=${composeRoot}`,
      `--old-composes=${composeRoot}`,
      '--skip-phase',
      'buildinstall',
      '--skip-phase',
      'createiso',
      '--skip-phase',
      'extra_isos',
      '--production',
      '--no-label',
      '--print-output-dir',
    ],
  ]);
  const id = link('latest-Rocky-devel-8');
  assert.match(id, /^Rocky-devel-8\.10-updates-\d{8}\.0$/);
  assert.match(r.output, new RegExp(`Rocky-devel-8:compose ${id} FINISHED, 2 binary packages, .*latest-Rocky-devel-8 -> ${id}`));
  const manifest = readJsonFile<any>(join(outDir('Rocky-devel-8'), 'manifest.json'));
  assert.equal(manifest.status, 'FINISHED');
  assert.equal(manifest.kind, 'update');
  assert.equal(manifest.previousComposeId, null);
  assert.deepEqual(manifest.pungiArgs, r.calls[0]);
  assert.match(readFileSync(join(outDir('Rocky-devel-8'), 'changes.md'), 'utf8'), /No previous compose to compare with/);
});

test('--kind=produce runs the argv of produce-8.sh and makes a GA compose labelled RC-8.10', async () => {
  const r = await compose('Rocky-8', ['--kind=produce']);
  assert.equal(r.status, 0, r.output);
  assert.deepEqual(r.calls, [
    [`--config=${R}/etc/pungi-prod/r8.conf`, `--target-dir=${composeRoot}`, '--production', '--label', 'RC-8.10', '--print-output-dir'],
  ]);
  const id = link('latest-Rocky-8');
  assert.match(id, /^Rocky-8\.10-\d{8}\.0$/);
  const info = readJsonFile<any>(join(composeRoot, id, 'compose/metadata/composeinfo.json'));
  assert.equal(info.payload.compose.label, 'RC-8.10');
  assert.equal(info.payload.compose.final, true);
  assert.equal(info.payload.release.type, 'ga');
});

test('a DOOMED compose fails with its status and the tail of pungi.global.log; the latest link stays', async () => {
  const before = link('latest-Rocky-devel-8');
  // --skip-nx-cache: the inputs did not change, and this run must reach pungi-koji.
  const r = await compose('Rocky-devel-8', ['--skip-nx-cache'], 'DOOMED');
  assert.notEqual(r.status, 0);
  assert.equal(r.calls.length, 1);
  const doomed = `${composeRoot}/${before.replace(/\.0$/, '.1')}`;
  assert.match(r.output, new RegExp(`Rocky-devel-8:compose FAILED: pungi-koji failed with exit code 1; compose ${doomed} has STATUS DOOMED`));
  assert.match(r.output, new RegExp(`last 20 lines of ${doomed}/logs/global/pungi.global.log:\n`));
  assert.match(r.output, /Compose run failed: stand-in DOOMED run/);
  assert.match(r.output, /\[stand-in\] phase work line 8$/m, 'the 20th line from the end is in the tail');
  const failure = r.output.slice(r.output.indexOf('FAILED:'));
  assert.doesNotMatch(failure, /phase work line 7$/m, 'the 21st line from the end is not');
  assert.equal(link('latest-Rocky-devel-8'), before);
  assert.equal(readFileSync(join(doomed, 'STATUS'), 'utf8'), 'DOOMED\n');
  assert.equal(existsSync(join(outDir('Rocky-devel-8'), 'changes.md')), false, 'no report of an earlier run is left behind');
});

test('a compose left STARTED is refused even though pungi-koji exited 0', async () => {
  const before = link('latest-Rocky-devel-8');
  const r = await compose('Rocky-devel-8', ['--skip-nx-cache'], 'STARTED');
  assert.notEqual(r.status, 0);
  assert.match(r.output, /Rocky-devel-8:compose FAILED: compose \S+\/Rocky-devel-8\.10-updates-\d{8}\.2 has STATUS STARTED; only FINISHED or FINISHED_INCOMPLETE is accepted/);
  assert.match(r.output, /last 20 lines of \S+pungi\.global\.log:\n/);
  assert.equal(link('latest-Rocky-devel-8'), before);
});

test('FINISHED_INCOMPLETE follows pungi-koji exit 0 (accepted, said INCOMPLETE); refused where compose.json says so', async () => {
  const accepted = await compose('Rocky-devel-8', ['--skip-nx-cache'], 'FINISHED_INCOMPLETE');
  assert.equal(accepted.status, 0, accepted.output);
  assert.match(accepted.output, /WARNING: compose Rocky-devel-8\.10-updates-\d{8}\.3 is INCOMPLETE \(STATUS FINISHED_INCOMPLETE: some deliverables failed; pungi-koji exited 0\); accepted/);
  assert.match(accepted.output, /Rocky-devel-8:compose Rocky-devel-8\.10-updates-\d{8}\.3 INCOMPLETE, 2 binary packages, \S+latest-Rocky-devel-8 -> /);
  assert.equal(readJsonFile<any>(join(outDir('Rocky-devel-8'), 'manifest.json')).status, 'FINISHED_INCOMPLETE');

  const file = join(ws.dir, 'releases/8/Rocky-devel/compose.json');
  const shipped = readFileSync(file, 'utf8');
  const refuse = JSON.parse(shipped);
  refuse.pungi.finishedIncomplete = 'refuse';
  writeFileSync(file, JSON.stringify(refuse));
  try {
    const refused = await compose('Rocky-devel-8', ['--skip-nx-cache'], 'FINISHED_INCOMPLETE');
    assert.notEqual(refused.status, 0);
    assert.match(
      refused.output,
      /has STATUS FINISHED_INCOMPLETE; only FINISHED is accepted \(releases\/8\/Rocky-devel\/compose\.json says pungi\.finishedIncomplete "refuse"; --allowIncomplete accepts it for one run\)/,
    );
    const allowed = await compose('Rocky-devel-8', ['--allowIncomplete', '--skip-nx-cache'], 'FINISHED_INCOMPLETE');
    assert.equal(allowed.status, 0, allowed.output);
    assert.match(allowed.output, /Rocky-devel-8\.10-updates-\d{8}\.5 INCOMPLETE/);
  } finally {
    writeFileSync(file, shipped);
  }
});

test('-c beta and -c lh compose with their own config: produce composes into 8-BETA and 8-LookAhead', async () => {
  const beta = await compose('Rocky-8', ['-c', 'beta']);
  assert.equal(beta.status, 0, beta.output);
  const betaRoot = join(R, 'mnt/compose/8-BETA');
  assert.deepEqual(beta.calls, [
    [`--config=${R}/etc/pungi-beta/r8-beta.conf`, `--target-dir=${betaRoot}`, '--production', '--label', 'Beta-8.10', '--print-output-dir'],
  ]);
  assert.match(readlinkSync(join(betaRoot, 'latest-Rocky-8')), /^Rocky-8\.10-\S+\.0$/);
  const manifest = readJsonFile<any>(join(outDir('Rocky-8'), 'manifest.json'));
  assert.deepEqual([manifest.channel, manifest.kind], ['beta', 'produce']);

  const lh = await compose('Rocky-8', ['-c', 'lh']);
  assert.equal(lh.status, 0, lh.output);
  const lhRoot = join(R, 'mnt/compose/8-LookAhead');
  assert.deepEqual(lh.calls, [
    [`--config=${R}/etc/pungi-lh/r8.conf`, `--target-dir=${lhRoot}`, '--production', '--label', 'RC-8.10', '--print-output-dir'],
  ]);
  assert.match(readlinkSync(join(lhRoot, 'latest-Rocky-8')), /^Rocky-8\.10-\d{8}\.0$/, 'a GA compose');
});

test('a new compose with releng-hello 1.1 reports the upgrade in changes.md and the output; a downgrade is loud', async () => {
  const produced = link('latest-Rocky-8');
  rmSync(join(R, 'mnt/koji/local/8/Rocky'), { recursive: true, force: true });
  await stageSandbox(R, { version: '1.1', shorts: ['Rocky'] });
  writeFileSync(join(taggedDir, 'dist-rocky8-compose'), 'releng-hello-1.1-1.el8  dist-rocky8-compose  releng\n');
  const r = await compose('Rocky-8');
  assert.doesNotMatch(r.output, /\[local cache\]/, 'a new build in the tag is a new compose');
  assert.equal(r.status, 0, r.output);
  assert.deepEqual(r.calls[0]?.slice(-4), ['--production', '--label', 'RC-8.10', '--print-output-dir']);
  assert.match(r.output, new RegExp(`changes since ${produced}: 0 added, 0 removed, 2 upgraded, 0 downgraded`));
  assert.match(r.output, /upgraded releng-hello 1\.0-1\.el8 -> 1\.1-1\.el8 \(BaseOS: aarch64, x86_64\)/);
  const md = readFileSync(join(outDir('Rocky-8'), 'changes.md'), 'utf8');
  assert.match(md, /## BaseOS x86_64\n\n- upgraded releng-hello 1\.0-1\.el8 -> 1\.1-1\.el8\n/);
  const changes = readJsonFile<any>(join(outDir('Rocky-8'), 'changes.json'));
  assert.equal(changes.previous.id, produced);
  assert.deepEqual(changes.counts, { added: 0, removed: 0, upgraded: 2, downgraded: 0 });
  assert.deepEqual(readJsonFile<any>(join(outDir('Rocky-8'), 'manifest.json')).changes, changes.counts);

  // The same report from the local backend, and a downgrade back to 1.0 is flagged.
  rmSync(join(R, 'mnt/koji/local/8/Rocky'), { recursive: true, force: true });
  await stageSandbox(R, { version: '1.0', shorts: ['Rocky'] });
  const down = await ws.nxAsync(['run', 'Rocky-8:compose', '--backend=local', '--output-style=static']);
  assert.equal(down.status, 0, down.output);
  assert.match(down.output, /WARNING: DOWNGRADED releng-hello 1\.1-1\.el8 -> 1\.0-1\.el8 \(BaseOS: aarch64, x86_64\)/);
  assert.match(readFileSync(join(outDir('Rocky-8'), 'changes.md'), 'utf8'), /WARNING: 2 package\(s\) DOWNGRADED/);
});
