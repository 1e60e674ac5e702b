import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, rmSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { SANDBOX_ADVISORY, writeSandboxErrata } from '../../tools/sandbox/signing';
import { moduleList, repoquery } from '../helpers/dnf';
import { dropShippedSigs, taskOutcomes, type NxWorkspace } from '../helpers/nx-workspace';
import { openPipelineWorkspace, type PipelineWorkspace } from '../helpers/pipeline';

/**
 * The staging chain end to end with the real nx CLI: sync-staging -> updateinfo (advisories from a real HTTP
 * server on 127.0.0.1) -> sign (the site's sign script with a throwaway gpg key) -> verify (checksums,
 * signatures, dnf repoclosure, dnf with repo_gpgcheck=1).
 */

let pipeline: PipelineWorkspace;
let ws: NxWorkspace;
let staging: string;
const nx = (args: string[]) => pipeline.nx(args);
const runOk = (args: string[]) => pipeline.runOk(args);

before(async () => {
  pipeline = await openPipelineWorkspace('e2e-vetting', async (w) => dropShippedSigs(w));
  ws = pipeline.ws;
  staging = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
});

after(() => pipeline?.close());

test('verify runs the whole chain and every repo passes: errata applied, repomd signed', async () => {
  const out = await runOk(['run-many', '-t', 'verify']);
  assert.deepEqual(taskOutcomes(out, 'verify'), { 'Extras-8': 'passed', 'Rocky-8': 'passed', 'Rocky-devel-8': 'passed' });
  const repomd = readFileSync(join(staging, 'BaseOS/x86_64/os/repodata/repomd.xml'), 'utf8');
  assert.match(repomd, /<data type="updateinfo">/);
  const gz = readdirSync(join(staging, 'BaseOS/x86_64/os/repodata')).filter((f) => f.endsWith('-updateinfo.xml.gz'));
  assert.equal(gz.length, 1);
  // An advisory for a package not in the repo is kept, with a warning.
  assert.match(out, /releng-hello-1\.1-1\.el8\.x86_64\.rpm/);
  // Repos on the ignore list and repos without advisories (404) get none.
  assert.doesNotMatch(readFileSync(join(staging, 'extras/x86_64/os/repodata/repomd.xml'), 'utf8'), /updateinfo/);
  assert.doesNotMatch(readFileSync(join(staging, 'AppStream/x86_64/os/repodata/repomd.xml'), 'utf8'), /updateinfo/);
  assert.ok(pipeline.errata.requests.some((u) => u.startsWith('/rocky-linux/8/AppStream/updateinfo.xml?arch=x86_64')));
  assert.ok(!pipeline.errata.requests.some((u) => u.includes('/extras/')), 'extras is on the ignore list');
  // NFV gets its errata (the cron ignores only the lowercase link nfv).
  assert.ok(pipeline.errata.requests.some((u) => u.startsWith('/rocky-linux/8/NFV/updateinfo.xml?arch=aarch64')));
  for (const repo of ['BaseOS/x86_64/os', 'BaseOS/source/tree', 'BaseOS/aarch64/debug/tree', 'devel/x86_64/os']) {
    assert.ok(existsSync(join(staging, repo, 'repodata/repomd.xml.asc')), `${repo} is signed`);
  }
});

