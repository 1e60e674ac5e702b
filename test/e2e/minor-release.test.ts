import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { readModulesRecord } from '../../tools/nx-releng/src/lib/formats/modulemd';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { setupSandboxSigning, startErrataServer, stopSandboxAgent, writeSandboxErrata, type ErrataServer } from '../../tools/sandbox/signing';
import { moduleList } from '../helpers/dnf';
import { createNxWorkspace, dropShippedSigs, taskOutcomes, type NxWorkspace } from '../helpers/nx-workspace';
import { assertSameTree, snapshotTree } from '../helpers/tree-snapshot';
import { readJsonFile, writeJsonFile } from '../helpers/workspace';

/**
 * A minor (GA) release end to end with the real nx CLI: produce composes with real ISOs (xorriso) for all three
 * composes of 8, then `nx run-many -t sync-staging -c minor-release`, then the vetting chain. The devel compose is
 * shaped as Rocky's real one (variant Devel), so release.json's `devel -> Devel` link has an owner. Then the push:
 * verify checks isos/ and the links too, sync-prod publishes them, a changed ISO or a bad CHECKSUM line stops it.
 */

let ws: NxWorkspace;
let errata: ErrataServer;
let composeRoot: string;
let category: string;
let staging: string;
let prodCategory: string;
let production: string;
const ARCHES = ['x86_64', 'aarch64'];
const COMPS_REPOS = ['BaseOS', 'AppStream', 'PowerTools', 'HighAvailability', 'ResilientStorage', 'RT', 'NFV'];

const nx = (args: string[]) => ws.nxAsync([...args, '--output-style=static'], { RELENG_ERRATA_URL: errata.url });
async function runOk(args: string[]): Promise<string> {
  const r = await nx(args);
  assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

/** Every file by content and every link by target (no inodes or times): "byte-identical". */
function contentOf(root: string, skip: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = join(root, rel);
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) out.set(rel, `-> ${readlinkSync(abs)}`);
    else if (st.isDirectory()) {
      out.set(rel, 'dir');
      for (const name of readdirSync(abs).sort()) if (!skip(join(rel, name))) walk(join(rel, name));
    } else out.set(rel, createHash('sha256').update(readFileSync(abs)).digest('hex'));
  };
  walk('.');
  return out;
}

