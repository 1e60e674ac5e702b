import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel } from '../../config/schema';
import { channelRelease, mirrorStatePaths, productionPaths, stagingPaths, type Roots } from '../../layout/paths';
import { mapLimit } from '../core/concurrency';
import { RelengError } from '../../errors';
import { requireTools } from '../tools/exec';
import { withLock } from '../core/lock';
import { formatBytes, type Log } from '../core/log';
import { SyncProgress } from '../core/progress';
import { rsync, type RsyncOptions, type RsyncStats } from '../tools/rsync';
import { checkLinkSlot, pointLink } from '../core/links';
import { removeRecord, writeRecord, type RevisionLink } from '../staging/sync-record';
import { readProdRecord } from '../staging/record-schemas';
import { treeDigest } from '../core/tree-digest';
import { readVerifyRecord, type VerifyRecord } from '../vetting/staging-steps';
import { ownsUnclaimed, revisionClaims, vettedPaths, vouchedDigest, vouchedPaths } from '../vetting/vouched-paths';
import { checkDestination } from '../core/fs-checks';
import { refuseLinksOnBothSides } from '../core/link-policy';
import { deletionsOf, readPendingDeletions, recordPendingDeletions } from './pending-deletions';
import { withChangeJournal, type ChangeJournal } from './change-journal';

/**
 * Staging to production for one compose project, in an order that never publishes repodata ahead of what it
 * names: (1) everything but repodata, without delete, so new packages land first; (2) per repo, the new repodata
 * files, then repomd.xml and its signature together; (3) what production holds and staging no longer does is
 * recorded as pending deletions (pending-deletions.ts), which mirror:filelist carries out once the file lists no
 * longer name them: old packages go only once neither a repomd.xml nor a file list names them. Only the project's
 * own subtrees are touched.
 * A minor release's verified isos/ goes the same way, its own index files last: ISOs and manifests, then the
 * latest links naming them, then CHECKSUM and the .CHECKSUM files (naming both) switched together, then its
 * pending deletions. --delay-updates over the whole subtree would not do: its renames run in file-list order, so
 * CHECKSUM (C < R) would land before the ISOs it names, and a run killed among the renames would leave it so.
 * Then the verified linkRepos links (nfv -> NFV), once their targets are complete.
 * The project that owns the revision dir's unclaimed content (lib/vetting/vouched-paths.ts: images/, live/,
 * top-level files) publishes it after its repodata, in one pass over the revision dir that leaves every claimed
 * name alone, and records in the same way what staging no longer has for deletion.
 * The staging category links (latest-8, 8.10) are not copied: the production major alias is switched by hand.
 * Every pass that writes production reports what it changed (rsync --itemize-changes), and the push records it in
 * the change journal (change-journal.ts), from which mirror:filelist updates the lists without walking the tree.
 */

/** Files of an extra subtree that name other files in it (and their signatures): published after them. */
export const INDEX_FILES = ['CHECKSUM*', '*.CHECKSUM*'] as const;

/** The rsync passes of an extra subtree (isos/), in order: the files the rest name, the links, the index files. */
export const EXTRA_SUBTREE_PASSES: ReadonlyArray<Partial<RsyncOptions>> = [
  { excludes: ['repodata/', ...INDEX_FILES], noLinks: true },
  { excludes: INDEX_FILES },
  { delayUpdates: true }, // the index files, switched together at the end of one transfer
];

export interface SyncProdRequest {
  model: ComposeModel;
  channel: Channel;
  roots: Roots;
  dryRun?: boolean;
  log: Log;
  /** Every compose model of the workspace: which project claims what of the revision dir. */
  models: readonly ComposeModel[];
}

export interface SyncProdResult {
  project: string;
  composeId: string;
  stagingDir: string;
  productionDir: string;
  verifyDigest: string;
  outcome: 'synced' | 'up-to-date' | 'dry-run';
  files: number;
  bytes: number;
}

