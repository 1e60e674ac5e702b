import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { isAbsolute, join, posix, relative } from 'node:path';
import { RelengError } from '../../errors';
import { writerGone, writerIdentity } from '../core/lock';

/**
 * The change journal: everything that writes production (sync-prod, hardlink, the pending deletions) records
 * which paths it changed, so that mirror:filelist updates the lists from those paths instead of walking the tree
 * (mirror/filelist-update.ts).
 *
 * One file per writer run, `<journal dir>/<time>-<pid>-<random>.jsonl`, JSON lines:
 *   {"begin": ISO time, "writer": identity (as a lock records it), "production": root}
 *   {"paths": ["<path relative to the production root>", ...]}   (any number of these)
 *   {"full": "why"}   (optional: the writer changed what it cannot name; the next lists walk the tree)
 *   {"end": ISO time}
 * A path means "look at this entry again": created, replaced, deleted, chmod'ed, linked or relinked. Looking
 * again is idempotent, so a journal applied twice, or after a full walk that already saw its changes, is harmless.
 * A journal without its end line (the writer failed or was killed, or still runs) is incomplete: what it did is
 * not known, and the next lists come from a full walk.
 */

interface JournalLine {
  begin?: string;
  writer?: unknown;
  production?: string;
  paths?: unknown;
  full?: string;
  end?: string;
}

export interface ChangeJournal {
  readonly file: string;
  /** Records absolute paths under the production root (appended at once: a killed writer loses nothing recorded). */
  record(paths: Iterable<string>): Promise<void>;
  /** The writer changed something it cannot name path by path: the next file lists walk the whole tree. */
  requireFullWalk(why: string): Promise<void>;
}

function relToRoot(root: string, abs: string): string {
  const rel = relative(root, abs);
  if (!isAbsolute(abs) || rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel)) {
    throw new RelengError(`change journal: ${abs} is not inside the production root ${root}`);
  }
  return rel; // POSIX: a backslash is part of a name
}

/**
 * Runs `fn` with a journal open; the end line is written only when fn succeeds (after an fsync of what it
 * recorded), so a failed or killed writer leaves an incomplete journal and the next file lists walk the tree.
 */
export async function withChangeJournal<T>(journalDir: string, productionRoot: string, writer: string, fn: (j: ChangeJournal) => Promise<T>): Promise<T> {
  await mkdir(journalDir, { recursive: true }).catch((err: Error) => {
    throw new RelengError(`cannot start the change journal in ${journalDir}: ${err.message}; nothing in production was changed`);
  });
  const begin = new Date();
  const file = join(journalDir, `${begin.toISOString().replace(/[:.]/g, '')}-${process.pid}-${randomBytes(3).toString('hex')}.jsonl`);
  const fh = await open(file, 'wx', 0o644).catch((err: Error) => {
    throw new RelengError(`cannot start the change journal ${file}: ${err.message}; nothing in production was changed`);
  });
  try {
    // One write at a time: parallel passes of one writer record concurrently, and their lines must not interleave.
    let queue: Promise<void> = Promise.resolve();
    const write = (line: JournalLine) => {
      const next = queue.then(() =>
        fh.appendFile(`${JSON.stringify(line)}\n`).catch((err: Error) => {
          throw new RelengError(`cannot write the change journal ${file}: ${err.message}; the next file lists walk the whole tree`);
        }),
      );
      queue = next.catch(() => undefined);
      return next;
    };
    await write({ begin: begin.toISOString(), writer: writerIdentity(writer), production: productionRoot });
    await fh.sync();
    const result = await fn({
      file,
      record: async (paths) => {
        const rel = [...paths].map((p) => relToRoot(productionRoot, p));
        if (rel.length > 0) await write({ paths: rel });
      },
      requireFullWalk: (why) => write({ full: why }),
    });
    await fh.sync();
    await write({ end: new Date().toISOString() });
    await fh.sync();
    return result;
  } finally {
    await fh.close();
  }
}

export interface IncompleteJournal {
  file: string;
  /** Why its writer is certainly gone; undefined while it may still be running. */
  writerGone?: string;
  why: string;
}

export interface JournalState {
  /** Complete journals, oldest first. */
  complete: string[];
  incomplete: IncompleteJournal[];
  /** Changed paths of the complete journals, relative to the production root. */
  paths: Set<string>;
  /** Why a complete journal asks for a full walk (its writer could not name every path), if one does. */
  fullWalk?: string;
  /** Who wrote the journals found, complete or not (e.g. 'Rocky-8:sync-prod'). */
  writers: Set<string>;
}

function parseJournal(text: string, productionRoot: string): { paths: string[]; ended: boolean; writer?: unknown; why?: string; full?: string } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const paths: string[] = [];
  let header: JournalLine | undefined;
  let ended = false;
  let full: string | undefined;
  for (const [i, raw] of lines.entries()) {
    let line: JournalLine;
    try {
      line = JSON.parse(raw) as JournalLine;
    } catch {
      return { paths, ended: false, writer: header?.writer, why: `line ${i + 1} is not JSON` };
    }
    if (i === 0) {
      if (typeof line.begin !== 'string') return { paths, ended: false, why: 'no begin line' };
      if (line.production !== productionRoot) return { paths, ended: false, writer: line.writer, why: `it is for production ${String(line.production)}, not ${productionRoot}` };
      header = line;
    } else if (ended) {
      return { paths, ended: false, writer: header?.writer, why: `line ${i + 1} follows the end line` };
    } else if (typeof line.end === 'string') {
      ended = true;
    } else if (typeof line.full === 'string') {
      full ??= line.full;
    } else if (Array.isArray(line.paths) && line.paths.every((p) => typeof p === 'string' && p !== '' && !p.startsWith('/') && !p.split('/').includes('..'))) {
      paths.push(...(line.paths as string[]));
    } else {
      return { paths, ended: false, writer: header?.writer, why: `line ${i + 1} is neither a list of relative paths nor the end` };
    }
  }
  return { paths, ended, full, writer: header?.writer, why: ended ? undefined : 'no end line: its writer failed, was killed or still runs' };
}

/** Every journal in the dir: the complete ones' paths, and the incomplete ones (which call for a full walk). */
export async function readChangeJournals(journalDir: string, productionRoot: string): Promise<JournalState> {
  const names = (await readdir(journalDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw new RelengError(`cannot read the change journals in ${journalDir}: ${err.message}`);
  }))
    .filter((n) => n.endsWith('.jsonl'))
    .sort();
  const state: JournalState = { complete: [], incomplete: [], paths: new Set(), writers: new Set() };
  for (const name of names) {
    const file = posix.join(journalDir, name);
    const text = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
    if (text === undefined) continue; // removed by a file-list run in between
    const j = parseJournal(text, productionRoot);
    const owner = (j.writer as { owner?: unknown } | undefined)?.owner;
    if (typeof owner === 'string') state.writers.add(owner);
    if (j.ended) {
      state.complete.push(file);
      for (const p of j.paths) state.paths.add(p);
      if (j.full !== undefined) state.fullWalk ??= `${file}: ${j.full}`;
    } else {
      state.incomplete.push({ file, writerGone: j.writer === undefined ? 'no writer recorded' : writerGone(j.writer), why: j.why ?? 'incomplete' });
    }
  }
  return state;
}

/** Removes journals the published lists have taken in (or, for a dead writer's incomplete one, a full walk has). */
export async function removeJournals(files: readonly string[]): Promise<void> {
  for (const f of files) await unlink(f).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err)));
}