function assertSameContent(a: Map<string, string>, b: Map<string, string>, what: string) {
  const diffs = [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k)} -> ${b.get(k)}`);
  assert.deepEqual(diffs, [], `${what}:\n  ${diffs.slice(0, 20).join('\n  ')}`);
}

function latestCompose(short: string): string {
  return join(composeRoot, readlinkSync(join(composeRoot, `latest-${short}-8`)));
}

before(async () => {
  ws = createNxWorkspace('e2e-minor');
  dropShippedSigs(ws);
  // Rocky's real devel compose has the variant Devel; release.json links devel -> Devel.
  const releaseFile = join(ws.dir, 'releases/8/release.json');
  const release = readJsonFile<Record<string, any>>(releaseFile);
  release.plainRepos.push('Devel');
  release.repoclosure.Devel = release.repoclosure.devel;
  release.errata.ignoreRepos.push('Devel');
  writeJsonFile(releaseFile, release);
  const develFile = join(ws.dir, 'releases/8/Rocky-devel/compose.json');
  writeJsonFile(develFile, { ...readJsonFile<Record<string, unknown>>(develFile), variants: ['Devel'], backend: 'local' });
  await stageSandbox(ws.relengRoot);
  renameSync(join(ws.relengRoot, 'mnt/koji/local/8/Rocky-devel/devel'), join(ws.relengRoot, 'mnt/koji/local/8/Rocky-devel/Devel'));
  await setupSandboxSigning(ws.relengRoot);
  await writeSandboxErrata(join(ws.relengRoot, 'errata'));
  errata = await startErrataServer(join(ws.relengRoot, 'errata'));
  composeRoot = join(ws.relengRoot, 'mnt/compose/8');
  category = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky');
  staging = join(category, '8.10-RC2');
  prodCategory = join(ws.relengRoot, 'mnt/repos-production/mirror/pub/rocky');
  production = join(prodCategory, '8.10');
  await runOk(['run-many', '-t', 'compose', '--backend=local', '--kind=produce']);
});

after(async () => {
  await errata?.close();
  if (ws) await stopSandboxAgent(ws.relengRoot);
  ws?.dispose();
});

test('a produce compose of the local backend has small real ISOs where pungi puts them', async () => {
  const rocky = join(latestCompose('Rocky'), 'compose');
  for (const arch of ARCHES) {
    assert.deepEqual(readdirSync(join(rocky, 'BaseOS', arch, 'iso')).sort(), [`Rocky-8.10-${arch}-boot.iso`, `Rocky-8.10-${arch}-dvd1.iso`]);
    assert.deepEqual(readdirSync(join(rocky, 'Minimal', arch, 'iso')), [`Rocky-8.10-${arch}-minimal.iso`]);
  }
  const { stdout } = await run('xorriso', ['-no_rc', '-indev', join(rocky, 'BaseOS/x86_64/iso/Rocky-8.10-x86_64-dvd1.iso'), '-pvd_info']);
  assert.match(stdout, /Volume Id\s*:\s*Rocky-8-10-x86_64-dvd/);
  assert.ok(!existsSync(join(latestCompose('Extras'), 'compose/BaseOS')), 'only the compose with an ISO-type variant makes ISOs');
  assert.ok(!readdirSync(join(latestCompose('Extras'), 'compose/extras/x86_64')).includes('iso'));
});

test('sync-staging -c minor-release: ISOs, links, manifests, checksums, kickstart, .treeinfo; the compose untouched', async () => {
  // Links left by an earlier release and a hand-made one: each must be replaced, not written into.
  mkdirSync(join(category, '8.9-RC1'), { recursive: true });
  symlinkSync('8.9-RC1', join(category, 'latest-8'));
  symlinkSync('8.10-RC2', join(category, '8.10'));
  mkdirSync(staging, { recursive: true });
  symlinkSync('PowerTools', join(staging, 'nfv'));
  const composeBefore = await snapshotTree(composeRoot);

  const out = await runOk(['run-many', '-t', 'sync-staging', '-c', 'minor-release']);
  assert.deepEqual(taskOutcomes(out, 'sync-staging'), { 'Extras-8': 'synced', 'Rocky-8': 'synced', 'Rocky-devel-8': 'synced' });
  assert.match(out, /Rocky-8:sync-staging synced: minor release/);
  assertSameTree(await snapshotTree(composeRoot), composeBefore, 'the compose root is unchanged by the minor release');

  // Category and repo links: relative, replaced, never a link inside the revision dir.
  assert.equal(readlinkSync(join(category, 'latest-8')), '8.10-RC2');
  assert.equal(readlinkSync(join(category, '8.10')), '8.10-RC2');
  assert.ok(!existsSync(join(staging, '8.10-RC2')), 'no link was made inside the revision dir');
  assert.equal(readlinkSync(join(staging, 'nfv')), 'NFV');
  assert.equal(readlinkSync(join(staging, 'devel')), 'Devel');
  assert.ok(statSync(join(staging, 'devel/x86_64/os/repodata/repomd.xml')).isFile());

  // Only repo dirs and the minor release's own dirs: Minimal/ (a tree variant) and iso/ dirs are not synced.
  const top = readdirSync(staging).sort();
  assert.deepEqual(top, [...COMPS_REPOS, 'Devel', 'devel', 'extras', 'isos', 'metadata', 'nfv', 'plus'].sort());
  assert.ok(!existsSync(join(staging, 'BaseOS/x86_64/iso')));
  const rocky = latestCompose('Rocky');
  assert.equal(readJsonFile<any>(join(staging, 'metadata/composeinfo.json')).payload.compose.id, readFileSync(join(rocky, 'COMPOSE_ID'), 'utf8'));

  for (const arch of ARCHES) {
    const dir = join(staging, 'isos', arch);
    const isos = ['boot', 'dvd1', 'minimal'].map((k) => `Rocky-8.10-${arch}-${k}.iso`);
    const links = { [`Rocky-8-latest-${arch}-boot.iso`]: isos[0], [`Rocky-8-latest-${arch}-dvd.iso`]: isos[1], [`Rocky-8-latest-${arch}-minimal.iso`]: isos[2] };
    const expected = [...isos.flatMap((i) => [i, `${i}.CHECKSUM`, `${i}.manifest`]), ...Object.keys(links).flatMap((l) => [l, `${l}.CHECKSUM`]), 'CHECKSUM'];
    assert.deepEqual(readdirSync(dir).sort(), expected.sort());
    for (const [link, target] of Object.entries(links)) assert.equal(readlinkSync(join(dir, link)), target);
    for (const iso of isos) {
      assert.ok(lstatSync(join(dir, iso)).isFile());
      const fromCompose = join(rocky, 'compose', iso.endsWith('minimal.iso') ? 'Minimal' : 'BaseOS', arch, 'iso', iso);
      assert.ok(readFileSync(join(dir, iso)).equals(readFileSync(fromCompose)), `${iso} is the compose's`);
      assert.notEqual(statSync(join(dir, iso)).ino, statSync(fromCompose).ino, `${iso} is a copy, not a link to the compose`);
      // The manifest is the ISO's content: extract it and list what came out.
      const extracted = join(ws.dir, `extract-${iso}`);
      await run('xorriso', ['-no_rc', '-osirrox', 'on', '-indev', join(dir, iso), '-extract', '/', extracted]);
      const listing: string[] = [];
      const walk = (d: string) => {
        for (const e of readdirSync(d, { withFileTypes: true })) {
          listing.push(relative(extracted, join(d, e.name)));
          if (e.isDirectory()) walk(join(d, e.name));
        }
      };
      walk(extracted);
      listing.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.equal(readFileSync(join(dir, `${iso}.manifest`), 'utf8'), listing.map((l) => `${l}\n`).join(''), `${iso}.manifest`);
      assert.ok(listing.includes('.treeinfo') && listing.includes('.discinfo'));
      if (!iso.endsWith('boot.iso')) assert.ok(listing.some((l) => /^BaseOS\/Packages\/r\/releng-base-.*\.rpm$/.test(l)), `${iso} has packages`);
      rmSync(extracted, { recursive: true, force: true });
      const size = statSync(join(dir, iso)).size;
      const sha = createHash('sha256').update(readFileSync(join(dir, iso))).digest('hex');
      assert.equal(readFileSync(join(dir, `${iso}.CHECKSUM`), 'utf8'), `# ${iso}: ${size} bytes\nSHA256 (${iso}) = ${sha}\n`);
    }
    const checksum = readFileSync(join(dir, 'CHECKSUM'), 'utf8');
    assert.equal(checksum.split('\n').filter((l) => l.startsWith('SHA256 (')).length, 6);
    assert.match(checksum, new RegExp(`^# Rocky-8-latest-${arch}-boot\\.iso: \\d+ bytes\\nSHA256 \\(Rocky-8-latest-${arch}-boot\\.iso\\) = [0-9a-f]{64}$`, 'm'));
    const check = await run('sha256sum', ['-c', 'CHECKSUM'], { cwd: dir });
    assert.equal(check.stdout.trim().split('\n').filter((l) => / OK$/.test(l)).length, 6, check.stdout);
  }

  for (const repo of COMPS_REPOS) {
    for (const arch of ARCHES) {
      const os = join(staging, repo, arch, 'os');
      const ks = join(staging, repo, arch, 'kickstart');
      assert.ok(statSync(join(ks, 'repodata/repomd.xml')).isFile(), `${repo}/${arch}/kickstart`);
      for (const rpm of readdirSync(join(os, 'Packages'), { recursive: true }).map(String).filter((f) => f.endsWith('.rpm'))) {
        assert.equal(statSync(join(ks, 'Packages', rpm)).ino, statSync(join(os, 'Packages', rpm)).ino, 'kickstart packages are hard links');
      }
      assert.notEqual(statSync(join(ks, 'repodata/repomd.xml')).ino, statSync(join(os, 'repodata/repomd.xml')).ino);
    }
  }
  assert.ok(!existsSync(join(staging, 'extras/x86_64/kickstart')), 'plain repos get no kickstart tree');

  for (const arch of ARCHES) {
    for (const kind of ['os', 'kickstart']) {
      const file = join(staging, 'BaseOS', arch, kind, '.treeinfo');
      const text = readFileSync(file, 'utf8');
      assert.match(text, /^\[tree\]\n(?:.*\n)*?variants = BaseOS,AppStream\n/m);
      assert.match(text, new RegExp(`\\[variant-AppStream\\]\\nid = AppStream\\nname = AppStream\\npackages = \\.\\./\\.\\./\\.\\./AppStream/${arch}/${kind}/Packages\\nrepository = \\.\\./\\.\\./\\.\\./AppStream/${arch}/${kind}/\\ntype = variant\\nuid = AppStream\\n`));
      // configparser (what treeinfoModder and productmd use) reads it.
      const py = await run('python3', ['-c', 'import configparser,sys; c=configparser.ConfigParser(); c.read(sys.argv[1]); print(c["tree"]["variants"], c["variant-AppStream"]["repository"])', file]);
      assert.equal(py.stdout.trim(), `BaseOS,AppStream ../../../AppStream/${arch}/${kind}/`);
    }
    // The install tree's files come with a minor release (a daily sync leaves them out).
    assert.ok(existsSync(join(staging, 'AppStream', arch, 'os/.treeinfo')));
  }
});

