import { lstat, readdir, realpath, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { RelengError } from '../../errors';
import { channelRelease, mirrorStatePaths, productionPaths, type Roots } from '../../layout/paths';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';
import { readPendingDeletionsRecord } from '../staging/record-schemas';
import { removeRecord, writeRecord } from '../staging/sync-record';
import { ownsUnclaimed, revisionClaims } from '../vetting/vouched-paths';
import { parseItemizedLine } from '../tools/rsync';
import { withChangeJournal } from './change-journal';

/**
 * Deletions a push owes production. sync-prod publishes what vetted staging holds and deletes nothing: what
 * production holds and staging no longer does is recorded here, per project. mirror:filelist then writes lists
 * that no longer name those paths, deletes them, and writes the lists again. So no file list ever names a path
 * that is gone, and neither does a repomd.xml (the new repodata is in place before the old packages go); a push
 * killed anywhere leaves production a superset of what the lists and repodata name.
 */
export interface PendingDeletionsRecord {
  version: 1;
  project: string;
  revisionDir: string;
  /** Relative to revisionDir; a directory stands for everything below it. */
  paths: string[];
  recordedAt: string;
}

/** The paths an `rsync --delete --dry-run --itemize-changes` of `rel` would delete, relative to the revision dir. */
export function deletionsOf(rel: string, changes: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of changes) {
    const c = parseItemizedLine(line);
    if (!c?.deleting) continue;
    const name = c.splits[0]?.[0];
    if (name === undefined) throw new RelengError(`cannot record the pending deletion of ${line.slice('*deleting'.length).trim()} under ${rel || '.'}: ${c.unsure}`);
    out.push(rel ? `${rel}/${name}` : name);
  }
  return out;
}

/** Records what this project's push leaves to delete (or that it leaves nothing). */
export async function recordPendingDeletions(file: string, project: string, revisionDir: string, paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return removeRecord(file);
  // A directory stands for its contents: keep the shallowest path only.
  const all = new Set(paths);
  const kept = [...all].filter((p) => !p.split('/').some((_, i, parts) => i > 0 && all.has(parts.slice(0, i).join('/')))).sort();
  await writeRecord(file, { version: 1, project, revisionDir, paths: kept, recordedAt: new Date().toISOString() } satisfies PendingDeletionsRecord);
}

/** A project's pending deletions, validated (each path inside what the project publishes). */
export async function readPendingDeletions(model: ComposeModel, models: readonly ComposeModel[], file: string): Promise<PendingDeletionsRecord | undefined> {
  const claims = revisionClaims(models, model);
  const owner = ownsUnclaimed(model);
  return readPendingDeletionsRecord(file, model, (top) => owner && !claims.includes(top)) as Promise<PendingDeletionsRecord | undefined>;
}

/** One project's pending deletions, with the real path of its revision dir (as the file-list walk sees it). */
export interface PendingInProduction {
  model: ComposeModel;
  lockFile: string;
  file: string;
  revisionDir: string;
  realRevisionDir: string;
  paths: string[];
  /** Where the deletions are journalled (production/change-journal.ts). */
  journal: { dir: string; productionRoot: string };
}

/** Every compose project's pending deletions in production. */
export async function pendingInProduction(models: readonly ComposeModel[], roots: Roots): Promise<PendingInProduction[]> {
  const out: PendingInProduction[] = [];
  for (const model of models) {
    const pp = productionPaths(model, channelRelease(model.release, 'stable', model.files.release), roots);
    const rec = await readPendingDeletions(model, models, pp.pendingDeletions);
    if (!rec) continue;
    if (rec.revisionDir !== pp.revisionDir) {
      throw new RelengError(`${pp.pendingDeletions}: names ${rec.revisionDir}, not ${model.project}'s production revision dir ${pp.revisionDir}; remove it and push again`);
    }
    // Before any list is written: a deletion that would go through a link stops the run with nothing changed.
    await refuseLinksAbove(model.project, pp.revisionDir, rec.paths);
    const realRevisionDir = await realpath(pp.revisionDir).catch(() => undefined);
    const journal = { dir: mirrorStatePaths(roots).changeJournalDir, productionRoot: roots.production };
    if (realRevisionDir) out.push({ model, lockFile: pp.lockFile, file: pp.pendingDeletions, revisionDir: pp.revisionDir, realRevisionDir, paths: rec.paths, journal });
  }
  return out;
}

