import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, test } from 'node:test';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { createNxWorkspace, taskOutcomes, type NxWorkspace } from '../helpers/nx-workspace';
import { stageLocalSource } from '../helpers/rpms';
import { git, headOf, insteadOfEnv, makeCheckout, pushUpstream } from '../helpers/checkouts';
import { REPO_ROOT, readJsonFile, writeJsonFile } from '../helpers/workspace';

/**
 * Skipping unchanged composes, end to end with the real nx CLI: Rocky-devel-8 (pungi backend) with the
 * pungi-koji and koji stand-ins of test/fixtures/bin first on PATH. The koji stand-in answers
 * `koji list-tagged --latest --quiet <tag>` from <ws>/koji-tagged/<tag>, which the tests edit. The pungi config
 * checkout and the module metadata checkout are real git clones of local bare repositories (git's insteadOf
 * sends compose.json's git.rockylinux.org remotes there), which the refresh before each compose fetches.
 */

const BIN = join(REPO_ROOT, 'test/fixtures/bin');
const TAG = 'dist-rocky8-compose';
const MODULE_TAG = 'dist-rocky8-module-compose';
let ws: NxWorkspace;
let R: string;
let composeRoot: string;
let pungiLog: string;
let kojiLog: string;
let taggedDir: string;
let bares: string;

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);

/** One `nx run Rocky-devel-8:compose`: its outcome ('cache' or 'ran'), output, and the pungi and koji calls. */
async function compose(args: string[] = [], env: Record<string, string> = {}, allowFailure = false) {
  writeFileSync(pungiLog, '');
  writeFileSync(kojiLog, '');
  const r = await ws.nxAsync(['run', 'Rocky-devel-8:compose', ...args, '--output-style=static'], {
    PATH: `${BIN}${delimiter}${process.env.PATH}`,
    PUNGI_STANDIN_ARGV_LOG: pungiLog,
    PUNGI_STANDIN_SRC: join(R, 'mnt/koji/local/8/Rocky-devel'),
    KOJI_STANDIN_TAGGED: taggedDir,
    KOJI_STANDIN_LOG: kojiLog,
    ...insteadOfEnv(bares),
    ...env,
  });
  if (!allowFailure) assert.equal(r.status, 0, r.output);
  const outcome = taskOutcomes(r.output, 'compose')['Rocky-devel-8'];
  return { ...r, outcome, pungiCalls: lines(pungiLog).length, kojiCalls: lines(kojiLog).sort() };
}

const latest = () => readlinkSync(join(composeRoot, 'latest-Rocky-devel-8'));

before(async () => {
  ws = createNxWorkspace('e2e-compose-cache');
  R = ws.relengRoot;
  composeRoot = await stageSandbox(R, { shorts: ['Rocky-devel'] });
  pungiLog = join(ws.dir, 'pungi-argv.jsonl');
  kojiLog = join(ws.dir, 'koji-calls.log');
  taggedDir = join(ws.dir, 'koji-tagged');
  mkdirSync(taggedDir);
  writeFileSync(join(taggedDir, TAG), `releng-devel-lib-1.0-1.el8  ${TAG}  releng\n`);
  writeFileSync(join(taggedDir, MODULE_TAG), `perl-5.32-8100020240101000000.abc  ${MODULE_TAG}  releng\n`);
  // Rocky-devel-8 as the composes that read module metadata and a module tag are configured (Rocky-8 is).
  const file = join(ws.dir, 'releases/8/Rocky-devel/compose.json');
  const devel = readJsonFile<any>(file);
  devel.pungi = { ...readJsonFile<any>(join(ws.dir, 'releases/8/Rocky/compose.json')).pungi, ...devel.pungi, label: devel.pungi.label };
  devel.pungi.config = '/etc/pungi-prod/r8-devel.conf';
  writeJsonFile(file, devel);
  ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'Rocky-devel-8 with module metadata and a module tag']);
  bares = join(R, 'git');
  // r8-devel.conf imports common.conf, as r8.conf imports other files of its checkout.
  mkdirSync(join(R, 'etc/pungi-prod'), { recursive: true });
  writeFileSync(
    join(R, 'etc/pungi-prod/r8-devel.conf'),
    "from common import *\nrelease_name = 'Rocky Linux'\nrelease_short = 'Rocky-devel'\nrelease_version = '8.10'\ntree_variants = ['devel']\ntree_arches = ['x86_64', 'aarch64']\n",
  );
  writeFileSync(join(R, 'etc/pungi-prod/common.conf'), "gather_method = 'deps'\n");
  makeCheckout(join(R, 'etc/pungi-prod'), bares, 'pungi-rocky.git', 'r8');
  makeCheckout(join(R, 'mnt/compose/8_metadata'), bares, 'rocky-module-metadata.git', 'r8');
});

