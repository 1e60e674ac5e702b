/**
 * What the last file lists were made from, kept so that the next run can update them (filelist-update.ts) instead
 * of walking the tree: per root the identity of every list it published (a list changed by anyone else means the
 * state no longer describes it), the counts, the tree index (hard-linked files and symlinks, filelist-update.ts),
 * and when the last full walk ran. Two files in the state dir, each replaced by rename: `index.json` first, then
 * `state.json`, which names the token of its `index.json`. Anything missing, unreadable or not matching gives a full walk, never an error.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { TreeIndex } from './filelist-update';

export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

export interface RootState {
  dir: string;
  entries: number;
  fullLines: number;
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
  /** Names the linked.json written with this state. */
  token: string;
}

export interface LoadedState {
  state: FileListState;
  index: TreeIndex;
}

const STATE = 'state.json';
const INDEX = 'index.json';

export function identityOf(file: string): FileIdentity | undefined {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  return st?.isFile() ? { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } : undefined;
}

function sameIdentity(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

/** Just the state (no index): for the status page. */
export function readFileListStateSummary(stateDir: string): FileListState | undefined {
  try {
    const state = JSON.parse(fs.readFileSync(path.join(stateDir, STATE), 'utf8')) as FileListState;
    return state?.version === 1 && typeof state.lastFullWalk?.at === 'string' ? state : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The last state if it still describes the published lists of these roots: `{ why }` (the reason to walk)
 * otherwise. `rootDirs`: the roots' real paths in order.
 */
export function loadFileListState(stateDir: string, key: string, rootDirs: readonly string[]): LoadedState | { why: string } {
  const state = readFileListStateSummary(stateDir);
  if (state === undefined) return { why: `no file-list state in ${stateDir} (first run, or it was removed)` };
  if (state.key !== key) return { why: 'the file-list configuration changed since the last lists' };
  if (state.roots.length !== rootDirs.length || state.roots.some((r, i) => r.dir !== rootDirs[i])) return { why: 'the file-list roots changed' };
  for (const r of state.roots) {
    for (const [name, id] of Object.entries(r.files)) {
      if (!sameIdentity(identityOf(path.join(r.dir, name)), id)) return { why: `${path.join(r.dir, name)} changed since the last run wrote it` };
    }
  }
  let index: Partial<TreeIndex>;
  try {
    const text = fs.readFileSync(path.join(stateDir, INDEX), 'utf8');
    const nl = text.indexOf('\n');
    if (text.slice(0, nl) !== state.token) return { why: 'the tree index does not belong to the file-list state' };
    index = JSON.parse(text.slice(nl + 1)) as Partial<TreeIndex>;
  } catch (err) {
    return { why: `cannot read the tree index: ${(err as Error).message}` };
  }
  const pairs = (x: unknown): x is string[] => Array.isArray(x) && x.length % 2 === 0 && x.every((y) => typeof y === 'string');
  if (!pairs(index.inodes) || !pairs(index.links)) return { why: 'the tree index is malformed' };
  return { state, index: { inodes: index.inodes, links: index.links } };
}

function replaceFile(file: string, text: string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Records the published lists (their identities read now) and the tree index. */
export function saveFileListState(stateDir: string, state: Omit<FileListState, 'token' | 'version' | 'updatedAt'>, index: TreeIndex): void {
  fs.mkdirSync(stateDir, { recursive: true });
  const token = randomBytes(8).toString('hex');
  replaceFile(path.join(stateDir, INDEX), `${token}\n${JSON.stringify(index)}`);
  replaceFile(path.join(stateDir, STATE), `${JSON.stringify({ version: 1, ...state, updatedAt: new Date().toISOString(), token } satisfies FileListState, null, 1)}\n`);
}

/** Forgets the state: the next lists come from a full walk (used when a run fails after publishing some lists). */
export function dropFileListState(stateDir: string): void {
  fs.rmSync(path.join(stateDir, STATE), { force: true });
}
