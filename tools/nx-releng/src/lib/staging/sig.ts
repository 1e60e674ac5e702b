/**
 * SIG repositories to staging, as sync-to-staging-sig.sh does it (toolkit §4.8), without its quirks: the SIG
 * compose's compose/<major>/<sig> subtree goes to <staging>/mirror/pub/sig/<major>/<sig>/ WITH delete (the SIG
 * scripts remove what the compose no longer has), and its repodata is published as the compose made it (no
 * createrepo, no modules, no updateinfo, no signing). Only the SIG's own dir is ever written: other SIGs of the
 * major and the base category stay as they are.
 *
 * The guarantees of the base sync hold here too: the lock of <stub>/<major>, a hard-linked work copy of the SIG
 * dir swapped in by rename (a failure leaves staging as it was), and the sync record the runtime input reads, so
 * a SIG whose compose did not change is a cache hit.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { sigName, sigRepoDirs, type RepoDir } from '../../layout/paths';
import type { ComposeRef } from '../compose/compose-ref';
import { RelengError } from '../../errors';
import { requireTools } from '../tools/exec';
import { checkDestination, isDir, isFile } from '../core/fs-checks';
import { layoutDirs, refuseLinks } from '../core/link-policy';
import { withLock } from '../core/lock';
import { SyncProgress } from '../core/progress';
import { rsync } from '../tools/rsync';
import { hashConfig } from './sync-record';
import { readSyncRecord } from './record-schemas';
import {
  inWorkCopy,
  recordSync,
  resultBase,
  syncNeeded,
  syncSource,
  totals,
  type SyncStagingRequest,
  type SyncStagingResult,
} from './work-copy';
import { hardlink } from '../tools/hardlink';

export const SIG_SYNC_TOOLS = ['rsync', 'hardlink'];

/** The SIG dir of a compose (compose/<major>/<sig>) and the repos in it, checked against the model. */
export interface SigPlan {
  /** The SIG's name: the one dir this project owns below <stub>/<major>. */
  sig: string;
  /** <composeDir>/compose/<major>/<sig> */
  source: string;
  /** Repos with repodata, relative to <stub>/<major> (cloud/x86_64/cloud-common). */
  repos: RepoDir[];
}

/**
 * What the SIG compose holds. Everything in it must be accounted for by the model, because all of it is published
 * with delete: its top dirs are arches of release.json or source, each dir below them is a listed repo or its
 * -debug tree, and every listed repo is there with its repodata.
 */
