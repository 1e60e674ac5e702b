import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, lstat, mkdir, readdir, readFile, rename, stat, symlink, unlink } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel, TorrentsConfig } from '../../config/schema';
import { channelRelease, majorOf, reRoot, stagingPaths, type Roots, mirrorStatePaths } from '../../layout/paths';
import { RelengError } from '../../errors';
import { requireTools, run } from '../tools/exec';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';
import { parseTorrent, type TorrentMeta } from '../formats/torrent-file';
import { vettedPaths, vouchedDigest } from '../vetting/vouched-paths';
import { readVerifyRecord } from '../vetting/staging-steps';

/**
 * gen-torrents.sh: one torrent per release image set in the staging isos/ dir, seeded by rtorrent. For each
 * image, a directory of links to the ISO, its manifest and checksum files and the arch's CHECKSUM is made in the
 * download dir (what rtorrent seeds), and mktorrent hashes it into the watch dir (where rtorrent picks it up).
 * Only staging that passed verify is seeded, under the staging lock. A torrent that is already there is left
 * alone (once seeded, its info hash is public) unless its files changed: seeding it would serve other bytes than
 * its pieces name, so it is remade and replaced by rename.
 */

/** The image sets gen-torrents makes torrents of, in its order (variant, then arch). */
export const TORRENT_IMAGES = ['boot', 'minimal', 'dvd1', 'dvd'] as const;

/** The torrent (and link dir) name of one image set: Rocky-8.10-x86_64-dvd1. */
export function torrentName(revision: string, arch: string, image: string): string {
  return `Rocky-${revision}-${arch}-${image}`;
}

/** The files of one image set, as named in isos/<arch>/ and in the torrent (CHECKSUM.asc is never one). */
export function torrentFiles(name: string): string[] {
  return ['CHECKSUM', `${name}.iso`, `${name}.iso.CHECKSUM`, `${name}.iso.manifest`];
}

/** The comment (release notes URL) with {revision}, {major} and {minor} filled in: .../release_notes/8_10/. */
export function torrentComment(template: string, revision: string): string {
  const values: Record<string, string> = { revision, major: majorOf(revision), minor: revision.split('.')[1] ?? '' };
  return template.replace(/\{(revision|major|minor)\}/g, (_m, key: string) => values[key] as string);
}

/**
 * mktorrent 1.1 always uses 2^18-byte pieces unless told; a 13 GB DVD would get 50,000 pieces (a 1 MB .torrent).
 * As torrenttools does, the piece size grows with the data: the smallest power of two from 256 KiB to 16 MiB
 * that keeps the torrent at 2,048 pieces or fewer.
 */
export function pieceLengthExponent(totalBytes: number): number {
  for (let n = 18; n < 24; n++) if (Math.ceil(totalBytes / 2 ** n) <= 2048) return n;
  return 24;
}

export interface TorrentPaths {
  isosDir: string;
  downloadDir: string;
  watchDir: string;
  /** One lock for every torrents run of the host, as gen-torrents' /tmp/gen-torrents.lock. */
  lockFile: string;
}

export function torrentPaths(model: ComposeModel, conf: TorrentsConfig, channel: Channel, roots: Roots, relengRoot?: string): TorrentPaths {
  const staging = stagingPaths(model, channelRelease(model.release, channel, model.files.release), roots);
  return {
    isosDir: posix.join(staging.revisionDir, 'isos'),
    downloadDir: reRoot(conf.downloadDir, relengRoot),
    watchDir: reRoot(conf.watchDir, relengRoot),
    lockFile: mirrorStatePaths(roots).torrentsLock,
  };
}

export interface TorrentsRequest {
  model: ComposeModel;
  roots: Roots;
  log: Log;
  channel: Channel;
  relengRoot?: string;
}

export interface TorrentRecord {
  name: string;
  arch: string;
  image: string;
  torrent: string;
  /** made by this run, made again because its files changed, or already there and left alone */
  outcome: 'made' | 'remade' | 'existing';
  /** Only for torrents this run made. */
  infoHash?: string;
  pieceLength?: number;
  files?: { path: string; length: number }[];
}

export interface TorrentsResult extends TorrentPaths {
  revision: string;
  trackers: string[];
  comment: string;
  torrents: TorrentRecord[];
  /** Arches without an isos/<arch> dir (gen-torrents skips them too). */
  skippedArches: string[];
  seconds: number;
}

interface Image {
  name: string;
  arch: string;
  image: string;
  /** Absolute paths of the files in isos/<arch>/, in torrentFiles order. */
  sources: string[];
}

