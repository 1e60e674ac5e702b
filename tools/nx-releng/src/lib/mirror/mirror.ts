import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { channelRelease, productionPaths, resolveRoots, type Roots } from '../../layout/paths';
import { requireTools, run } from '../tools/exec';
import { writeFileLists, type FileListResult } from './filelist';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';
import { isDir } from '../core/fs-checks';
import { runningAsRoot } from '../core/links';

/**
 * The production-wide steps that run once, after every sync-prod of the run: hardlink over the production
 * revision trees, then the mirror file lists at each list root.
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

/** The stable production revision dirs of every major, with the lock their sync-prod takes. */
function productionTrees(req: MirrorRequest): Array<{ dir: string; lockFile: string }> {
  const trees = new Map<string, string>();
  for (const model of req.models) {
    const pp = productionPaths(model, channelRelease(model.release, 'stable'), resolveRoots(model.common, model.release, req.relengRoot));
    trees.set(pp.revisionDir, pp.lockFile);
  }
  return [...trees].sort().map(([dir, lockFile]) => ({ dir, lockFile }));
}

/** hardlink as perform_hardlink does; xml, .treeinfo and .discinfo keep their own inodes (rewritten in place). */
export async function hardlinkProduction(req: MirrorRequest): Promise<string[]> {
  await requireTools(['hardlink']);
  const done: string[] = [];
  const lockTimeout = req.models[0]?.common.lockTimeoutSeconds ?? 0;
  for (const tree of productionTrees(req)) {
    if (!(await isDir(tree.dir))) continue;
    await withLock(tree.lockFile, 'mirror:hardlink', lockTimeout, req.log, async () => {
      const { stdout } = await run('hardlink', ['-x', '.*\\.xml.*', '-x', '.*\\.treeinfo', '-x', '.*\\.discinfo', tree.dir]);
      const linked = /Linked:\s+(\d+)/.exec(stdout)?.[1] ?? '0';
      req.log.info(`  ${tree.dir}: ${linked} files linked`);
    });
    done.push(tree.dir);
  }
  return done;
}

/** Writes fullfilelist and fullfiletimelist-* at every configured list root, atomically and only on change. */
export async function publishFileLists(req: MirrorRequest): Promise<FileListResult[]> {
  const roots = productionRoots(req);
  const common = req.models[0]?.common;
  if (!common) throw new Error('the workspace has no compose projects');
  const lists = common.fileLists.map((l) => ({
    dir: l.root === '.' ? roots.production : join(roots.production, l.root),
    timelistName: l.timelist,
    copies: l.copies,
    checksums: true,
  }));
  for (const l of lists) await mkdir(l.dir, { recursive: true });
  const lockFile = join(roots.staging, '.releng', 'production', 'locks', 'filelists.lock');
  return withLock(lockFile, 'mirror:filelist', common.lockTimeoutSeconds, req.log, async () => {
    const results = await writeFileLists(lists, {
      stagingDir: join(roots.staging, '.releng', 'production'),
      owner: runningAsRoot() ? common.owner : undefined,
      onWarning: (m) => req.log.warn(m),
    });
    for (const r of results) {
      req.log.info(`  ${r.dir}: ${r.entries} entries, ${r.changed.length ? `rewrote ${r.changed.join(', ')}` : 'unchanged'}`);
    }
    return results;
  });
}
