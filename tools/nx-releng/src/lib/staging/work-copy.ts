/**
 * What every staging sync shares, base and SIG alike: the request and result of a sync, the decision whether
 * staging needs one (its record), writing that record, and the hard-linked work copy swapped in by rename.
 */
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel } from '../../config/schema';
import { channelRelease, composePaths, stagingPaths, type RepoDir, type Roots, type StagingPaths } from '../../layout/paths';
import { resolveLatestCompose, type ComposeRef } from '../compose/compose-ref';
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

/** Where a sync reads from and writes to: the channel's release, its staging paths, and the compose its latest link names. */
export async function syncSource(req: Pick<SyncStagingRequest, 'model' | 'channel' | 'roots' | 'allowIncomplete'>) {
  const { model, channel, roots } = req;
  const ch = channelRelease(model.release, channel, model.files.release);
  const sp = stagingPaths(model, ch, roots);
  const compose = await resolveLatestCompose(composePaths(model, ch, roots).latestLink, req.allowIncomplete);
  return { ch, sp, compose };
}

/** What every sync result says of where it synced from and to. */
export function resultBase(req: Pick<SyncStagingRequest, 'model' | 'channel'>, compose: ComposeRef, stagingDir: string, repos: number) {
  return { project: req.model.project, channel: req.channel, composeId: compose.composeId, composeDir: compose.composeDir, stagingDir, repos };
}

/**
 * Why the record alone says staging needs a sync (none, another compose, configuration or destination), without
 * looking at staging; undefined when it describes this sync. syncNeeded adds the look at staging.
 */
export function recordOutdated(
  record: SyncRecord | undefined,
  compose: ComposeRef,
  configHash: string,
  target: string,
  minorHash?: string,
): string | undefined {
  if (!record) return 'no record of a previous sync';
  if (record.composeId !== compose.composeId) return `new compose ${compose.composeId} (staging has ${record.composeId})`;
  if (record.configHash !== configHash) return 'the release configuration or the module metadata changed';
  if (record.destination !== target) return 'the staging directory changed';
  if (minorHash && record.minorRelease !== minorHash) {
    return record.minorRelease ? 'the minor release configuration changed' : `no minor release of ${compose.composeId} yet`;
  }
  return undefined;
}

/** Why the staging tree needs a sync, or undefined when the last sync's record still holds. */
export async function syncNeeded(
  record: SyncRecord | undefined,
  compose: ComposeRef,
  configHash: string,
  target: string,
  minorHash?: string,
) {
  return recordOutdated(record, compose, configHash, target, minorHash) ?? destinationDrift(record as SyncRecord);
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
    dirs: fingerprintDirs(sp.revisionDir, o.subtrees),
    repos: o.repos.map((r) => r.path),
    ...(o.minorRelease ? { minorRelease: o.minorRelease } : {}),
    ...(o.extraSubtrees?.length ? { extraSubtrees: o.extraSubtrees } : {}),
    ...(o.links?.length ? { links: o.links } : {}),
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
  await restoreInterruptedSwap(target, sp.workDir);
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
 * A run killed between the two renames of a swap left the old subtree in its work dir as .old-<subtree>: put it
 * back (roll back; with the new subtree already in place it is rolled forward: the old one goes with the work
 * dir). Every .old-* of every work dir of the revision counts, not only this run's subtrees: a daily sync after
 * an interrupted minor release would otherwise delete the only isos/. Done before any work dir is cleaned, under
 * the revision's lock, which every run with a work dir of this revision holds.
 */
async function restoreInterruptedSwap(target: string, workDir: string): Promise<void> {
  const revisionWork = dirname(workDir); // work/<stub>/<revision>/<project>
  for (const project of await readdir(revisionWork).catch(() => [] as string[])) {
    const dir = join(revisionWork, project);
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const sub = name.slice('.old-'.length);
      if (!name.startsWith('.old-') || !(await isDir(join(dir, name)))) continue;
      if (!(await isDir(join(target, sub)))) await rename(join(dir, name), join(target, sub));
    }
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
