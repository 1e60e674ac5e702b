import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { writeFileLists, type FileListRoot, type WriteFileListsOptions } from '../../../tools/nx-releng/src/lib/mirror/filelist';
import { compareNames, pyTime, sortNames } from '../../../tools/nx-releng/src/lib/mirror/filelist-walk';

const scratch = fs.mkdtempSync(join(tmpdir(), 'filelist-test-'));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
function newDir(name: string): string {
  const d = join(scratch, `${counter++}-${name}`);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

function file(path: string, content: string | Buffer, mode = 0o644): void {
  fs.mkdirSync(join(path, '..'), { recursive: true });
  fs.writeFileSync(path, content);
  fs.chmodSync(path, mode);
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const read = (p: string): string => fs.readFileSync(p, 'utf8');

/** Collects warnings instead of printing them. */
function quiet(extra: WriteFileListsOptions = {}): WriteFileListsOptions & { warnings: string[] } {
  const warnings: string[] = [];
  return { onWarning: (m) => warnings.push(m), ...extra, warnings };
}

/** Snapshot of published files: bytes, inode and mtime, to prove "not rewritten". */
function snapshot(paths: string[]): Map<string, { sha: string; ino: number; mtimeMs: number }> {
  return new Map(paths.map((p) => {
    const st = fs.statSync(p);
    return [p, { sha: sha256(fs.readFileSync(p)), ino: st.ino, mtimeMs: st.mtimeMs }];
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Golden vector of the reference (mirror-filelists.md §1.9), literal bytes. ctime cannot be set, so this
// test lists int(mtime) (timeField: 'mtime', a test seam) and sets every mtime with utimes/lutimes.
// ---------------------------------------------------------------------------------------------------------

const GOLDEN_FILES = `[Version]
2

[Files]
1718000001	l	4	8
1718000010	f	1234	8.10/BaseOS/x86_64/os/Packages/b/bash-4.4.20-5.el8.x86_64.rpm
1718000010	d	4096	8.10/BaseOS/x86_64/os/Packages/b
1718000010	d	4096	8.10/BaseOS/x86_64/os/Packages
1718000011	f	10	8.10/BaseOS/x86_64/os/repodata/repomd.xml
1718000011	d	4096	8.10/BaseOS/x86_64/os/repodata
1718000011	d	4096	8.10/BaseOS/x86_64/os
1718000011	d	4096	8.10/BaseOS/x86_64
1718000011	d	4096	8.10/BaseOS
1718000020	f	2048	8.10/isos/x86_64/Rocky-8.10-x86_64-dvd1.iso
1718000020	l	26	8.10/isos/x86_64/Rocky-x86_64-dvd.iso
1718000020	d	4096	8.10/isos/x86_64
1718000020	d	4096	8.10/isos
1718000020	d	4096	8.10
1718000030	f*	6	8.11/README
1718000030	f-	3	8.11/secret
1718000030	d-	4096	8.11
1718000000	f	4	RPM-GPG-KEY-Rocky-8

[Checksums SHA1]
79b406525f62bbca1e24ce11921da46feb919ac5	8.10/BaseOS/x86_64/os/repodata/repomd.xml
`;
const GOLDEN_2019 = `${GOLDEN_FILES}
[End]
`;
const GOLDEN_2024 = `${GOLDEN_FILES}
[Checksums MD5]
058a7ac6937b6ab1ffa429da0d05dbab	8.10/BaseOS/x86_64/os/repodata/repomd.xml

[Checksums SHA256]
92b1fc7b34b24722c692f6abacf2a0dfc7b7f1bda4ac31f36351f324e30c5064	8.10/BaseOS/x86_64/os/repodata/repomd.xml

[Checksums SHA512]
337200294caddd3da3e9cc78ce97d10d411f1b78f448c78f0b7adff279ffc0bba0657452255b5e72142fa66dbef99fefdb4ff3eb8ac4c8d148e83ff5bdce74bc	8.10/BaseOS/x86_64/os/repodata/repomd.xml

[End]
`;
/** `find .` of the same tree, siblings in byte order, without the published lists (see filelist.ts). */
const GOLDEN_FULLFILELIST = `.
./.nfs0000000000012345
./.~tmp~
./.~tmp~/bash-4.4.20-6.el8.x86_64.rpm
./8
./8.10
./8.10/BaseOS
./8.10/BaseOS/x86_64
./8.10/BaseOS/x86_64/os
./8.10/BaseOS/x86_64/os/Packages
./8.10/BaseOS/x86_64/os/Packages/b
./8.10/BaseOS/x86_64/os/Packages/b/bash-4.4.20-5.el8.x86_64.rpm
./8.10/BaseOS/x86_64/os/repodata
./8.10/BaseOS/x86_64/os/repodata/repomd.xml
./8.10/isos
./8.10/isos/x86_64
./8.10/isos/x86_64/Rocky-8.10-x86_64-dvd1.iso
./8.10/isos/x86_64/Rocky-x86_64-dvd.iso
./8.11
./8.11/README
./8.11/hidden
./8.11/secret
./RPM-GPG-KEY-Rocky-8
./dangling
`;

/** Builds the §1.9 tree under `root` with the listed times as mtimes (directories last, deepest first). */
function buildGoldenTree(root: string): void {
  const times: [string, number][] = [];
  const f = (rel: string, size: number | string, time: number, mode = 0o644): void => {
    file(join(root, rel), typeof size === 'string' ? size : Buffer.alloc(size, 0x61), mode);
    times.push([rel, time]);
  };
  const l = (rel: string, target: string, time: number): void => {
    fs.symlinkSync(target, join(root, rel));
    times.push([rel, time]);
  };
  f('.nfs0000000000012345', 5, 1718000099);
  f('.~tmp~/bash-4.4.20-6.el8.x86_64.rpm', 7, 1718000099);
  f('8.10/BaseOS/x86_64/os/Packages/b/bash-4.4.20-5.el8.x86_64.rpm', 1234, 1718000010);
  f('8.10/BaseOS/x86_64/os/repodata/repomd.xml', '<repomd/>\n', 1718000011);
  f('8.10/isos/x86_64/Rocky-8.10-x86_64-dvd1.iso', 2048, 1718000020);
  l('8.10/isos/x86_64/Rocky-x86_64-dvd.iso', 'Rocky-8.10-x86_64-dvd1.iso', 1718000020);
  l('8', '8.10', 1718000001);
  f('8.11/README', 6, 1718000030);
  f('8.11/hidden', 9, 1718000030, 0o600);
  f('8.11/secret', 3, 1718000030, 0o640);
  fs.chmodSync(join(root, '8.11'), 0o750);
  f('RPM-GPG-KEY-Rocky-8', 4, 1718000000);
  l('dangling', 'nowhere', 1718000040);
  f('imagelist-rocky', 86, 1718000050);
  const dirs: [string, number][] = [
    ['8.10/BaseOS/x86_64/os/Packages/b', 1718000010],
    ['8.10/BaseOS/x86_64/os/Packages', 1718000010],
    ['8.10/BaseOS/x86_64/os/repodata', 1718000011],
    ['8.10/BaseOS/x86_64/os', 1718000011],
    ['8.10/BaseOS/x86_64', 1718000011],
    ['8.10/BaseOS', 1718000011],
    ['8.10/isos/x86_64', 1718000020],
    ['8.10/isos', 1718000020],
    ['8.10', 1718000020],
    ['8.11', 1718000030],
    ['.~tmp~', 1718000099],
  ];
  for (const [rel, t] of times) fs.lutimesSync(join(root, rel), t, t);
  for (const [rel, t] of dirs) fs.utimesSync(join(root, rel), t, t);
}

const ROCKY = (dir: string, extra: Partial<FileListRoot> = {}): FileListRoot => ({
  dir,
  timelistName: 'fullfiletimelist-rocky',
  copies: ['fullfiletimelist', 'fullfiletimelist-rocky-linux'],
  ...extra,
});

test('golden vector §1.9, 2019 format (one SHA1 section): exact bytes and sha256', async (t) => {
  const root = newDir('golden');
  buildGoldenTree(root);
  if (fs.statSync(join(root, '8.10')).size !== 4096) {
    t.skip('directory sizes on this filesystem are not 4096 (the vector assumes ext4)');
    return;
  }
  const opts = quiet({ timeField: 'mtime', checksumAlgorithms: ['sha1'] });
  const [res] = await writeFileLists([ROCKY(root, { skip: ['imagelist-rocky'] })], opts);
  const bytes = fs.readFileSync(join(root, 'fullfiletimelist-rocky'));
  assert.equal(bytes.toString(), GOLDEN_2019);
  assert.equal(bytes.length, 857);
  assert.equal(sha256(bytes), 'f7c27851e09f3f4cafa8c60cec4e7668f9b8e3529a98a4e0872ca2e6be893c63');
  assert.equal(read(join(root, 'fullfiletimelist')), GOLDEN_2019);
  assert.equal(read(join(root, 'fullfiletimelist-rocky-linux')), GOLDEN_2019);
  assert.equal(read(join(root, 'fullfilelist')), GOLDEN_FULLFILELIST);
  assert.ok(res);
  assert.equal(res.entries, 18);
  assert.equal(res.checksummed, 1);
  assert.equal(res.fullfilelistLines, GOLDEN_FULLFILELIST.split('\n').length - 1);
  assert.deepEqual(res.changed, ['fullfilelist', 'fullfiletimelist', 'fullfiletimelist-rocky-linux', 'fullfiletimelist-rocky']);
  assert.deepEqual(opts.warnings, [`Could not stat ${fs.realpathSync(root)}/dangling.  Dangling symlink?`]);
});

test('golden vector §1.9, Fedora 2024 format (four checksum sections, the default): exact bytes and sha256', async (t) => {
  const root = newDir('golden2024');
  buildGoldenTree(root);
  if (fs.statSync(join(root, '8.10')).size !== 4096) {
    t.skip('directory sizes on this filesystem are not 4096 (the vector assumes ext4)');
    return;
  }
  await writeFileLists([ROCKY(root, { skip: ['imagelist-rocky'] })], quiet({ timeField: 'mtime' }));
  const bytes = fs.readFileSync(join(root, 'fullfiletimelist-rocky'));
  assert.equal(bytes.toString(), GOLDEN_2024);
  assert.equal(bytes.length, 1267);
  assert.equal(sha256(bytes), '3619824e3a2677350f5cf11d6d1d6878f9218afcf1c1390535ac3519869d3c09');
});

test('empty tree: the 46-byte list of the reference, and fullfilelist is just "."', async () => {
  const root = newDir('empty');
  await writeFileLists([ROCKY(root)], quiet({ checksumAlgorithms: ['sha1'] }));
  const bytes = fs.readFileSync(join(root, 'fullfiletimelist-rocky'));
  assert.equal(bytes.toString(), '[Version]\n2\n\n[Files]\n\n[Checksums SHA1]\n\n[End]\n');
  assert.equal(bytes.length, 46);
  assert.equal(read(join(root, 'fullfilelist')), '.\n');
  await writeFileLists([ROCKY(root, { checksums: false })], quiet());
  assert.equal(
    read(join(root, 'fullfiletimelist-rocky')),
    '[Version]\n2\n\n[Files]\n\n[Checksums SHA1]\n\n[Checksums MD5]\n\n[Checksums SHA256]\n\n[Checksums SHA512]\n\n[End]\n',
  );
});

// ---------------------------------------------------------------------------------------------------------
// Real times: TIME = int(max(mtime, ctime)) of the lstat. Expected lines are literal except TIME and SIZE,
// which the test computes itself from a bigint lstat with CPython's float arithmetic.
// ---------------------------------------------------------------------------------------------------------

function expectedTime(abs: string): number {
  const st = fs.lstatSync(abs, { bigint: true });
  const py = (ns: bigint): number => Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) * 1e-9;
  return Math.trunc(Math.max(py(st.mtimeNs), py(st.ctimeNs)));
}

function expectedLine(root: string, rel: string, type: string): string {
  const abs = join(root, rel);
  return `${expectedTime(abs)}\t${type}\t${fs.lstatSync(abs).size}\t${rel}\n`;
}

function expectedTimelist(root: string, lines: [string, string][], checksums: string[]): string {
  let out = '[Version]\n2\n\n[Files]\n';
  for (const [rel, type] of lines) out += expectedLine(root, rel, type);
  for (const alg of ['sha1', 'md5', 'sha256', 'sha512']) {
    out += `\n[Checksums ${alg.toUpperCase()}]\n`;
    for (const rel of checksums) out += `${createHash(alg).update(fs.readFileSync(join(root, rel))).digest('hex')}\t${rel}\n`;
  }
  return `${out}\n[End]\n`;
}

/** A tree with every kind of entry the rules distinguish. */
function buildMixedTree(root: string): void {
  file(join(root, 'BaseOS/x86_64/os/Packages/a/acl-2.2.53-3.el8.x86_64.rpm'), 'acl');
  file(join(root, 'BaseOS/x86_64/os/Packages/a/attr-2.4.48-3.el8.x86_64.rpm'), 'attr!');
  file(join(root, 'BaseOS/x86_64/os/repodata/repomd.xml'), '<repomd>one</repomd>\n');
  file(join(root, 'AppStream/x86_64/os/repodata/repomd.xml'), '<repomd>two</repomd>\n');
  fs.symlinkSync('../../../BaseOS/x86_64/os/repodata/repomd.xml', join(root, 'AppStream/x86_64/os/repomd-link.xml'));
  fs.symlinkSync('BaseOS', join(root, 'baseos')); // symlink to a dir: listed as l, never descended
  fs.symlinkSync('missing-target', join(root, 'dangling'));
  file(join(root, 'staged/README'), 'readme');
  file(join(root, 'staged/group-only'), 'go', 0o640);
  file(join(root, 'staged/private'), 'p', 0o600);
  fs.mkdirSync(join(root, 'staged/sub'));
  file(join(root, 'staged/sub/deep'), 'deep');
  fs.chmodSync(join(root, 'staged'), 0o750);
  file(join(root, 'secret/inside'), 'x');
  fs.chmodSync(join(root, 'secret'), 0o700); // not group-readable: vanishes with its subtree
  file(join(root, 'topsecret.iso'), 'iso', 0o600);
  fs.symlinkSync('topsecret.iso', join(root, 'link-to-private')); // followed mode lacks S_IRGRP: skipped
  file(join(root, '.~tmp~/partial.rpm'), 'partial');
  file(join(root, 'BaseOS/.~tmp~/partial2.rpm'), 'partial');
  file(join(root, '.nfs000123'), 'nfs');
  file(join(root, 'BaseOS/.nfs456'), 'nfs');
  file(join(root, 'Zeta'), 'Z'); // uppercase sorts before lowercase (byte order)
  file(join(root, 'é-utf8'), 'u'); // 0xC3 sorts after every ASCII name
}

const MIXED_LINES: [string, string][] = [
  ['AppStream/x86_64/os/repodata/repomd.xml', 'f'],
  ['AppStream/x86_64/os/repodata', 'd'],
  ['AppStream/x86_64/os/repomd-link.xml', 'l'],
  ['AppStream/x86_64/os', 'd'],
  ['AppStream/x86_64', 'd'],
  ['AppStream', 'd'],
  ['BaseOS/x86_64/os/Packages/a/acl-2.2.53-3.el8.x86_64.rpm', 'f'],
  ['BaseOS/x86_64/os/Packages/a/attr-2.4.48-3.el8.x86_64.rpm', 'f'],
  ['BaseOS/x86_64/os/Packages/a', 'd'],
  ['BaseOS/x86_64/os/Packages', 'd'],
  ['BaseOS/x86_64/os/repodata/repomd.xml', 'f'],
  ['BaseOS/x86_64/os/repodata', 'd'],
  ['BaseOS/x86_64/os', 'd'],
  ['BaseOS/x86_64', 'd'],
  ['BaseOS', 'd'],
  ['Zeta', 'f'],
  ['baseos', 'l'],
  ['staged/README', 'f*'],
  ['staged/group-only', 'f-'],
  ['staged/sub/deep', 'f*'],
  ['staged/sub', 'd*'],
  ['staged', 'd-'],
  ['é-utf8', 'f'],
];
const MIXED_CHECKSUMS = ['AppStream/x86_64/os/repodata/repomd.xml', 'BaseOS/x86_64/os/repodata/repomd.xml'];
const MIXED_FULLFILELIST = `.
./.nfs000123
./.~tmp~
./.~tmp~/partial.rpm
./AppStream
./AppStream/x86_64
./AppStream/x86_64/os
./AppStream/x86_64/os/repodata
./AppStream/x86_64/os/repodata/repomd.xml
./AppStream/x86_64/os/repomd-link.xml
./BaseOS
./BaseOS/.nfs456
./BaseOS/.~tmp~
./BaseOS/.~tmp~/partial2.rpm
./BaseOS/x86_64
./BaseOS/x86_64/os
./BaseOS/x86_64/os/Packages
./BaseOS/x86_64/os/Packages/a
./BaseOS/x86_64/os/Packages/a/acl-2.2.53-3.el8.x86_64.rpm
./BaseOS/x86_64/os/Packages/a/attr-2.4.48-3.el8.x86_64.rpm
./BaseOS/x86_64/os/repodata
./BaseOS/x86_64/os/repodata/repomd.xml
./Zeta
./baseos
./dangling
./link-to-private
./secret
./secret/inside
./staged
./staged/README
./staged/group-only
./staged/private
./staged/sub
./staged/sub/deep
./topsecret.iso
./é-utf8
`;

test('real times: int(max(mtime, ctime)), readability markers, skips, symlinks, checksums; fullfilelist = find .', async () => {
  const root = newDir('mixed');
  buildMixedTree(root);
  const opts = quiet();
  const [res] = await writeFileLists([ROCKY(root)], opts);
  const real = fs.realpathSync(root);
  assert.equal(read(join(root, 'fullfiletimelist-rocky')), expectedTimelist(root, MIXED_LINES, MIXED_CHECKSUMS));
  assert.equal(read(join(root, 'fullfilelist')), MIXED_FULLFILELIST);
  assert.equal(res?.entries, MIXED_LINES.length);
  assert.equal(res?.checksummed, 2);
  assert.deepEqual(opts.warnings, [`Could not stat ${real}/dangling.  Dangling symlink?`]);
});

test('fullfilelist has exactly the entries GNU find prints (minus the published lists), in pre-order', async (t) => {
  const which = spawnSync('find', ['--version']);
  if (which.status !== 0) {
    t.skip('GNU find not available');
    return;
  }
  const root = newDir('vsfind');
  buildMixedTree(root);
  await writeFileLists([ROCKY(root)], quiet());
  const ours = read(join(root, 'fullfilelist')).split('\n').slice(0, -1);
  const own = new Set(['./fullfilelist', './fullfiletimelist-rocky', './fullfiletimelist', './fullfiletimelist-rocky-linux']);
  const found = spawnSync('find', ['.'], { cwd: root, encoding: 'utf8' }).stdout.split('\n').slice(0, -1).filter((l) => !own.has(l));
  assert.deepEqual([...ours].sort(), [...found].sort());
  // Pre-order: every entry comes after its parent directory.
  const seen = new Set<string>();
  for (const line of ours) {
    if (line !== '.') assert.ok(seen.has(line.slice(0, line.lastIndexOf('/'))), `${line} before its parent`);
    seen.add(line);
  }
});

// ---------------------------------------------------------------------------------------------------------
// Publication: only on change, never self-listed, all or nothing.
// ---------------------------------------------------------------------------------------------------------

const PUBLISHED = ['fullfilelist', 'fullfiletimelist-rocky', 'fullfiletimelist', 'fullfiletimelist-rocky-linux'];

test('an unchanged tree leaves every published list untouched (bytes, inode, mtime); a change rewrites them', async () => {
  const root = newDir('rerun');
  buildMixedTree(root);
  const first = await writeFileLists([ROCKY(root)], quiet());
  assert.deepEqual(first[0]?.changed.sort(), [...PUBLISHED].sort());
  const paths = PUBLISHED.map((n) => join(root, n));
  const before = snapshot(paths);
  const dirMtime = fs.statSync(root).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));

  const second = await writeFileLists([ROCKY(root)], quiet());
  assert.deepEqual(second[0]?.changed, []);
  assert.deepEqual(snapshot(paths), before);
  assert.equal(fs.statSync(root).mtimeMs, dirMtime, 'nothing was created or removed in the root');

  file(join(root, 'BaseOS/x86_64/os/Packages/a/added-1.0-1.el8.noarch.rpm'), 'new');
  const third = await writeFileLists([ROCKY(root)], quiet());
  assert.deepEqual(third[0]?.changed.sort(), [...PUBLISHED].sort());
  assert.match(read(join(root, 'fullfiletimelist-rocky')), /\tf\t3\tBaseOS\/x86_64\/os\/Packages\/a\/added-1\.0-1\.el8\.noarch\.rpm\n/);
  assert.match(read(join(root, 'fullfilelist')), /\n\.\/BaseOS\/x86_64\/os\/Packages\/a\/added-1\.0-1\.el8\.noarch\.rpm\n/);
  for (const c of ['fullfiletimelist', 'fullfiletimelist-rocky-linux']) assert.equal(read(join(root, c)), read(join(root, 'fullfiletimelist-rocky')));
  for (const p of paths) assert.equal(fs.statSync(p).mode & 0o777, 0o644);

  // A chmod changes only the ctime (and so the listed time) of the entry.
  const listed = read(join(root, 'fullfiletimelist-rocky'));
  await new Promise((r) => setTimeout(r, 1100));
  fs.chmodSync(join(root, 'Zeta'), 0o644);
  const fourth = await writeFileLists([ROCKY(root)], quiet());
  assert.ok(fourth[0]?.changed.includes('fullfiletimelist-rocky'));
  assert.notEqual(read(join(root, 'fullfiletimelist-rocky')), listed);
});

test('a copy that differs (edited, missing) is rewritten on its own', async () => {
  const root = newDir('copies');
  buildMixedTree(root);
  await writeFileLists([ROCKY(root)], quiet());
  fs.writeFileSync(join(root, 'fullfiletimelist-rocky-linux'), 'stale');
  fs.rmSync(join(root, 'fullfiletimelist'));
  const main = snapshot([join(root, 'fullfiletimelist-rocky'), join(root, 'fullfilelist')]);
  const [res] = await writeFileLists([ROCKY(root)], quiet());
  assert.deepEqual(res?.changed, ['fullfiletimelist', 'fullfiletimelist-rocky-linux']);
  assert.deepEqual(snapshot([join(root, 'fullfiletimelist-rocky'), join(root, 'fullfilelist')]), main);
  assert.equal(read(join(root, 'fullfiletimelist')), read(join(root, 'fullfiletimelist-rocky')));
});

test('lists never contain themselves, their copies or our temp files; stale temps are removed', async () => {
  const root = newDir('self');
  buildMixedTree(root);
  // Published lists already there (as after a previous run), a leftover temp file and an unrelated -old copy.
  for (const n of PUBLISHED) file(join(root, n), 'old content');
  file(join(root, '.fullfiletimelist-rocky.0123456789ab.~tmp~'), 'crashed');
  file(join(root, 'fullfiletimelist-rocky-old'), 'old');
  await writeFileLists([ROCKY(root)], quiet());
  await writeFileLists([ROCKY(root)], quiet());
  assert.equal(fs.existsSync(join(root, '.fullfiletimelist-rocky.0123456789ab.~tmp~')), false);
  const tl = read(join(root, 'fullfiletimelist-rocky'));
  const fl = read(join(root, 'fullfilelist'));
  for (const n of PUBLISHED) {
    assert.doesNotMatch(tl, new RegExp(`\\t${n}\\n`));
    assert.doesNotMatch(fl, new RegExp(`^\\./${n}$`, 'm'));
  }
  assert.doesNotMatch(tl + fl, /\.[0-9a-f]{12}\.~tmp~/);
  assert.match(tl, /\tfullfiletimelist-rocky-old\n/, 'other files at the top are listed');
  assert.deepEqual(fs.readdirSync(root).filter((n) => n.endsWith('.~tmp~') && n !== '.~tmp~'), []);
});

test('a failure in any root publishes nothing and leaves no temp files', async () => {
  const a = newDir('fail-a');
  const b = newDir('fail-b');
  const staging = newDir('fail-staging');
  buildMixedTree(a);
  file(join(b, 'ok'), 'ok');
  const roots = [ROCKY(a), { dir: b, timelistName: 'fullfiletimelist-sig', copies: ['fullfiletimelist'] }];
  await writeFileLists(roots, quiet({ stagingDir: staging }));
  const published = [...PUBLISHED.map((n) => join(a, n)), join(b, 'fullfilelist'), join(b, 'fullfiletimelist-sig'), join(b, 'fullfiletimelist')];
  const before = snapshot(published);

  file(join(a, 'Zeta-new'), 'a change that would be published');
  file(join(b, 'bad\nname'), 'x'); // cannot be represented: generation of root b fails
  await assert.rejects(writeFileLists(roots, quiet({ stagingDir: staging })), (err: unknown) => {
    assert.ok(err instanceof RelengError);
    assert.match(err.message, /TAB or newline/);
    return true;
  });
  assert.deepEqual(snapshot(published), before);
  assert.deepEqual(fs.readdirSync(staging), []);
  for (const d of [a, b]) assert.deepEqual(fs.readdirSync(d).filter((n) => n.includes('~tmp~') && n !== '.~tmp~'), []);
});

test('invalid roots are refused before anything is written', async () => {
  const root = newDir('invalid');
  await assert.rejects(writeFileLists([]), RelengError);
  await assert.rejects(writeFileLists([ROCKY(join(root, 'missing'))]), /does not exist/);
  await assert.rejects(writeFileLists([ROCKY(root, { copies: ['fullfiletimelist-rocky'] })]), /distinct names/);
  await assert.rejects(writeFileLists([ROCKY(root, { copies: ['a/b'] })]), /invalid file name/);
  await assert.rejects(writeFileLists([ROCKY(root), ROCKY(`${root}/.`)]), /same directory/);
  await assert.rejects(writeFileLists([ROCKY(root)], { stagingDir: root }), /inside file list root/);
  assert.deepEqual(fs.readdirSync(root), []);
});

// ---------------------------------------------------------------------------------------------------------
// Nested roots: production root ⊃ mirror/pub/rocky and mirror/pub/sig.
// ---------------------------------------------------------------------------------------------------------

function lineFor(list: string, rel: string): string | undefined {
  return list.split('\n').find((l) => l.endsWith(`\t${rel}`));
}

test('nested roots: outer lists describe the published inner lists as on disk, and do not churn', async () => {
  const prod = newDir('prod');
  const rocky = join(prod, 'mirror/pub/rocky');
  const sig = join(prod, 'mirror/pub/sig');
  buildMixedTree(rocky);
  file(join(sig, '8/cloud/x86_64/os/repodata/repomd.xml'), '<repomd>sig</repomd>\n');
  file(join(prod, 'RPM-GPG-KEY-Rocky-8'), 'key');
  const roots: FileListRoot[] = [
    { dir: prod, timelistName: 'fullfiletimelist-rocky', copies: ['fullfiletimelist'] },
    ROCKY(rocky),
    { dir: sig, timelistName: 'fullfiletimelist-sig', copies: ['fullfiletimelist'] },
  ];
  const check = (): void => {
    const outer = read(join(prod, 'fullfiletimelist-rocky'));
    const outerFull = read(join(prod, 'fullfilelist'));
    for (const [dir, names] of [
      ['mirror/pub/rocky', PUBLISHED],
      ['mirror/pub/sig', ['fullfilelist', 'fullfiletimelist-sig', 'fullfiletimelist']],
    ] as const) {
      for (const n of names) {
        assert.equal(`${lineFor(outer, `${dir}/${n}`)}\n`, expectedLine(prod, `${dir}/${n}`, 'f'), `${dir}/${n} as on disk`);
        assert.match(outerFull, new RegExp(`^\\./${dir}/${n}$`, 'm'));
      }
      assert.equal(`${lineFor(outer, dir)}\n`, expectedLine(prod, dir, 'd'), `${dir} dir line as on disk`);
    }
    // The inner root's own lines appear in the outer list, prefixed, in the same order.
    const inner = read(join(rocky, 'fullfiletimelist-rocky')).split('\n[Checksums')[0]?.split('\n').slice(4).filter(Boolean) ?? [];
    const outerRocky = (outer.split('\n[Checksums')[0] as string)
      .split('\n')
      .filter((l) => l.includes('\tmirror/pub/rocky/') && !PUBLISHED.some((n) => l.endsWith(`/rocky/${n}`)))
      .map((l) => l.replace('\tmirror/pub/rocky/', '\t'));
    assert.deepEqual(outerRocky, inner);
    // Inner lists never list themselves.
    assert.equal(lineFor(read(join(rocky, 'fullfiletimelist-rocky')), 'fullfiletimelist-rocky'), undefined);
    // Checksums of the outer list cover the inner repomd.xml files too.
    assert.match(outer, /\n[0-9a-f]{40}\tmirror\/pub\/sig\/8\/cloud\/x86_64\/os\/repodata\/repomd\.xml\n/);
  };

  const first = await writeFileLists(roots, quiet());
  assert.deepEqual(first.map((r) => r.changed.length), [3, 4, 3]);
  check();
  const all = [
    ...['fullfilelist', 'fullfiletimelist-rocky', 'fullfiletimelist'].map((n) => join(prod, n)),
    ...PUBLISHED.map((n) => join(rocky, n)),
    ...['fullfilelist', 'fullfiletimelist-sig', 'fullfiletimelist'].map((n) => join(sig, n)),
  ];
  const before = snapshot(all);
  await new Promise((r) => setTimeout(r, 1100));
  const second = await writeFileLists(roots, quiet());
  assert.deepEqual(second.map((r) => r.changed), [[], [], []]);
  assert.deepEqual(snapshot(all), before);

  file(join(rocky, 'BaseOS/x86_64/os/Packages/a/added.rpm'), 'added');
  const third = await writeFileLists(roots, quiet());
  assert.deepEqual(third.map((r) => r.changed.length), [3, 4, 0]);
  check();
});

// ---------------------------------------------------------------------------------------------------------
// Parallel walk: the same bytes with worker threads and any split.
// ---------------------------------------------------------------------------------------------------------

test('parallel walk (worker threads, spliced chunks) gives byte-identical lists', async () => {
  const prod = newDir('parallel');
  const rocky = join(prod, 'pub/rocky');
  for (const rev of ['8.9', '8.10']) {
    for (const repo of ['BaseOS', 'AppStream', 'extras']) {
      for (const arch of ['x86_64', 'aarch64']) {
        for (const letter of 'abc') {
          for (let i = 0; i < 3; i++) file(join(rocky, rev, repo, arch, 'os/Packages', letter, `${letter}pkg${i}-1.0-1.el8.${arch}.rpm`), `${i}`);
        }
        file(join(rocky, rev, repo, arch, 'os/repodata/repomd.xml'), `<repomd>${rev}${repo}${arch}</repomd>\n`);
      }
    }
  }
  buildMixedTree(join(prod, 'other'));
  const roots = (): FileListRoot[] => [
    { dir: prod, timelistName: 'fullfiletimelist-rocky', copies: [] },
    ROCKY(rocky),
  ];
  const serial = join(prod, '..', 'parallel-serial');
  await writeFileLists(roots(), quiet({ workers: 0 }));
  fs.mkdirSync(serial);
  for (const [d, n] of [[prod, 'fullfiletimelist-rocky'], [prod, 'fullfilelist'], [rocky, 'fullfiletimelist-rocky'], [rocky, 'fullfilelist']] as const) {
    fs.copyFileSync(join(d, n), join(serial, `${d === prod ? 'outer' : 'inner'}-${n}`));
  }
  for (const tuning of [{ splitLevel: 1, mainTakesTasks: false }, { splitLevel: 2 }, { splitLevel: 3 }]) {
    const res = await writeFileLists(roots(), quiet({ workers: 2, parallelTuning: tuning }));
    assert.deepEqual(res.map((r) => r.changed), [[], []], `split ${JSON.stringify(tuning)} changed nothing`);
    for (const [d, n] of [[prod, 'fullfiletimelist-rocky'], [prod, 'fullfilelist'], [rocky, 'fullfiletimelist-rocky'], [rocky, 'fullfilelist']] as const) {
      assert.equal(read(join(d, n)), read(join(serial, `${d === prod ? 'outer' : 'inner'}-${n}`)));
    }
  }
});

test('unlisted paths (pending deletions) are left out with their subtrees, as if gone, in the serial and the parallel walk', async () => {
  const prod = newDir('unlisted');
  const rocky = join(prod, 'pub/rocky');
  for (const repo of ['BaseOS', 'AppStream', 'Retired']) {
    for (const arch of ['x86_64', 'aarch64']) {
      for (let i = 0; i < 3; i++) file(join(rocky, '8.10', repo, arch, 'os/Packages/r', `r${i}-1.0-1.el8.${arch}.rpm`), `${i}`);
      file(join(rocky, '8.10', repo, arch, 'os/repodata/repomd.xml'), `<repomd>${repo}${arch}</repomd>\n`);
    }
  }
  const real = fs.realpathSync(rocky);
  // A whole variant (a split-off task at level 1), an arch dir inside one (level 2), and one package.
  const gone = ['8.10/Retired', '8.10/AppStream/aarch64', '8.10/BaseOS/x86_64/os/Packages/r/r1-1.0-1.el8.x86_64.rpm'];
  const unlisted = new Set(gone.map((g) => `${real}/${g}`));
  const roots = (): FileListRoot[] => [{ dir: prod, timelistName: 'fullfiletimelist-rocky', copies: [] }, ROCKY(rocky)];
  const lists = () => [join(prod, 'fullfilelist'), join(prod, 'fullfiletimelist-rocky'), join(rocky, 'fullfilelist'), join(rocky, 'fullfiletimelist-rocky')].map(read);
  // Directory times change when the entries go: compare the timelists without their time field.
  const timeless = (texts: string[]) => texts.map((t) => t.replace(/^\d+\t/gm, ''));
  const withUnlisted: string[][] = [];
  for (const opts of [{ workers: 0 }, { workers: 2, parallelTuning: { splitLevel: 1 } }, { workers: 2, parallelTuning: { splitLevel: 2, mainTakesTasks: false } }]) {
    await writeFileLists(roots(), quiet({ ...opts, unlisted }));
    withUnlisted.push(timeless(lists()));
  }
  for (const g of gone) assert.doesNotMatch(withUnlisted[0]?.[3] ?? '', new RegExp(`\t${g.replace(/\./g, '\\.')}(/|\n)`), `${g} is listed`);
  assert.match(withUnlisted[0]?.[3] ?? '', /\t8\.10\/BaseOS\/x86_64\/os\/Packages\/r\/r0-1\.0-1\.el8\.x86_64\.rpm\n/);
  for (const g of gone) fs.rmSync(join(rocky, g), { recursive: true });
  await writeFileLists(roots(), quiet({ workers: 0 }));
  for (const got of withUnlisted) assert.deepEqual(got, timeless(lists()));
});

test('a failure inside a worker thread publishes nothing', async () => {
  const root = newDir('worker-fail');
  for (const r of ['a', 'b', 'c', 'd']) file(join(root, r, 'x', 'f'), r);
  file(join(root, 'c', 'x', 'tab\there'), 'bad');
  await assert.rejects(
    writeFileLists([ROCKY(root)], quiet({ workers: 1, parallelTuning: { splitLevel: 1, mainTakesTasks: false } })),
    (err: unknown) => err instanceof RelengError && /TAB or newline/.test(err.message),
  );
  assert.deepEqual(fs.readdirSync(root).sort(), ['a', 'b', 'c', 'd']);
});

// ---------------------------------------------------------------------------------------------------------
// Helpers of the format.
// ---------------------------------------------------------------------------------------------------------

test('names sort by code point (= UTF-8 bytes), not UTF-16 units', () => {
  const names = ['b', '\u{1F600}', '\uFFFD', 'B', 'a.b', 'a', 'a/', 'é'];
  const sorted = sortNames([...names]);
  assert.deepEqual(sorted, [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  assert.ok(compareNames('\u{1F600}', '\uFFFD') > 0);
});

test('times follow CPython float arithmetic (sec + nsec * 1e-9, then int())', () => {
  const t = (sec: bigint, nsec: bigint): number => Math.trunc(pyTime(sec * 1_000_000_000n + nsec));
  assert.equal(t(1718000000n, 0n), 1718000000);
  assert.equal(t(1718000000n, 999_990_000n), 1718000000);
  assert.equal(t(1718000000n, 999_999_999n), 1718000001); // rounds up, as in CPython
  assert.equal(t(1718000000n, 999_999_800n), 1718000000);
});

// ---------------------------------------------------------------------------------------------------------
// The link policy (lib/core/link-policy.ts): never checksum through a link, never list a link leaving the root.
// ---------------------------------------------------------------------------------------------------------

test('a repomd.xml that is a symlink is refused, not checksummed through; nothing is published', async () => {
  const root = newDir('repomd-link');
  // Inside the root, so only the checksum rule refuses it (create-filelist would checksum AppStream's repomd.xml).
  file(join(root, 'AppStream/x86_64/os/repodata/repomd.xml'), '<repomd>AppStream</repomd>\n');
  file(join(root, 'BaseOS/x86_64/os/Packages/a.rpm'), 'rpm');
  fs.mkdirSync(join(root, 'BaseOS/x86_64/os/repodata'));
  fs.symlinkSync('../../../../AppStream/x86_64/os/repodata/repomd.xml', join(root, 'BaseOS/x86_64/os/repodata/repomd.xml'));
  await assert.rejects(writeFileLists([ROCKY(root)], quiet({ workers: 0 })), (err: unknown) => {
    assert.ok(err instanceof RelengError);
    assert.match(err.message, new RegExp(`${fs.realpathSync(root)}/BaseOS/x86_64/os/repodata/repomd\\.xml is a symbolic link; the file lists checksum repomd\\.xml itself, never through a link`));
    return true;
  });
  assert.deepEqual(fs.readdirSync(root).sort(), ['AppStream', 'BaseOS']);
});

test('a link leaving the list root (absolute, or climbing out) is refused, in the serial and the parallel walk', async () => {
  for (const [name, target] of [['shadow', '/etc/shadow'], ['escape', '../../../../../etc/passwd']] as const) {
    for (const workers of [0, 2]) {
      const root = newDir(`leaving-${name}-${workers}`);
      file(join(root, 'BaseOS/x86_64/os/Packages/a.rpm'), 'rpm');
      fs.symlinkSync('BaseOS', join(root, 'baseos')); // inside: fine
      fs.symlinkSync(target, join(root, 'BaseOS/x86_64/os/Packages', name));
      await assert.rejects(
        writeFileLists([ROCKY(root)], quiet({ workers, parallelTuning: { splitLevel: 1, mainTakesTasks: workers === 0 } })),
        new RegExp(`${fs.realpathSync(root)}/BaseOS/x86_64/os/Packages/${name} is a symbolic link to (the absolute path )?${target.replace(/\./g, '\\.')}.*nothing was published`),
      );
      assert.deepEqual(fs.readdirSync(root).sort(), ['BaseOS', 'baseos']);
    }
  }
});