interface ProdRecord {
  version: 1;
  project: string;
  composeId: string;
  verifyDigest: string;
  productionDigest: string;
  subtrees: string[];
  /** Link names made in the revision dir; digested with the subtrees. */
  links?: string[];
  syncedAt: string;
}

export async function syncProd(req: SyncProdRequest): Promise<SyncProdResult> {
  const { model, channel, roots, log } = req;
  const ch = channelRelease(model.release, channel, model.files.release);
  const sp = stagingPaths(model, ch, roots);
  if (channel !== 'stable') {
    throw new RelengError(
      `${model.project}: ${channel} never reaches production; only stable staging is synced (refusing ${sp.revisionDir})`,
    );
  }
  const pp = productionPaths(model, ch, roots);
  const verified = await readVerifyRecord(sp.verifyRecord, model);
  if (!verified || verified.stagingDir !== sp.revisionDir) {
    throw new RelengError(
      `${model.project}: ${sp.revisionDir} has no passing verify (${sp.verifyRecord}); run nx run ${model.project}:verify first`,
    );
  }
  // hardlink is mirror:hardlink's, which runs after every sync-prod: a push that could not finish must not start.
  await requireTools(['rsync', 'hardlink']);
  const { subtrees } = verified;
  const unclaimed = verified.unclaimed ?? [];
  const claims = revisionClaims(req.models, model);
  const extraSubtrees = verified.extraSubtrees ?? [];
  const links = verified.links ?? [];
  const linkNames = links.map((l) => l.name);
  const linkToChange = async () => {
    const out: RevisionLink[] = [];
    for (const l of links) if ((await readlink(join(pp.revisionDir, l.name)).catch(() => undefined)) !== l.target) out.push(l);
    return out;
  };
  const base = {
    project: model.project,
    composeId: verified.composeId,
    stagingDir: sp.revisionDir,
    productionDir: pp.revisionDir,
    verifyDigest: verified.digest,
  };
  const copy = (rel: string, extra: Partial<RsyncOptions>) =>
    rsync({ src: join(sp.revisionDir, rel), dest: join(pp.revisionDir, rel), chown: model.common.owner, ...extra });
  const ownsRest = ownsUnclaimed(model);
  // The whole revision dir but every claimed name: what no project claims, as verify vouched for it.
  const unclaimedOnly: Partial<RsyncOptions> = { excludes: claims.map((c) => `/${c}`) };
  const copyUnclaimed = (extra: Partial<RsyncOptions>) => copy('', { ...unclaimedOnly, ...extra });

  // Production lock first, then staging's, so no staging writer changes what is being copied.
  return withLock(pp.lockFile, `${model.project}:sync-prod`, model.common.lockTimeoutSeconds, log, () =>
    withLock(sp.lockFile, `${model.project}:sync-prod`, model.common.lockTimeoutSeconds, log, async () => {
      // The link policy first: a layout dir that became a link is named as such, not as a changed digest.
      await refuseLinksOnBothSides(model.project, sp.revisionDir, pp.revisionDir, subtrees, verified.repos, unclaimed);
      await checkStillVouched(model, claims, sp.revisionDir, verified);
      const record = await readProdRecord(pp.syncRecord, model);
      // What the last push left to delete counts as gone: mirror:filelist deletes it once no list names it.
      const pending = new Set((await readPendingDeletions(model, req.models, pp.pendingDeletions))?.paths);
      if (
        record?.verifyDigest === verified.digest &&
        record.productionDigest === productionDigest(pp.revisionDir, [...record.subtrees, ...(record.links ?? [])], pending) &&
        (!ownsRest || (await unclaimedInProduction(pp.revisionDir, claims)).filter((n) => !pending.has(n)).join() === unclaimed.join())
      ) {
        log.info(`${model.project}: production ${pp.revisionDir} already holds verified ${verified.composeId}`);
        return { ...base, outcome: 'up-to-date', files: 0, bytes: 0 };
      }
      for (const l of links) await checkLinkSlot(join(pp.revisionDir, l.name), l.target, 'sync-prod');
      if (req.dryRun) {
        let files = 0;
        for (const rel of subtrees) {
          const s = await copy(rel, { delete: true, dryRun: true });
          for (const line of s.changes) log.info(`  ${rel}: ${line}`);
          files += s.changes.length;
        }
        if (ownsRest) {
          const s = await copyUnclaimed({ delete: true, dryRun: true });
          for (const line of s.changes) log.info(`  (unclaimed): ${line}`);
          files += s.changes.length;
        }
        for (const l of await linkToChange()) log.info(`  would point ${join(pp.revisionDir, l.name)} -> ${l.target}`);
        return { ...base, outcome: 'dry-run', files, bytes: 0 };
      }
      await checkDestination('production', pp.revisionDir, [...subtrees, ...unclaimed]);
      log.info(`${model.project}: syncing verified ${verified.composeId} ${sp.revisionDir} -> ${pp.revisionDir}`);
      // The journal is the first thing a push writes: one that cannot be started leaves everything as it was.
      const journalDir = mirrorStatePaths(roots).changeJournalDir;
      const { content, other, toDelete } = await withChangeJournal(journalDir, roots.production, `${model.project}:sync-prod`, async (j) => {
        // Every pass that writes production (never a dry run) records what it changed.
        const publish = async (rel: string, extra: Partial<RsyncOptions>) => {
          const s = await copy(rel, { ...extra, itemize: true });
          await recordRsync(j, roots.production, s);
          return s;
        };
        await removeRecord(pp.syncRecord);
        // An older list of deletions may name what this push brings back: it is made anew below.
        await removeRecord(pp.pendingDeletions);
        const progress = await SyncProgress.of(log, sp.revisionDir, subtrees);
        const content = await mapLimit(subtrees, model.common.rsync.parallel, async (rel) => {
          const t0 = Date.now();
          // An extra subtree's index files and links name its files: they follow below.
          const extra = extraSubtrees.includes(rel);
          const s = await publish(rel, extra ? (EXTRA_SUBTREE_PASSES[0] as Partial<RsyncOptions>) : { excludes: ['repodata/'] });
          progress.unitDone(rel, { files: s.filesTransferred, bytes: s.bytesTransferred }, Date.now() - t0);
          return s;
        });
        await mapLimit(verified.repos, model.common.rsync.parallel, async (repo) => {
          const rel = join(repo, 'repodata');
          await publish(rel, { excludes: ['repomd.xml', 'repomd.xml.asc'] });
          // Both renamed into place at the end of one transfer: the index and its signature switch together.
          await publish(rel, { includes: ['repomd.xml', 'repomd.xml.asc'], excludes: ['*'], delayUpdates: true });
        });
        for (const rel of extraSubtrees) for (const pass of EXTRA_SUBTREE_PASSES.slice(1)) await publish(rel, pass);
        const other = unclaimed.length ? [await publish('', unclaimedOnly)] : [];
        for (const l of await linkToChange()) {
          await j.record([join(pp.revisionDir, l.name)]);
          await pointLink(pp.revisionDir, l.name, l.target, model.common.owner);
          log.info(`  ${join(pp.revisionDir, l.name)} -> ${l.target}`);
        }
        // What staging no longer has is deleted later, by mirror:filelist (pending-deletions.ts); the owner's share
        // includes what no project claims (a retired variant, a renamed tree).
        const toDelete = (
          await mapLimit(subtrees, model.common.rsync.parallel, async (rel) => {
            const s = await copy(rel, { delete: true, dryRun: true });
            // Anything else the dry run would still change was missed by the passes above: copy it (never delete).
            if (s.changes.some((l) => !l.startsWith('*deleting '))) await publish(rel, {});
            return deletionsOf(rel, s.changes);
          })
        ).flat();
        if (ownsRest) toDelete.push(...deletionsOf('', (await copyUnclaimed({ delete: true, dryRun: true })).changes));
        return { content, other, toDelete };
      });
      await recordPendingDeletions(pp.pendingDeletions, model.project, pp.revisionDir, toDelete);
      const files = [...content, ...other].reduce((n, s) => n + s.filesTransferred, 0);
      const bytes = [...content, ...other].reduce((n, s) => n + s.bytesTransferred, 0);
      log.info(`  ${files} files (${formatBytes(bytes)}) copied, ${toDelete.length} path(s) to delete once the file lists no longer name them`);
      await writeRecord(pp.syncRecord, {
        version: 1,
        project: model.project,
        composeId: verified.composeId,
        verifyDigest: verified.digest,
        productionDigest: productionDigest(pp.revisionDir, [...subtrees, ...unclaimed, ...linkNames], new Set(toDelete)),
        subtrees: [...subtrees, ...unclaimed],
        ...(linkNames.length ? { links: linkNames } : {}),
        syncedAt: new Date().toISOString(),
      } satisfies ProdRecord);
      return { ...base, outcome: 'synced', files, bytes };
    }),
  );
}

