import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import { readRepomd, repomdPath } from '../../../tools/nx-releng/src/lib/formats/repomd';
import { signRepomd } from '../../../tools/nx-releng/src/lib/vetting/sign';
import { type RepoclosureMap, checkModules, closureReposFor, parseRepoclosureOutput, verifyRepo } from '../../../tools/nx-releng/src/lib/vetting/verify';
import { type FixtureRpm, buildFixtureRpms } from '../../helpers/rpms';
import { removeDir, tempDir } from '../../helpers/workspace';

let tmp: string;
let home: string;
let pub: string;
let fpr: string;
let rpms: FixtureRpm[];
let base: string;
const app: Record<string, string> = {};

async function makeRepo(name: string, pick: (r: FixtureRpm) => boolean): Promise<string> {
  const repo = join(tmp, name);
  mkdirSync(join(repo, 'Packages'), { recursive: true });
  for (const r of rpms.filter((x) => x.category === 'binary' && pick(x))) copyFileSync(r.file, join(repo, 'Packages', basename(r.file)));
  await run('createrepo_c', ['--quiet', repo]);
  await signRepomd(repomdPath(repo), { type: 'gpg', keyId: fpr, homedir: home });
  return repo;
}

/**
 * The fixture releng-hello ships a shell script, so rpm gives it `Requires: /bin/sh`; in Rocky that comes
 * from bash in BaseOS. This stands in for it: a noarch package that provides /bin/sh.
 */
async function buildShellProvider(): Promise<FixtureRpm> {
  const top = join(tmp, 'rpmbuild');
  mkdirSync(join(top, 'SPECS'), { recursive: true });
  const spec = join(top, 'SPECS', 'releng-shell.spec');
  writeFileSync(
    spec,
    ['Name: releng-shell', 'Version: 1.0', 'Release: 1.el8', 'Summary: provides /bin/sh for repoclosure', 'License: MIT', 'BuildArch: noarch', 'Provides: /bin/sh', '%description', 'test', '%files', ''].join('\n'),
  );
  await run('rpmbuild', ['-bb', '--define', `_topdir ${top}`, spec], { env: { LC_ALL: 'C' } });
  return { file: join(top, 'RPMS', 'noarch', 'releng-shell-1.0-1.el8.noarch.rpm'), name: 'releng-shell', version: '1.0', release: '1.el8', arch: 'noarch', category: 'binary' };
}

/** A copy of a good repo to break, timestamps kept. */
function copyRepo(from: string, name: string): string {
  const to = join(tmp, name);
  cpSync(from, to, { recursive: true, preserveTimestamps: true });
  return to;
}

before(async () => {
  tmp = tempDir('verify');
  home = join(tmp, 'gnupg');
  mkdirSync(home, { mode: 0o700 });
  await run('gpg', ['--homedir', home, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'Releng Verify <releng-verify@example.invalid>', 'rsa2048', 'sign', 'never']);
  fpr = (await run('gpg', ['--homedir', home, '--batch', '--with-colons', '--list-keys'])).stdout.split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9]!;
  pub = join(tmp, 'RPM-GPG-KEY-releng');
  await run('gpg', ['--homedir', home, '--batch', '--yes', '--armor', '--output', pub, '--export', fpr]);
  ({ rpms } = await buildFixtureRpms());
  rpms = [...rpms, await buildShellProvider()];
  base = await makeRepo('BaseOS', (r) => r.name === 'releng-base' || r.name === 'releng-shell');
  for (const arch of ['x86_64', 'aarch64']) {
    app[arch] = await makeRepo(`AppStream-${arch}`, (r) => ['releng-hello', 'releng-app'].includes(r.name) && r.arch === arch);
  }
});

after(async () => {
  await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { allowFailure: true });
  removeDir(tmp);
});

