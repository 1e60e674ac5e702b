import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { loadComposeModels, parseRelease } from '../../../tools/nx-releng/src/config/load';
import { resolveRoots } from '../../../tools/nx-releng/src/layout/paths';
import { composeTargets, makesTorrents } from '../../../tools/nx-releng/src/plugin/targets';
import { bdecode, parseTorrent } from '../../../tools/nx-releng/src/lib/formats/torrent-file';
import {
  pieceLengthExponent,
  torrentComment,
  torrentFiles,
  torrentName,
  torrentPaths,
} from '../../../tools/nx-releng/src/lib/mirror/torrents';
import { REPO_ROOT, readJsonFile } from '../../helpers/workspace';

const ALL_8 = ['releases/8/Extras/compose.json', 'releases/8/Rocky-devel/compose.json', 'releases/8/Rocky/compose.json'];

/** A torrent as mktorrent 1.1 writes one, by hand, so the decoder is checked against bytes it did not make. */
const INFO =
  'd5:filesld6:lengthi3e4:pathl8:CHECKSUMeed6:lengthi5e4:pathl3:sub5:a.isoeee' +
  '4:name1:T12:piece lengthi262144e6:pieces20:' + 'A'.repeat(20) + 'e';
const TORRENT =
  'd8:announce10:udp://a:1/13:announce-listll10:udp://a:1/el10:udp://b:2/ee' +
  '7:comment9:http://c/10:created by13:mktorrent 1.113:creation datei1700000000e4:info' + INFO + 'e';

test('parseTorrent reads every field and hashes exactly the info dict', () => {
  const meta = parseTorrent(Buffer.from(TORRENT, 'latin1'), 'x.torrent');
  assert.equal(meta.announce, 'udp://a:1/');
  assert.deepEqual(meta.announceList, [['udp://a:1/'], ['udp://b:2/']]);
  assert.equal(meta.comment, 'http://c/');
  assert.equal(meta.createdBy, 'mktorrent 1.1');
  assert.equal(meta.name, 'T');
  assert.equal(meta.pieceLength, 262144);
  assert.deepEqual(meta.files, [
    { path: 'CHECKSUM', length: 3 },
    { path: 'sub/a.iso', length: 5 },
  ]);
  assert.deepEqual(meta.pieces, [Buffer.from('A'.repeat(20))]);
  assert.equal(meta.infoHash, createHash('sha1').update(INFO, 'latin1').digest('hex'));
});

test('bdecode refuses what BEP 3 does not allow, naming the file and the byte', () => {
  const bad: Array<[string, RegExp]> = [
    ['i03e', /x\.torrent: not valid bencode at byte 0: bad integer '03'/],
    ['i-0e', /bad integer '-0'/],
    ['d1:bi1e1:ai2ee', /dictionary keys not sorted or repeated \('a'\)/],
    ['d1:ai1e1:ai2ee', /not sorted or repeated \('a'\)/],
    ['4:abc', /string of 4 bytes runs past the end/],
    ['li1e', /unexpected end of data/],
    ['i1ei2e', /at byte 3: 3 bytes of trailing data/],
    ['x', /unexpected byte 0x78/],
  ];
  for (const [text, error] of bad) assert.throws(() => bdecode(Buffer.from(text), 'x.torrent'), error, text);
  assert.deepEqual(bdecode(Buffer.from('li-7e0:e')).value, [-7, Buffer.alloc(0)]);
});

test('parseTorrent names a missing or mistyped field', () => {
  assert.throws(() => parseTorrent(Buffer.from('d8:announce1:ae'), 'y.torrent'), /y\.torrent: field info is missing or not a dictionary/);
  const noLength = TORRENT.replace('d6:lengthi3e4:path', 'd4:path');
  assert.throws(() => parseTorrent(Buffer.from(noLength, 'latin1'), 'z.torrent'), /z\.torrent: field info\.files\.0\.length is missing or not an integer/);
});

test('names, files, comment and piece length follow gen-torrents', () => {
  assert.equal(torrentName('8.10', 'x86_64', 'dvd1'), 'Rocky-8.10-x86_64-dvd1');
  assert.deepEqual(torrentFiles('Rocky-8.10-x86_64-dvd1'), [
    'CHECKSUM',
    'Rocky-8.10-x86_64-dvd1.iso',
    'Rocky-8.10-x86_64-dvd1.iso.CHECKSUM',
    'Rocky-8.10-x86_64-dvd1.iso.manifest',
  ]);
  assert.equal(
    torrentComment('https://docs.rockylinux.org/release_notes/{major}_{minor}/', '8.10'),
    'https://docs.rockylinux.org/release_notes/8_10/',
  );
  assert.equal(torrentComment('https://x/{revision}/{major}', '10.1'), 'https://x/10.1/10');
  assert.equal(pieceLengthExponent(600_000), 18);
  assert.equal(pieceLengthExponent(2048 * 2 ** 18), 18);
  assert.equal(pieceLengthExponent(2048 * 2 ** 18 + 1), 19);
  assert.equal(pieceLengthExponent(13.2e9), 23); // an 8.10 DVD: 1,574 pieces of 8 MiB
  assert.equal(pieceLengthExponent(1e12), 24);
});

