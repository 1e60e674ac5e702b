// Types of filelist-walk.js (plain JavaScript so that worker threads load it without the TypeScript loader).

/** A failure to report as is. */
export class WalkError extends Error {}

export function compareNames(a: string, b: string): number;
export function sortNames(names: string[]): string[];
export function pyTime(totalNs: bigint): number;

export interface WalkRoot {
  /** Real path, no trailing slash. */
  dir: string;
  /** How many other roots contain this one (roots are walked outermost first). */
  depth: number;
  /** Names this root publishes at its top (lists and copies): never listed by this root. */
  ownNames: ReadonlySet<string>;
  /** Further top-level names left out of this root's lists (create-filelist -S). */
  skip: ReadonlySet<string>;
  /** Basenames whose content is checksummed (create-filelist -c). */
  checksumNames: ReadonlySet<string>;
  /** Whether a top-level name is one of our publication temp files. */
  isTempName(name: string): boolean;
}

export interface WalkOptions {
  /** Directory for the staged files. */
  staging: string;
  /** lstat by name after chdir() into each directory (main thread only; the cwd is restored). */
  chdir: boolean;
  warn(msg: string): void;
  /** Test seam: 'mtime' ignores ctime, which tests cannot set. */
  timeField: 'max' | 'mtime';
  /** Worker threads besides the main thread; 0: no split, one thread. */
  workers: number;
  /** Directories this many levels below the innermost root are walked as separate tasks. */
  splitLevel: number;
  /** false (tests only): leave every task to the workers. */
  mainTakesTasks: boolean;
  /** Absolute paths (under the roots' real paths) left out of every list, with their subtrees. */
  unlisted?: ReadonlySet<string>;
}

export interface StagedLists {
  /** Lines in the timelist's [Files] section (deferred lines are counted when assembled). */
  entries: number;
  /** Lines in fullfilelist, including the leading '.'. */
  fullLines: number;
  /** The listed files whose content is checksummed, in walk order. */
  readonly checksums: { rel: string; abs: string }[];
  /** Every symlink the lists name (absolute path) and its target, in walk order. */
  readonly links: { abs: string; target: string }[];
  /** The staged timelist up to its [Files] section: the checksum sections and [End] are appended to it. */
  readonly timelist: string;
  /**
   * The final content of a list (task output and deferred lines spliced in). Deferred lines take a fresh
   * lstat: ask for an enclosing root's timelist after the inner roots have published.
   */
  content(kind: 'timelist' | 'fullfilelist'): ListContent;
}

export interface ListContent {
  readonly size: number;
  /** Calls each(bytes) on consecutive blocks until it returns false; the buffer is reused after each call. */
  forEach(each: (bytes: Buffer) => boolean | void): void;
}

/**
 * The lists of every root, and the staged files listing every listed regular file with more than one link
 * (`dev:ino<TAB>absPath` lines).
 */
export function walkRoots(roots: readonly WalkRoot[], opts: WalkOptions): Promise<{ lists: StagedLists[]; linkedFiles: string[] }>;

/** One root's frame for the entries of a directory, as the full walk passes it. */
export interface Frame {
  readonly prefix: string;
  readonly timelist: boolean;
  readonly restricted: boolean;
  readonly sink: { readonly root: { readonly index: number } };
}

export interface EntryLines {
  /** Per root index listing the entry: [start, end) of its lines in that root's fragment files. */
  byRoot: Map<number, { fl: [number, number]; tl: [number, number]; checksums: { rel: string; abs: string }[]; links: { abs: string; target: string }[] }>;
  /** Hard-linked regular files met: flat [absPath, 'dev:ino', ...]. */
  linked: string[];
  /** The entry is a directory (not a link to one). */
  isDir: boolean;
}

/** Lines of single entries (and subtrees), as the full walk writes them: filelist-update.ts. */
export class FragmentWalker {
  constructor(roots: readonly WalkRoot[], opts: { staging: string; warn(msg: string): void; timeField: 'max' | 'mtime'; unlisted?: ReadonlySet<string> });
  /** [] when no root lists the directory's entries; null when it is not a directory the walk enters now. */
  framesFor(dir: string): Frame[] | null;
  entry(dir: string, name: string, frames: Frame[], descend: boolean): EntryLines;
  /** The type field (e.g. `d`, `d-`) of the last timelist line written for a root ('' if `range` is empty). */
  timelistType(index: number, range: [number, number]): string;
  files(index: number): { fullfilelist: string; timelist: string };
  close(abandon?: boolean): void;
}

/** The timelist line of a nested root's directory or published name from a fresh lstat; '' when not listed. */
export function ownEntryLine(rel: string, abs: string, restricted: boolean, timeField: 'max' | 'mtime'): string;

export type ListPiece = { bytes: Buffer } | { path: string; start: number; end: number };
export function listContent(pieces: ListPiece[]): ListContent;