test('an unchanged Apollo: updateinfo asks again and writes nothing; sign and verify are cache hits', async () => {
  const before = statSync(join(staging, 'BaseOS/x86_64/os/repodata/repomd.xml')).mtimeMs;
  const requests = pipeline.errata.requests.length;
  const out = await runOk(['run-many', '-t', 'verify']);
  const all = { 'Extras-8': 'cache', 'Rocky-8': 'cache', 'Rocky-devel-8': 'cache' };
  for (const target of ['sign', 'verify']) assert.deepEqual(taskOutcomes(out, target), all, target);
  assert.deepEqual(taskOutcomes(out, 'updateinfo'), { 'Extras-8': 'ran', 'Rocky-8': 'ran', 'Rocky-devel-8': 'ran' });
  assert.match(out, /Rocky-8:updateinfo 0 repos got new advisories/);
  assert.ok(pipeline.errata.requests.length > requests, 'the advisories were fetched again');
  assert.equal(statSync(join(staging, 'BaseOS/x86_64/os/repodata/repomd.xml')).mtimeMs, before);
  // Forcing the steps to run finds nothing to do: same advisories, same bytes, signatures still valid.
  const forced = await runOk(['run-many', '-t', 'verify', '--skip-nx-cache']);
  assert.match(forced, /Rocky-8:updateinfo 0 repos got new advisories/);
  assert.match(forced, /Rocky-8:sign 0 repomd\.xml signed/);
  assert.equal(statSync(join(staging, 'BaseOS/x86_64/os/repodata/repomd.xml')).mtimeMs, before);
});

test('an advisory Apollo publishes after the compose reaches staging on the next daily verify, without a new compose', async () => {
  const baseos = { baseos: join(staging, 'BaseOS/x86_64/os') };
  const B = { id: 'RLBA-2024:0002', name: 'releng-hello', version: '1.0' };
  assert.deepEqual(await repoquery(baseos, { arch: 'x86_64', extraArgs: [`--advisory=${B.id}`] }), []);
  // Apollo adds B, for a package already in staging, next to A.
  await writeSandboxErrata(join(ws.relengRoot, 'errata'), [SANDBOX_ADVISORY, B]);
  const out = await runOk(['run-many', '-t', 'verify']);
  assert.equal(taskOutcomes(out, 'sync-staging')['Rocky-8'], 'cache', 'no new compose, no new sync');
  assert.match(out, /Rocky-8:updateinfo 2 repos got new advisories/);
  for (const target of ['sign', 'verify']) assert.notEqual(taskOutcomes(out, target)['Rocky-8'], 'cache', target);
  // Extras' repos are unchanged (no re-signing); its verify runs again, as its closure reads BaseOS' new repodata.
  assert.equal(taskOutcomes(out, 'sign')['Extras-8'], 'cache');
  assert.deepEqual(await repoquery(baseos, { arch: 'x86_64', extraArgs: [`--advisory=${B.id}`] }), ['releng-hello-0:1.0-1.el8.x86_64']);
  // Apollo unchanged since: the chain after updateinfo is answered by the cache again.
  const again = await runOk(['run-many', '-t', 'verify']);
  for (const target of ['sign', 'verify']) assert.equal(taskOutcomes(again, target)['Rocky-8'], 'cache', target);
});

test('an Apollo that cannot be reached fails the daily verify naming the URL, never a cache hit', async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  const r = await ws.nxAsync(['run-many', '-t', 'verify', '--output-style=static'], { RELENG_ERRATA_URL: `http://127.0.0.1:${port}` });
  assert.notEqual(r.status, 0);
  assert.match(r.output, new RegExp(`Rocky-8:updateinfo FAILED: fetching advisories http://127\\.0\\.0\\.1:${port}/rocky-linux/8/\\w+/updateinfo\\.xml\\?arch=\\w+ failed: .*ECONNREFUSED`));
  assert.equal(taskOutcomes(r.output, 'verify')['Rocky-8'], undefined, 'verify does not run after a failed updateinfo');
});

test('a new compose reruns the chain for that project only', async () => {
  await runOk(['run', 'Rocky-devel-8:compose', '--backend=local', '--skip-nx-cache']);
  const out = await runOk(['run-many', '-t', 'verify']);
  for (const target of ['sign', 'verify']) {
    const outcomes = taskOutcomes(out, target);
    assert.equal(outcomes['Extras-8'], 'cache', `${target} of Extras-8`);
    assert.equal(outcomes['Rocky-8'], 'cache', `${target} of Rocky-8`);
    assert.notEqual(outcomes['Rocky-devel-8'], 'cache', `${target} of Rocky-devel-8`);
  }
});

