/**
 * What the last file lists were made from, kept so that the next run can update them (filelist-update.ts) instead
 * of walking the tree: per root the identity of every list it published (a list changed by anyone else means the
 * state no longer describes it), the counts, the tree index (hard-linked files and symlinks, filelist-update.ts),
 * and when the last full walk ran. In the state dir, each file is written before the next one names it: the inode
 * parts of the index `inodes-<token>-<k>.txt`, `index.json` (its first line the token), then `state.json` (the
 * token and the parts' sizes), which replaces the old one by rename; the old token's parts go last. Anything
 * missing, unreadable, malformed or not matching gives a full walk with the reason, never an error; a state that
 * cannot be saved fails the run (saveFileListState).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { RelengError } from '../../errors';
import { sortedFlat, type TreeIndex } from './filelist-update';

export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface RootState {
  dir: string;
  entries: number;
  fullLines: number;
  /** Files in each checksum section of the timelist. */
  checksummed: number;
  /** Published name -> identity, for the fullfilelist, the timelist and its copies. */
  files: Record<string, FileIdentity>;
}

export interface FileListState {
  version: 1;
  /** The configuration the lists were made with (roots, names, checksums): another one walks. */
  key: string;
  roots: RootState[];
  lastFullWalk: { at: string; why: string };
  updatedAt: string;
  /** Names the index.json and inode parts written with this state. */
  token: string;
  /**
   * The size in bytes of each inode part (`inodes-<token>-<k>.txt`, k from 0): a part of another size (cut short
   * by a crash: nothing here is fsync'ed) makes the next run walk.
   */
  inodeParts: number[];
}

const STATE = 'state.json';
const INDEX = 'index.json';
/** The inode part(s) of the tree index: `dev:ino<TAB>path` lines (a full walk's threads each stage one, unsorted). */
const inodePart = (token: string, k: number) => `inodes-${token}-${k}.txt`;
const INODE_PART = /^inodes-([0-9a-f]+)-\d+\.txt$/;

/**
 * A tree index as a full walk saves it: the files its threads staged the inode lines in, moved into the state dir
 * as they are (at 300,000 hard-linked files they are ~50 MB: reading and writing them again cost ~0.1 s).
 */
export interface WalkedTreeIndex {
  inodeFiles: string[];
  links: string[];
}

export function identityOf(file: string): FileIdentity | undefined {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } : undefined;
}

