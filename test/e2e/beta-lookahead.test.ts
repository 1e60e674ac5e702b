import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { setupSandboxSigning, startErrataServer, stopSandboxAgent, writeSandboxErrata, type ErrataServer } from '../../tools/sandbox/signing';
import { readModulesRecord } from '../../tools/nx-releng/src/lib/formats/modulemd';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { moduleList, repoquery } from '../helpers/dnf';
import { createNxWorkspace, taskOutcomes, type NxWorkspace } from '../helpers/nx-workspace';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot';

/**
 * The beta and lookahead channels end to end (beta-release-sync-to-staging.sh, lh-release-sync-to-staging.sh):
 * `-c beta` / `-c lh` compose into 8-BETA / 8-LookAhead, staging is 8.10-BETA / 8.10-LookAhead with the
 * 8-BETA / 8-LookAhead links, and the sync mirrors the compose (installer files included, deletions
 * included), unlike a stable update sync, and a produce compose's ISOs are published in isos/<arch> as a minor
 * release does. Production refuses both.
 */

let ws: NxWorkspace;
let category: string;
let extrasSource: string;
let errata: ErrataServer;

function runOk(args: string[]): string {
  const r = ws.nx([...args, '--output-style=static']);
  assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

/** The x86_64 RPM files of a staging repo, by file name. */
function packages(repo: string): string[] {
  const dir = join(repo, 'Packages');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.rpm'))
    .map((f) => f.split('/').pop() as string)
    .sort();
}

before(async () => {
  ws = createNxWorkspace('e2e-beta');
  category = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky');
  await stageSandbox(ws.relengRoot, { shorts: ['Extras', 'Rocky'] });
  extrasSource = join(ws.relengRoot, 'mnt/koji/local/8/Extras');
  for (const root of ['8-BETA', '8-LookAhead']) mkdirSync(join(ws.relengRoot, 'mnt/compose', root), { recursive: true });
  // verify -c beta runs the vetting chain: errata and a signing key.
  await setupSandboxSigning(ws.relengRoot);
  await writeSandboxErrata(join(ws.relengRoot, 'errata'));
  errata = await startErrataServer(join(ws.relengRoot, 'errata'));
});

after(async () => {
  await errata?.close();
  if (ws) await stopSandboxAgent(ws.relengRoot);
  ws?.dispose();
});

test('-c beta: 8-BETA compose to 8.10-BETA with the installer files and the 8-BETA link', async () => {
  // A second package in extras, removed before the next beta compose below.
  const plusRpm = readdirSync(join(extrasSource, 'plus')).find((f) => f.endsWith('.noarch.rpm'));
  assert.ok(plusRpm, 'the sandbox has a noarch plus package');
  copyFileSync(join(extrasSource, 'plus', plusRpm), join(extrasSource, 'extras', plusRpm));
  runOk(['run', 'Extras-8:compose', '-c', 'beta', '--backend=local', '--skip-nx-cache']);
  const out = runOk(['run', 'Extras-8:sync-staging', '-c', 'beta']);
  assert.equal(taskOutcomes(out, 'sync-staging')['Extras-8'], 'synced');
  const os = join(category, '8.10-BETA/extras/x86_64/os');
  assert.equal(readlinkSync(join(category, '8-BETA')), '8.10-BETA');
  // A beta tree is a whole install tree: what a stable update sync leaves alone is copied.
  for (const f of ['.treeinfo', '.discinfo', 'media.repo']) assert.ok(existsSync(join(os, f)), `${f} in ${os}`);
  assert.deepEqual(await repoquery({ extras: os }, { arch: 'x86_64' }), ['releng-extras-0:1.0-1.el8.noarch', 'releng-plus-0:1.0-1.el8.noarch']);

  rmSync(join(extrasSource, 'extras', plusRpm));
  runOk(['run', 'Extras-8:compose', '-c', 'beta', '--backend=local', '--skip-nx-cache']);
  assert.equal(taskOutcomes(runOk(['run', 'Extras-8:sync-staging', '-c', 'beta']), 'sync-staging')['Extras-8'], 'synced');
  // Deleted from the compose, deleted from beta staging: the package and its repodata entry.
  assert.deepEqual(packages(os), ['releng-extras-1.0-1.el8.noarch.rpm']);
  assert.deepEqual(await repoquery({ extras: os }, { arch: 'x86_64' }), ['releng-extras-0:1.0-1.el8.noarch']);
  assert.equal(existsSync(join(category, '8.10-RC2')), false, 'beta never writes the stable revision dir');
});

test('-c beta of a produce compose: ISOs in isos/<arch> with checksums, nfv -> NFV; no kickstart, no latest-8', async () => {
  runOk(['run', 'Rocky-8:compose', '-c', 'beta', '--backend=local', '--kind=produce', '--skip-nx-cache']);
  assert.equal(taskOutcomes(runOk(['run', 'Rocky-8:sync-staging', '-c', 'beta']), 'sync-staging')['Rocky-8'], 'synced');
  const beta = join(category, '8.10-BETA');
  for (const arch of ['x86_64', 'aarch64']) {
    const isos = join(beta, 'isos', arch);
    const check = spawnSync('sha256sum', ['-c', 'CHECKSUM'], { cwd: isos, encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`Rocky-8\\.10-${arch}-dvd1\\.iso: OK`));
    assert.equal(readlinkSync(join(isos, `Rocky-8-latest-${arch}-dvd.iso`)), `Rocky-8.10-${arch}-dvd1.iso`);
    assert.equal(existsSync(join(beta, 'BaseOS', arch, 'iso')), false, 'ISOs are published in isos/, not in the variant');
    assert.equal(existsSync(join(beta, 'BaseOS', arch, 'kickstart')), false, 'a beta has no frozen kickstart tree');
  }
  assert.equal(readlinkSync(join(beta, 'nfv')), 'NFV');
  assert.equal(existsSync(join(category, 'latest-8')), false, 'latest-8 is the stable release');
  assert.equal(readlinkSync(join(category, '8-BETA')), '8.10-BETA');
  // Extras' beta tree is untouched by Rocky's: each project owns its own variant dirs.
  assert.deepEqual(packages(join(beta, 'extras/x86_64/os')), ['releng-extras-1.0-1.el8.noarch.rpm']);
});

test("-c beta keeps pungi's module metadata in AppStream and PowerTools; dnf lists the modules; verify checks them", async () => {
  const beta = join(category, '8.10-BETA');
  const compose = join(ws.relengRoot, 'mnt/compose/8-BETA/latest-Rocky-8/compose');
  for (const repo of ['AppStream', 'PowerTools']) {
    for (const arch of ['x86_64', 'aarch64']) {
      const composed = await readModulesRecord(join(compose, repo, arch, 'os'));
      assert.ok(composed, `the beta compose's ${repo}/${arch}/os has pungi's modules record`);
      assert.equal((await readModulesRecord(join(beta, repo, arch, 'os')))?.text, composed.text, `${repo}/${arch}/os`);
    }
  }
  // Pungi's names the packages the repo ships (the hand-maintained yaml names one that is not shipped).
  assert.match((await readModulesRecord(join(beta, 'AppStream/aarch64/os')))?.text ?? '', /- releng-app-0:1\.0-1\.el8\.aarch64\n/);
  const listed = await moduleList({ appstream: join(beta, 'AppStream/x86_64/os'), powertools: join(beta, 'PowerTools/x86_64/os') }, { arch: 'x86_64' });
  assert.match(listed, /^releng-app\s+1 \[d\]\s+common \[d\]/m);
  assert.match(listed, /^releng-tools\s+1 \[d\]\s+common \[d\]/m);
  // The vetting chain of the beta tree: its sync finds staging up to date, verify checks each modular repo's record.
  const r = await ws.nxAsync(['run', 'Rocky-8:verify', '-c', 'beta', '--output-style=static'], { RELENG_ERRATA_URL: errata.url });
  assert.equal(r.status, 0, r.output);
  assert.deepEqual(taskOutcomes(r.output, 'sync-staging'), { 'Rocky-8': 'up-to-date' });
  assert.deepEqual(taskOutcomes(r.output, 'verify'), { 'Rocky-8': 'passed' });
  assert.equal((await readModulesRecord(join(beta, 'AppStream/x86_64/os')))?.text, (await readModulesRecord(join(compose, 'AppStream/x86_64/os')))?.text);
});

test('-c beta: a modular repo whose compose has no modules record and no yaml is refused before staging is touched', async () => {
  const repodata = join(ws.relengRoot, 'mnt/compose/8-BETA/latest-Rocky-8/compose/PowerTools/aarch64/os/repodata');
  const yaml = join(ws.relengRoot, 'mnt/compose/8_metadata/aarch64/PowerTools-modules.yaml');
  const saved = join(ws.dir, 'saved-compose-repodata');
  const composeId = readlinkSync(join(ws.relengRoot, 'mnt/compose/8-BETA/latest-Rocky-8'));
  const before = await snapshotTree(category);
  await run('cp', ['-a', repodata, saved]);
  await run('modifyrepo_c', ['--remove', 'modules', repodata]);
  renameSync(yaml, `${yaml}.away`);
  try {
    const r = ws.nx(['run', 'Rocky-8:sync-staging', '-c', 'beta', '--output-style=static']);
    assert.notEqual(r.status, 0);
    const composeRepomd = join(ws.relengRoot, 'mnt/compose/8-BETA', composeId, 'compose/PowerTools/aarch64/os/repodata/repomd.xml');
    assert.ok(
      r.output.includes(
        `PowerTools is a modular repo (modularRepos in releases/8/release.json) but compose ${composeId} has no modules record in ` +
          `${composeRepomd} and its module metadata ${yaml} cannot be read (ENOENT: no such file or directory, open '${yaml}'); ` +
          'refusing to publish PowerTools/aarch64/os without modules',
      ),
      r.output,
    );
    assertSameTree(await snapshotTree(category), before, 'staging after the refused sync');
  } finally {
    renameSync(`${yaml}.away`, yaml);
    rmSync(repodata, { recursive: true });
    renameSync(saved, repodata);
  }
});

test('-c lh: a directory where 8-LookAhead belongs is refused before staging is touched', async () => {
  runOk(['run', 'Extras-8:compose', '-c', 'lh', '--backend=local', '--skip-nx-cache']);
  mkdirSync(join(category, '8-LookAhead/keep'), { recursive: true });
  const before = await snapshotTree(category);
  const r = ws.nx(['run', 'Extras-8:sync-staging', '-c', 'lh', '--output-style=static']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /mirror\/pub\/rocky\/8-LookAhead must be a symbolic link to 8\.10-LookAhead, but it is a directory/);
  assertSameTree(await snapshotTree(category), before, 'staging after the refused sync');
  assert.equal(existsSync(join(category, '8.10-LookAhead')), false);
});

test('-c lh: 8-LookAhead points at 8.10-LookAhead, and a link pointing elsewhere is corrected', () => {
  rmSync(join(category, '8-LookAhead'), { recursive: true });
  assert.equal(taskOutcomes(runOk(['run', 'Extras-8:sync-staging', '-c', 'lh']), 'sync-staging')['Extras-8'], 'synced');
  assert.equal(readlinkSync(join(category, '8-LookAhead')), '8.10-LookAhead');
  assert.ok(existsSync(join(category, '8.10-LookAhead/extras/x86_64/os/repodata/repomd.xml')));

  rmSync(join(category, '8-LookAhead'));
  symlinkSync('8.9-LookAhead', join(category, '8-LookAhead'));
  const out = runOk(['run', 'Extras-8:sync-staging', '-c', 'lh', '--skip-nx-cache']);
  assert.equal(taskOutcomes(out, 'sync-staging')['Extras-8'], 'up-to-date');
  assert.ok(lstatSync(join(category, '8-LookAhead')).isSymbolicLink());
  assert.equal(readlinkSync(join(category, '8-LookAhead')), '8.10-LookAhead');
});

test('production refuses beta and lookahead, and leaves production untouched', () => {
  const production = join(ws.relengRoot, 'mnt/repos-production');
  for (const [config, channel] of [['beta', 'beta'], ['lh', 'lookahead']] as const) {
    const r = ws.nx(['run', 'Extras-8:sync-prod', '-c', config, '--output-style=static']);
    assert.notEqual(r.status, 0);
    assert.match(r.output, new RegExp(`Extras-8: ${channel} never reaches production; only stable staging is synced`));
  }
  assert.equal(existsSync(join(production, 'mirror/pub/rocky/8.10')), false);
});
