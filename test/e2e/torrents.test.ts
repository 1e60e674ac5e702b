import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadComposeModels } from '../../tools/nx-releng/src/config/load';
import { channelRelease, resolveRoots, stagingPaths, type StagingPaths } from '../../tools/nx-releng/src/layout/paths';
import { parseTorrent, type TorrentMeta } from '../../tools/nx-releng/src/lib/formats/torrent-file';
import { vouchedDigest } from '../../tools/nx-releng/src/lib/vetting/vouched-paths';
import { createNxWorkspace, type NxWorkspace } from '../helpers/nx-workspace';
import { assertPiecesMatch } from '../helpers/torrent';
import { readJsonFile } from '../helpers/workspace';

/**
 * The torrents target with the real nx CLI and the real mktorrent, on small real ISOs made with xorriso in a
 * staging-shaped isos/ tree under RELENG_ROOT (made here, not by the minor release sync). Each torrent is decoded
 * and its piece hashes are recomputed over the staging files.
 */

const TRACKERS = ['udp://tracker.opentrackr.org:1337/announce', 'udp://tracker.openbittorrent.com:80/announce'];
const COMMENT = 'https://docs.rockylinux.org/release_notes/8_10/';
/** What the staging tree holds at first: x86_64 has three image sets, aarch64 two (its dvd1 comes later). */
const FIRST = ['Rocky-8.10-x86_64-boot', 'Rocky-8.10-aarch64-boot', 'Rocky-8.10-x86_64-minimal', 'Rocky-8.10-aarch64-minimal', 'Rocky-8.10-x86_64-dvd1'];
const LATER = 'Rocky-8.10-aarch64-dvd1';

let ws: NxWorkspace;
let isosDir: string;
let watchDir: string;
let downloadDir: string;
let toolsDir: string;
let realMktorrent: string;
let sp: StagingPaths;

/** The verify record of staging as it is now, as a passing verify of the minor release leaves it (isos/ only here). */
async function recordVerify(): Promise<void> {
  mkdirSync(join(sp.verifyRecord, '..'), { recursive: true });
  const { digest, byPath } = vouchedDigest(sp.revisionDir, ['isos']);
  const record = {
    version: 1,
    project: 'Rocky-8',
    channel: 'stable',
    composeId: 'Rocky-8.10-20240412.0',
    stagingDir: sp.revisionDir,
    repos: [],
    extraSubtrees: ['isos'],
    subtrees: ['isos'],
    digest,
    pathDigests: byPath,
    verifiedAt: new Date().toISOString(),
  };
  writeFileSync(sp.verifyRecord, `${JSON.stringify(record, null, 2)}\n`);
}

function nx(args: string[], env: Record<string, string> = {}) {
  return ws.nx([...args, '--output-style=static'], env);
}

function runOk(args: string[], env: Record<string, string> = {}): string {
  const r = nx(args, env);
  assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
  return r.output;
}

function runFails(args: string[], env: Record<string, string> = {}): string {
  const r = nx(args, env);
  assert.notEqual(r.status, 0, `nx ${args.join(' ')} should have failed:\n${r.output}`);
  return r.output;
}

const watched = () => (existsSync(watchDir) ? readdirSync(watchDir).sort() : []);
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One image set as the minor release sync leaves it: the ISO, its manifest, its CHECKSUM, a line in CHECKSUM. */
function addImage(name: string, payloadBytes: number): void {
  const arch = name.split('-')[2] as string;
  const dir = join(isosDir, arch);
  const content = join(ws.dir, 'iso-content', name);
  mkdirSync(join(content, 'images'), { recursive: true });
  writeFileSync(join(content, 'images', 'install.img'), randomBytes(payloadBytes));
  writeFileSync(join(content, '.discinfo'), `${name}\n`);
  mkdirSync(dir, { recursive: true });
  const iso = join(dir, `${name}.iso`);
  execFileSync('xorriso', ['-as', 'mkisofs', '-o', iso, '-V', name.slice(0, 32), content], { stdio: 'pipe' });
  writeFileSync(`${iso}.manifest`, '.discinfo\nimages/install.img\n');
  const sum = createHash('sha256').update(readFileSync(iso)).digest('hex');
  const lines = `# ${name}.iso: ${statSync(iso).size} bytes\nSHA256 (${name}.iso) = ${sum}\n`;
  writeFileSync(`${iso}.CHECKSUM`, lines);
  writeFileSync(join(dir, 'CHECKSUM'), (existsSync(join(dir, 'CHECKSUM')) ? readFileSync(join(dir, 'CHECKSUM'), 'utf8') : '') + lines);
  // A signature beside CHECKSUM, which no torrent may carry (gen-torrents' exclude).
  writeFileSync(join(dir, 'CHECKSUM.asc'), '-----BEGIN PGP SIGNATURE-----\n');
}

