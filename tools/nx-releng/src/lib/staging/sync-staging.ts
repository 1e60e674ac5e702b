import { lstat, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel } from '../../config/schema';
import { compsFile, repoDirs, type RepoDir, type StagingPaths } from '../../layout/paths';
import type { ComposeRef } from '../compose/compose-ref';
import { mapLimit } from '../core/concurrency';
import { createrepo, createrepoVersion, fixOpenSize, modifyrepoModules, stagingCreaterepoArgs } from '../tools/createrepo';
import { errorMessage, RelengError } from '../../errors';
import { requireTools } from '../tools/exec';
import { pointLink } from '../core/links';
import { withLock } from '../core/lock';
import { readComposeInfo, readRpmsMetadata } from '../formats/productmd';
import { formatSeconds, type Log } from '../core/log';
import { SyncProgress } from '../core/progress';
import { STAGING_EXCLUDES, rsync } from '../tools/rsync';
import { hashConfig } from './sync-record';
import { readSyncRecord } from './record-schemas';
import {
  inWorkCopy,
  recordOutdated,
  recordSync,
  resultBase,
  syncNeeded,
  syncSource,
  totals,
  type SyncStagingRequest,
  type SyncStagingResult,
} from './work-copy';
import { checkDestination, isDir, isFile } from '../core/fs-checks';
import { layoutDirs, refuseLinks } from '../core/link-policy';
import { syncSigStaging } from './sig';
import { moduleMetadataOf } from './modules';
import {
  MINOR_RELEASE_EXCLUDES,
  MINOR_RELEASE_TOOLS,
  buildMinorRelease,
  keptReleaseState,
  kickstartRepos,
  minorReleaseSubtrees,
  planMinorRelease,
  publishMinorReleaseLinks,
  type MinorReleasePlan,
} from './minor-release';
import { hardlink } from '../tools/hardlink';

/** Tools a sync needs, checked before anything is touched. */
export const SYNC_STAGING_TOOLS = ['rsync', 'createrepo_c', 'modifyrepo_c', 'hardlink'];

/** One rsync unit: a variant's arch or source dir (the bash parallel_rsync split), or compose metadata. */
interface Unit {
  rel: string;
}

/** What of this project's variants the compose holds: rsync units and the repos with repodata. */
async function planFromCompose(model: ComposeModel, compose: ComposeRef): Promise<{ units: Unit[]; repos: RepoDir[] }> {
  const top = join(compose.composeDir, 'compose');
  const units: Unit[] = [];
  const repos: RepoDir[] = [];
  for (const variant of model.compose.variants) {
    if (!(await isDir(join(top, variant)))) {
      throw new RelengError(
        `compose ${compose.composeId} has no compose/${variant} directory, but ${model.files.compose} lists variant '${variant}'`,
      );
    }
    for (const child of [...model.release.arches, 'source']) {
      if (await isDir(join(top, variant, child))) units.push({ rel: `${variant}/${child}` });
    }
    for (const repo of repoDirs(variant, model.release.arches)) {
      if (await isDir(join(top, repo.path, 'repodata'))) repos.push(repo);
    }
  }
  const metadata = model.compose.syncMetadata && (await isDir(join(top, 'metadata')));
  // What rsync copies must hold no link leaving the compose and no link in place of a layout dir (link-policy).
  const layout = layoutDirs(model.compose.variants.flatMap((v) => repoDirs(v, model.release.arches).map((r) => r.path)));
  await refuseLinks(`compose ${compose.composeId}`, top, [...model.compose.variants, ...(metadata ? ['metadata'] : [])], layout);
  if (metadata) {
    await checkMetadata(model, compose, join(top, 'metadata'));
    units.push({ rel: 'metadata' });
  }
  return { units, repos };
}

/** Compose metadata is published beside the repos: a corrupt composeinfo.json or rpms.json is refused, not copied. */
async function checkMetadata(model: ComposeModel, compose: ComposeRef, dir: string): Promise<void> {
  const files = [
    { name: 'composeinfo.json', read: readComposeInfo },
    { name: 'rpms.json', read: readRpmsMetadata },
  ];
  for (const { name, read } of files) {
    if (!(await isFile(join(dir, name)))) continue;
    try {
      await read(join(dir, name));
    } catch (err) {
      throw new RelengError(
        `compose ${compose.composeId} has unusable metadata, and ${model.files.compose} publishes it (syncMetadata): ${errorMessage(err)}`,
      );
    }
  }
}