test('verify catches a repomd.xml edited after signing, and a truncated package', async () => {
  const repomd = join(staging, 'extras/x86_64/os/repodata/repomd.xml');
  appendFileSync(repomd, '<!-- edited -->\n');
  let r = await nx(['run', 'Extras-8:verify', '--excludeTaskDependencies']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /extras\/x86_64\/os:[\s\S]*(BAD signature|signature|does not verify)/i);
  // The cached chain does not hide it: verify hashes the content and fails again.
  r = await nx(['run', 'Extras-8:verify']);
  assert.notEqual(r.status, 0);
  // Forcing the chain re-signs the edited repomd.xml; verify passes again.
  await runOk(['run', 'Extras-8:verify', '--skip-nx-cache']);
  const pkgs = join(staging, 'devel/aarch64/os/Packages/r');
  const rpm = readdirSync(pkgs).find((f) => f.endsWith('.rpm'));
  assert.ok(rpm);
  truncateSync(join(pkgs, rpm), 100);
  r = await nx(['run', 'Rocky-devel-8:verify']);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, new RegExp(`devel/aarch64/os:[\\s\\S]*releng-devel-lib[\\s\\S]*(size|checksum)`));
  assert.match(r.output, /repos failed verification/);
});

test('modules: dnf sees the streams of AppStream and PowerTools; an edited module yaml re-syncs; verify catches repodata without modules', async () => {
  const repos = { appstream: join(staging, 'AppStream/x86_64/os'), powertools: join(staging, 'PowerTools/x86_64/os') };
  let listed = await moduleList(repos, { arch: 'x86_64' });
  assert.match(listed, /^releng-app\s+1 \[d\]\s+common \[d\]/m);
  assert.match(listed, /^releng-tools\s+1 \[d\]\s+common \[d\]/m);
  // The module metadata checkout changed (a new stream), with no new compose: the daily run re-syncs and dnf sees it.
  const yaml = join(ws.relengRoot, 'mnt/compose/8_metadata/x86_64/PowerTools-modules.yaml');
  writeFileSync(yaml, readFileSync(yaml, 'utf8').replaceAll('"1"', '"2"'));
  const out = await runOk(['run', 'Rocky-8:verify']);
  assert.equal(taskOutcomes(out, 'sync-staging')['Rocky-8'], 'synced');
  listed = await moduleList(repos, { arch: 'x86_64' });
  assert.match(listed, /^releng-tools\s+2 \[d\]/m);
  // The modules record dropped behind the tool's back: verify (hashing the content) runs and names the repo.
  // Saved outside staging and put back file by file: the sync record stamps every dir but repodata.
  const repodata = join(staging, 'PowerTools/aarch64/os/repodata');
  const saved = join(ws.dir, 'saved-repodata');
  cpSync(repodata, saved, { recursive: true, preserveTimestamps: true });
  await run('modifyrepo_c', ['--remove', 'modules', repodata]);
  const r = await nx(['run', 'Rocky-8:verify', '--excludeTaskDependencies']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /PowerTools\/aarch64\/os:\n(\s+.*\n)*?\s+repodata\/repomd\.xml has no modules record/);
  for (const f of readdirSync(repodata)) rmSync(join(repodata, f));
  cpSync(saved, repodata, { recursive: true, preserveTimestamps: true });
});

test('an errata server error fails updateinfo with the URL and status and leaves the repo as it was', async () => {
  const repomd = join(staging, 'AppStream/x86_64/os/repodata/repomd.xml');
  const before = readFileSync(repomd);
  const badDir = join(ws.relengRoot, 'errata/rocky-linux/8/AppStream');
  await run('mkdir', ['-p', badDir]);
  writeFileSync(join(badDir, 'x86_64.xml'), '<updates><update'); // malformed
  // Errata are fetched on every run.
  const r = await nx(['run', 'Rocky-8:updateinfo']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /Rocky-8:updateinfo FAILED: .*AppStream\/updateinfo\.xml\?arch=x86_64/);
  assert.deepEqual(readFileSync(repomd), before);
});