/** Checks one torrent against the staging files: every field, and every piece hash over the files in torrent order. */
function verifyTorrent(name: string): TorrentMeta {
  const arch = name.split('-')[2] as string;
  const file = join(watchDir, `${name}.torrent`);
  const meta = parseTorrent(readFileSync(file), file);
  assert.equal(meta.name, name);
  assert.equal(meta.announce, TRACKERS[0]);
  assert.deepEqual(meta.announceList, TRACKERS.map((t) => [t]));
  assert.equal(meta.comment, COMMENT);
  assert.equal(meta.pieceLength, 2 ** 18);
  const expected = ['CHECKSUM', `${name}.iso`, `${name}.iso.CHECKSUM`, `${name}.iso.manifest`];
  assert.deepEqual(meta.files.map((f) => f.path).sort(), expected);
  assert.ok(!meta.files.some((f) => f.path.includes('CHECKSUM.asc')));
  const count = assertPiecesMatch(meta, join(isosDir, arch));
  assert.ok(count >= 2, `${name}: the test wants pieces that span files, got ${count}`);
  // What rtorrent seeds: a dir of links to exactly those staging files.
  const links = join(downloadDir, name);
  assert.deepEqual(readdirSync(links).sort(), expected);
  for (const f of expected) {
    assert.ok(lstatSync(join(links, f)).isSymbolicLink());
    assert.equal(readlinkSync(join(links, f)), join(isosDir, arch, f));
  }
  return meta;
}

/** A mktorrent on PATH before the real one: it can hold a run (to test the lock) or fail leaving a half file. */
function writeMktorrentWrapper(): void {
  writeFileSync(
    join(toolsDir, 'mktorrent'),
    `#!/bin/sh
case "$TORRENT_TEST_MODE" in
  block) touch "$TORRENT_TEST_DIR/started"; while [ ! -e "$TORRENT_TEST_DIR/go" ]; do sleep 0.1; done ;;
  fail) prev=; for a in "$@"; do [ "$prev" = "-o" ] && printf 'd8:announce' > "$a"; prev=$a; done
        echo "mktorrent: simulated failure" >&2; exit 3 ;;
esac
exec ${realMktorrent} "$@"
`,
  );
  chmodSync(join(toolsDir, 'mktorrent'), 0o755);
}

before(() => {
  ws = createNxWorkspace('e2e-torrents');
  // A second run must not wait: it gives up at once when another holds the lock.
  const commonFile = join(ws.dir, 'releases/common.json');
  const common = JSON.parse(readFileSync(commonFile, 'utf8'));
  common.lockTimeoutSeconds = 0;
  writeFileSync(commonFile, `${JSON.stringify(common, null, 2)}\n`);
  isosDir = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2/isos');
  watchDir = join(ws.relengRoot, 'opt/rtorrent/watch/start');
  downloadDir = join(ws.relengRoot, 'opt/rtorrent/download');
  toolsDir = join(ws.dir, 'test-bin');
  mkdirSync(toolsDir);
  realMktorrent = spawnSync('sh', ['-c', 'command -v mktorrent'], { encoding: 'utf8' }).stdout.trim();
  assert.ok(realMktorrent.startsWith('/'), 'mktorrent must be installed');
  writeMktorrentWrapper();
  const [rocky] = loadComposeModels(ws.dir, ['releases/8/Rocky/compose.json']);
  assert.ok(rocky);
  sp = stagingPaths(rocky, channelRelease(rocky.release, 'stable'), resolveRoots(rocky.common, rocky.release, ws.relengRoot));
});

after(() => ws?.dispose());

test('nx shows the target on the ISO compose only, with its description', () => {
  const out = runOk(['show', 'project', 'Rocky-8', '--json']);
  const shown = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1));
  assert.equal(shown.targets.torrents.executor, '@nx-releng/plugin:torrents');
  assert.equal(shown.targets.torrents.dependsOn, undefined);
  assert.match(shown.targets.torrents.metadata.description, /^Make a torrent of each 8 release image set in staging isos\//);
  const extras = runOk(['show', 'project', 'Extras-8', '--json']);
  assert.doesNotMatch(extras, /torrents/);
});

test('beta and lookahead are refused before anything is read or made', () => {
  for (const [config, channel] of [['beta', 'beta'], ['lh', 'lookahead']]) {
    const out = runFails(['run', 'Rocky-8:torrents', '-c', config as string]);
    assert.match(out, new RegExp(`Rocky-8:torrents FAILED: torrents are made of stable releases only; channel '${channel}' is refused`));
  }
  assert.ok(!existsSync(join(ws.relengRoot, 'opt')));
});