/** The bash "Removing all current repo data": the compose brings fresh repodata, createrepo --update merges. */
async function clearRepodata(target: string, repos: readonly RepoDir[]): Promise<void> {
  for (const repo of repos) {
    const dir = join(target, repo.path, 'repodata');
    let entries;
    try {
      // Never through a link (the staging check refuses one before anything is touched; this is the last guard).
      if (!(await lstat(dir)).isDirectory()) continue;
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) if (!e.isDirectory()) await rm(join(dir, e.name), { force: true });
  }
}

/** The comps file each comps repo needs, checked before anything is touched. */
async function groupfiles(model: ComposeModel, compose: ComposeRef, repos: readonly RepoDir[]) {
  const files = new Map<string, string>();
  for (const repo of repos) {
    if (repo.kind !== 'os' || !model.release.compsRepos.includes(repo.variant)) continue;
    const file = compsFile(compose.composeDir, repo.variant, repo.arch);
    if (!(await isFile(file))) {
      throw new RelengError(
        `${repo.variant} is a comps repo (compsRepos in ${model.files.release}) but compose ${compose.composeId} ` +
          `has no ${file}; refusing to publish ${repo.path} without its groups`,
      );
    }
    files.set(repo.path, file);
  }
  return files;
}

/** createrepo_c --update as Rocky's sync does it, then modules, then the empty open-size fix. */
async function regenerateRepodata(
  req: SyncStagingRequest,
  tree: string,
  repo: RepoDir,
  groupfile: string | undefined,
  modules: string | undefined,
  version: string,
): Promise<void> {
  const { model } = req;
  const repoDir = join(tree, repo.path);
  await createrepo(
    stagingCreaterepoArgs({
      repoDir,
      major: model.major,
      distroName: model.common.distro.name,
      cpeVendor: model.common.distro.cpeVendor,
      workers: model.common.createrepo.workers,
      groupfile,
      createrepoVersion: version,
    }),
  );
  if (modules !== undefined) await modifyrepoModules(join(repoDir, 'repodata'), modules);
  await fixOpenSize(join(repoDir, 'repodata', 'repomd.xml'));
}

/**
 * How a channel's staging tree follows its compose. Stable is the GA install tree that update syncs add to:
 * nothing is deleted and the installer files are never overwritten (sync-to-staging.sh), except by the minor
 * release that lays the install tree down. Beta and lookahead trees mirror their compose, installer included,
 * deleting what it no longer has (beta-release-sync-to-staging.sh, lh-release-sync-to-staging.sh). The ISO dirs
 * of a compose never land inside a variant: the minor release publishes ISOs in isos/<arch>.
 */
function rsyncMode(channel: Channel, minorRelease: boolean): { delete: boolean; excludes: readonly string[] } {
  if (channel !== 'stable') return { delete: true, excludes: MINOR_RELEASE_EXCLUDES };
  return { delete: false, excludes: minorRelease ? MINOR_RELEASE_EXCLUDES : STAGING_EXCLUDES };
}

/** Only the settings that shape what a sync writes: a change to, say, the file-list roots must not re-sync. */
function configHashOf(req: SyncStagingRequest): string {
  const { model, channel, roots } = req;
  const { common, release, compose } = model;
  return hashConfig({
    roots,
    stubs: common.stubs,
    owner: common.owner,
    distro: common.distro,
    workers: common.createrepo.workers,
    release: [release.revision, release.arches, release.channels[channel], release.compsRepos, release.modularRepos],
    compose: [compose.kind, compose.variants, compose.syncMetadata],
    channel,
  });
}

/**
 * What a minor release of this config writes on top of a daily sync, recorded apart: a daily sync after a minor
 * release of the same compose has nothing to do (verify's dependsOn runs one), a minor release after a daily sync
 * does.
 */
function minorHashOf(req: SyncStagingRequest): string | undefined {
  const { release } = req.model;
  return releaseExtras(req) ? hashConfig([configHashOf(req), release.isoTypes, release.linkRepos, release.treeinfoVariants]) : undefined;
}

/** A minor release, and every beta and lookahead sync, lays down a release tree: ISOs, links, .treeinfo. */
function releaseExtras(req: SyncStagingRequest): boolean {
  return !!req.minorRelease || req.channel !== 'stable';
}