test("the minor release keeps pungi's module metadata in AppStream and PowerTools, os and kickstart; dnf lists the modules", async () => {
  const rocky = join(latestCompose('Rocky'), 'compose');
  for (const repo of ['AppStream', 'PowerTools']) {
    for (const arch of ARCHES) {
      const composed = await readModulesRecord(join(rocky, repo, arch, 'os'));
      assert.ok(composed, `the compose's ${repo}/${arch}/os has pungi's modules record`);
      // Pungi's names the repo's real packages (the hand-maintained yaml names releng-modular, which is not shipped).
      const artifact = repo === 'AppStream' ? `releng-app-0:1.0-1.el8.${arch}` : 'releng-tools-0:1.0-1.el8.noarch';
      assert.ok(composed.text.includes(`  artifacts:\n    rpms:\n      - ${artifact}\n`), composed.text);
      for (const tree of ['os', 'kickstart']) {
        const staged = await readModulesRecord(join(staging, repo, arch, tree));
        assert.equal(staged?.text, composed.text, `${repo}/${arch}/${tree} carries the compose's module metadata`);
      }
    }
  }
  const repos = { baseos: join(staging, 'BaseOS/x86_64/os'), appstream: join(staging, 'AppStream/x86_64/os'), powertools: join(staging, 'PowerTools/x86_64/os') };
  const listed = await moduleList(repos, { arch: 'x86_64' });
  assert.match(listed, /^releng-app\s+1 \[d\]\s+common \[d\]/m);
  assert.match(listed, /^releng-tools\s+1 \[d\]\s+common \[d\]/m);
});

