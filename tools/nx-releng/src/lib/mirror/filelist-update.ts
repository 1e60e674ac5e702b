/**
 * The file lists updated from what changed instead of a walk of the whole tree (issue #16: O(changes)).
 *
 * Input: the lists as the last run published them (checked against the identities it recorded, see
 * filelist-state.ts) and the paths that changed since (the change journal, production/change-journal.ts).
 * Output: lists byte for byte equal to what a full walk would write now, provided every change to the tree was
 * journaled (anything else, e.g. a hand edit, is only seen by the next full walk: hence the schedule).
 *
 * Both lists are sorted in tree order (siblings by byte order; fullfilelist in pre-order, the timelist in
 * post-order), so the lines of an entry, and of a directory's subtree, are found by binary search in the old
 * bytes and replaced by freshly listed ones (FragmentWalker: the walk's own code, one entry at a time). For each
 * changed path P:
 *  - P's parent is looked at again too (its mtime changed when P came or went);
 *  - a directory that exists before and after with the same listing flags (readable, restricted) keeps its
 *    contents: only its own timelist line is replaced; anything else (a file, a new, gone or re-moded directory)
 *    is replaced with its whole subtree;
 *  - a hard-linked file's listed time is max(mtime, ctime), and ctime moves when any name of its inode is linked
 *    or unlinked: every other name of an inode P had or has (the tree index of the last run) is looked at too;
 *  - a symlink is listed only when its target exists and is group-readable: every link into a replaced subtree
 *    is looked at too (links through a symlinked directory to a target that did not exist are only seen by the
 *    next full walk);
 *  - a nested root's directory and published names are listed by the enclosing roots from a fresh lstat after the
 *    nested root published (as the full walk's deferred lines).
 * Whatever this cannot decide from the old lists (a root directory changing its flags, an ancestor of a root
 * replaced, a directory gone without a journaled path) throws FullWalkNeeded before anything is published.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FragmentWalker, compareNames, listContent, ownEntryLine, type EntryLines, type Frame, type ListContent, type ListPiece, type WalkRoot } from './filelist-walk';

/** The update cannot promise the full walk's bytes: the caller walks instead (nothing was published). */
export class FullWalkNeeded extends Error {}

const TIMELIST_HEADER = Buffer.from('[Version]\n2\n\n[Files]\n');
const NL = 10;
const TAB = 9;
const SLASH = 47;

/** Byte order of two paths in tree order: '/' sorts below every name byte; `post`: a descendant before its ancestor. */
function comparePaths(a: Uint8Array, as: number, ae: number, b: Uint8Array, bs: number, be: number, post: boolean): number {
  const la = ae - as;
  const lb = be - bs;
  const n = Math.min(la, lb);
  for (let i = 0; i < n; i++) {
    let x = a[as + i] as number;
    let y = b[bs + i] as number;
    if (x !== y) {
      x = x === SLASH ? 0 : x + 1;
      y = y === SLASH ? 0 : y + 1;
      return x - y;
    }
  }
  if (la === lb) return 0;
  if (la > lb) return a[as + lb] === SLASH && post ? -1 : 1;
  return b[bs + la] === SLASH && post ? 1 : -1;
}

/** Whether the path a[as, ae) is `key` or below it. */
function atOrBelow(a: Uint8Array, as: number, ae: number, key: Buffer): boolean {
  const lk = key.length;
  if (ae - as < lk) return false;
  for (let i = 0; i < lk; i++) if (a[as + i] !== key[i]) return false;
  return ae - as === lk || a[as + lk] === SLASH;
}

/** A published list's lines [start, end) in its bytes, searchable by path. */
class OldLines {
  constructor(
    readonly buf: Buffer,
    readonly start: number,
    readonly end: number,
    readonly kind: 'fullfilelist' | 'timelist',
  ) {}

  /** [start, end) of the path in the line starting at ls; the line ends at `end` (its newline). */
  pathOf(ls: number): [number, number] {
    const le = this.buf.indexOf(NL, ls);
    if (le < 0 || le >= this.end) throw new FullWalkNeeded(`the published ${this.kind} has an unterminated line at byte ${ls}`);
    if (this.kind === 'fullfilelist') return [ls + 2, le];
    let p = ls;
    for (let k = 0; k < 3; k++) {
      p = this.buf.indexOf(TAB, p) + 1;
      if (p <= 0 || p > le) throw new FullWalkNeeded(`the published timelist has a malformed line at byte ${ls}`);
    }
    return [p, le];
  }

