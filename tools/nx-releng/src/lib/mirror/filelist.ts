/**
 * Mirror file lists for the production tree: `fullfilelist` and `fullfiletimelist-<module>` (+ byte-identical
 * copies such as `fullfiletimelist` and `fullfiletimelist-rocky-linux`), as consumed by quick-fedora-mirror,
 * MirrorManager / scan-primary-mirror, Rocky's mirrorsync.sh and automirror.
 * Reference: /work/shared/reference/mirror-filelists.md §1 (format), §4.3 and §6 (what we fix).
 *
 * Timelist = create-filelist (2019 upstream / Fedora 2024) "version 2" output, as `create-filelist -c -s`:
 *   `[Version]\n2\n\n[Files]\n`, then `TIME\tTYPE\tSIZE\tPATH\n` in post-order (a directory after its contents),
 *   then `\n[Checksums SHA1]\n` (+ MD5, SHA256, SHA512 by default, the current Fedora format; pass
 *   checksumAlgorithms: ['sha1'] for the 2019 one) with `HEX\tPATH\n` of every listed `repomd.xml`, sorted by
 *   code point, then `\n[End]\n`. TIME = int(max(mtime, ctime)) of the lstat; TYPE = l/d/f + `-` (entry not
 *   world-readable) or `*` (below a non-world-readable dir); SIZE = lstat size. Not listed: `.~tmp~` and
 *   `.nfs*` at any depth, dangling symlinks, entries whose (followed) mode lacks S_IRGRP and their subtrees.
 *   Readability is decided from mode bits only, exactly as create-filelist does (so running as root changes
 *   nothing). Symlinks are never descended.
 *
 * fullfilelist = what Rocky publishes, `find . > fullfilelist`: `.` first, then `./PATH` for every entry in
 *   pre-order (a directory before its contents), unfiltered: `.~tmp~`, `.nfs*`, dangling symlinks and
 *   unreadable-by-mode entries are included, as find (run as root) prints them.
 *
 * Decisions:
 *  - ORDER. find and create-filelist use raw readdir order, which depends on the filesystem (ext4 htree, XFS,
 *    NFS server) and can change without any content change. We sort siblings by byte order of their UTF-8
 *    names (= code point order = strcmp; the reference §1.10 recommends this): the same tree always gives the
 *    same bytes, which is what "rewrite only when content changed" needs. No consumer depends on the order
 *    (quick-fedora-mirror sorts, MirrorManager builds dicts). Apart from sibling order both lists are exactly
 *    create-filelist's / find's: post-order timelist, pre-order fullfilelist.
 *  - SELF-INCLUSION (fixes §4.3). At the top of each root, the names it publishes (fullfilelist, the timelist,
 *    its copies) and our publication temp files are never listed, in either list (create-filelist -s); `skip`
 *    adds more such names (-S). Checksums are on by default (-c), so quick-fedora-mirror can repair repomd.xml.
 *  - ATOMIC, ALL-OR-NOTHING, ONLY-IF-CHANGED (Fedora's update-fullfiletimelist wrapper, §1.8). Every list of
 *    every root is generated into a private staging directory first (default: a new dir under os.tmpdir();
 *    must be outside all roots). If any root fails, nothing is published and the staging dir is removed.
 *    Then each list is compared byte for byte with the published file (straight from the staged pieces:
 *    an unchanged list is never written out whole); only a different one is written to
 *    `.<name>.<random>.~tmp~` beside the target (mode 0644, fsync'ed) and renamed over it. An unchanged tree
 *    therefore leaves every published list untouched (bytes, inode, mtime): rsync quick-check clients
 *    (mirrorsync.sh) and content-hash clients (quick-fedora-mirror) both see "no change". Staging happens
 *    away from the roots, not beside the targets, because creating and deleting a temp file in an inner root
 *    changes that directory's mtime, which the enclosing root lists: the outer list would then change on
 *    every run. The temp name ends in `.~tmp~`, which mirrorsync.sh (`--exclude="*.~tmp~"`) ignores. Per
 *    root, fullfilelist and the copies are renamed first and the main timelist last, so a client triggered by
 *    the main list finds the others already updated.
 *  - NESTED ROOTS (production root ⊃ mirror/pub/rocky, mirror/pub/sig). One walk feeds every list: when the
 *    walk of the outer root enters an inner root, that root's lists start there (lines of a subtree are
 *    contiguous, so each directory is read and each entry lstat'ed once for all roots; the inner root's
 *    readability/restriction is judged from the inner root, its skip names apply only to it). The outer lists
 *    must describe the disk AFTER publication, yet the inner root's published files (and the inner root
 *    directory's own mtime, which a rename into it bumps) are only final once the inner root has published.
 *    So, in the outer lists, the inner root's published names are always listed (they exist after publication,
 *    even on the first run), and their timelist lines plus the inner root directory's line are DEFERRED: the
 *    walk records their byte offsets, roots are published innermost first, and each outer timelist is then
 *    assembled with those few lines filled in from a fresh lstat. The outer list is therefore exact, and it
 *    does not churn: when nothing changed, the inner lists are not rewritten, those lstats are unchanged and
 *    the outer list compares equal. (Excluding the inner lists from the outer list instead would make
 *    quick-fedora-mirror clients of the outer module delete them locally.) A root that the outer walk does not
 *    reach (e.g. behind a symlink or a skip name) is walked on its own and is then absent from the outer list.
 *  - MEMORY. Output is streamed to the staged files through a small buffer; the walk keeps only the sorted
 *    names (and their lstat results) of the directories on the current path. The only per-tree collections
 *    are the checksummed repomd.xml paths and the few deferred lines.
 *  - SYSCALLS. One lstat per entry, plus a stat per symlink (create-filelist's inclusion test follows links).
 *    The walk is synchronous (lstatSync in a tight loop): on a 300k-entry tree it took 1.0 s where
 *    promise-based lstat took 3.6-6.9 s. By default it chdir()s into each directory and lstats names
 *    relative to it, like find/fts (one path component to resolve instead of the whole path; ~15 % faster);
 *    the cwd is restored afterwards, and no other JS runs meanwhile. `chdir: false` walks by absolute paths.
 *  - PARALLEL WALK. The stat syscalls dominate (~85 % of the walk), so the only lever beyond that is more
 *    threads (and, on NFS/EFS, more requests in flight). The main walk stops at directories `splitLevel` (3)
 *    below the innermost root (e.g. 8.10/BaseOS/x86_64) and records them as tasks, remembering the byte
 *    offsets where their lines belong. Then `workers` worker threads (default CPUs-1, at most 3) start and
 *    take tasks from a shared counter, as does the main thread. Each thread appends its tasks' lines to its
 *    own chunk files; the chunks are spliced in at the offsets when a list is read. A subtree containing
 *    a root is never split off, and the output is byte-identical to the serial walk (tested). The walk is
 *    plain JavaScript (filelist-walk.js) so a worker starts in ~20 ms instead of 0.2-0.4 s with the
 *    TypeScript loader. Workers lstat by absolute path (threads cannot chdir).
 *  - Names containing TAB or newline (or not valid UTF-8) cannot be represented in these formats (create-
 *    filelist would write corrupt lines); the run fails instead, naming the path.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { scratchDir } from '../core/scratch';
import { RelengError } from '../../errors';
import { linkTargetProblem } from '../core/link-policy';
import { WalkError, walkRoots, type ListContent, type StagedLists, type WalkRoot } from './filelist-walk';
import { FullWalkNeeded, checksumText, linkTargets, sortedFlat, updateLists, type TreeIndex } from './filelist-update';
import { dropFileListState, identityOf, loadFileListState, loadTreeIndex, saveFileListState, type FileListState, type WalkedTreeIndex } from './filelist-state';

export type ChecksumAlgorithm = 'sha1' | 'md5' | 'sha256' | 'sha512';
/** create-filelist as deployed by Fedora since 2024 (pagure quick-fedora-mirror PR 86): four sections in this order. */
const ALL_CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['sha1', 'md5', 'sha256', 'sha512'];