async function kind(path: string): Promise<'file' | 'dir' | 'other' | 'missing'> {
  try {
    const s = await stat(path); // follows links, as the bash [ -f ] and [ -d ] do
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}

/** Finds the image sets in isos/, checking every file of each before anything is made. */
async function findImages(paths: TorrentPaths, revision: string, arches: readonly string[], log: Log) {
  if ((await kind(paths.isosDir)) !== 'dir') {
    throw new RelengError(
      `${paths.isosDir} does not exist or is not a directory: no ISOs to make torrents of ` +
        `(the minor release sync to staging puts them there)`,
    );
  }
  const skippedArches: string[] = [];
  for (const arch of arches) {
    if ((await kind(posix.join(paths.isosDir, arch))) !== 'dir') {
      skippedArches.push(arch);
      log.info(`no ${posix.join(paths.isosDir, arch)}: no torrents for ${arch}`);
    }
  }
  const images: Image[] = [];
  const problems: string[] = [];
  for (const image of TORRENT_IMAGES) {
    for (const arch of arches) {
      if (skippedArches.includes(arch)) continue;
      const name = torrentName(revision, arch, image);
      const sources = torrentFiles(name).map((f) => posix.join(paths.isosDir, arch, f));
      const iso = sources[1] as string;
      if ((await kind(iso)) === 'missing') continue;
      for (const src of sources) {
        const k = await kind(src);
        if (k !== 'file') problems.push(`${src}: ${k === 'missing' ? 'missing' : 'not a regular file'} (needed for ${name})`);
      }
      images.push({ name, arch, image, sources });
    }
  }
  if (problems.length) throw new RelengError(`cannot make torrents, nothing was made:\n  ${problems.join('\n  ')}`);
  if (!images.length) {
    throw new RelengError(
      `${paths.isosDir}: no release ISO found; looked for ${arches.map((a) => `${a}/${torrentName(revision, a, `{${TORRENT_IMAGES.join(',')}}`)}.iso`).join(', ')}`,
    );
  }
  return { images, skippedArches };
}

/** The image's dir of links in the download dir, made afresh (links left by a run that failed are replaced). */
async function linkDir(dir: string, sources: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const entry of await readdir(dir)) {
    const path = posix.join(dir, entry);
    if (!(await lstat(path)).isSymbolicLink()) {
      throw new RelengError(`${path} is not a link this target made; move it away, the torrent's data dir must hold only links to staging`);
    }
    await unlink(path);
  }
  for (const src of sources) await symlink(src, posix.join(dir, posix.basename(src)));
}

/** Whether the pieces of `meta` are the SHA-1s of `sources` (torrent file order) read end to end. */
async function piecesMatch(meta: TorrentMeta, byName: Map<string, string>): Promise<boolean> {
  let piece = 0;
  let hash = createHash('sha1');
  let filled = 0;
  const done = () => meta.pieces[piece++]?.equals(hash.digest()) === true;
  for (const f of meta.files) {
    for await (const chunk of createReadStream(byName.get(f.path) as string) as AsyncIterable<Buffer>) {
      for (let at = 0; at < chunk.length; ) {
        const take = Math.min(meta.pieceLength - filled, chunk.length - at);
        hash.update(chunk.subarray(at, at + take));
        at += take;
        filled += take;
        if (filled === meta.pieceLength) {
          if (!done()) return false;
          hash = createHash('sha1');
          filled = 0;
        }
      }
    }
  }
  return (filled === 0 || done()) && piece === meta.pieces.length;
}

/**
 * Why an existing torrent no longer describes the staging files, or false when it still does. Sizes are compared
 * always; the bytes (piece hashes) only when a file changed after the torrent was made (its ctime, which no copy
 * tool can set back), so an unchanged release costs a few stats.
 */
async function filesChanged(torrent: string, sources: readonly string[]): Promise<string | false> {
  const meta = parseTorrent(await readFile(torrent), torrent);
  const byName = new Map(sources.map((s) => [posix.basename(s), s]));
  const made = (await stat(torrent, { bigint: true })).mtimeNs;
  let touched = false;
  for (const f of meta.files) {
    const src = byName.get(f.path);
    if (!src) return `it lists ${f.path}, which is not one of the image set's files`;
    const st = await stat(src, { bigint: true });
    if (st.size !== BigInt(f.length)) return `${src} is ${st.size} bytes, the torrent says ${f.length}`;
    if (st.ctimeNs >= made) touched = true;
  }
  if (meta.files.length !== byName.size) return `it lists ${meta.files.length} files, the image set has ${byName.size}`;
  return touched && !(await piecesMatch(meta, byName)) ? 'the content of its files changed since it was made' : false;
}