  /** Start of the line holding byte `pos` (a line start itself when pos is one). */
  private lineStart(pos: number): number {
    return Math.max(this.start, this.buf.lastIndexOf(NL, pos - 1) + 1);
  }

  /** End of the line starting at ls, past its newline. */
  private lineEnd(ls: number): number {
    return this.buf.indexOf(NL, ls) + 1;
  }

  private test(ls: number, pred: (s: number, e: number) => boolean): boolean {
    const [ps, pe] = this.pathOf(ls);
    return pred(ps, pe);
  }

  /** The first line start in [lo, hi) whose path satisfies `pred` (monotone in list order); hi if none. */
  private bisect(lo: number, hi: number, pred: (s: number, e: number) => boolean): number {
    while (lo < hi) {
      const ls = this.lineStart((lo + hi) >>> 1);
      if (this.test(ls, pred)) hi = ls;
      else lo = this.lineEnd(ls);
    }
    return lo;
  }

  /** Where the last search ended: the changed paths come in tree order, so the next answer is usually near. */
  private hint = 0;

  /**
   * The first line start whose path satisfies `pred` (monotone in list order); `end` if none. Gallops from the
   * last answer in either direction, then bisects: O(log distance) lines read instead of O(log size).
   */
  private search(pred: (s: number, e: number) => boolean): number {
    const h = Math.min(Math.max(this.hint, this.start), this.end);
    let lo: number;
    let hi: number;
    if (h >= this.end || this.test(h, pred)) {
      // The answer is at or before h.
      hi = h;
      lo = this.start;
      for (let step = 512; hi > this.start; step *= 4) {
        const ls = this.lineStart(Math.max(this.start, hi - step));
        if (!this.test(ls, pred)) {
          lo = this.lineEnd(ls);
          break;
        }
        hi = ls;
        if (ls === this.start) break;
      }
    } else {
      lo = this.lineEnd(h);
      hi = this.end;
      for (let step = 512; lo < this.end; step *= 4) {
        const ls = this.lineStart(Math.min(this.end - 1, lo + step));
        if (this.test(ls, pred)) {
          hi = ls;
          break;
        }
        lo = this.lineEnd(ls);
      }
    }
    const at = this.bisect(lo, hi, pred);
    this.hint = at;
    return at;
  }

  /** The end of the run of lines from `from` whose paths are `key` or below it. */
  private runEnd(from: number, key: Buffer): number {
    let pos = from;
    while (pos < this.end) {
      const [ps, pe] = this.pathOf(pos);
      if (!atOrBelow(this.buf, ps, pe, key)) break;
      pos = pe + 1;
    }
    return pos;
  }

  /** [start, end) of the lines of `key` and everything below it (pre-order: it first; post-order: it last). */
  subtree(key: Buffer): [number, number] {
    const b = this.buf;
    const start =
      this.kind === 'timelist'
        ? this.search((s, e) => atOrBelow(b, s, e, key) || comparePaths(b, s, e, key, 0, key.length, true) > 0)
        : this.search((s, e) => comparePaths(b, s, e, key, 0, key.length, false) >= 0);
    return [start, this.runEnd(start, key)];
  }

  /** [start, end) of the line of `key` itself; start === end (where it would go) when it has none. */
  own(key: Buffer): [number, number] {
    const b = this.buf;
    const same = (ls: number) => {
      const [ps, pe] = this.pathOf(ls);
      return pe - ps === key.length && atOrBelow(b, ps, pe, key);
    };
    if (this.kind === 'fullfilelist') {
      const at = this.search((s, e) => comparePaths(b, s, e, key, 0, key.length, false) >= 0);
      return at < this.end && same(at) ? [at, this.lineEnd(at)] : [at, at];
    }
    // Post-order: its line is the last of its subtree, just before the first line after it.
    const after = this.search((s, e) => comparePaths(b, s, e, key, 0, key.length, true) > 0);
    if (after === this.start) return [after, after];
    const ls = this.lineStart(after - 1);
    return same(ls) ? [ls, after] : [after, after];
  }

  /** Whether `key`, whose own line own(key) found ending at `ownEnd`, had lines below it: a directory with contents. */
  hadContents(key: Buffer, ownEnd: number): boolean {
    if (ownEnd >= this.end) return false;
    const [ps, pe] = this.pathOf(ownEnd);
    return atOrBelow(this.buf, ps, pe, key);
  }