test('a good repository passes, for the host arch and a foreign one', async () => {
  for (const arch of ['x86_64', 'aarch64']) {
    const report = await verifyRepo(app[arch]!, { publicKey: pub, arch, closureRepos: { BaseOS: base }, name: `AppStream/${arch}` });
    assert.deepEqual(report, { repo: `AppStream/${arch}`, ok: true, problems: [] });
  }
  const baseReport = await verifyRepo(base, { publicKey: pub, arch: 'x86_64' });
  assert.deepEqual(baseReport.problems, []);
});

test('a missing dependency repo fails repoclosure', async () => {
  const report = await verifyRepo(app.x86_64!, { publicKey: pub, arch: 'x86_64' });
  assert.equal(report.ok, false);
  // (/bin/sh comes from BaseOS too: releng-shell here, bash in Rocky.)
  assert.deepEqual(report.problems, ['repoclosure (x86_64): releng-hello-1.0-1.el8.x86_64 from target: unresolved /bin/sh, releng-base']);
  const aarch = await verifyRepo(app.aarch64!, { publicKey: pub, arch: 'aarch64', repoId: 'AppStream' });
  assert.deepEqual(aarch.problems, ['repoclosure (aarch64): releng-hello-1.0-1.el8.aarch64 from AppStream: unresolved /bin/sh, releng-base']);
  // releng-app needs releng-hello from the same repo: only the cross-repo dependency is missing.
  const withBase = await verifyRepo(app.x86_64!, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base } });
  assert.deepEqual(withBase.problems, []);
});

test('repomd.xml edited after signing is caught by the signature check and by dnf with repo_gpgcheck=1', async () => {
  const repo = copyRepo(app.x86_64!, 'edited');
  appendFileSync(repomdPath(repo), '<!-- edited -->\n');
  const report = await verifyRepo(repo, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base } });
  assert.equal(report.ok, false);
  assert.ok(report.problems.some((p) => /repomd\.xml\.asc does not verify: BADSIG/.test(p)), report.problems.join('\n'));
  assert.ok(report.problems.some((p) => /repomd\.xml\.asc is older than repomd\.xml/.test(p)), report.problems.join('\n'));
  assert.ok(
    report.problems.includes("dnf cannot load the repository with repo_gpgcheck=1: Error: Failed to download metadata for repo 'target': repomd.xml GPG signature verification error: Bad GPG signature"),
    report.problems.join('\n'),
  );
});

test('a signature older than repomd.xml is caught even when it verifies', async () => {
  const repo = copyRepo(app.x86_64!, 'older');
  const old = new Date(Date.now() - 3600_000);
  utimesSync(`${repomdPath(repo)}.asc`, old, old);
  const report = await verifyRepo(repo, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base }, skipDnf: true });
  assert.deepEqual(report.problems, [`${repomdPath(repo)}.asc is older than repomd.xml (repomd.xml changed after signing)`]);
});

test('a missing repomd.xml.asc is caught, and dnf refuses the repo', async () => {
  const repo = copyRepo(app.x86_64!, 'unsigned');
  rmSync(`${repomdPath(repo)}.asc`);
  const report = await verifyRepo(repo, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base } });
  assert.equal(report.problems[0], `${repomdPath(repo)}.asc is missing (repomd.xml is not signed)`);
  assert.match(report.problems[1] ?? '', /^dnf cannot load the repository with repo_gpgcheck=1: .*GPG signature is not available/);
  assert.equal(report.problems.length, 2);
});

test('a signature by another key is caught', async () => {
  const repo = copyRepo(app.x86_64!, 'foreign-key');
  const otherHome = join(tmp, 'gnupg-other');
  mkdirSync(otherHome, { mode: 0o700 });
  try {
    await run('gpg', ['--homedir', otherHome, '--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'Other <other@example.invalid>', 'rsa2048', 'sign', 'never']);
    await run('gpg', ['--homedir', otherHome, '--batch', '--yes', '--armor', '--detach-sign', '--output', `${repomdPath(repo)}.asc`, repomdPath(repo)]);
  } finally {
    await run('gpgconf', ['--homedir', otherHome, '--kill', 'gpg-agent'], { allowFailure: true });
  }
  const report = await verifyRepo(repo, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base } });
  assert.ok(report.problems.some((p) => /does not verify: ERRSIG \(no public key for the signature\)/.test(p)), report.problems.join('\n'));
  assert.ok(report.problems.some((p) => p.startsWith('dnf cannot load the repository with repo_gpgcheck=1')), report.problems.join('\n'));
});

