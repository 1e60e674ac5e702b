import { channelRelease, productionPaths, resolveRoots } from '../../layout/paths';
import { isDir } from '../core/fs-checks';
import { withLock } from '../core/lock';
import type { MirrorRequest } from '../mirror/mirror';
import { requireTools } from '../tools/exec';
import { hardlink } from '../tools/hardlink';

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
      const linked = await hardlink([tree.dir]);
      req.log.info(`  ${tree.dir}: ${linked} files linked`);
    });
    done.push(tree.dir);
  }
  return done;
}