  /** The type field (e.g. `d`, `f-`, `l*`) of the timelist line at [s, e). */
  typeOf(s: number, e: number): string {
    const t1 = this.buf.indexOf(TAB, s);
    const t2 = this.buf.indexOf(TAB, t1 + 1);
    return t1 < 0 || t2 < 0 || t2 > e ? '' : this.buf.toString('latin1', t1 + 1, t2);
  }
}

function countLines(b: Uint8Array, s: number, e: number): number {
  let n = 0;
  for (let i = s; i < e; i++) if (b[i] === NL) n++;
  return n;
}

/** One replacement in a list: old bytes [start, end) become `piece` (computed on demand for deferred lines). */
interface Op {
  start: number;
  end: number;
  key: Buffer;
  piece: () => Buffer;
}

export interface OldRootLists {
  fullfilelist: Buffer;
  timelist: Buffer;
  entries: number;
  fullLines: number;
}

export interface UpdateInput {
  roots: readonly WalkRoot[];
  old: readonly OldRootLists[];
  /** The tree index of the last run. */
  index: TreeIndex;
  /** Absolute real paths that changed since the old lists (the journal). */
  changed: Iterable<string>;
  unlisted?: ReadonlySet<string>;
  staging: string;
  algs: readonly string[];
  timeField: 'max' | 'mtime';
  warn(msg: string): void;
  /** Digests of a file in algs order; null when it is not a regular file. */
  digests(abs: string): string[] | null;
}

export interface UpdatedRoot {
  entries: number;
  fullLines: number;
  checksummed: number;
  /** Links among the lines that changed (the link policy holds them; the others passed before). */
  links: { abs: string; target: string }[];
  /** The new content and whether it equals the old bytes. The timelist: only once nested roots published. */
  fullfilelist(): { content: ListContent; same: boolean };
  timelist(): { content: ListContent; same: boolean };
}

export interface UpdateResult {
  roots: UpdatedRoot[];
  /** The tree index for the next run; undefined when it is the old one. */
  index?: TreeIndex;
  /** Paths looked at again (after adding parents and other names of shared inodes). */
  examined: number;
}

function parseChecksums(text: string, algs: readonly string[], where: string): Map<string, string[]> {
  const lines = text.split('\n');
  const out = new Map<string, string[]>();
  let i = 0;
  for (const [k, alg] of algs.entries()) {
    if (lines[i] !== '' || lines[i + 1] !== `[Checksums ${alg.toUpperCase()}]`) throw new FullWalkNeeded(`${where}: its checksum sections are not the configured ones`);
    for (i += 2; i < lines.length && lines[i] !== ''; i++) {
      const line = lines[i] as string;
      const tab = line.indexOf('\t');
      const rel = line.slice(tab + 1);
      const d = out.get(rel) ?? [];
      d[k] = line.slice(0, tab);
      out.set(rel, d);
    }
  }
  if (lines[i] !== '' || lines[i + 1] !== '[End]' || lines[i + 2] !== '' || lines.length !== i + 3) throw new FullWalkNeeded(`${where}: it does not end with [End]`);
  return out;
}

/** A timelist's checksum sections (create-filelist -c: files by code point of their path) and its [End]. */
export function checksumText(map: ReadonlyMap<string, readonly string[]>, algs: readonly string[]): string {
  const files = [...map].sort((x, y) => compareNames(x[0], y[0]));
  return `${algs.map((alg, k) => `\n[Checksums ${alg.toUpperCase()}]\n${files.map(([rel, d]) => `${d[k]}\t${rel}\n`).join('')}`).join('')}\n[End]\n`;
}

/** Per root: its old lines and the replacements found so far. */
class RootWork {
  readonly fl: OldLines;
  readonly tl: OldLines;
  readonly flOps: Op[] = [];
  readonly tlOps: Op[] = [];
  readonly checksums: Map<string, string[]>;
  readonly links: { abs: string; target: string }[] = [];
  /** Relative paths whose subtree was listed anew: the old checksums below them go. */
  readonly replaced = new Set<string>();
  /** Checksums of files listed anew. */
  readonly fresh = new Map<string, string[]>();
  readonly tailStart: number;