async function makeOne(img: Image, conf: TorrentsConfig, comment: string, paths: TorrentPaths, log: Log): Promise<TorrentRecord> {
  const torrent = posix.join(paths.watchDir, `${img.name}.torrent`);
  const base = { name: img.name, arch: img.arch, image: img.image, torrent };
  const changed = await lstat(torrent).then(
    () => filesChanged(torrent, img.sources),
    () => undefined,
  );
  if (changed === false) {
    log.info(`${torrent} already exists, left alone`);
    return { ...base, outcome: 'existing' };
  }
  if (changed) log.warn(`${torrent}: ${changed}; making it again`);
  const dir = posix.join(paths.downloadDir, img.name);
  await linkDir(dir, img.sources);
  let total = 0;
  for (const src of img.sources) total += (await stat(src)).size;
  const exponent = pieceLengthExponent(total);
  // Hashed under a name rtorrent's *.torrent watch ignores, then linked in: a failed run leaves no half torrent,
  // and link() never replaces a torrent that appeared meanwhile.
  const tmp = posix.join(paths.watchDir, `.${img.name}.torrent.${process.pid}.tmp`);
  try {
    const args = conf.trackers.flatMap((t) => ['-a', t]);
    args.push('-c', comment, '-n', img.name, '-l', String(exponent), '-o', tmp, dir);
    await run('mktorrent', args);
    const meta = parseTorrent(await readFile(tmp), tmp);
    const expected = torrentFiles(img.name).join(', ');
    const got = meta.files.map((f) => f.path).sort().join(', ');
    if (meta.name !== img.name || got !== expected || meta.announce !== conf.trackers[0]) {
      throw new RelengError(`${tmp}: mktorrent wrote name '${meta.name}', files ${got}, announce ${meta.announce}; expected '${img.name}', ${expected}`);
    }
    // A replaced torrent is renamed over the old one: rtorrent's watch sees the old or the new, never a half one.
    await (changed ? rename(tmp, torrent) : link(tmp, torrent)).catch((err: NodeJS.ErrnoException) => {
      throw new RelengError(`cannot move ${tmp} to ${torrent}: ${err.code === 'EEXIST' ? 'it appeared meanwhile' : err.message}`);
    });
    log.info(`made ${torrent} (${meta.files.length} files, ${meta.pieces.length} pieces of ${2 ** exponent} bytes, info hash ${meta.infoHash})`);
    return { ...base, outcome: changed ? 'remade' : 'made', infoHash: meta.infoHash, pieceLength: meta.pieceLength, files: meta.files };
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

export async function makeTorrents(req: TorrentsRequest): Promise<TorrentsResult> {
  const { model, roots, log, channel } = req;
  const started = Date.now();
  if (channel !== 'stable') {
    throw new RelengError(
      `torrents are made of stable releases only; channel '${channel}' is refused (beta and lookahead images are not seeded)`,
    );
  }
  const conf = model.release.torrents;
  if (!conf) throw new RelengError(`${model.files.release}: no "torrents" block (trackers, comment, downloadDir, watchDir)`);
  const { revision } = channelRelease(model.release, channel, model.files.release);
  const paths = torrentPaths(model, conf, channel, roots, req.relengRoot);
  const sp = stagingPaths(model, channelRelease(model.release, channel, model.files.release), roots);
  // As sync-prod: only what passed verify is published, and seeding is publishing.
  const verified = await readVerifyRecord(sp.verifyRecord, model);
  if (!verified || verified.stagingDir !== sp.revisionDir || !verified.extraSubtrees?.includes('isos')) {
    throw new RelengError(
      `${model.project}: ${paths.isosDir} has no passing verify (${sp.verifyRecord}${verified ? ' does not cover isos/' : ' is missing'}); ` +
        `run nx run ${model.project}:verify first, nothing was made`,
    );
  }
  await requireTools(['mktorrent']);
  const { images, skippedArches } = await findImages(paths, revision, model.release.arches, log);
  const comment = torrentComment(conf.comment, revision);
  const locked = <T>(file: string, fn: () => Promise<T>) => withLock(file, `${model.project}:torrents`, model.common.lockTimeoutSeconds, log, fn);
  // The staging lock keeps every staging writer out while the ISOs are hashed.
  const torrents = await locked(sp.lockFile, () => locked(paths.lockFile, async () => {
    if (vouchedDigest(sp.revisionDir, vettedPaths(verified)).digest !== verified.digest) {
      throw new RelengError(
        `${model.project}: ${sp.revisionDir} changed since it passed verify at ${verified.verifiedAt}; ` +
          `run nx run ${model.project}:verify again before making torrents, nothing was made`,
      );
    }
    await mkdir(paths.watchDir, { recursive: true });
    await mkdir(paths.downloadDir, { recursive: true });
    // Temp files of a run that was killed (the lock is ours now, so none is being written).
    const names = new Set(images.map((i) => i.name));
    for (const entry of await readdir(paths.watchDir)) {
      const m = /^\.(.+)\.torrent\.\d+\.tmp$/.exec(entry);
      if (m && names.has(m[1] as string)) await unlink(posix.join(paths.watchDir, entry));
    }
    const out: TorrentRecord[] = [];
    for (const img of images) out.push(await makeOne(img, conf, comment, paths, log));
    return out;
  }));
  return {
    ...paths,
    revision,
    trackers: conf.trackers,
    comment,
    torrents,
    skippedArches,
    seconds: (Date.now() - started) / 1000,
  };
}
