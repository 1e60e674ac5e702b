import { channelRelease, mirrorStatePaths, productionPaths, resolveRoots } from '../../layout/paths';
import { isDir } from '../core/fs-checks';
import { withLock } from '../core/lock';
import type { MirrorRequest } from '../mirror/mirror';
import { requireTools } from '../tools/exec';
import { hardlink } from '../tools/hardlink';
import { withChangeJournal } from './change-journal';

interface ProductionTree {
  dir: string;
  lockFile: string;
  productionRoot: string;
  journalDir: string;
}

/** The stable production revision dirs of every major, with the lock their sync-prod takes and their journal. */
function productionTrees(req: MirrorRequest): ProductionTree[] {
  const trees = new Map<string, ProductionTree>();
  for (const model of req.models) {
    const roots = resolveRoots(model.common, model.release, req.relengRoot);
    const pp = productionPaths(model, channelRelease(model.release, 'stable'), roots);
    trees.set(pp.revisionDir, { dir: pp.revisionDir, lockFile: pp.lockFile, productionRoot: roots.production, journalDir: mirrorStatePaths(roots).changeJournalDir });
  }
  return [...trees.values()].sort((a, b) => (a.dir < b.dir ? -1 : a.dir > b.dir ? 1 : 0));
}

/**
 * hardlink as perform_hardlink does; xml, .treeinfo and .discinfo keep their own inodes (rewritten in place).
 * Both paths of every link it makes go into the change journal.
 */
export async function hardlinkProduction(req: MirrorRequest): Promise<string[]> {
  await requireTools(['hardlink']);
  const done: string[] = [];
  const lockTimeout = req.models[0]?.common.lockTimeoutSeconds ?? 0;
  for (const tree of productionTrees(req)) {
    if (!(await isDir(tree.dir))) continue;
    await withLock(tree.lockFile, 'mirror:hardlink', lockTimeout, req.log, () =>
      withChangeJournal(tree.journalDir, tree.productionRoot, 'mirror:hardlink', async (j) => {
        const result = await hardlink([tree.dir], { listLinks: true });
        await j.record(result.paths);
        for (const why of result.unsure) await j.requireFullWalk(why);
        req.log.info(`  ${tree.dir}: ${result.linked} files linked`);
      }),
    );
    done.push(tree.dir);
  }
  return done;
}