export interface FileListRoot {
  /** Directory the lists describe and are published in (create-filelist -d). */
  dir: string;
  /** Main timelist name, e.g. 'fullfiletimelist-rocky'. */
  timelistName: string;
  /** Byte-identical copies of the timelist, e.g. ['fullfiletimelist', 'fullfiletimelist-rocky-linux']. */
  copies: string[];
  /** Checksum every listed repomd.xml (create-filelist -c). Default true. */
  checksums?: boolean;
  /** Name of the find-style list. Default 'fullfilelist'. */
  fullfilelistName?: string;
  /** More top-level names to leave out of this root's lists (create-filelist -S), e.g. 'imagelist-rocky'. */
  skip?: string[];
}

export interface WriteFileListsOptions {
  /** Parent of the private staging dir (default os.tmpdir()); must not be inside any root. */
  stagingDir?: string;
  /** Checksum sections, in order. Default all four (Fedora 2024); ['sha1'] gives the 2019 upstream format. */
  checksumAlgorithms?: readonly ChecksumAlgorithm[];
  /** Mode of published lists. Default 0o644. */
  fileMode?: number;
  /** chown published lists (Rocky: 10004:10005). Default: leave as created. */
  owner?: { uid: number; gid: number };
  /**
   * lstat names relative to each directory after process.chdir() into it (default true; restored after the
   * walk, which is synchronous). false: absolute paths, for callers that must never see the cwd change
   * (e.g. relative-path I/O still in flight in libuv's thread pool). Always off in worker threads.
   */
  chdir?: boolean;
  /** Non-fatal diagnostics (dangling symlinks, unreadable dirs outside the timelist). Default: stderr. */
  onWarning?: (msg: string) => void;
  /**
   * Worker threads for the parallel walk (in addition to the main thread). Default: CPUs - 1, at most 3.
   * 0: single-threaded.
   */
  workers?: number;
  /**
   * Tuning / test seam for the parallel walk: split depth below each root (default 3); whether the main
   * thread also takes tasks (default true; false only for tests).
   */
  parallelTuning?: { splitLevel?: number; mainTakesTasks?: boolean };
  /**
   * Test seam only: 'mtime' lists int(mtime) instead of int(max(mtime, ctime)), because tests cannot set
   * ctime. Production must keep the default ('max'), which the format requires.
   */
  timeField?: 'max' | 'mtime';
  /**
   * Absolute paths (under the roots' real paths) that no list names, nor anything below them: what a push is
   * about to delete (lib/production/pending-deletions.ts), so that no list names a path while it goes.
   */
  unlisted?: ReadonlySet<string>;
  /**
   * Update the lists from what changed instead of walking (filelist-update.ts), when the state in `stateDir`
   * still describes the published lists; a full walk otherwise, and the state is written for the next run.
   */
  incremental?: {
    stateDir: string;
    /** Absolute real paths changed since the last lists (the change journal); undefined: walk the whole tree. */
    changed?: Iterable<string>;
    /** Why `changed` is undefined, for the record of the full walk. */
    fullWhy?: string;
    /** Walk anyway when the last full walk is older than this. */
    fullWalkEveryMs?: number;
  };
}