test('a truncated package and a damaged metadata file are caught', async () => {
  const repo = copyRepo(app.x86_64!, 'truncated');
  const hello = join(repo, 'Packages', 'releng-hello-1.0-1.el8.x86_64.rpm');
  const size = readFileSync(hello).length;
  truncateSync(hello, size - 100);
  const md = await readRepomd(repo);
  const other = md.records.find((r) => r.type === 'other')!;
  const otherPath = join(repo, other.location);
  const bytes = readFileSync(otherPath);
  bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
  writeFileSync(otherPath, bytes);
  rmSync(join(repo, md.records.find((r) => r.type === 'filelists_db')!.location));
  const report = await verifyRepo(repo, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base }, skipDnf: true });
  assert.deepEqual(report.problems.sort(), [
    `package releng-hello-1.0-1.el8.x86_64: ${hello} has size ${size - 100}, expected ${size}`,
    `repomd filelists_db: ${join(repo, md.records.find((r) => r.type === 'filelists_db')!.location)} is missing`,
    `repomd other: ${otherPath} sha256 is ${report.problems.find((p) => p.startsWith('repomd other'))!.split(' sha256 is ')[1]!.split(',')[0]}, expected ${other.checksum!.value}`,
  ].sort());
  // Same size, different content: the checksum catches it.
  const repo2 = copyRepo(app.x86_64!, 'flipped');
  const hello2 = join(repo2, 'Packages', 'releng-hello-1.0-1.el8.x86_64.rpm');
  const b2 = readFileSync(hello2);
  b2.writeUInt8(b2.readUInt8(b2.length - 1) ^ 0xff, b2.length - 1);
  writeFileSync(hello2, b2);
  const r2 = await verifyRepo(repo2, { publicKey: pub, arch: 'x86_64', skipDnf: true });
  assert.equal(r2.problems.length, 1);
  assert.match(r2.problems[0]!, /^package releng-hello-1\.0-1\.el8\.x86_64: .* sha256 is [0-9a-f]{64}, expected [0-9a-f]{64}$/);
});

test('repoclosure map: plain data resolved to directories; repoclosure output parsing', () => {
  const map: RepoclosureMap = { BaseOS: [], AppStream: ['BaseOS'], PowerTools: ['BaseOS', 'AppStream'] };
  assert.deepEqual(
    closureReposFor(map, 'PowerTools', (r) => `/staging/${r}/x86_64/os`),
    { BaseOS: '/staging/BaseOS/x86_64/os', AppStream: '/staging/AppStream/x86_64/os' },
  );
  assert.deepEqual(closureReposFor(map, 'BaseOS', (r) => r), {});
  assert.throws(() => closureReposFor(map, 'RT', (r) => r), /repoclosure map has no entry for repo RT/);
  assert.deepEqual(
    parseRepoclosureOutput('package: a-1-1.x86_64 from t\n  unresolved deps (2):\n    b\n    c >= 2\npackage: d-1-1.noarch from t\n  unresolved deps (1):\n    e\n'),
    ['a-1-1.x86_64 from t: unresolved b, c >= 2', 'd-1-1.noarch from t: unresolved e'],
  );
});