/**
 * Records what an itemized rsync pass changed; a change it could not name makes the next file lists walk the tree.
 * The first push into an empty production makes the production root (and the dirs above it): not entries of it.
 */
async function recordRsync(j: ChangeJournal, productionRoot: string, s: RsyncStats): Promise<void> {
  if (!s.changed) throw new RelengError('sync-prod: an rsync pass into production ran without --itemize-changes; its changes cannot be journalled');
  await j.record(s.changed.paths.filter((p) => p !== productionRoot && !productionRoot.startsWith(`${p}/`)));
  for (const why of s.changed.unsure) await j.requireFullWalk(why);
}

/**
 * Refuses staging that is not what verify vouched for, naming the path: a changed subtree, file or link, or a
 * top-level entry that appeared since (verify vouches for every byte sync-prod publishes).
 */
async function checkStillVouched(model: ComposeModel, claims: readonly string[], revisionDir: string, verified: VerifyRecord): Promise<void> {
  const again = `run nx run ${model.project}:verify again before syncing to production`;
  const now = await vouchedPaths(model, claims, revisionDir, verified);
  const added = [...now.subtrees.filter((s) => !verified.subtrees.includes(s)), ...now.unclaimed.filter((s) => !(verified.unclaimed ?? []).includes(s))];
  if (added.length) {
    throw new RelengError(
      `${model.project}: ${join(revisionDir, added[0] as string)} appeared in staging after verify at ${verified.verifiedAt}, ` +
        `which vouched for every path sync-prod publishes; ${again}`,
    );
  }
  const { digest, byPath } = vouchedDigest(revisionDir, vettedPaths(verified));
  if (digest !== verified.digest) {
    const changed = Object.keys(byPath).filter((p) => byPath[p] !== verified.pathDigests[p]);
    throw new RelengError(
      `${model.project}: ${revisionDir} changed since it passed verify at ${verified.verifiedAt}; ${again} ` +
        `(changed: ${changed.map((p) => join(revisionDir, p)).join(', ')})`,
    );
  }
}

/** Production as the push leaves it once its pending deletions are done (rsync's quick check: no inodes). */
function productionDigest(revisionDir: string, paths: readonly string[], pending: ReadonlySet<string>): string {
  return treeDigest(revisionDir, paths, { inodes: false, skip: pending });
}

/** The top-level entries of a production revision dir that no project claims. */
async function unclaimedInProduction(revisionDir: string, claims: readonly string[]): Promise<string[]> {
  return (await readdir(revisionDir).catch(() => [] as string[])).filter((n) => !claims.includes(n)).sort();
}