export interface FileListFile {
  /** Published name, e.g. 'fullfiletimelist-rocky'. */
  name: string;
  path: string;
  bytes: number;
  /** Rewritten by this run (content differed or the file did not exist). */
  changed: boolean;
}

export interface FileListResult {
  /** The root as given. */
  dir: string;
  /** Its real path (where the lists were published). */
  realDir: string;
  /** Lines in the timelist's [Files] section. */
  entries: number;
  /** Lines in fullfilelist (including the leading '.'). */
  fullfilelistLines: number;
  /** Files in each checksum section. */
  checksummed: number;
  /** Names rewritten by this run (subset of files[].name). */
  changed: string[];
  /** fullfilelist, the copies, then the timelist (publication order). */
  files: FileListFile[];
  /** Full walk or update (the same for every root of a run). */
  madeBy: ListsMadeBy;
}

const NAME_OK = /^[^/\0\t\n]+$/;

interface Plan {
  input: FileListRoot;
  fullName: string;
  walk: WalkRoot;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isInside(parent: string, child: string): boolean {
  return child !== parent && (parent === '/' ? true : child.startsWith(`${parent}/`));
}

function planRoots(roots: readonly FileListRoot[]): Plan[] {
  if (roots.length === 0) throw new RelengError('writeFileLists: no roots given');
  const plans: Plan[] = roots.map((r) => {
    const fullName = r.fullfilelistName ?? 'fullfilelist';
    const names = [fullName, r.timelistName, ...r.copies];
    for (const n of [...names, ...(r.skip ?? [])]) {
      if (!NAME_OK.test(n) || n === '.' || n === '..') throw new RelengError(`file list root ${r.dir}: invalid file name ${JSON.stringify(n)}`);
    }
    const own = new Set(names);
    if (own.size !== names.length) throw new RelengError(`file list root ${r.dir}: fullfilelist, timelist and copies must have distinct names (${names.join(', ')})`);
    let dir: string;
    try {
      dir = fs.realpathSync(r.dir);
    } catch (err) {
      throw new RelengError(`file list root ${r.dir} does not exist: ${(err as Error).message}`);
    }
    if (!fs.statSync(dir).isDirectory()) throw new RelengError(`file list root ${r.dir} is not a directory`);
    const temp = new RegExp(`^\\.(?:${names.map(escapeRegExp).join('|')})\\.[0-9a-f]{12}\\.~tmp~$`);
    return {
      input: r,
      fullName,
      walk: {
        dir,
        depth: 0,
        ownNames: own,
        skip: new Set(r.skip ?? []),
        checksumNames: new Set(r.checksums === false ? [] : ['repomd.xml']),
        isTempName: (n: string) => n.endsWith('.~tmp~') && temp.test(n),
      },
    };
  });
  for (const p of plans) {
    for (const q of plans) {
      if (p !== q && p.walk.dir === q.walk.dir) throw new RelengError(`file list roots ${p.input.dir} and ${q.input.dir} are the same directory`);
      if (isInside(q.walk.dir, p.walk.dir)) p.walk.depth++;
    }
  }
  return plans;
}

/** Removes our own temp files left at a root's top by an interrupted publication. */
function removeStaleTemps(plan: Plan): void {
  for (const name of fs.readdirSync(plan.walk.dir)) {
    if (plan.walk.isTempName(name)) fs.rmSync(path.join(plan.walk.dir, name), { force: true });
  }
}

function sameContent(content: ListContent, target: string): boolean {
  const st = fs.lstatSync(target, { throwIfNoEntry: false });
  if (!st?.isFile() || st.size !== content.size) return false;
  const fd = fs.openSync(target, 'r');
  try {
    const other = Buffer.allocUnsafe(1 << 20);
    let same = true;
    content.forEach((bytes) => {
      let n = 0;
      while (n < bytes.length) {
        const got = fs.readSync(fd, other, n, bytes.length - n, null);
        if (got === 0) break;
        n += got;
      }
      same = n === bytes.length && other.subarray(0, n).equals(bytes);
      return same;
    });
    return same && fs.readSync(fd, other, 0, 1, null) === 0;
  } finally {
    fs.closeSync(fd);
  }
}

/** Writes the content to a temp file beside the target (mode, owner, fsync) and renames it over the target. */
function publish(content: ListContent, target: string, mode: number, owner: WriteFileListsOptions['owner']): void {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString('hex')}.~tmp~`);
  try {
    const fd = fs.openSync(tmp, 'wx', mode);
    try {
      // An updated list comes in many small pieces (filelist-update.ts): gathered, so that a write is 1 MiB.
      const buf = Buffer.allocUnsafe(1 << 20);
      let used = 0;
      const write = (bytes: Buffer) => {
        for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
      };
      const flush = () => {
        write(buf.subarray(0, used));
        used = 0;
      };
      content.forEach((bytes) => {
        // In order: what is gathered goes out before a piece too big to gather.
        if (used + bytes.length > buf.length || bytes.length >= buf.length / 4) flush();
        if (bytes.length >= buf.length / 4) write(bytes);
        else used += bytes.copy(buf, used);
      });
      flush();
      fs.fchmodSync(fd, mode);
      if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new RelengError(`cannot publish ${target}: ${(err as Error).message}`);
  }
}

/**
 * Digests of one file, read in 64 KiB blocks as create-filelist does; null if not a regular file. Never through a
 * link (create-filelist follows one): a client would check the link's target against what it downloads.
 */
function hashFile(absPath: string, algs: readonly ChecksumAlgorithm[]): string[] | null {
  const st = fs.lstatSync(absPath, { throwIfNoEntry: false });
  if (st?.isSymbolicLink()) throw new RelengError(`${absPath} is a symbolic link; the file lists checksum repomd.xml itself, never through a link`);
  if (!st?.isFile()) return null;
  const hashes = algs.map((a) => createHash(a));
  try {
    const fd = fs.openSync(absPath, 'r');
    try {
      const buf = Buffer.allocUnsafe(65536);
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) for (const h of hashes) h.update(buf.subarray(0, n));
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    throw new RelengError(`cannot checksum ${absPath}: ${(err as Error).message}`);
  }
  return hashes.map((h) => h.digest('hex'));
}

/**
 * Appends the checksum sections (sorted by path; create-filelist -c) and [End] to a staged timelist. Returns
 * how many files each section lists. `digestsOf`: digests by absolute path, cached across nested roots.
 */
function finishTimelist(list: StagedLists, algs: readonly ChecksumAlgorithm[], digestsOf: (abs: string) => string[] | null, warn: (m: string) => void): number {
  const files = new Map<string, string[]>();
  for (const e of list.checksums) {
    const digests = digestsOf(e.abs);
    if (digests === null) warn(`not checksumming ${e.abs}: not a regular file`);
    else files.set(e.rel, digests);
  }
  fs.appendFileSync(list.timelist, checksumText(files, algs));
  return algs.length > 0 ? files.size : 0;
}

/** The link policy (lib/core/link-policy.ts): every listed link stays inside each root that lists it. */
function refuseOutsideLinks(plans: readonly Plan[], lists: readonly { links: readonly { abs: string; target: string }[] }[]): void {
  const problems = new Map<string, string>();
  // Innermost root first: a link is reported against the tightest root that lists it.
  for (const i of plans.map((_, i) => i).sort((a, b) => (plans[b] as Plan).walk.depth - (plans[a] as Plan).walk.depth)) {
    for (const link of (lists[i] as { links: readonly { abs: string; target: string }[] }).links) {
      const problem = linkTargetProblem((plans[i] as Plan).walk.dir, link.abs, link.target);
      if (problem && !problems.has(link.abs)) problems.set(link.abs, problem);
    }
  }
  if (problems.size) {
    throw new RelengError(`the file lists would publish links leaving their root: ${[...problems.values()].join('; ')}; nothing was published`);
  }
}

/** One root's new lists, from a full walk or an update; `same` (update only): equal to the published bytes. */
interface NewLists {
  entries(): number;
  fullLines: number;
  checksummed: number;
  links: readonly { abs: string; target: string }[];
  fullfilelist(): { content: ListContent; same?: boolean };
  timelist(): { content: ListContent; same?: boolean };
}

/** How the lists of a run were made. */
export interface ListsMadeBy {
  kind: 'full walk' | 'update';
  /** Why a full walk ran (state missing or not matching, journal incomplete, asked for, schedule). */
  why?: string;
  /** update: paths looked at again. */
  examined?: number;
  /** Milliseconds spent making the lists (walk, or read and update), publishing them, saving the state. */
  ms?: { make: number; publish: number; save: number };
}

/** The results of a run in which nothing changed: every list as the state recorded it, none rewritten. */
function unchangedLists(plans: readonly Plan[], state: FileListState): FileListResult[] {
  return plans.map((p, i) => {
    const r = state.roots[i] as FileListState['roots'][number];
    const names = [p.fullName, ...p.input.copies, p.input.timelistName];
    return {
      dir: p.input.dir,
      realDir: p.walk.dir,
      entries: r.entries,
      fullfilelistLines: r.fullLines,
      checksummed: r.checksummed,
      changed: [],
      files: names.map((name) => ({ name, path: path.join(p.walk.dir, name), bytes: r.files[name]?.size ?? 0, changed: false })),
      madeBy: { kind: 'update', examined: 0 },
    };
  });
}

function stateKey(plans: readonly Plan[], algs: readonly ChecksumAlgorithm[], timeField: string): string {
  const roots = plans.map((p) => ({ dir: p.walk.dir, full: p.fullName, timelist: p.input.timelistName, copies: p.input.copies, skip: p.input.skip ?? [], checksums: p.input.checksums !== false }));
  return JSON.stringify({ roots, algs, timeField });
}

/** What a run's lists are made from, and the state the next run starts from. */
interface Made {
  by: ListsMadeBy;
  lists: NewLists[];
  index: TreeIndex | WalkedTreeIndex | { unchanged: { token: string; inodeParts: number[] } };
  lastFullWalk: { at: string; why: string };
}

interface RunContext {
  plans: readonly Plan[];
  opts: WriteFileListsOptions;
  staging: string;
  algs: readonly ChecksumAlgorithm[];
  timeField: 'max' | 'mtime';
  warn: (m: string) => void;
  digests: (abs: string) => string[] | null;
}

type Decision =
  | { walk: string }
  | { unchanged: FileListState }
  | { update: { state: FileListState; changed: string[] } };

/** Whether the state lets this run update the lists from the changed paths, find them right as they are, or walk. */
function decide(ctx: RunContext, inc: NonNullable<WriteFileListsOptions['incremental']>, key: string): Decision {
  const loaded = loadFileListState(inc.stateDir, key, ctx.plans.map((p) => p.walk.dir));
  if (!('state' in loaded)) return { walk: loaded.why };
  const { state } = loaded;
  if (inc.changed === undefined) return { walk: inc.fullWhy ?? 'asked for' };
  // A first push of a whole tree names most of it: walking is then the cheaper way to the same bytes.
  const changed = [...inc.changed];
  const entries = Math.max(...state.roots.map((r) => r.fullLines));
  if (changed.length > Math.max(10_000, entries / 10)) return { walk: `the change journal names ${changed.length} paths, more than a tenth of the ${entries} entries` };
  if (inc.fullWalkEveryMs !== undefined && !(Date.now() - Date.parse(state.lastFullWalk.at) < inc.fullWalkEveryMs)) {
    return { walk: `the last full walk (${state.lastFullWalk.at}) is older than ${Math.round(inc.fullWalkEveryMs / 3600000)} h` };
  }
  // Nothing changed since lists the state still describes: they are right as they are.
  if (changed.length === 0 && (ctx.opts.unlisted?.size ?? 0) === 0) return { unchanged: state };
  return { update: { state, changed } };
}

/** The lists updated from the changed paths (filelist-update.ts); a string says why they must be walked instead. */
function update(ctx: RunContext, stateDir: string, state: FileListState, changed: string[]): Made | string {
  const index = loadTreeIndex(stateDir, state);
  if ('why' in index) return index.why;
  try {
    const up = updateLists({
      roots: ctx.plans.map((p) => p.walk),
      old: state.roots.map((r, i) => {
        const p = ctx.plans[i] as Plan;
        return { fullfilelist: fs.readFileSync(path.join(p.walk.dir, p.fullName)), timelist: fs.readFileSync(path.join(p.walk.dir, p.input.timelistName)), entries: r.entries, fullLines: r.fullLines };
      }),
      index,
      changed,
      unlisted: ctx.opts.unlisted,
      staging: ctx.staging,
      algs: ctx.algs,
      timeField: ctx.timeField,
      warn: ctx.warn,
      digests: ctx.digests,
    });
    return {
      by: { kind: 'update', examined: up.examined },
      lists: up.roots.map((r) => ({ ...r, entries: () => r.entries })),
      index: up.index ?? { unchanged: { token: state.token, inodeParts: state.inodeParts } },
      lastFullWalk: state.lastFullWalk,
    };
  } catch (err) {
    if (err instanceof FullWalkNeeded) return err.message;
    throw err;
  }
}

/** The lists from a walk of the whole tree (filelist-walk.js), and the tree index for the next update. */
async function walk(ctx: RunContext, why: string): Promise<Made> {
  const walked = await walkRoots(
    ctx.plans.map((p) => p.walk),
    {
      staging: ctx.staging,
      chdir: ctx.opts.chdir ?? true,
      warn: ctx.warn,
      timeField: ctx.timeField,
      workers: Math.max(0, Math.floor(ctx.opts.workers ?? Math.min(availableParallelism() - 1, 3))),
      splitLevel: ctx.opts.parallelTuning?.splitLevel ?? 3,
      mainTakesTasks: ctx.opts.parallelTuning?.mainTakesTasks ?? true,
      unlisted: ctx.opts.unlisted,
    },
  );
  const lists = walked.lists.map((l): NewLists => {
    const checksummed = finishTimelist(l, ctx.algs, ctx.digests, ctx.warn);
    return { fullLines: l.fullLines, checksummed, links: l.links, entries: () => l.entries, fullfilelist: () => ({ content: l.content('fullfilelist') }), timelist: () => ({ content: l.content('timelist') }) };
  });
  return {
    by: { kind: 'full walk', why },
    lists,
    index: { inodeFiles: walked.linkedFiles, links: sortedFlat(linkTargets(walked.lists.flatMap((l) => l.links))) },
    lastFullWalk: { at: new Date().toISOString(), why },
  };
}

/** Publishes the lists that changed, innermost roots first (deferred lines of enclosing roots see them). */
function publishAll(ctx: RunContext, made: Made): FileListResult[] {
  const { plans, opts } = ctx;
  const order = plans.map((p, i) => i).sort((a, b) => (plans[b] as Plan).walk.depth - (plans[a] as Plan).walk.depth);
  const results: FileListResult[] = new Array(plans.length);
  for (const i of order) {
    const p = plans[i] as Plan;
    const list = made.lists[i] as NewLists;
    const fullfilelist = list.fullfilelist();
    const timelist = list.timelist();
    const targets: [string, { content: ListContent; same?: boolean }][] = [[p.fullName, fullfilelist], ...p.input.copies.map((c): [string, { content: ListContent; same?: boolean }] => [c, timelist]), [p.input.timelistName, timelist]];
    const files = targets.map(([name, { content, same }]): FileListFile => {
      const target = path.join(p.walk.dir, name);
      const changed = same === undefined ? !sameContent(content, target) : !same;
      if (changed) publish(content, target, opts.fileMode ?? 0o644, opts.owner);
      return { name, path: target, bytes: content.size, changed };
    });
    results[i] = {
      dir: p.input.dir,
      realDir: p.walk.dir,
      entries: list.entries(),
      fullfilelistLines: list.fullLines,
      checksummed: list.checksummed,
      changed: files.filter((f) => f.changed).map((f) => f.name),
      files,
      madeBy: made.by,
    };
  }
  return results;
}

/** Records what the published lists are, for the next run's update. */
function saveState(stateDir: string, key: string, results: readonly FileListResult[], made: Made): void {
  saveFileListState(
    stateDir,
    {
      key,
      roots: results.map((r) => ({
        dir: r.realDir,
        entries: r.entries,
        fullLines: r.fullfilelistLines,
        checksummed: r.checksummed,
        files: Object.fromEntries(r.files.map((f) => [f.name, identityOf(f.path) ?? { size: -1, mtimeMs: -1, ino: -1 }])),
      })),
      lastFullWalk: made.lastFullWalk,
    },
    made.index,
  );
}

/**
 * Generates fullfilelist and the timelist (+ copies) of every root, then publishes those whose content changed.
 * All roots are generated before anything is published; a failure publishes nothing. See the file comment.
 * With `incremental`, the lists are updated from the changed paths when the state allows (filelist-update.ts).
 */
export async function writeFileLists(roots: FileListRoot[], opts: WriteFileListsOptions = {}): Promise<FileListResult[]> {
  const plans = planRoots(roots);
  const algs = opts.checksumAlgorithms ?? ALL_CHECKSUM_ALGORITHMS;
  const timeField = opts.timeField ?? 'max';
  const stagingParent = fs.realpathSync(opts.stagingDir ?? tmpdir());
  for (const p of plans) {
    if (stagingParent === p.walk.dir || isInside(p.walk.dir, stagingParent)) {
      throw new RelengError(`staging directory ${stagingParent} is inside file list root ${p.walk.dir}; pass stagingDir outside the published tree`);
    }
  }
  for (const p of plans) removeStaleTemps(p);
  const staging = await scratchDir(stagingParent, 'filelist-');
  const cache = new Map<string, string[] | null>();
  const ctx: RunContext = {
    plans,
    opts,
    staging,
    algs,
    timeField,
    warn: opts.onWarning ?? ((m: string) => void process.stderr.write(`${m}\n`)),
    digests: (abs) => {
      let d = cache.get(abs);
      if (d === undefined) cache.set(abs, (d = hashFile(abs, algs)));
      return d;
    },
  };
  const inc = opts.incremental;
  const key = stateKey(plans, algs, timeField);
  const started = performance.now();
  try {
    let why = 'no incremental state configured';
    let made: Made | undefined;
    if (inc !== undefined) {
      const decision = decide(ctx, inc, key);
      if ('unchanged' in decision) return unchangedLists(plans, decision.unchanged);
      if ('walk' in decision) why = decision.walk;
      else {
        const updated = update(ctx, inc.stateDir, decision.update.state, decision.update.changed);
        if (typeof updated === 'string') why = updated;
        else made = updated;
      }
    }
    made ??= await walk(ctx, why);
    const madeAt = performance.now();
    refuseOutsideLinks(plans, made.lists);
    const results = publishAll(ctx, made);
    const publishedAt = performance.now();
    if (inc !== undefined) saveState(inc.stateDir, key, results, made);
    made.by.ms = { make: Math.round(madeAt - started), publish: Math.round(publishedAt - madeAt), save: Math.round(performance.now() - publishedAt) };
    return results;
  } catch (err) {
    // Some roots may be published already: the next run must not trust the old state.
    if (inc !== undefined) dropFileListState(inc.stateDir);
    throw err instanceof WalkError ? new RelengError(err.message) : err;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