test('staging that did not pass verify is refused before anything is read or made', async () => {
  const out = runFails(['run', 'Rocky-8:torrents']);
  assert.match(out, new RegExp(`Rocky-8:torrents FAILED: Rocky-8: ${escape(isosDir)} has no passing verify \\(${escape(sp.verifyRecord)} is missing\\)`));
  assert.ok(!existsSync(join(ws.relengRoot, 'opt')));
});

test('no isos dir in staging: a clear error naming the path', async () => {
  await recordVerify();
  const out = runFails(['run', 'Rocky-8:torrents']);
  assert.match(
    out,
    new RegExp(`Rocky-8:torrents FAILED: ${escape(isosDir)} does not exist or is not a directory: no ISOs to make torrents of`),
  );
  assert.ok(!existsSync(join(ws.relengRoot, 'opt')));
});

test('mktorrent not on PATH: a clear error naming the tool and its package, nothing made', () => {
  addImage(FIRST[0] as string, 120_000);
  const empty = join(ws.dir, 'empty-bin');
  mkdirSync(empty, { recursive: true });
  const out = runFails(['run', 'Rocky-8:torrents'], { PATH: empty });
  assert.match(out, /Rocky-8:torrents FAILED: required tool 'mktorrent' was not found on PATH: install it \(Debian: apt-get install mktorrent; EL: dnf install mktorrent\)/);
  assert.deepEqual(watched(), []);
});

test('a missing manifest is named, and nothing is made', async () => {
  FIRST.slice(1).forEach((name, i) => addImage(name, 300_000 + i * 90_000));
  const manifest = join(isosDir, 'x86_64', `${FIRST[2]}.iso.manifest`);
  const saved = readFileSync(manifest);
  rmSync(manifest);
  const out = runFails(['run', 'Rocky-8:torrents']);
  assert.match(out, new RegExp(`cannot make torrents, nothing was made:\\n {2}${escape(manifest)}: missing \\(needed for ${FIRST[2]}\\)`));
  assert.deepEqual(watched(), []);
  writeFileSync(manifest, saved);
  await recordVerify();
});

test('mktorrent failing leaves no half torrent in the watch dir', () => {
  const out = runFails(['run', 'Rocky-8:torrents'], { PATH: `${toolsDir}:${process.env.PATH}`, TORRENT_TEST_MODE: 'fail' });
  assert.match(out, /Rocky-8:torrents FAILED: mktorrent .* failed with exit code 3:\nmktorrent: simulated failure/);
  assert.deepEqual(watched(), []);
});

let firstBytes: Record<string, { bytes: Buffer; mtimeMs: number; ino: number }>;

test('a run makes one valid torrent per image set, with piece hashes matching the staging files', () => {
  const out = runOk(['run', 'Rocky-8:torrents']);
  assert.match(out, new RegExp(`Rocky-8:torrents made 5 torrents, 0 already there and left alone \\(${escape(watchDir)}, `));
  assert.deepEqual(watched(), FIRST.map((n) => `${n}.torrent`).sort());
  const manifest = readJsonFile<any>(join(ws.dir, 'dist/releng/Rocky-8/torrents/manifest.json'));
  assert.equal(manifest.isosDir, isosDir);
  assert.equal(manifest.comment, COMMENT);
  assert.deepEqual(manifest.torrents.map((t: any) => [t.name, t.outcome]), FIRST.map((n) => [n, 'made']));
  firstBytes = {};
  for (const name of FIRST) {
    const meta = verifyTorrent(name);
    const record = manifest.torrents.find((t: any) => t.name === name);
    assert.equal(record.infoHash, meta.infoHash);
    assert.match(out, new RegExp(`made ${escape(join(watchDir, `${name}.torrent`))} \\(4 files, ${meta.pieces.length} pieces of 262144 bytes, info hash ${meta.infoHash}\\)`));
    const file = join(watchDir, `${name}.torrent`);
    const st = statSync(file);
    firstBytes[name] = { bytes: readFileSync(file), mtimeMs: st.mtimeMs, ino: st.ino };
  }
});

function assertUntouched(): void {
  for (const [name, before] of Object.entries(firstBytes)) {
    const file = join(watchDir, `${name}.torrent`);
    const st = statSync(file);
    assert.deepEqual(readFileSync(file), before.bytes, `${name} changed`);
    assert.equal(st.mtimeMs, before.mtimeMs, `${name} mtime changed`);
    assert.equal(st.ino, before.ino, `${name} was replaced`);
  }
}