test('the vetting chain signs and verifies the kickstart trees; errata go to os trees only', async () => {
  // Rocky-8 alone: it has every kickstart tree (the other two have no comps repos), and dnf checks take long.
  const requests = errata.requests.length;
  const out = await runOk(['run', 'Rocky-8:verify']);
  // NFV gets its errata once per arch, as the cron's apollo_tree (-i nfv): the nfv link is not a repo of its own.
  const asked = errata.requests.slice(requests);
  for (const arch of ARCHES) assert.equal(asked.filter((u) => u === `/rocky-linux/8/NFV/updateinfo.xml?arch=${arch}`).length, 1, `NFV ${arch}`);
  assert.deepEqual(asked.filter((u) => /\/nfv\//i.test(u) && !u.includes('/NFV/')), []);
  // verify's dependsOn runs the daily sync-staging, which finds the minor release already there.
  assert.deepEqual(taskOutcomes(out, 'sync-staging'), { 'Rocky-8': 'up-to-date' });
  assert.deepEqual(taskOutcomes(out, 'verify'), { 'Rocky-8': 'passed' });
  assert.match(out, /Rocky-8:verify 49 repos passed, and isos\/, nfv /, '7 comps repos x (2 os + 2 debug + 2 kickstart + 1 source)');
  assert.match(out, /isos: 14 of 14 files ok/, 'per arch: 3 ISOs, 3 latest links, CHECKSUM');
  assert.match(out, /nfv -> NFV: ok/);
  for (const arch of ARCHES) {
    assert.match(out, new RegExp(`BaseOS/${arch}/kickstart: ok`));
    for (const repo of COMPS_REPOS) assert.ok(existsSync(join(staging, repo, arch, 'kickstart/repodata/repomd.xml.asc')), `${repo}/${arch}/kickstart signed`);
  }
  assert.match(readFileSync(join(staging, 'BaseOS/x86_64/os/repodata/repomd.xml'), 'utf8'), /<data type="updateinfo">/);
  // The daily sync verify ran found the minor release up to date: pungi's modules stay.
  const composed = await readModulesRecord(join(latestCompose('Rocky'), 'compose/AppStream/x86_64/os'));
  assert.equal((await readModulesRecord(join(staging, 'AppStream/x86_64/os')))?.text, composed?.text);
  assert.doesNotMatch(readFileSync(join(staging, 'BaseOS/x86_64/kickstart/repodata/repomd.xml'), 'utf8'), /updateinfo/);
});

const verifyRecord = () =>
  readJsonFile<any>(join(ws.relengRoot, 'mnt/repos-staging/.releng/state/mirror_pub_rocky/8.10-RC2/Rocky-8.verify.json'));

test('sync-prod filelist publishes the verified isos/ and nfv -> NFV; the file lists name them', async () => {
  assert.deepEqual(verifyRecord().extraSubtrees, ['isos']);
  assert.deepEqual(verifyRecord().links, [{ name: 'nfv', target: 'NFV' }]);
  // What an earlier push left: an ISO staging no longer has (deleted inside isos/), nfv at something else.
  mkdirSync(join(production, 'isos/x86_64'), { recursive: true });
  writeFileSync(join(production, 'isos/x86_64/Rocky-8.9-x86_64-dvd1.iso'), 'old');
  symlinkSync('PowerTools', join(production, 'nfv'));
  await runOk(['run-many', '-t', 'verify']); // Extras-8 and Rocky-devel-8 too: hardlink waits for every sync-prod
  const out = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  assert.deepEqual(taskOutcomes(out, 'sync-prod'), { 'Extras-8': 'synced', 'Rocky-8': 'synced', 'Rocky-devel-8': 'synced' });
  assert.match(out, new RegExp(`${production}/nfv -> NFV`));

  for (const arch of ARCHES) {
    assertSameContent(contentOf(join(production, 'isos', arch)), contentOf(join(staging, 'isos', arch)), `production isos/${arch}`);
    const check = await run('sha256sum', ['-c', 'CHECKSUM'], { cwd: join(production, 'isos', arch) });
    assert.equal(check.stdout.trim().split('\n').filter((l) => / OK$/.test(l)).length, 6, check.stdout);
  }
  assert.equal(readlinkSync(join(production, 'nfv')), 'NFV');
  assert.equal(readlinkSync(join(production, 'devel')), 'Devel');
  assert.ok(statSync(join(production, 'nfv/x86_64/os/repodata/repomd.xml')).isFile());
  // The staging category links are not published: the production major alias is switched by hand.
  assert.deepEqual(readdirSync(prodCategory).filter((n) => !n.startsWith('full')), ['8.10']);

  const timelist = readFileSync(join(prodCategory, 'fullfiletimelist-rocky'), 'utf8');
  for (const arch of ARCHES) {
    const iso = `Rocky-8.10-${arch}-dvd1.iso`;
    const size = statSync(join(production, 'isos', arch, iso)).size;
    assert.match(timelist, new RegExp(`\\tf\\t${size}\\t8\\.10/isos/${arch}/${iso.replace(/\./g, '\\.')}\n`));
    assert.match(timelist, new RegExp(`\\tf\\t\\d+\\t8\\.10/isos/${arch}/CHECKSUM\n`));
    assert.match(timelist, new RegExp(`\\tl\\t\\d+\\t8\\.10/isos/${arch}/Rocky-8-latest-${arch}-dvd\\.iso\n`));
  }
  assert.match(timelist, /\tl\t\d+\t8\.10\/nfv\n/);
  assert.doesNotMatch(timelist, /Rocky-8\.9-x86_64-dvd1\.iso/);
  assert.match(readFileSync(join(prodCategory, 'fullfilelist'), 'utf8'), /^\.\/8\.10\/isos\/x86_64\/CHECKSUM$/m);
});

test('an ISO changed after verify, or a real dir where nfv goes, is refused by sync-prod; production unchanged', async () => {
  const prodRoot = join(ws.relengRoot, 'mnt/repos-production');
  // A directory in the link's place: refused before anything is copied.
  renameSync(join(production, 'nfv'), join(production, 'nfv.away'));
  mkdirSync(join(production, 'nfv'));
  try {
    const inTheWay = await snapshotTree(prodRoot);
    const r = await nx(['run', 'Rocky-8:sync-prod']);
    assert.notEqual(r.status, 0);
    assert.match(r.output, new RegExp(`${production}/nfv is a directory, not a link; sync-prod would replace it with a link to NFV\\. Move it away first \\(nothing was changed\\)`));
    assertSameTree(await snapshotTree(prodRoot), inTheWay, 'production after the refused link');
  } finally {
    rmSync(join(production, 'nfv'), { recursive: true });
    renameSync(join(production, 'nfv.away'), join(production, 'nfv'));
  }

  // Same size, other bytes: the digest verify recorded no longer holds.
  const before = await snapshotTree(prodRoot);
  const iso = join(staging, 'isos/x86_64/Rocky-8.10-x86_64-boot.iso');
  const original = readFileSync(iso);
  const changed = Buffer.from(original);
  changed.writeUInt8(changed.readUInt8(changed.length - 1) ^ 0xff, changed.length - 1);
  writeFileSync(iso, changed);
  try {
    const r = await nx(['run', 'Rocky-8:sync-prod']);
    assert.notEqual(r.status, 0);
    assert.match(r.output, new RegExp(`Rocky-8: ${staging} changed since it passed verify at [^;]+; run nx run Rocky-8:verify again before syncing to production`));
    assertSameTree(await snapshotTree(prodRoot), before, 'production after the refused sync');
  } finally {
    writeFileSync(iso, original);
  }
});

test('a CHECKSUM line that does not match its ISO fails verify, naming the ISO; sync-prod then refuses', async () => {
  const file = join(staging, 'isos/aarch64/CHECKSUM');
  const original = readFileSync(file, 'utf8');
  const iso = 'Rocky-8.10-aarch64-dvd1.iso';
  const good = new RegExp(`^SHA256 \\(${iso.replace(/\./g, '\\.')}\\) = ([0-9a-f]{64})$`, 'm').exec(original)?.[1] as string;
  const bad = good.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  // Only the ISO's line: the latest link's line (same hash, sorted before it) stays right.
  writeFileSync(file, original.replace(`SHA256 (${iso}) = ${good}`, `SHA256 (${iso}) = ${bad}`));
  try {
    const line = original.split('\n').indexOf(`SHA256 (${iso}) = ${good}`) + 1;
    const r = await nx(['run', 'Rocky-8:verify']);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /Rocky-8:verify FAILED: 1 of 15 files and links of isos, nfv failed verification:/);
    assert.match(r.output, new RegExp(`isos/aarch64/${iso}:\\n\\s+CHECKSUM line ${line} says sha256 ${bad}, the file has ${good}\\n\\s+${iso}\\.CHECKSUM says \\d+ bytes sha256 ${good}, CHECKSUM says \\d+ bytes sha256 ${bad}`));
    assert.doesNotMatch(r.output, /isos\/aarch64\/Rocky-8-latest-aarch64-dvd\.iso:/, 'the latest link has its own line, still right');
    assert.equal(existsSync(join(ws.relengRoot, 'mnt/repos-staging/.releng/state/mirror_pub_rocky/8.10-RC2/Rocky-8.verify.json')), false);
    const p = await nx(['run', 'Rocky-8:sync-prod']);
    assert.notEqual(p.status, 0);
    assert.match(p.output, /Rocky-8: \S+8\.10-RC2 has no passing verify/);
  } finally {
    writeFileSync(file, original);
  }
});

test("verify fails, naming the repo, when the minor release's AppStream repodata lost its modules record", async () => {
  // Saved outside staging and put back file by file: the sync record stamps every dir but repodata.
  const repodata = join(staging, 'AppStream/x86_64/os/repodata');
  const saved = join(ws.dir, 'saved-appstream-repodata');
  cpSync(repodata, saved, { recursive: true, preserveTimestamps: true });
  await run('modifyrepo_c', ['--remove', 'modules', repodata]);
  try {
    const r = await nx(['run', 'Rocky-8:verify', '--excludeTaskDependencies']);
    assert.notEqual(r.status, 0);
    assert.match(r.output, /AppStream\/x86_64\/os:\n(\s+.*\n)*?\s+repodata\/repomd\.xml has no modules record/);
  } finally {
    for (const f of readdirSync(repodata)) rmSync(join(repodata, f));
    cpSync(saved, repodata, { recursive: true, preserveTimestamps: true });
  }
});

test('a second minor release changes no byte: up to date, and a forced re-sync writes the same files', async () => {
  const skipRepodata = (rel: string) => rel.endsWith('repodata');
  const first = contentOf(staging, skipRepodata);
  const firstLinks = contentOf(category, (rel) => rel === '8.10-RC2' || rel === '8.9-RC1');
  const again = await runOk(['run-many', '-t', 'sync-staging', '-c', 'minor-release', '--skip-nx-cache']);
  assert.deepEqual(taskOutcomes(again, 'sync-staging'), { 'Extras-8': 'up-to-date', 'Rocky-8': 'up-to-date', 'Rocky-devel-8': 'up-to-date' });

  // Forced: without its record Rocky-8 (the ISOs, kickstart trees, .treeinfo, nfv) syncs again, every step of it.
  rmSync(join(ws.relengRoot, 'mnt/repos-staging/.releng/state/mirror_pub_rocky/8.10-RC2/Rocky-8.sync-staging.json'));
  const forced = await runOk(['run-many', '-t', 'sync-staging', '-c', 'minor-release']);
  const outcomes = taskOutcomes(forced, 'sync-staging');
  assert.equal(outcomes['Rocky-8'], 'synced');
  for (const p of ['Extras-8', 'Rocky-devel-8']) assert.ok(['cache', 'up-to-date'].includes(outcomes[p] as string), `${p}: ${outcomes[p]}`);
  // Repodata is regenerated (new timestamps, errata until updateinfo runs again); everything else is the same bytes.
  assertSameContent(first, contentOf(staging, skipRepodata), 'staging after a forced second minor release');
  assertSameContent(firstLinks, contentOf(category, (rel) => rel === '8.10-RC2' || rel === '8.9-RC1'), 'category links');
  for (const arch of ARCHES) {
    const lines = readFileSync(join(staging, 'isos', arch, 'CHECKSUM'), 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 12, 'one comment and one hash line per name, not duplicated');
  }
});

test('a compose without ISOs, or an ISO type without its iso dir, is refused and staging is left as it was', async () => {
  const stagingRoot = join(ws.relengRoot, 'mnt/repos-staging');
  const before = await snapshotTree(stagingRoot, { exclude: (rel) => rel.startsWith('.releng') });

  // A compose whose ISOs are missing (an update compose has none; here they are moved away, as a failed
  // createiso leaves it), then one with an empty Minimal iso dir. New compose ids would cost a compose each.
  const rocky = join(latestCompose('Rocky'), 'compose');
  for (const arch of ARCHES) renameSync(join(rocky, 'BaseOS', arch, 'iso'), join(rocky, 'BaseOS', arch, 'iso.away'));
  let r = await nx(['run', 'Rocky-8:sync-staging', '-c', 'minor-release', '--skip-nx-cache']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /Rocky-8: compose Rocky-8\.10-\d{8}\.\d+ has no ISOs in compose\/BaseOS\/x86_64\/iso \(no such directory\), but isoTypes in releases\/8\/release\.json lists BaseOS\. A minor release publishes the ISOs of a produce compose: nx run Rocky-8:compose --kind=produce/);
  for (const arch of ARCHES) renameSync(join(rocky, 'BaseOS', arch, 'iso.away'), join(rocky, 'BaseOS', arch, 'iso'));

  rmSync(join(rocky, 'Minimal/aarch64/iso/Rocky-8.10-aarch64-minimal.iso'));
  // A changed record makes the executor look again (an unchanged one would rightly say up to date).
  rmSync(join(stagingRoot, '.releng/state/mirror_pub_rocky/8.10-RC2/Rocky-8.sync-staging.json'));
  r = await nx(['run', 'Rocky-8:sync-staging', '-c', 'minor-release']);
  assert.notEqual(r.status, 0);
  assert.match(r.output, /has no ISOs in compose\/Minimal\/aarch64\/iso \(no \*\.iso files\), but isoTypes in releases\/8\/release\.json lists Minimal/);
  assertSameTree(await snapshotTree(stagingRoot, { exclude: (rel) => rel.startsWith('.releng') }), before, 'staging after the refused runs');
});

test('a daily sync of a newer compose between the GA sync and the GA push keeps isos/, kickstart and nfv; the push publishes them', async () => {
  const state = join(ws.relengRoot, 'mnt/repos-staging/.releng/state/mirror_pub_rocky/8.10-RC2');
  // The GA push has not happened yet: production holds none of the release's ISOs and no nfv link.
  rmSync(join(production, 'isos'), { recursive: true });
  rmSync(join(production, 'nfv'));
  // A newer update compose (no ISOs), synced by the daily job: releng-hello 1.1.
  await stageSandbox(ws.relengRoot, { version: '1.1', shorts: ['Rocky'] });
  await runOk(['run', 'Rocky-8:compose', '--backend=local']);
  const out = await runOk(['run', 'Rocky-8:verify']);
  assert.deepEqual(taskOutcomes(out, 'sync-staging'), { 'Rocky-8': 'synced' });
  const synced = readJsonFile<any>(join(state, 'Rocky-8.sync-staging.json'));
  assert.equal(synced.minorRelease, undefined, 'a daily sync is no minor release');
  assert.deepEqual(synced.extraSubtrees, ['isos']);
  assert.deepEqual(synced.links, [{ name: 'nfv', target: 'NFV' }]);
  for (const arch of ARCHES) assert.ok(synced.repos.includes(`BaseOS/${arch}/kickstart`), `BaseOS/${arch}/kickstart stays a repo`);
  assert.match(out, /Rocky-8:verify 49 repos passed, and isos\/, nfv /);
  assert.match(out, /isos: 14 of 14 files ok/);
  assert.match(out, /nfv -> NFV: ok/);
  assert.deepEqual(verifyRecord().extraSubtrees, ['isos']);
  // A daily sync re-adds the hand-maintained yaml; the frozen kickstart tree keeps the release's (pungi's).
  const yaml = readFileSync(join(ws.relengRoot, 'mnt/compose/8_metadata/x86_64/AppStream-modules.yaml'), 'utf8');
  assert.equal((await readModulesRecord(join(staging, 'AppStream/x86_64/os')))?.text, yaml);
  assert.match((await readModulesRecord(join(staging, 'AppStream/x86_64/kickstart')))?.text ?? '', /- releng-app-0:1\.0-1\.el8\.x86_64\n/);

  const push = await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  assert.deepEqual(taskOutcomes(push, 'sync-prod'), { 'Extras-8': 'up-to-date', 'Rocky-8': 'synced', 'Rocky-devel-8': 'up-to-date' });
  assert.ok(existsSync(join(production, 'BaseOS/x86_64/os/Packages/r/releng-hello-1.1-1.el8.x86_64.rpm')), 'the newer compose is published');
  assert.ok(statSync(join(production, 'BaseOS/x86_64/kickstart/repodata/repomd.xml')).isFile());
  for (const arch of ARCHES) {
    assertSameContent(contentOf(join(production, 'isos', arch)), contentOf(join(staging, 'isos', arch)), `production isos/${arch}`);
    const check = await run('sha256sum', ['-c', 'CHECKSUM'], { cwd: join(production, 'isos', arch) });
    assert.equal(check.stdout.trim().split('\n').filter((l) => / OK$/.test(l)).length, 6, check.stdout);
  }
  assert.equal(readlinkSync(join(production, 'nfv')), 'NFV');
  assert.match(readFileSync(join(prodCategory, 'fullfiletimelist-rocky'), 'utf8'), /\tl\t\d+\t8\.10\/nfv\n/);
});