  constructor(
    readonly root: WalkRoot,
    readonly old: OldRootLists,
    algs: readonly string[],
  ) {
    const where = `${root.dir}`;
    if (old.fullfilelist.length < 2 || old.fullfilelist[0] !== 0x2e || old.fullfilelist[1] !== NL) throw new FullWalkNeeded(`${where}: the published fullfilelist does not start with '.'`);
    if (!old.timelist.subarray(0, TIMELIST_HEADER.length).equals(TIMELIST_HEADER)) throw new FullWalkNeeded(`${where}: the published timelist has no [Files] header`);
    const h = TIMELIST_HEADER.length;
    // The [Files] lines end where an empty line starts the checksum sections or [End] (no file line is empty).
    const blank = old.timelist.indexOf('\n\n[', h - 1);
    if (blank < 0) throw new FullWalkNeeded(`${where}: the published timelist has no end`);
    this.tailStart = blank + 1;
    this.fl = new OldLines(old.fullfilelist, 2, old.fullfilelist.length, 'fullfilelist');
    this.tl = new OldLines(old.timelist, h, this.tailStart, 'timelist');
    this.checksums = parseChecksums(old.timelist.toString('utf8', this.tailStart), algs, `${where}: the published timelist`);
  }
}

/** Sorts a list's ops into list order; throws (before anything is published) if two of them overlap. */
function ordered(ops: Op[], post: boolean): Op[] {
  ops.sort((x, y) => x.start - y.start || comparePaths(x.key, 0, x.key.length, y.key, 0, y.key.length, post));
  for (let k = 1; k < ops.length; k++) {
    if ((ops[k] as Op).start < (ops[k - 1] as Op).end) throw new FullWalkNeeded(`internal: overlapping changes at byte ${(ops[k] as Op).start} of a list`);
  }
  return ops;
}

/** Replaces the old bytes by the ops (ordered()); `same`: every op gave back its old bytes. */
function splice(old: Buffer, from: number, to: number, ops: readonly Op[]): { pieces: ListPiece[]; same: boolean; added: number; removed: number } {
  const pieces: ListPiece[] = [];
  let pos = from;
  let same = true;
  let added = 0;
  let removed = 0;
  for (const op of ops) {
    if (op.start > pos) pieces.push({ bytes: old.subarray(pos, op.start) });
    const bytes = op.piece();
    if (same && !bytes.equals(old.subarray(op.start, op.end))) same = false;
    pieces.push({ bytes });
    added += countLines(bytes, 0, bytes.length);
    removed += countLines(old, op.start, op.end);
    pos = op.end;
  }
  if (pos < to) pieces.push({ bytes: old.subarray(pos, to) });
  return { pieces, same, added, removed };
}

/** Whether `p` or a directory above it is in `set`. */
function atOrBelowOne(p: string, set: ReadonlySet<string>): boolean {
  for (let q = p; q.length > 1; q = path.dirname(q)) if (set.has(q)) return true;
  return false;
}

/** String pairs sorted by their first: at(p) finds the pairs whose first is p or below p. */
class SortedPairs {
  readonly firsts: string[] = [];
  readonly seconds: string[] = [];

  constructor(flat: readonly string[]) {
    for (let i = 0; i + 1 < flat.length; i += 2) {
      this.firsts.push(flat[i] as string);
      this.seconds.push(flat[i + 1] as string);
    }
  }

  private lower(x: string): number {
    let lo = 0;
    let hi = this.firsts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.firsts[mid] as string) < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Flat pairs: these without the dropped ones (drop[k] === 1), with `added` merged in, still sorted. */
  merged(drop: ArrayLike<number>, added: Array<[string, string]>): string[] {
    const extra = sortedFlat(added);
    const out: string[] = [];
    let j = 0;
    for (let k = 0; k < this.firsts.length; k++) {
      if (drop[k] === 1) continue;
      const f = this.firsts[k] as string;
      while (j < extra.length && pairLess(extra[j] as string, extra[j + 1] as string, f, this.seconds[k] as string)) {
        out.push(extra[j] as string, extra[j + 1] as string);
        j += 2;
      }
      out.push(f, this.seconds[k] as string);
    }
    for (; j < extra.length; j += 2) out.push(extra[j] as string, extra[j + 1] as string);
    return out;
  }

  /** Indexes of the pairs whose first is `p` or below it. */
  at(p: string): number[] {
    const out: number[] = [];
    for (let k = this.lower(p); k < this.firsts.length && this.firsts[k] === p; k++) out.push(k);
    // 'p-x' may sort between p and 'p/...': what is below p starts at 'p/'.
    for (let k = this.lower(`${p}/`); k < this.firsts.length && (this.firsts[k] as string).startsWith(`${p}/`); k++) out.push(k);
    return out;
  }
}

