import { mkdir } from 'node:fs/promises';
import type { ComposeModel } from '../../config/load';
import { fileListDir, mirrorStatePaths, resolveRoots, type Roots } from '../../layout/paths';
import { writeFileLists, type FileListResult } from './filelist';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';
import { runningAsRoot } from '../core/links';

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

/** Writes fullfilelist and fullfiletimelist-* at every configured list root, atomically and only on change. */
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
    const results = await writeFileLists(lists, {
      stagingDir: state.fileListScratch,
      owner: runningAsRoot() ? common.owner : undefined,
      onWarning: (m) => req.log.warn(m),
    });
    for (const r of results) {
      req.log.info(`  ${r.dir}: ${r.entries} entries, ${r.changed.length ? `rewrote ${r.changed.join(', ')}` : 'unchanged'}`);
    }
    return results;
  });
}