export async function planSigCompose(model: ComposeModel, compose: ComposeRef): Promise<SigPlan> {
  const sig = sigName(model);
  const rel = `compose/${model.major}/${sig}`;
  const source = join(compose.composeDir, rel);
  if (!(await isDir(source))) {
    throw new RelengError(
      `compose ${compose.composeId} has no ${rel} directory (${source}); ${model.files.compose} is a SIG compose, ` +
        `laid out compose/<major>/<sig>/<arch>/<repo> with <sig> = '${sig}' (from the directory name ${model.short})`,
    );
  }
  const arches = [...model.release.arches, 'source'];
  const expected = new Map<string, RepoDir>();
  for (const repo of model.compose.variants) {
    for (const dir of sigRepoDirs(sig, repo, model.release.arches)) expected.set(dir.path, dir);
  }
  // Relative to compose/<major>, as staging's paths are to <stub>/<major> (link-policy).
  await refuseLinks(`compose ${compose.composeId}`, join(source, '..'), [sig], layoutDirs([...expected.keys()]));
  const repos: RepoDir[] = [];
  for (const top of (await readdir(source, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (!top.isDirectory() || !arches.includes(top.name)) {
      throw new RelengError(
        `compose ${compose.composeId}: ${rel}/${top.name} is not an arch of ${model.files.release} (arches: ` +
          `${model.release.arches.join(', ')}) nor source; a SIG compose holds only <arch>/<repo> and source/<repo>`,
      );
    }
    for (const dir of (await readdir(join(source, top.name), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = `${sig}/${top.name}/${dir.name}`;
      const repo = expected.get(path);
      if (!repo || !dir.isDirectory()) {
        throw new RelengError(
          `compose ${compose.composeId}: ${rel}/${top.name}/${dir.name} is not a repository of ${model.files.compose} ` +
            `(field variants: ${model.compose.variants.join(', ')}); add it there to publish it`,
        );
      }
      if (!(await isFile(join(source, top.name, dir.name, 'repodata', 'repomd.xml')))) {
        throw new RelengError(
          `compose ${compose.composeId}: ${rel}/${top.name}/${dir.name} has no repodata/repomd.xml; ` +
            `a SIG repo is published with the repodata its compose made`,
        );
      }
      repos.push(repo);
    }
  }
  for (const [i, repo] of model.compose.variants.entries()) {
    if (!repos.some((r) => r.variant === repo && r.kind === 'os')) {
      throw new RelengError(
        `compose ${compose.composeId} has no ${rel}/<arch>/${repo} for any arch (${model.release.arches.join(', ')}), ` +
          `but ${model.files.compose} lists it (field variants.${i})`,
      );
    }
  }
  return { sig, source, repos };
}

/** The settings that shape what a SIG sync writes. */
function sigConfigHash(req: SyncStagingRequest): string {
  const { model, roots } = req;
  return hashConfig({
    sig: true,
    roots,
    stubs: model.common.stubs,
    owner: model.common.owner,
    arches: model.release.arches,
    compose: [model.compose.kind, model.compose.variants],
  });
}

export async function syncSigStaging(req: SyncStagingRequest): Promise<SyncStagingResult> {
  const started = Date.now();
  const { model, log } = req;
  const { sp, compose } = await syncSource(req);
  await requireTools(SIG_SYNC_TOOLS);
  const { sig, source, repos } = await planSigCompose(model, compose);
  // <stub>/<major> is the tree the SIG's repo paths are relative to; the SIG owns only <sig> in it.
  const target = sp.revisionDir;
  const base = { ...resultBase(req, compose, join(target, sig), repos.length), minorRelease: false }; // SIGs have no minor release
  const copy = (dest: string, dryRun = false) =>
    rsync({ src: source, dest, delete: true, chown: model.common.owner, dryRun });

  if (req.dryRun) {
    log.info(`${model.project}: dry run of ${compose.composeId} -> ${join(target, sig)} (nothing is changed)`);
    const s = await copy(join(target, sig), true);
    for (const line of s.changes) log.info(`  ${sig}: ${line}`);
    return { ...base, outcome: 'dry-run', ...totals([s]), seconds: (Date.now() - started) / 1000 };
  }

  await checkDestination('staging', target, [sig]);
  await refuseLinks(`staging ${target}`, target, [sig], layoutDirs(repos.map((r) => r.path)));
  return withLock(sp.lockFile, `${model.project}:sync-staging`, model.common.lockTimeoutSeconds, log, async () => {
    const configHash = sigConfigHash(req);
    const reason = await syncNeeded(await readSyncRecord(sp.syncRecord, model), compose, configHash, target);
    if (!reason) {
      log.info(`${model.project}: staging ${join(target, sig)} already holds ${compose.composeId}; nothing to sync`);
      return { ...base, outcome: 'up-to-date', files: 0, bytes: 0, seconds: (Date.now() - started) / 1000 };
    }
    log.info(`${model.project}: syncing ${compose.composeId} -> ${join(target, sig)} with delete (${reason})`);
    const stats = await inWorkCopy(target, sp, [sig], async (work) => {
      const progress = await SyncProgress.of(log, join(source, '..'), [sig]);
      const t0 = Date.now();
      const stats = await copy(join(work, sig));
      progress.unitDone(sig, { files: stats.filesTransferred, bytes: stats.bytesTransferred }, Date.now() - t0);
      if (stats.deleted) log.info(`  ${sig}: ${stats.deleted} files no longer in the compose deleted`);
      // noarch packages of several arches share one inode; metadata keeps its own (as perform_hardlink).
      await hardlink([join(work, sig)], { quiet: true });
      return stats;
    });
    await recordSync(req, sp, compose, { configHash, subtrees: [sig], repos });
    return { ...base, outcome: 'synced', ...totals([stats]), seconds: (Date.now() - started) / 1000 };
  });
}