function pairLess(a0: string, a1: string, b0: string, b1: string): boolean {
  return a0 < b0 || (a0 === b0 && a1 < b1);
}

/** Flat pairs sorted by their first string (code-unit order, which keeps every path's subtree together). */
export function sortedFlat(pairs: Array<[string, string]>): string[] {
  // Joined by NUL (no path holds one, and it sorts first) and sorted natively: a comparator was 3x slower.
  const joined = pairs.map(([a, b]) => `${a}\u0000${b}`).sort();
  const out: string[] = new Array(joined.length * 2);
  joined.forEach((j, k) => {
    const z = j.indexOf('\u0000');
    out[2 * k] = j.slice(0, z);
    out[2 * k + 1] = j.slice(z + 1);
  });
  return out;
}

/**
 * What the listing of an entry depends on besides the entry itself, kept from run to run:
 *  - inodes: [path, 'dev:ino'] of every hard-linked regular file, sorted by path (a link or unlink of one name
 *    moves the ctime, hence the listed time, of every other name);
 *  - links: [target, link] of every symlink, sorted by target, the target both as written (resolved against
 *    the link's directory) and as its real path when it resolves (a link whose target goes or comes, or
 *    changes mode, is listed differently: create-filelist follows links to decide).
 */
export interface TreeIndex {
  inodes: string[];
  links: string[];
}

/** The links index pairs of some symlinks: [target as written, link] and [real target, link] when it resolves. */
export function linkTargets(links: Iterable<{ abs: string; target: string }>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const l of links) {
    if (seen.has(l.abs)) continue; // nested roots list the same link
    seen.add(l.abs);
    const written = path.resolve(path.dirname(l.abs), l.target);
    out.push([written, l.abs]);
    let real: string | undefined;
    try {
      real = fs.realpathSync.native(l.abs);
    } catch {
      real = undefined; // dangling or looping: only the written target can bring it back
    }
    if (real !== undefined && real !== written) out.push([real, l.abs]);
  }
  return out;
}

/**
 * Computes the new lists of every root from the old ones and the changed paths. Throws FullWalkNeeded when it
 * cannot promise the full walk's bytes.
 */