test('the shipped release.json configures gen-torrents\' trackers, comment and rtorrent dirs, re-rooted by RELENG_ROOT', () => {
  const models = loadComposeModels(REPO_ROOT, ALL_8);
  const rocky = models.find((m) => m.project === 'Rocky-8');
  assert.ok(rocky?.release.torrents);
  assert.deepEqual(rocky.release.torrents, {
    trackers: ['udp://tracker.opentrackr.org:1337/announce', 'udp://tracker.openbittorrent.com:80/announce'],
    comment: 'https://docs.rockylinux.org/release_notes/{major}_{minor}/',
    downloadDir: '/opt/rtorrent/download',
    watchDir: '/opt/rtorrent/watch/start',
  });
  const roots = resolveRoots(rocky.common, rocky.release, '/r');
  assert.deepEqual(torrentPaths(rocky, rocky.release.torrents, 'stable', roots, '/r'), {
    isosDir: '/r/mnt/repos-staging/mirror/pub/rocky/8.10-RC2/isos',
    downloadDir: '/r/opt/rtorrent/download',
    watchDir: '/r/opt/rtorrent/watch/start',
    lockFile: '/r/mnt/repos-staging/.releng/locks/torrents.lock',
  });
  // Only the compose whose variants make ISOs has the target.
  assert.deepEqual(models.filter(makesTorrents).map((m) => m.project), ['Rocky-8']);
  const target = composeTargets(rocky).torrents;
  assert.ok(target);
  assert.equal(target.executor, '@nx-releng/plugin:torrents');
  assert.equal(target.dependsOn, undefined);
  assert.equal(target.cache, false);
  assert.deepEqual(target.outputs, ['{workspaceRoot}/dist/releng/{projectName}/torrents']);
  assert.deepEqual(Object.keys(target.configurations ?? {}), ['stable', 'beta', 'lh']);
  assert.match(String(target.metadata?.description), /^Make a torrent of each 8 release image set in staging isos\//);
  for (const m of models.filter((x) => x.project !== 'Rocky-8')) assert.equal(composeTargets(m).torrents, undefined, m.project);
  // Without a torrents block, no compose has the target.
  const { torrents: _t, ...bare } = rocky.release;
  assert.equal(composeTargets({ ...rocky, release: bare }).torrents, undefined);
});

test('bad torrents blocks are refused with the field and what is allowed', () => {
  const raw = readJsonFile<any>(`${REPO_ROOT}/releases/8/release.json`);
  const cases: Array<[(t: any) => void, RegExp]> = [
    [(t) => (t.trackers = []), /field torrents\.trackers: Too small/],
    [(t) => (t.trackers = ['tracker.example:80']), /field torrents\.trackers\.0: must be a udp:\/\/, http\(s\):\/\/ or ws\(s\):\/\/ announce URL/],
    [(t) => (t.trackers = ['udp://a:1/x,udp://b:2/']), /field torrents\.trackers\.0: must be a udp/],
    [(t) => (t.trackers = ['udp://a:1/', 'udp://a:1/']), /field torrents\.trackers: lists a tracker twice/],
    [(t) => (t.comment = 'https://docs/{version}/'), /field torrents\.comment: may only use the placeholders \{revision\}, \{major\}, \{minor\}/],
    [(t) => (t.watchDir = 'watch'), /field torrents\.watchDir: must be an absolute path/],
    [(t) => (t.downloadDir = '/opt/../etc'), /field torrents\.downloadDir: must not contain "\.\." segments/],
    [(t) => (t.seed = true), /field torrents: Unrecognized key: "seed"/],
  ];
  for (const [edit, error] of cases) {
    const copy = structuredClone(raw);
    edit(copy.torrents);
    assert.throws(() => parseRelease('8', copy), (err: Error) => {
      assert.match(err.message, /^releases\/8\/release\.json: invalid configuration\n/);
      assert.match(err.message, error);
      return true;
    });
  }
});
