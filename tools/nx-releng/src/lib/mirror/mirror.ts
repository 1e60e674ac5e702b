import { mkdir, realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { channelRelease, fileListDir, mirrorStatePaths, productionPaths, resolveRoots, type Roots } from '../../layout/paths';
import { readProdRecord } from '../staging/record-schemas';
import { readFileListStateSummary } from './filelist-state';
import { writeFileLists, type FileListResult, type WriteFileListsOptions } from './filelist';
import { readChangeJournals, removeJournals, type JournalState } from '../production/change-journal';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';
import { runningAsRoot } from '../core/links';
import { applyPendingDeletions, pendingInProduction, unlistedPaths } from '../production/pending-deletions';

/**
 * The production-wide steps that run once, after every sync-prod of the run: hardlink over the production
 * revision trees (production/hardlink.ts), then the mirror file lists at each list root.
 */
export interface MirrorRequest {
  /** Every compose project of the workspace. */
  models: readonly ComposeModel[];
  relengRoot?: string;
  log: Log;
}

function productionRoots(req: MirrorRequest): Roots {
  const first = req.models[0];
  if (!first) throw new Error('the workspace has no compose projects');
  return resolveRoots(first.common, first.release, req.relengRoot);
}

export interface FileListRunOptions {
  /** Walk the whole tree instead of updating the lists from the change journal. */
  full?: boolean;
  /** Walk the whole tree when the last full walk is older than this many hours (default 24). */
  fullWalkEveryHours?: number;
}

/**
 * A push the lists have not taken in whose journal is gone (removed by hand, or written by a version of this tool
 * that kept none): its sync record is newer than the last lists, and no journal of its writer is left.
 */
async function unjournaledPush(req: MirrorRequest, roots: Roots, j: JournalState, listsAt: string | undefined): Promise<string | undefined> {
  if (listsAt === undefined) return undefined; // no state: the lists are walked anyway
  for (const model of req.models) {
    const pp = productionPaths(model, channelRelease(model.release, 'stable'), roots);
    const record = await readProdRecord(pp.syncRecord, model).catch(() => undefined);
    const writer = `${model.project}:sync-prod`;
    if (record && record.syncedAt > listsAt && !j.writers.has(writer)) return `${writer} at ${record.syncedAt} left no change journal`;
  }
  return undefined;
}

/** What the change journal lets the lists be made from: the changed paths, or why the tree must be walked. */
function journalDecision(j: JournalState, productionReal: string, runOpts: FileListRunOptions, unjournaled: string | undefined): { changed?: string[]; fullWhy?: string } {
  if (runOpts.full) return { fullWhy: 'asked for (--full)' };
  const open = j.incomplete[0];
  if (open) return { fullWhy: `the change journal ${open.file} cannot be used (${open.why})` };
  if (j.fullWalk !== undefined) return { fullWhy: j.fullWalk };
  if (unjournaled !== undefined) return { fullWhy: unjournaled };
  return { changed: [...j.paths].map((p) => posix.join(productionReal, p)) };
}

/**
 * Writes fullfilelist and fullfiletimelist-* at every configured list root, atomically and only on change, and
 * carries out the deletions the pushes left pending in between. The lists are updated from the change journal
 * (production/change-journal.ts) when it is complete, walked otherwise (filelist.ts, filelist-update.ts).
 */
export async function publishFileLists(req: MirrorRequest, runOpts: FileListRunOptions = {}): Promise<FileListResult[]> {
  const roots = productionRoots(req);
  const common = req.models[0]?.common;
  if (!common) throw new Error('the workspace has no compose projects');
  const lists = common.fileLists.map((l) => ({
    dir: fileListDir(roots, l.root),
    timelistName: l.timelist,
    copies: l.copies,
    checksums: true,
  }));
  for (const l of lists) await mkdir(l.dir, { recursive: true });
  const state = mirrorStatePaths(roots);
  const productionReal = await realpath(roots.production);
  // A root reached through a symlink is listed from its real path, which the journal's paths do not name.
  const viaLink = (await Promise.all(lists.map(async (l) => ((await realpath(l.dir)) === posix.join(productionReal, posix.relative(roots.production, l.dir)) ? undefined : l.dir)))).find(Boolean);
  return withLock(state.fileListLock, 'mirror:filelist', common.lockTimeoutSeconds, req.log, async () => {
    const write = async (unlisted?: ReadonlySet<string>) => {
      const journals = await readChangeJournals(state.changeJournalDir, roots.production);
      const unjournaled = await unjournaledPush(req, roots, journals, readFileListStateSummary(state.fileListStateDir)?.updatedAt);
      const decision = viaLink ? { fullWhy: `the list root ${viaLink} is reached through a symbolic link` } : journalDecision(journals, productionReal, runOpts, unjournaled);
      const incremental: WriteFileListsOptions['incremental'] = { stateDir: state.fileListStateDir, fullWalkEveryMs: (runOpts.fullWalkEveryHours ?? 24) * 3600_000, ...decision };
      const results = await writeFileLists(lists, {
        stagingDir: state.fileListScratch,
        owner: runningAsRoot() ? common.owner : undefined,
        onWarning: (m) => req.log.warn(m),
        unlisted,
        incremental,
      });
      const made = results[0]?.madeBy;
      req.log.info(made?.kind === 'update' ? `  updated from the change journal (${made.examined} paths looked at again)` : `  walked the whole tree: ${made?.why}`);
      // The lists now show what these journals name; a dead writer's incomplete journal was covered by the walk.
      const walked = made?.kind === 'full walk';
      await removeJournals([...journals.complete, ...journals.incomplete.filter((j) => walked && j.writerGone !== undefined).map((j) => j.file)]);
      return results;
    };
    // The lists first stop naming what the pushes left to delete, then it goes, then the lists describe the disk
    // again (directory times changed): no list names a missing path at any moment (pending-deletions.ts).
    const pending = await pendingInProduction(req.models, roots);
    const unlisted = unlistedPaths(pending);
    let results = await write(unlisted);
    if (unlisted.size > 0 && (await applyPendingDeletions(req.models, pending, unlisted, req.log)) > 0) {
      const first = results;
      results = (await write()).map((r, i) => ({ ...r, changed: [...new Set([...(first[i]?.changed ?? []), ...r.changed])] }));
    }
    for (const r of results) {
      req.log.info(`  ${r.dir}: ${r.entries} entries, ${r.changed.length ? `rewrote ${r.changed.join(', ')}` : 'unchanged'}`);
    }
    return results;
  });
}