export function updateLists(inp: UpdateInput): UpdateResult {
  const works = inp.roots.map((r, i) => new RootWork(r, inp.old[i] as OldRootLists, inp.algs));
  const rootDirs = inp.roots.map((r) => r.dir);
  const walker = new FragmentWalker(inp.roots, { staging: inp.staging, warn: inp.warn, timeField: inp.timeField, unlisted: inp.unlisted });
  const inodes = new SortedPairs(inp.index.inodes);
  let byInode: Map<string, string[]> | undefined;
  /** Every name the last run saw for an inode (built on first use: most runs touch no hard-linked file). */
  const namesOf = (key: string): readonly string[] => {
    if (byInode === undefined) {
      byInode = new Map();
      for (let k = 0; k < inodes.seconds.length; k++) {
        const names = byInode.get(inodes.seconds[k] as string);
        if (names) names.push(inodes.firsts[k] as string);
        else byInode.set(inodes.seconds[k] as string, [inodes.firsts[k] as string]);
      }
    }
    return byInode.get(key) ?? [];
  };
  const links = new SortedPairs(inp.index.links);
  const inodesGone: number[] = [];
  const inodesNew: Array<[string, string]> = [];
  const linksNew: { abs: string; target: string }[] = [];
  const fragments: Array<{ fl: Buffer; tl: Buffer } | undefined> = [];
  const fragment = (i: number, kind: 'fl' | 'tl', r: [number, number]) => () => {
    const f = fragments[i] as { fl: Buffer; tl: Buffer };
    return f[kind].subarray(r[0], r[1]);
  };
  const subtreeDone = new Set<string>();
  const covered = (p: string) => atOrBelowOne(p, subtreeDone);

  const dirty = new Set<string>();
  for (const p of inp.changed) {
    dirty.add(p);
    dirty.add(path.dirname(p));
  }
  for (const p of inp.unlisted ?? []) dirty.add(p);

  const unlisted = (p: string) => inp.unlisted !== undefined && inp.unlisted.size > 0 && atOrBelowOne(p, inp.unlisted);
  const aboveRoot = (p: string) => rootDirs.some((d) => d.startsWith(`${p}/`));
  const ownName = (dir: string, name: string) => inp.roots.some((r) => r.dir === dir && (r.ownNames.has(name) || r.isTempName(name)));

  /** Replaces the timelist line of an existing directory if its flags did not change; false if they did. */
  const ownLineOnly = (e: EntryLines, name: string, frames: Frame[]): boolean => {
    const ops: Array<[RootWork, Op]> = [];
    for (const f of frames) {
      const w = works[f.sink.root.index] as RootWork;
      const key = Buffer.from(f.prefix + name);
      const lines = e.byRoot.get(f.sink.root.index);
      const [ofs, ofe] = w.fl.own(key);
      if (ofs === ofe) return false; // new here
      const [ts, te] = w.tl.own(key);
      const tlRange = lines?.tl ?? [0, 0];
      const newLine = tlRange[1] > tlRange[0];
      if (!f.timelist || (ts === te && !newLine)) {
        // No timelist line before or after: nothing to replace, as long as it was a directory before too.
        if (!w.fl.hadContents(key, ofe)) return false;
        continue;
      }
      if (ts === te || !newLine) return false;
      const newType = walker.timelistType(f.sink.root.index, tlRange);
      if (w.tl.typeOf(ts, te) !== newType || !newType.startsWith('d')) return false;
      ops.push([w, { start: ts, end: te, key, piece: fragment(f.sink.root.index, 'tl', tlRange) }]);
    }
    for (const [w, op] of ops) w.tlOps.push(op);
    return true;
  };

  const examine = (p: string, next: Set<string>) => {
    if (covered(p) || rootDirs.includes(p)) return; // a root's own line: ownEntries below
    const dir = path.dirname(p);
    const name = p.slice(dir.length + 1);
    if (ownName(dir, name)) return;
    const frames = walker.framesFor(dir);
    if (frames === null) throw new FullWalkNeeded(`${dir} is no longer a directory, but no journal named it`);
    if (frames.length === 0) return;
    // Its own lines first; a directory whose flags did not change keeps what is below it.
    let e = walker.entry(dir, name, frames, false);
    if (e.isDir && ownLineOnly(e, name, frames)) return;
    if (aboveRoot(p)) throw new FullWalkNeeded(`${p} holds a file-list root and changed more than its time`);
    if (e.isDir) e = walker.entry(dir, name, frames, true);
    subtreeDone.add(p);
    for (const f of frames) {
      const i = f.sink.root.index;
      const w = works[i] as RootWork;
      const key = Buffer.from(f.prefix + name);
      const lines = e.byRoot.get(i) ?? { fl: [0, 0] as [number, number], tl: [0, 0] as [number, number], checksums: [], links: [] };
      const [fs0, fe0] = w.fl.subtree(key);
      w.flOps.push({ start: fs0, end: fe0, key, piece: fragment(i, 'fl', lines.fl) });
      const [ts0, te0] = w.tl.subtree(key);
      w.tlOps.push({ start: ts0, end: te0, key, piece: fragment(i, 'tl', lines.tl) });
      w.replaced.add(f.prefix + name);
      for (const c of lines.checksums) {
        const d = inp.digests(c.abs);
        if (d === null) inp.warn(`not checksumming ${c.abs}: not a regular file`);
        else w.fresh.set(c.rel, d);
      }
      w.links.push(...lines.links);
    }
    // Every other name of an inode this subtree had, or a file in it has now: their ctime moved. What is only
    // unlisted is still on disk, linked as before: its index entries stay for the run that deletes it.
    const stillThere = unlisted(p);
    for (const k of inodes.at(p)) {
      if (!stillThere) inodesGone.push(k);
      for (const q of namesOf(inodes.seconds[k] as string)) next.add(q);
    }
    for (let k = 0; k + 1 < e.linked.length; k += 2) {
      inodesNew.push([e.linked[k] as string, e.linked[k + 1] as string]);
      for (const q of namesOf(e.linked[k + 1] as string)) next.add(q);
    }
    // Every symlink into this subtree: whether it is listed, and how, depends on its target.
    for (const k of links.at(p)) next.add(links.seconds[k] as string);
    for (const f of e.byRoot.values()) linksNew.push(...f.links);
  };

  let queue = [...dirty];
  const seen = new Set<string>();
  try {
    while (queue.length > 0) {
      // Pre-order: a directory before what is below it, so a replaced subtree covers its dirty descendants.
      // ('/' as the smallest character: a directory before its contents, whatever its siblings are called)
      queue = queue
        .map((p) => [p.replaceAll('/', '\u0000'), p] as const)
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
        .map(([, p]) => p);
      const next = new Set<string>();
      for (const p of queue) {
        if (seen.has(p)) continue;
        seen.add(p);
        examine(p, next);
      }
      queue = [...next].filter((q) => !seen.has(q));
    }
    // Nested roots: their directory and published names, in every enclosing root, after they publish.
    for (const inner of inp.roots) {
      for (const abs of [inner.dir, ...[...inner.ownNames].map((n) => `${inner.dir}/${n}`)]) {
        const dir = path.dirname(abs);
        const name = abs.slice(dir.length + 1);
        const frames = walker.framesFor(dir);
        if (frames === null) throw new FullWalkNeeded(`${dir} is no longer a directory`);
        for (const f of frames) {
          if (f.sink.root.index === inp.roots.indexOf(inner) || !f.timelist) continue;
          const w = works[f.sink.root.index] as RootWork;
          const rel = f.prefix + name;
          const key = Buffer.from(rel);
          const [ts, te] = w.tl.own(key);
          if (abs === inner.dir) {
            // Its mode decides how the enclosing lists show what is below it: unchanged, or walk.
            const now = ownEntryLine(rel, abs, f.restricted, inp.timeField).split('\t')[1] ?? '';
            if ((ts === te ? '' : w.tl.typeOf(ts, te)) !== now) throw new FullWalkNeeded(`file-list root ${abs} changed its mode`);
          }
          w.tlOps.push({ start: ts, end: te, key, piece: () => Buffer.from(ownEntryLine(rel, abs, f.restricted, inp.timeField)) });
        }
      }
    }
    walker.close();
  } catch (err) {
    walker.close(true);
    throw err;
  }
  inp.roots.forEach((_, i) => {
    const f = walker.files(i);
    fragments[i] = { fl: fs.readFileSync(f.fullfilelist), tl: fs.readFileSync(f.timelist) };
  });

  for (const w of works) {
    for (const rel of [...w.checksums.keys()]) {
      for (let q = rel; q !== ''; q = q.slice(0, Math.max(0, q.lastIndexOf('/')))) {
        if (w.replaced.has(q)) {
          w.checksums.delete(rel);
          break;
        }
      }
    }
    for (const [rel, d] of w.fresh) w.checksums.set(rel, d);
  }
  const roots = works.map((w): UpdatedRoot => {
    const fl = splice(w.old.fullfilelist, 0, w.old.fullfilelist.length, ordered(w.flOps, false));
    // The timelist's deferred lines are read once nested roots published: its order is checked now.
    const tlOps = ordered(w.tlOps, true);
    const tail = Buffer.from(checksumText(w.checksums, inp.algs));
    const result: UpdatedRoot = {
      entries: w.old.entries,
      fullLines: w.old.fullLines + fl.added - fl.removed,
      checksummed: inp.algs.length > 0 ? w.checksums.size : 0,
      links: w.links,
      fullfilelist: () => ({ content: listContent(fl.pieces), same: fl.same }),
      timelist: () => {
        const tl = splice(w.old.timelist, 0, w.tailStart, tlOps);
        result.entries = w.old.entries + tl.added - tl.removed;
        const oldTail = w.old.timelist.subarray(w.tailStart);
        return { content: listContent([...tl.pieces, { bytes: tail }]), same: tl.same && tail.equals(oldTail) };
      },
    };
    return result;
  });

  // The index for the next run: the old one without the replaced subtrees, plus what they hold now.
  const drop = new Uint8Array(inodes.firsts.length);
  for (const k of inodesGone) drop[k] = 1;
  const linkDrop = links.firsts.map((_, k) => (covered(links.seconds[k] as string) ? 1 : 0));
  const linksAdded = linkTargets(linksNew);
  const same = inodesGone.length === 0 && inodesNew.length === 0 && !linkDrop.includes(1) && linksAdded.length === 0;
  return {
    roots,
    index: same ? undefined : { inodes: inodes.merged(drop, inodesNew), links: links.merged(linkDrop, linksAdded) },
    examined: seen.size,
  };
}

export const _test = { comparePaths, OldLines, SortedPairs };