export async function syncStaging(req: SyncStagingRequest): Promise<SyncStagingResult> {
  // A SIG is synced as sync-to-staging-sig.sh does it (with delete, repodata as composed): see lib/sig.ts.
  if (req.model.compose.kind === 'sig') return syncSigStaging(req);
  const started = Date.now();
  const { model, channel, roots, log } = req;
  const { ch, sp, compose } = await syncSource(req);
  await requireTools(releaseExtras(req) ? [...SYNC_STAGING_TOOLS, ...MINOR_RELEASE_TOOLS] : SYNC_STAGING_TOOLS);
  const { units, repos } = await planFromCompose(model, compose);
  const minor: MinorReleasePlan | undefined = releaseExtras(req) ? await planMinorRelease(model, ch, compose, sp, log) : undefined;
  const mode = rsyncMode(channel, !!minor);
  const target = sp.revisionDir;
  const base = resultBase(req, compose, target, repos.length);
  // Read before a dry run returns, so that it fails on a comps file or module metadata a real sync would refuse.
  const groups = await groupfiles(model, compose, repos);
  // A release tree (minor release, beta, lookahead) is the compose: pungi's modules record wins (lib/staging/modules.ts).
  const { modules, yamls } = await moduleMetadataOf(model, roots, repos, minor ? compose : undefined);

  if (req.dryRun) {
    log.info(`${model.project}: dry run of ${compose.composeId} -> ${target} (nothing is changed)`);
    const stats = await mapLimit(units, model.common.rsync.parallel, async (unit) => {
      const s = await rsync({
        src: join(compose.composeDir, 'compose', unit.rel),
        dest: join(target, unit.rel),
        ...mode,
        chown: model.common.owner,
        dryRun: true,
      });
      for (const line of s.changes) log.info(`  ${unit.rel}: ${line}`);
      return s;
    });
    for (const repo of repos) log.info(`  would regenerate repodata of ${repo.path}`);
    if (minor) {
      for (const d of minor.isoDirs) log.info(`  would publish ${d.isos.join(', ')} in isos/${d.arch}`);
      for (const r of minor.kickstart) log.info(`  would freeze ${r.path}`);
    }
    return { ...base, minorRelease: !!minor, outcome: 'dry-run', ...totals(stats), seconds: (Date.now() - started) / 1000 };
  }

  const subtrees = [...units.map((u) => u.rel.split('/')[0] as string), ...(minor ? minorReleaseSubtrees(minor) : [])].filter(
    (v, i, a) => a.indexOf(v) === i,
  );
  await checkDestination('staging', target, subtrees);
  // The work copy is cp -al of these subtrees: a link there would be written and deleted through.
  const stagedRepos = [...repos, ...(minor?.kickstart ?? [])].map((r) => r.path);
  await refuseLinks(`staging ${target}`, target, subtrees, layoutDirs(stagedRepos));
  await checkChannelLink(sp);
  // The module metadata is re-added on every sync (sync-to-staging.sh): an edited yaml makes the sync run again.
  // Only the yaml is hashed, by every kind of sync alike: the compose's own record is part of the compose.
  const configHash = hashConfig([configHashOf(req), [...yamls]]);
  const minorHash = minorHashOf(req);
  // Sizing the compose for the progress lines lstat's every file of it. When the record already says a sync is
  // due (none yet, a new compose, another configuration), that walk runs now, while another project of this
  // revision may hold the lock, instead of inside it. Whether to sync is still decided under the lock.
  const early = recordOutdated(await readSyncRecord(sp.syncRecord, model), compose, configHash, target, minorHash)
    ? sizeCompose(log, compose, units)
    : undefined;
  return withLock(sp.lockFile, `${model.project}:sync-staging`, model.common.lockTimeoutSeconds, log, async () => {
    const record = await readSyncRecord(sp.syncRecord, model);
    const reason = await syncNeeded(record, compose, configHash, target, minorHash);
    if (!reason) {
      await early?.settled;
      await pointChannelLink(sp, log);
      log.info(`${model.project}: staging ${target} already holds ${compose.composeId}; nothing to sync`);
      const minorRelease = !!record?.minorRelease;
      return { ...base, minorRelease, outcome: 'up-to-date', files: 0, bytes: 0, seconds: (Date.now() - started) / 1000 };
    }
    log.info(`${model.project}: syncing ${compose.composeId} -> ${target} (${reason})`);
    const { stats, recorded } = await inWorkCopy(target, sp, subtrees, async (work) => {
      await clearRepodata(work, repos);
      // The rsyncs need no sizes: they start while the walk (if still running) finishes; the first unit done
      // waits for it, so its "to do" line still comes first.
      const progress = (early ?? sizeCompose(log, compose, units)).progress();
      progress.catch(() => undefined); // rethrown where it is awaited; not an unhandled rejection meanwhile
      const stats = await mapLimit(units, model.common.rsync.parallel, async (unit) => {
        const t0 = Date.now();
        const s = await rsync({
          src: join(compose.composeDir, 'compose', unit.rel),
          dest: join(work, unit.rel),
          ...mode,
          chown: model.common.owner,
        });
        (await progress).unitDone(unit.rel, { files: s.filesTransferred, bytes: s.bytesTransferred }, Date.now() - t0);
        return s;
      });
      await progress; // no units (nothing to copy): the walk still ends, and its failure still fails the sync
      const version = await createrepoVersion();
      let regenerated = 0;
      await mapLimit(repos, model.common.createrepo.parallel, async (repo) => {
        const t0 = Date.now();
        await regenerateRepodata(req, work, repo, groups.get(repo.path), modules.get(repo.path)?.text, version);
        const origin = modules.get(repo.path)?.origin;
        log.info(`  [${++regenerated}/${repos.length}] ${repo.path}: repodata regenerated in ${formatSeconds(Date.now() - t0)}${origin ? `, modules of ${origin}` : ''}`);
      });
      if (minor) await buildMinorRelease(minor, work, log);
      // The kickstart trees of an earlier minor release are repos of the project too: signed and verified.
      const recorded = [...repos, ...(await kickstartRepos(model, work))];
      // Identical files across this project's repos share one inode; metadata files are rewritten in place later.
      await hardlink(subtrees.map((s) => join(work, s)), { quiet: true });
      return { stats, recorded };
    });
    await pointChannelLink(sp, log);
    if (minor) await publishMinorReleaseLinks(minor, log);
    await recordSync(req, sp, compose, {
      configHash,
      subtrees,
      repos: recorded,
      ...(minor
        ? { minorRelease: minorHash, extraSubtrees: minorReleaseSubtrees(minor), links: minor.repoLinks }
        : await keptReleaseState(model, target)),
    });
    return { ...base, minorRelease: !!minorHash, outcome: 'synced', ...totals(stats), seconds: (Date.now() - started) / 1000 };
  });
}

