import { mkdir } from 'node:fs/promises';
import type { ComposeModel } from '../../config/load';
import { fileListDir, mirrorStatePaths, resolveRoots, type Roots } from '../../layout/paths';
import { writeFileLists, type FileListResult } from './filelist';
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

/**
 * Writes fullfilelist and fullfiletimelist-* at every configured list root, atomically and only on change, and
 * carries out the deletions the pushes left pending in between.
 */
export async function publishFileLists(req: MirrorRequest): Promise<FileListResult[]> {
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
  return withLock(state.fileListLock, 'mirror:filelist', common.lockTimeoutSeconds, req.log, async () => {
    const write = (unlisted?: ReadonlySet<string>) =>
      writeFileLists(lists, {
        stagingDir: state.fileListScratch,
        owner: runningAsRoot() ? common.owner : undefined,
        onWarning: (m) => req.log.warn(m),
        unlisted,
      });
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