test('a second run leaves every existing torrent byte-identical and untouched, and says so', () => {
  const out = runOk(['run', 'Rocky-8:torrents']);
  for (const name of FIRST) assert.match(out, new RegExp(`${escape(join(watchDir, `${name}.torrent`))} already exists, left alone`));
  assert.match(out, /Rocky-8:torrents made 0 torrents, 5 already there and left alone/);
  assertUntouched();
});

test('a concurrent run is blocked by the lock; the first then makes the new image set and remakes those whose CHECKSUM grew', async () => {
  addImage(LATER, 200_000);
  await recordVerify();
  const signals = join(ws.dir, 'signals');
  mkdirSync(signals);
  const env = { PATH: `${toolsDir}:${process.env.PATH}`, TORRENT_TEST_MODE: 'block', TORRENT_TEST_DIR: signals };
  const first = ws.nxAsync(['run', 'Rocky-8:torrents', '--output-style=static'], env);
  // The first run holds the lock once its mktorrent has started.
  while (!existsSync(join(signals, 'started'))) await new Promise((r) => setTimeout(r, 100));
  const lock = join(ws.relengRoot, 'mnt/repos-staging/.releng/locks/torrents.lock');
  let second: string;
  try {
    second = runFails(['run', 'Rocky-8:torrents']);
  } finally {
    writeFileSync(join(signals, 'go'), ''); // never leave the first run waiting
  }
  // The staging lock is taken first: no staging writer (nor a second torrents run) gets in while ISOs are hashed.
  assert.match(
    second,
    new RegExp(`Rocky-8:torrents FAILED: ${escape(sp.lockFile)} is held by Rocky-8:torrents \\(pid \\d+ on ${escape(hostname())} since .*\\); gave up after 0s`),
  );
  const r = await first;
  assert.equal(r.status, 0, r.output);
  // aarch64's CHECKSUM, a file of its boot and minimal torrents, now also names the dvd1 image.
  assert.match(r.output, /Rocky-8:torrents made 1 torrent, remade 2 whose files changed, 3 already there and left alone/);
  for (const name of FIRST.filter((n) => n.includes('aarch64'))) {
    assert.match(r.output, new RegExp(`${escape(join(watchDir, `${name}.torrent`))}: ${escape(join(isosDir, 'aarch64/CHECKSUM'))} is \\d+ bytes, the torrent says \\d+; making it again`));
    verifyTorrent(name);
    delete firstBytes[name];
  }
  verifyTorrent(LATER);
  assertUntouched();
  assert.deepEqual(watched(), [...FIRST, LATER].map((n) => `${n}.torrent`).sort());
  assert.ok(!existsSync(lock) && !existsSync(sp.lockFile));
});

test('an ISO that changed after verify is refused; once verified, its torrent is remade and replaced atomically', async () => {
  const name = FIRST[0] as string;
  const iso = join(isosDir, 'x86_64', `${name}.iso`);
  const oldHash = parseTorrent(readFileSync(join(watchDir, `${name}.torrent`)), name).infoHash;
  // Same size, other bytes, a new inode: what an rsync of a rebuilt image leaves.
  const bytes = readFileSync(iso);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
  writeFileSync(`${iso}.new`, bytes);
  execFileSync('mv', [`${iso}.new`, iso]);
  const refused = runFails(['run', 'Rocky-8:torrents']);
  assert.match(refused, new RegExp(`Rocky-8:torrents FAILED: Rocky-8: ${escape(sp.revisionDir)} changed since it passed verify at .*; run nx run Rocky-8:verify again before making torrents, nothing was made`));
  assert.equal(parseTorrent(readFileSync(join(watchDir, `${name}.torrent`)), name).infoHash, oldHash);

  await recordVerify();
  const out = runOk(['run', 'Rocky-8:torrents']);
  assert.match(out, new RegExp(`WARNING: ${escape(join(watchDir, `${name}.torrent`))}: the content of its files changed since it was made; making it again`));
  assert.match(out, /Rocky-8:torrents made 0 torrents, remade 1 whose files changed, 5 already there and left alone/);
  const meta = verifyTorrent(name);
  assert.notEqual(meta.infoHash, oldHash);
  assert.deepEqual(watched(), [...FIRST, LATER].map((n) => `${n}.torrent`).sort(), 'no temp file is left');
  // The others were not remade, and a run after that leaves all alone.
  delete firstBytes[name];
  assertUntouched();
  assert.match(runOk(['run', 'Rocky-8:torrents']), /made 0 torrents, 6 already there and left alone/);
});