test('verify checks what production will hold (lstat): a package or repomd.xml that is a symlink is refused', async () => {
  const repo = copyRepo(app.x86_64!, 'linked-package');
  const dir = join(repo, 'Packages');
  const rpm = readdirSync(dir).find((f) => f.endsWith('.rpm')) as string;
  // The link names an identical copy: following it, every checksum would pass; production would get only the link.
  renameSync(join(dir, rpm), join(dir, `${rpm}.real`));
  symlinkSync(`${rpm}.real`, join(dir, rpm));
  const report = await verifyRepo(repo, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base }, skipDnf: true });
  assert.equal(report.problems.length, 1, report.problems.join('\n'));
  assert.match(report.problems[0] ?? '', new RegExp(`^package \\S+: ${join(dir, rpm).replace(/[.+]/g, '\\$&')} is a symbolic link; production would receive the link, not the file$`));

  const md = copyRepo(app.x86_64!, 'linked-repomd');
  renameSync(repomdPath(md), `${repomdPath(md)}.real`);
  symlinkSync('repomd.xml.real', repomdPath(md));
  const mdReport = await verifyRepo(md, { publicKey: pub, arch: 'x86_64', closureRepos: { BaseOS: base }, skipDnf: true });
  assert.deepEqual(mdReport.problems, [`${repomdPath(md)} is a symbolic link; production would receive the link, not the file`]);
});

test('checkModules: a modular repo needs a modules record whose file parses and lists a module', async () => {
  const repo = join(tmp, 'modular');
  mkdirSync(repo, { recursive: true });
  await run('createrepo_c', ['--quiet', repo]);
  assert.match((await checkModules(repo)).join('\n'), /repodata\/repomd\.xml has no modules record/);
  const yaml = (text: string) => {
    writeFileSync(join(tmp, 'modules.yaml'), text);
    return run('modifyrepo_c', ['--mdtype=modules', join(tmp, 'modules.yaml'), join(repo, 'repodata'), '--compress', '--compress-type=xz']);
  };
  await yaml('---\ndocument: modulemd\nversion: 2\ndata: {name: perl, stream: "5.26", summary: s, description: d, license: {module: [MIT]}}\n...\n');
  assert.deepEqual(await checkModules(repo), []);
  await yaml('---\ndocument: modulemd\nversion: 2\ndata: {name: perl\n');
  assert.match((await checkModules(repo)).join('\n'), /^repodata\/[0-9a-f]+-modules\.yaml\.xz: YAML document 1 does not parse/);
  await yaml('---\ndocument: modulemd-defaults\nversion: 1\ndata: {module: perl, stream: "5.26"}\n');
  assert.match((await checkModules(repo)).join('\n'), /lists no module/);
});

test('a hostile or broken primary.xml is a problem naming the file, not a crash, and nothing past it is trusted', async () => {
  for (const [name, xml, expected] of [
    ['doctype', '<?xml version="1.0"?>\n<!DOCTYPE metadata [<!ENTITY x "x">]>\n<metadata xmlns="http://linux.duke.edu/metadata/common"/>\n', /: carries a <!DOCTYPE> declaration; primary metadata has none, refusing it .*\(at line 2, column \d+\)$/],
    ['wrong-namespace', '<?xml version="1.0"?>\n<metadata xmlns="urn:other"/>\n', /: root element is <metadata> in namespace 'urn:other', expected <metadata> in http:\/\/linux\.duke\.edu\/metadata\/common \(at line 2, column \d+\)$/],
    ['malformed', '<?xml version="1.0"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common"><package>\n', /: malformed XML at line 3, column 0: unclosed tag: package$/],
  ] as const) {
    const repo = copyRepo(app.x86_64!, `primary-${name}`);
    const md = await readRepomd(repo);
    const primary = join(repo, md.records.find((r) => r.type === 'primary')!.location);
    writeFileSync(primary, gzipSync(xml));
    const report = await verifyRepo(repo, { publicKey: pub, arch: 'x86_64', skipDnf: true });
    assert.equal(report.ok, false);
    // The record's checksum no longer matches (the file changed), and the parse itself is refused, naming the file.
    assert.ok(report.problems.some((p) => p.startsWith(`repomd primary: ${primary} `)), report.problems.join('\n'));
    const refused = report.problems.filter((p) => p.startsWith(`${primary}: `));
    assert.equal(refused.length, 1, report.problems.join('\n'));
    assert.match(refused[0]!, expected);
  }
});