after(() => ws?.dispose());

test('building the project graph never asks koji', () => {
  writeFileSync(kojiLog, '');
  const r = ws.nx(['show', 'project', 'Rocky-devel-8', '--json'], { PATH: `${BIN}${delimiter}${process.env.PATH}`, KOJI_STANDIN_LOG: kojiLog });
  assert.equal(r.status, 0, r.output);
  assert.deepEqual(lines(kojiLog), []);
});

test('a compose whose inputs did not change is a cache hit; koji is asked once per run', async () => {
  // The first compose into an empty compose root: nothing finished yet that a hit could stand for.
  const first = await compose();
  assert.equal(first.outcome, 'ran');
  assert.equal(first.pungiCalls, 1);
  assert.deepEqual(first.kojiCalls, [`list-tagged --latest --quiet ${TAG}`, `list-tagged --latest --quiet ${MODULE_TAG}`]);
  assert.match(first.output, /not a cache hit: stable: compose link \S+\/latest-Rocky-devel-8 does not exist/);
  assert.doesNotMatch(first.output, /WARNING/);

  // The compose the host already has: this run is the one Nx records.
  const second = await compose();
  assert.equal(second.outcome, 'ran');
  assert.doesNotMatch(second.output, /not a cache hit/);
  const made = latest();
  const manifest = readFileSync(join(ws.dir, 'dist/releng/Rocky-devel-8/compose/manifest.json'), 'utf8');

  const third = await compose();
  assert.equal(third.outcome, 'cache', third.output);
  assert.match(third.output, /> nx run Rocky-devel-8:compose .*\[(local cache|existing outputs match the cache, left as is)\]/);
  assert.equal(third.pungiCalls, 0, 'pungi-koji was not run');
  assert.deepEqual(third.kojiCalls, [`list-tagged --latest --quiet ${TAG}`, `list-tagged --latest --quiet ${MODULE_TAG}`]);
  assert.match(third.output, /Rocky-devel-8:refresh refreshed: \S+\/etc\/pungi-prod r8 [0-9a-f]{12}, \S+\/mnt\/compose\/8_metadata r8 [0-9a-f]{12}/);
  assert.equal(latest(), made, 'the latest link did not move');
  assert.equal(readFileSync(join(ws.dir, 'dist/releng/Rocky-devel-8/compose/manifest.json'), 'utf8'), manifest);
});

test('a new build in the koji tag makes the compose run again; then it is skipped again', async () => {
  appendFileSync(join(taggedDir, TAG), `releng-devel-lib-1.1-1.el8  ${TAG}  releng\n`);
  const before = latest();
  const changed = await compose();
  assert.equal(changed.outcome, 'ran');
  assert.equal(changed.pungiCalls, 1);
  assert.notEqual(latest(), before);
  assert.equal((await compose()).outcome, 'cache');
});

test('a new build in a second tag makes the compose run again', async () => {
  appendFileSync(join(taggedDir, MODULE_TAG), `nodejs-20-8100020240202000000.def  ${MODULE_TAG}  releng\n`);
  const r = await compose();
  assert.equal(r.outcome, 'ran');
  assert.equal(r.pungiCalls, 1);
  assert.equal((await compose()).outcome, 'cache');
});

test('an edit pushed to a file the pungi config imports is fetched by the refresh and makes the compose run', async () => {
  pushUpstream(bares, 'pungi-rocky.git', 'r8', { 'common.conf': "gather_method = 'nodeps'\n" });
  const r = await compose();
  assert.equal(r.outcome, 'ran');
  assert.equal(r.pungiCalls, 1);
  assert.equal(headOf(join(R, 'etc/pungi-prod')), headOf(join(bares, 'pungi-rocky.git'), 'r8'), 'the checkout is at the pushed commit');
  assert.equal(readFileSync(join(R, 'etc/pungi-prod/common.conf'), 'utf8'), "gather_method = 'nodeps'\n");
  assert.equal((await compose()).outcome, 'cache');
});

test('a change to the module metadata makes the compose run', async () => {
  pushUpstream(bares, 'rocky-module-metadata.git', 'r8', { 'x86_64/AppStream-modules.yaml': '---\ndocument: modulemd\nversion: 2\n' });
  const r = await compose();
  assert.equal(r.outcome, 'ran');
  assert.equal(r.pungiCalls, 1);
});

