/**
 * What every staging sync shares, base and SIG alike: the request and result of a sync, the decision whether
 * staging needs one (its record), writing that record, and the hard-linked work copy swapped in by rename.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel } from '../../config/schema';
import type { RepoDir, Roots, StagingPaths } from '../../layout/paths';
import type { ComposeRef } from '../compose/compose-ref';
import { isDir } from '../core/fs-checks';
import type { Log } from '../core/log';
import { run } from '../tools/exec';
import type { RsyncStats } from '../tools/rsync';
import { destinationDrift, fingerprintDirs, removeRecord, writeRecord, type SyncRecord } from './sync-record';

export interface SyncStagingRequest {
  model: ComposeModel;
  channel: Channel;
  roots: Roots;
  dryRun?: boolean;
  allowIncomplete?: boolean;
  /** A minor (GA) release: the install tree, ISOs, kickstart trees, .treeinfo and links too (lib/minor-release). */
  minorRelease?: boolean;
  log: Log;
}

export interface SyncStagingResult {
  project: string;
  channel: Channel;
  composeId: string;
  composeDir: string;
  stagingDir: string;
  /** Whether staging holds a minor release of this compose (its manifest changes, so sign runs on kickstart/). */
  minorRelease: boolean;
  /** synced: work was done; up-to-date: the record matched; dry-run: nothing was changed. */
  outcome: 'synced' | 'up-to-date' | 'dry-run';
  files: number;
  bytes: number;
  repos: number;
  seconds: number;
}

/** Why the staging tree needs a sync, or undefined when the last sync's record still holds. */
export async function syncNeeded(
  record: SyncRecord | undefined,
  compose: ComposeRef,
  configHash: string,
  target: string,
  minorHash?: string,
) {
  if (!record) return 'no record of a previous sync';
  if (record.composeId !== compose.composeId) return `new compose ${compose.composeId} (staging has ${record.composeId})`;
  if (record.configHash !== configHash) return 'the release configuration or the module metadata changed';
  if (record.destination !== target) return 'the staging directory changed';
  if (minorHash && record.minorRelease !== minorHash) {
    return record.minorRelease ? 'the minor release configuration changed' : `no minor release of ${compose.composeId} yet`;
  }
  return destinationDrift(record);
}

/** What a successful sync wrote: the record the runtime input and the next sync compare staging with. */
export async function recordSync(
  req: Pick<SyncStagingRequest, 'model' | 'channel'>,
  sp: Pick<StagingPaths, 'revisionDir' | 'syncRecord'>,
  compose: ComposeRef,
  o: Pick<SyncRecord, 'configHash' | 'minorRelease' | 'extraSubtrees' | 'links'> & { subtrees: readonly string[]; repos: readonly RepoDir[] },
): Promise<void> {
  await writeRecord(sp.syncRecord, {
    version: 1,
    project: req.model.project,
    channel: req.channel,
    composeId: compose.composeId,
    composeDir: compose.composeDir,
    configHash: o.configHash,
    syncedAt: new Date().toISOString(),
    destination: sp.revisionDir,
    dirs: await fingerprintDirs(sp.revisionDir, o.subtrees),
    repos: o.repos.map((r) => r.path),
    ...(o.minorRelease ? { minorRelease: o.minorRelease, extraSubtrees: o.extraSubtrees, links: o.links } : {}),
  });
}

/**
 * Staging is never half-changed: `build` works on a hard-linked copy of the project's subtrees (see
 * prepareWorkTree), and each subtree is swapped in by rename once it succeeded. The sync record goes first: a run
 * killed from here on leaves no claim that staging is in sync.
 */
export async function inWorkCopy<T>(
  target: string,
  sp: Pick<StagingPaths, 'workDir' | 'syncRecord'>,
  subtrees: readonly string[],
  build: (work: string) => Promise<T>,
): Promise<T> {
  await removeRecord(sp.syncRecord);
  await restoreInterruptedSwap(target, sp.workDir, subtrees);
  try {
    await prepareWorkTree(target, sp.workDir, subtrees);
    const result = await build(sp.workDir);
    await swapIntoPlace(sp.workDir, target, subtrees);
    return result;
  } finally {
    await rm(sp.workDir, { recursive: true, force: true });
  }
}

/** The work copy of inWorkCopy: hard links are cheap, and rsync and createrepo replace files rather than write into them. */
async function prepareWorkTree(target: string, workDir: string, subtrees: readonly string[]): Promise<void> {
  await rm(workDir, { recursive: true, force: true }); // leftovers of a killed run
  await mkdir(workDir, { recursive: true });
  await mkdir(target, { recursive: true });
  for (const sub of subtrees) {
    if (await isDir(join(target, sub))) await run('cp', ['-al', join(target, sub), join(workDir, sub)]);
  }
}

/**
 * A run killed between the two renames of a swap left the old subtree in the work dir: put it back. Done before
 * the work dir is cleaned (and outside the clean-up of a failed run), so a published subtree is never deleted.
 */
async function restoreInterruptedSwap(target: string, workDir: string, subtrees: readonly string[]): Promise<void> {
  for (const sub of subtrees) {
    const old = join(workDir, `.old-${sub}`);
    if ((await isDir(old)) && !(await isDir(join(target, sub)))) await rename(old, join(target, sub));
  }
}

async function swapIntoPlace(work: string, target: string, subtrees: readonly string[]): Promise<void> {
  for (const sub of subtrees) {
    const old = join(work, `.old-${sub}`);
    const hadOld = await isDir(join(target, sub));
    if (hadOld) await rename(join(target, sub), old);
    try {
      await rename(join(work, sub), join(target, sub));
    } catch (err) {
      // The failed run's clean-up removes the work dir: the published subtree must not be in it.
      if (hadOld) await rename(old, join(target, sub));
      throw err;
    }
    if (hadOld) await rm(old, { recursive: true, force: true });
  }
}

export function totals(stats: readonly RsyncStats[]): { files: number; bytes: number } {
  return {
    files: stats.reduce((n, s) => n + s.filesTransferred, 0),
    bytes: stats.reduce((n, s) => n + s.bytesTransferred, 0),
  };
}