function sameIdentity(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** What is wrong with the shape of a parsed state.json, if anything (it is read by this tool only, but may be damaged). */
function stateProblem(s: Partial<FileListState>): string | undefined {
  if (typeof s.key !== 'string') return 'key is not a string';
  if (typeof s.token !== 'string' || !/^[0-9a-f]+$/.test(s.token)) return 'token is not a hex string';
  if (!Array.isArray(s.inodeParts) || !s.inodeParts.every((n) => Number.isInteger(n) && n >= 0)) return 'inodeParts is not a list of sizes';
  if (typeof s.updatedAt !== 'string') return 'updatedAt is not a string';
  if (typeof s.lastFullWalk?.at !== 'string' || typeof s.lastFullWalk.why !== 'string') return 'lastFullWalk is not {at, why}';
  if (!Array.isArray(s.roots)) return 'roots is not a list';
  for (const [i, r] of (s.roots as Partial<RootState>[]).entries()) {
    if (typeof r?.dir !== 'string' || !isNumber(r.entries) || !isNumber(r.fullLines) || !isNumber(r.checksummed) || typeof r.files !== 'object' || r.files === null) {
      return `roots[${i}] is not {dir, entries, fullLines, checksummed, files}`;
    }
    for (const [name, id] of Object.entries(r.files)) {
      if (!isNumber(id?.size) || !isNumber(id.mtimeMs) || !isNumber(id.ino)) return `roots[${i}].files[${JSON.stringify(name)}] is not {size, mtimeMs, ino}`;
    }
  }
  return undefined;
}

/** state.json as found: the state, or why it cannot be used (never an exception). */
function readState(stateDir: string): FileListState | { why: string } {
  const file = path.join(stateDir, STATE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { why: `no file-list state in ${stateDir} (first run, or it was removed)` };
    return { why: `cannot read the file-list state ${file}: ${(err as Error).message}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { why: `the file-list state ${file} is not JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { why: `the file-list state ${file} is not an object` };
  const s = value as Partial<FileListState>;
  if (s.version !== 1) return { why: `the file-list state ${file} is version ${JSON.stringify(s.version) ?? '(none)'}, not 1` };
  const problem = stateProblem(s);
  return problem === undefined ? (s as FileListState) : { why: `the file-list state ${file} is malformed: ${problem}` };
}

/** Just the state (no index): for the status page. */
export function readFileListStateSummary(stateDir: string): FileListState | undefined {
  const state = readState(stateDir);
  return 'why' in state ? undefined : state;
}

/**
 * The last state if it still describes the published lists of these roots: `{ why }` (the reason to walk)
 * otherwise. `rootDirs`: the roots' real paths in order.
 */
export function loadFileListState(stateDir: string, key: string, rootDirs: readonly string[]): { state: FileListState } | { why: string } {
  const state = readState(stateDir);
  if ('why' in state) return state;
  if (state.key !== key) return { why: 'the file-list configuration changed since the last lists' };
  if (state.roots.length !== rootDirs.length || state.roots.some((r, i) => r.dir !== rootDirs[i])) return { why: 'the file-list roots changed' };
  for (const r of state.roots) {
    for (const [name, id] of Object.entries(r.files)) {
      if (!sameIdentity(identityOf(path.join(r.dir, name)), id)) return { why: `${path.join(r.dir, name)} changed since the last run wrote it` };
    }
  }
  return { state };
}

/** The tree index saved with `state` (read only when an update runs: it is the big part of the state). */
export function loadTreeIndex(stateDir: string, state: FileListState): TreeIndex | { why: string } {
  const read = (name: string): string | { why: string } => {
    const file = path.join(stateDir, name);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      return { why: `cannot read the tree index ${file}: ${(err as Error).message}` };
    }
    const nl = text.indexOf('\n');
    if (nl < 0 || text.slice(0, nl) !== state.token) return { why: `the tree index ${file} belongs to another file-list state` };
    return text.slice(nl + 1);
  };
  const json = read(INDEX);
  if (typeof json !== 'string') return json;
  let index: Partial<TreeIndex> | null;
  try {
    index = JSON.parse(json) as Partial<TreeIndex> | null;
  } catch (err) {
    return { why: `the tree index ${path.join(stateDir, INDEX)} is not JSON (${(err as Error).message})` };
  }
  const pairs = (x: unknown): x is string[] => Array.isArray(x) && x.length % 2 === 0 && x.every((y) => typeof y === 'string');
  if (!pairs(index?.links)) return { why: `the tree index ${path.join(stateDir, INDEX)} is malformed` };
  const inodes: Array<[string, string]> = [];
  for (const [k, size] of state.inodeParts.entries()) {
    const file = path.join(stateDir, inodePart(state.token, k));
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(file);
    } catch (err) {
      return { why: `cannot read the tree index ${file}: ${(err as Error).message}` };
    }
    if (bytes.length !== size) return { why: `the tree index ${file} is ${bytes.length} bytes, not the ${size} its state recorded` };
    for (const line of bytes.toString('utf8').split('\n')) {
      if (line === '') continue;
      const tab = line.indexOf('\t');
      if (tab <= 0 || !line.startsWith('/', tab + 1)) return { why: `the tree index ${file} is malformed (${JSON.stringify(line.slice(0, 80))})` };
      inodes.push([line.slice(tab + 1), line.slice(0, tab)]);
    }
  }
  return { inodes: sortedFlat(inodes), links: index.links };
}

/** Moves a staged file to `dest` (copies it when they are on different file systems). */
function moveFile(from: string, dest: string): void {
  try {
    fs.renameSync(from, dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    fs.copyFileSync(from, dest);
  }
}

/** Removes the inode parts of every other token (older states), once state.json no longer names them. */
function removeOtherParts(stateDir: string, token: string): void {
  for (const name of fs.readdirSync(stateDir)) {
    const m = INODE_PART.exec(name);
    if ((m !== null && m[1] !== token) || name === 'inodes.txt') fs.rmSync(path.join(stateDir, name), { force: true });
  }
}

function replaceFile(file: string, text: string | Buffer): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Records the published lists (their identities read now) and the tree index. Called once the lists are published:
 * if the state cannot be saved, the old one is removed (it no longer describes the lists) and the run fails saying
 * so; the lists themselves are correct, and the next run walks the tree.
 */
export function saveFileListState(
  stateDir: string,
  state: Omit<FileListState, 'token' | 'version' | 'updatedAt' | 'inodeParts'>,
  index: TreeIndex | WalkedTreeIndex | { unchanged: { token: string; inodeParts: number[] } },
): void {
  try {
    fs.mkdirSync(stateDir, { recursive: true });
    // An index nothing changed keeps its files (and token): at 300,000 entries it is megabytes to write.
    let kept: { token: string; inodeParts: number[] };
    if ('unchanged' in index) kept = index.unchanged;
    else {
      const token = randomBytes(8).toString('hex');
      if ('inodeFiles' in index) {
        const parts = index.inodeFiles.map((f, k) => {
          const dest = path.join(stateDir, inodePart(token, k));
          moveFile(f, dest);
          return fs.statSync(dest).size;
        });
        kept = { token, inodeParts: parts };
      } else {
        const text: string[] = [];
        for (let k = 0; k + 1 < index.inodes.length; k += 2) text.push(`${index.inodes[k + 1]}\t${index.inodes[k]}\n`);
        const part = Buffer.from(text.join(''));
        fs.writeFileSync(path.join(stateDir, inodePart(token, 0)), part);
        kept = { token, inodeParts: [part.length] };
      }
      replaceFile(path.join(stateDir, INDEX), `${token}\n${JSON.stringify({ links: index.links })}`);
    }
    replaceFile(path.join(stateDir, STATE), `${JSON.stringify({ version: 1, ...state, updatedAt: new Date().toISOString(), ...kept } satisfies FileListState, null, 1)}\n`);
    removeOtherParts(stateDir, kept.token);
  } catch (err) {
    const left = dropFileListState(stateDir);
    throw new RelengError(
      `the file lists were published, but their state cannot be saved in ${stateDir}: ${(err as Error).message}; ` +
        (left === undefined
          ? 'the next mirror:filelist walks the whole tree'
          : `nor can the state there be removed (${left}): the next mirror:filelist uses it only if it still describes the published lists, and walks the whole tree otherwise`),
    );
  }
}

/**
 * Forgets the state: the next lists come from a full walk (used when a run fails after publishing some lists).
 * Never throws: returns why a state that may be there could not be removed.
 */
export function dropFileListState(stateDir: string): string | undefined {
  try {
    // unlink, not rmSync: Node 20's rmSync reports an immutable dir's EPERM as ENOTDIR.
    fs.unlinkSync(path.join(stateDir, STATE));
    return undefined;
  } catch (err) {
    // ENOTDIR: something other than a dir where the state dir should be, from which no state is read either.
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? undefined : (err as Error).message;
  }
}