/**
 * The progress of a sync's rsyncs, sized from the compose's units (SyncProgress walks every file) as soon as this
 * is called. Its lines are held until progress() is awaited, so they follow the line that says the sync starts,
 * wherever the walk ran; `settled` is for a run that turns out to have nothing to sync.
 */
function sizeCompose(log: Log, compose: ComposeRef, units: readonly Unit[]): { progress(): Promise<SyncProgress>; settled: Promise<void> } {
  const held: string[] = [];
  let released = false;
  const heldLog: Log = { info: (line) => (released ? log.info(line) : held.push(line)), warn: (line) => log.warn(line) };
  const sizing = SyncProgress.of(heldLog, join(compose.composeDir, 'compose'), units.map((u) => u.rel));
  const settled = sizing.then(
    () => undefined,
    () => undefined, // a walk that ends up unused must not fail the run; progress() rethrows for one that is used
  );
  return {
    async progress() {
      const progress = await sizing;
      released = true;
      for (const line of held.splice(0)) log.info(line);
      return progress;
    },
    settled,
  };
}

/** A channel link path that holds something else than a link is refused before anything is touched. */
async function checkChannelLink(sp: StagingPaths): Promise<void> {
  if (!sp.channelLink) return;
  const st = await lstat(sp.channelLink).catch(() => undefined);
  if (st && !st.isSymbolicLink()) {
    throw new RelengError(`${sp.channelLink} must be a symbolic link to ${sp.revisionName}, but it is a ${st.isDirectory() ? 'directory' : 'file'}; move it away first`);
  }
}

/** 8-BETA -> 8.10-BETA, as the beta and lookahead scripts leave it; replaced atomically, never followed into. */
async function pointChannelLink(sp: StagingPaths, log: Log): Promise<void> {
  if (!sp.channelLink) return;
  if (await pointLink(dirname(sp.channelLink), basename(sp.channelLink), sp.revisionName)) {
    log.info(`  ${sp.channelLink} -> ${sp.revisionName}`);
  }
}