/** The absolute paths (real revision dir) that the file lists must not name while they are deleted. */
export function unlistedPaths(pending: readonly PendingInProduction[]): Set<string> {
  return new Set(pending.flatMap((p) => p.paths.map((rel) => `${p.realRevisionDir}/${rel}`)));
}

/**
 * Deletes the pending paths that the published lists leave out (`unlisted`), under each revision's production
 * lock; what a push recorded since the lists were written stays pending for the next run. Never through a link:
 * every directory above a path must be a real directory of the revision dir. Every path goes into the change
 * journal (with everything below a directory) before it is deleted. Returns how many paths went.
 */
export async function applyPendingDeletions(
  models: readonly ComposeModel[],
  pending: readonly PendingInProduction[],
  unlisted: ReadonlySet<string>,
  log: Log,
): Promise<number> {
  let deleted = 0;
  for (const p of pending) {
    const { model } = p;
    await withLock(p.lockFile, 'mirror:filelist', model.common.lockTimeoutSeconds, log, async () => {
      // Read again under the lock: a push may have run since the lists were written.
      const now = (await readPendingDeletions(model, models, p.file)) ?? { paths: [] as string[] };
      const isDue = (rel: string) => unlisted.has(`${p.realRevisionDir}/${rel}`);
      const due = now.paths.filter(isDue);
      await refuseLinksAbove(model.project, p.revisionDir, due);
      if (due.length) {
        await withChangeJournal(p.journal.dir, p.journal.productionRoot, 'mirror:filelist', async (j) => {
          for (const rel of due) {
            const path = join(p.revisionDir, rel);
            await j.record([path, ...(await entriesBelow(path))]);
            await rm(path, { recursive: true, force: true }).catch((err: Error) => {
              throw new RelengError(`${model.project}: cannot delete ${path}, a pending deletion: ${err.message}; it stays pending`);
            });
          }
        });
      }
      deleted += due.length;
      const left = now.paths.filter((rel) => !isDue(rel));
      await recordPendingDeletions(p.file, model.project, p.revisionDir, left);
      if (due.length) log.info(`  ${model.project}: deleted ${due.length} path(s) of ${p.revisionDir} that vetted staging no longer holds`);
    });
  }
  return deleted;
}

/** Every entry below a directory, never through a link (none for a file, a link or a missing path). */
async function entriesBelow(path: string): Promise<string[]> {
  if (!(await lstat(path).catch(() => undefined))?.isDirectory()) return [];
  const entries = await readdir(path, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw new RelengError(`cannot read ${path} to journal its pending deletion: ${err.message}`);
  });
  const out: string[] = [];
  for (const e of entries) {
    const child = join(path, e.name);
    out.push(child, ...(e.isDirectory() ? await entriesBelow(child) : [])); // dirent types are lstat's: links not followed
  }
  return out;
}

/** Every directory above each path must be a real directory of the revision dir: nothing is deleted through a link. */
async function refuseLinksAbove(project: string, revisionDir: string, paths: readonly string[]): Promise<void> {
  const checked = new Set<string>();
  for (const rel of paths) {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = join(revisionDir, ...parts.slice(0, i));
      if (checked.has(dir)) continue;
      checked.add(dir);
      const st = await lstat(dir).catch(() => undefined);
      if (st && !st.isDirectory()) {
        throw new RelengError(
          `${project}: ${dir} is ${st.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; the pending deletion of ` +
            `${join(revisionDir, rel)} never goes through it (nothing was changed)`,
        );
      }
    }
  }
}