test('--offline fetches nothing; an uncommitted edit of an imported file still makes the compose run', async () => {
  // --offline is an option, so part of Nx's key: the first run with it is not answered by a run without it.
  await compose(['--offline']);
  assert.equal((await compose(['--offline'])).outcome, 'cache');
  pushUpstream(bares, 'pungi-rocky.git', 'r8', { 'common.conf': "gather_method = 'hybrid'\n" });
  const before = headOf(join(R, 'etc/pungi-prod'));
  const offline = await compose(['--offline']);
  assert.equal(offline.outcome, 'cache', 'nothing local changed');
  assert.equal(headOf(join(R, 'etc/pungi-prod')), before, '--offline did not fetch');
  appendFileSync(join(R, 'etc/pungi-prod/common.conf'), '# hand edit on the compose host\n');
  try {
    const edited = await compose(['--offline']);
    assert.equal(edited.outcome, 'ran');
    assert.equal(edited.pungiCalls, 1);
    // Without --offline the refresh refuses to wipe the edit, naming the checkout.
    const refused = await compose([], {}, true);
    assert.notEqual(refused.status, 0);
    assert.match(refused.output, /Rocky-devel-8:refresh FAILED: releases\/8\/Rocky-devel\/compose\.json: field pungi\.checkout: checkout \S+\/etc\/pungi-prod has local changes \(common\.conf\)/);
    assert.equal(refused.pungiCalls, 0);
  } finally {
    git(join(R, 'etc/pungi-prod'), ['checkout', '-q', '--', 'common.conf']);
  }
  assert.equal((await compose()).outcome, 'ran', 'the refresh brought the pushed commit');
});

test('a checkout that cannot be refreshed fails the compose, naming it; nothing is composed', async () => {
  renameSync(join(bares, 'rocky-module-metadata.git'), join(bares, 'moved.git'));
  try {
    const r = await compose([], {}, true);
    assert.notEqual(r.status, 0);
    assert.match(
      r.output,
      /Rocky-devel-8:refresh FAILED: releases\/8\/Rocky-devel\/compose\.json: field pungi\.moduleMetadata: checkout \S+\/mnt\/compose\/8_metadata cannot be refreshed: git fetch https:\/\/git\.rockylinux\.org\/rocky\/rocky-module-metadata\.git r8 failed/,
    );
    assert.equal(r.pungiCalls, 0);
  } finally {
    renameSync(join(bares, 'moved.git'), join(bares, 'rocky-module-metadata.git'));
  }
});

test('--skip-nx-cache forces a compose', async () => {
  const before = latest();
  const forced = await compose(['--skip-nx-cache']);
  assert.equal(forced.outcome, 'ran');
  assert.equal(forced.pungiCalls, 1);
  assert.notEqual(latest(), before);
});

test('--kind is part of the key: a produce compose is not answered by an update one', async () => {
  const produce = await compose(['--kind=produce']);
  assert.equal(produce.outcome, 'ran');
  assert.match(latest(), /^Rocky-devel-8\.10-\d{8}\.\d+$/, 'a GA compose');
  assert.equal((await compose(['--kind=produce'])).outcome, 'cache');
});

test('a latest link that no longer points at a FINISHED compose is never a hit', async () => {
  const gone = latest();
  rmSync(join(composeRoot, gone), { recursive: true });
  const r = await compose(['--kind=produce']);
  assert.equal(r.outcome, 'ran');
  assert.match(r.output, new RegExp(`not a cache hit: stable: compose link \\S+/latest-Rocky-devel-8 is dangling: it points at '${gone.replace(/\./g, '\\.')}'`));
  assert.equal(r.pungiCalls, 1);
});

test('koji failing: the compose runs every time, with a warning saying why', async () => {
  const env = { KOJI_STANDIN_FAIL: 'Error: Request error: https://koji.example/kojihub: Connection refused' };
  for (let i = 0; i < 2; i++) {
    const r = await compose([], env);
    assert.equal(r.outcome, 'ran', `run ${i + 1}`);
    assert.equal(r.pungiCalls, 1);
    assert.match(
      r.output,
      new RegExp(
        `WARNING: koji list-tagged --latest --quiet ${TAG} failed \\(exit code 1: Error: Request error: https://koji\\.example/kojihub: ` +
          'Connection refused\\): the package set cannot be fingerprinted, so this compose is not skipped',
      ),
    );
  }
});

test('local backend: an added RPM makes the compose run again', async () => {
  assert.equal((await compose(['--backend=local'])).outcome, 'ran');
  assert.equal((await compose(['--backend=local'])).outcome, 'cache');
  await stageLocalSource(join(R, 'mnt/koji'), '8', 'Rocky-devel', { devel: ['releng-devel-lib', 'releng-tools'] });
  const added = await compose(['--backend=local']);
  assert.equal(added.outcome, 'ran');
  assert.equal(added.pungiCalls, 0);
  assert.match(added.output, /added releng-tools 1\.0-1\.el8 \(devel: aarch64, x86_64\)/);
});
