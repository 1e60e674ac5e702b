import { lstat, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { CHANNELS, type Channel } from '../../config/schema';
import { z } from 'zod';
import {
  channelRelease,
  projectRepoPath,
  resolveErrataSource,
  resolveSigner,
  stagingPaths,
  type RepoDir,
  type Roots,
  type StagingPaths,
} from '../../layout/paths';
import { mapLimit } from '../core/concurrency';
import { fixOpenSize } from '../tools/createrepo';
import { errorMessage, RelengError } from '../../errors';
import { withLock } from '../core/lock';
import type { Log } from '../core/log';
import { checkSigner, signRepomd } from './sign';
import { checkIsos } from './iso-checksums';
import { refuseLinks, treeLinkProblems } from '../core/link-policy';
import { removeRecord, writeRecord, type RevisionLink, type SyncRecord } from '../staging/sync-record';
import { readRecord, readSyncRecord, recordPaths } from '../staging/record-schemas';
import { revisionClaims, vettedPaths, vouchedDigest, vouchedPaths } from './vouched-paths';
import { updateRepoAdvisories } from './updateinfo';
import { checkModules, verifyRepo, type RepoReport } from './verify';
import { isModularRepo } from '../staging/modules';

/**
 * The staging chain after sync-staging: errata, signatures, and the verify gate. Each step works on the repos the
 * last sync of the project recorded, under the staging revision dir's lock.
 */
export interface StagingStepRequest {
  model: ComposeModel;
  channel: Channel;
  roots: Roots;
  log: Log;
  relengRoot?: string;
  errataUrl?: string;
}

interface StagedRepos {
  sp: StagingPaths;
  repos: RepoDir[];
  composeId: string;
  record: SyncRecord;
}

async function stagedRepos(req: StagingStepRequest): Promise<StagedRepos> {
  const ch = channelRelease(req.model.release, req.channel, req.model.files.release);
  const sp = stagingPaths(req.model, ch, req.roots);
  const record = await readSyncRecord(sp.syncRecord, req.model);
  if (!record) {
    throw new RelengError(
      `${req.model.project}: ${sp.revisionDir} has no record of a completed sync-staging (${sp.syncRecord}); run sync-staging first`,
    );
  }
  return { sp, repos: record.repos.map((p) => projectRepoPath(req.model, p)), composeId: record.composeId, record };
}

/** updateinfo and sign write into each repo's repodata: never through a link (link-policy). */
function refuseRepodataLinks(req: StagingStepRequest, sp: StagingPaths, repos: readonly RepoDir[]): Promise<void> {
  return refuseLinks(`${req.model.project}: staging ${sp.revisionDir}`, sp.revisionDir, repos.map((r) => `${r.path}/repodata`));
}

function locked<T>(req: StagingStepRequest, sp: StagingPaths, step: string, fn: () => Promise<T>): Promise<T> {
  return withLock(sp.lockFile, `${req.model.project}:${step}`, req.model.common.lockTimeoutSeconds, req.log, fn);
}

export interface UpdateinfoSummary {
  composeId: string;
  /** When the sync sign works on was made: a re-sync of the same compose (new module metadata) rewrites repomd.xml. */
  syncedAt: string;
  changed: string[];
  unchanged: string[];
  skipped: string[];
  warnings: string[];
  /** What each os repo carries now: its updateinfo file (named by the digest of the advisories), or null without advisories. */
  applied: Record<string, string | null>;
}

/** Adds each os repo's advisories (apollo_tree), skipping the ignored repos; a 404 means no advisories. */
export async function applyErrata(req: StagingStepRequest): Promise<UpdateinfoSummary> {
  const { model, log } = req;
  const { sp, repos, composeId, record } = await stagedRepos(req);
  const source = resolveErrataSource(model.release.errata, req.relengRoot, req.errataUrl);
  const targets = repos.filter((r) => r.kind === 'os' && !model.release.errata.ignoreRepos.includes(r.variant));
  const summary: UpdateinfoSummary = { composeId, syncedAt: record.syncedAt, changed: [], unchanged: [], skipped: [], warnings: [], applied: {} };
  // Each repo is fetched, validated and then replaced atomically: a failing repo is left as it was.
  return locked(req, sp, 'updateinfo', async () => {
    await refuseRepodataLinks(req, sp, targets);
    for (const repo of targets) {
      const res = await updateRepoAdvisories(join(sp.revisionDir, repo.path), source, {
        repo: repo.variant,
        arch: repo.arch,
        major: model.major,
      });
      for (const w of res.warnings ?? []) {
        summary.warnings.push(`${repo.path}: ${w}`);
        log.warn(`${repo.path}: ${w}`);
      }
      summary.applied[repo.path] = res.location ?? null;
      if (res.skipped) {
        summary.skipped.push(repo.path);
        log.info(`  ${repo.path}: ${res.skipped}`);
        continue;
      }
      await fixOpenSize(join(sp.revisionDir, repo.path, 'repodata', 'repomd.xml'));
      (res.changed ? summary.changed : summary.unchanged).push(repo.path);
      log.info(`  ${repo.path}: ${res.advisories ?? 0} advisories, ${res.changed ? 'updateinfo replaced' : 'unchanged'}`);
    }
    return summary;
  });
}

export interface SignSummary {
  composeId: string;
  signed: string[];
  unchanged: string[];
}

/** Signs every repomd.xml of the project's staging repos; a signature that already verifies is left alone. */
export async function signStaging(req: StagingStepRequest): Promise<SignSummary> {
  const { model, log } = req;
  const { sp, repos, composeId } = await stagedRepos(req);
  const signer = resolveSigner(model.release.signing, req.relengRoot);
  await checkSigner(signer).catch((err: unknown) => {
    throw new RelengError(`${model.files.release}: field signing: ${errorMessage(err)}`);
  });
  return locked(req, sp, 'sign', async () => {
    await refuseRepodataLinks(req, sp, repos);
    const summary: SignSummary = { composeId, signed: [], unchanged: [] };
    for (const repo of repos) {
      const result = await signRepomd(join(sp.revisionDir, repo.path, 'repodata', 'repomd.xml'), signer);
      summary[result === 'signed' ? 'signed' : 'unchanged'].push(repo.path);
      if (result === 'signed') log.info(`  ${repo.path}: signed`);
    }
    return summary;
  });
}

export interface VerifyRecord {
  version: 1;
  project: string;
  channel: Channel;
  composeId: string;
  stagingDir: string;
  repos: string[];
  /** The other subtrees that passed (a minor release's isos); absent when there were none. */
  extraSubtrees?: string[];
  /** The links of the revision dir that passed (nfv -> NFV); absent when there were none. */
  links?: RevisionLink[];
  /** The top-level subtrees vouched for (lib/vetting/vouched-paths.ts): what sync-prod publishes. */
  subtrees: string[];
  /** For the revision's owner: the top-level entries no project claims, vouched for by digest. */
  unclaimed?: string[];
  /** Of vettedPaths(this record): what sync-prod may publish (vouchedDigest), and of each path. */
  digest: string;
  pathDigests: Record<string, string>;
  verifiedAt: string;
}

/** Checks the links a minor release made in the revision dir: each a link to its target, a directory. */
async function checkRevisionLinks(revisionDir: string, links: readonly RevisionLink[]): Promise<RepoReport[]> {
  return Promise.all(
    links.map(async ({ name, target }) => {
      const path = join(revisionDir, name);
      const st = await lstat(path).catch(() => undefined);
      const now = st?.isSymbolicLink() ? await readlink(path) : undefined;
      let problem: string | undefined;
      if (!st) problem = `${path} is missing; the minor release made it a link to ${target}`;
      else if (now === undefined) problem = `${path} is a ${st.isDirectory() ? 'directory' : 'file'}, not the link to ${target} the minor release made`;
      else if (now !== target) problem = `${path} points at ${now}, not ${target}`;
      else if (!(await stat(path).then((t) => t.isDirectory(), () => false))) problem = `${path} -> ${target} does not lead to a directory`;
      return { repo: name, ok: !problem, problems: problem ? [problem] : [] };
    }),
  );
}

/** Checks every repo of the project; records the digest of what passed, or fails with a per-repo report. */
export async function verifyStaging(req: StagingStepRequest & { models: readonly ComposeModel[] }): Promise<VerifyRecord> {
  const { model, log } = req;
  const { sp, repos, composeId, record: synced } = await stagedRepos(req);
  // SIG repos are neither signed nor closed over the distribution's repos here (see plugin/targets.ts sigTargets).
  const sig = model.compose.kind === 'sig';
  const publicKey = resolveSigner(model.release.signing, req.relengRoot).publicKey as string;
  try {
    if (!sig) await stat(publicKey);
  } catch {
    throw new RelengError(`${model.files.release}: field signing.publicKey: ${publicKey} does not exist`);
  }
  // Verify only reads: it takes no lock (checks of all projects run side by side) and instead proves that
  // nothing changed while it looked, by taking the digest before and after.
  const extraSubtrees = synced.extraSubtrees ?? [];
  const links = synced.links ?? [];
  const vouched = await vouchedPaths(model, revisionClaims(req.models, model), sp.revisionDir, synced);
  const paths = vettedPaths(vouched);
  const { digest, byPath } = vouchedDigest(sp.revisionDir, paths);
  const reports: RepoReport[] = await mapLimit(repos, 2, async (repo) => {
    // A kickstart tree (the frozen GA install tree) is closed over the other kickstart trees, an os tree over os.
    const tree = repo.kind === 'os' || repo.kind === 'kickstart' ? repo.kind : undefined;
    const deps = tree && !sig ? model.release.repoclosure[repo.variant] ?? [] : [];
    const closureRepos = Object.fromEntries(deps.map((dep) => [dep, join(sp.revisionDir, dep, repo.arch, tree as string)] as const));
    // What production will hold: no link leaving staging, none in place of a layout dir (link-policy).
    const links = await treeLinkProblems(sp.revisionDir, [repo.path]);
    const checked = await verifyRepo(join(sp.revisionDir, repo.path), {
      publicKey,
      arch: repo.arch,
      closureRepos,
      name: repo.path,
      unsigned: sig,
      repoclosure: !sig,
      // repoclosure of debug and source trees is not meaningful: their dependencies live in the os trees.
      skipDnf: !tree,
    });
    // A modular repo must still carry its modules: a missing or unreadable record breaks every EL8 client.
    const modules = isModularRepo(model, repo) ? await checkModules(join(sp.revisionDir, repo.path)) : [];
    const problems = [...links, ...checked.problems, ...modules];
    const report = { ...checked, ok: !problems.length, problems };
    log.info(`  ${repo.path}: ${report.ok ? 'ok' : `${report.problems.length} problem(s)`}`);
    return report;
  });
  // A minor release's isos/ and links are published with the repos, so they pass the same gate.
  const extra: RepoReport[] = [];
  for (const subtree of extraSubtrees) {
    if (subtree !== 'isos') throw new RelengError(`${sp.syncRecord}: extraSubtrees lists '${subtree}'; verify knows how to check only isos`);
    const links = await treeLinkProblems(sp.revisionDir, [subtree], model.release.arches.map((a) => `${subtree}/${a}`));
    if (links.length) extra.push({ repo: `${subtree}/`, ok: false, problems: links });
    extra.push(...(await checkIsos(sp.revisionDir, subtree, model.release.arches)));
  }
  extra.push(...(await checkRevisionLinks(sp.revisionDir, links)));
  for (const subtree of extraSubtrees) {
    const mine = extra.filter((r) => r.repo.startsWith(`${subtree}/`));
    log.info(`  ${subtree}: ${mine.filter((r) => r.ok).length} of ${mine.length} files ok`);
  }
  for (const l of links) log.info(`  ${l.name} -> ${l.target}: ${extra.find((r) => r.repo === l.name)?.ok ? 'ok' : 'problem'}`);
  if (vouchedDigest(sp.revisionDir, paths).digest !== digest) {
    reports.push({ repo: sp.revisionDir, ok: false, problems: ['staging changed while it was being verified; run verify again'] });
  }
  const failed = reports.filter((r) => !r.ok);
  const failedExtra = extra.filter((r) => !r.ok);
  if (failed.length || failedExtra.length) {
    await removeRecord(sp.verifyRecord);
    const lines = [...failed, ...failedExtra].flatMap((r) => [`${r.repo}:`, ...r.problems.map((p) => `    ${p}`)]);
    const counts = [
      ...(failed.length || !failedExtra.length ? [`${failed.length} of ${repos.length} repos`] : []),
      ...(failedExtra.length ? [`${failedExtra.length} of ${extra.length} files and links of ${[...extraSubtrees, ...links.map((l) => l.name)].join(', ')}`] : []),
    ];
    throw new RelengError(`${counts.join(' and ')} failed verification:\n  ${lines.join('\n  ')}`);
  }
  const record: VerifyRecord = {
    version: 1,
    project: model.project,
    channel: req.channel,
    composeId,
    stagingDir: sp.revisionDir,
    repos: repos.map((r) => r.path),
    ...(extraSubtrees.length ? { extraSubtrees } : {}),
    ...(links.length ? { links } : {}),
    subtrees: vouched.subtrees,
    ...(vouched.unclaimed.length ? { unclaimed: vouched.unclaimed } : {}),
    digest,
    pathDigests: byPath,
    verifiedAt: new Date().toISOString(),
  };
  await writeRecord(sp.verifyRecord, record);
  return record;
}

/**
 * The verify record, validated (record-schemas.ts). One from before verify vouched for whole subtrees (no
 * subtrees field) vouches for nothing: verify again.
 */
export async function readVerifyRecord(file: string, model: ComposeModel): Promise<VerifyRecord | undefined> {
  const p = recordPaths(model);
  const schema = z.looseObject({
    version: z.literal(1),
    project: z.string(),
    channel: z.enum(CHANNELS),
    composeId: z.string(),
    stagingDir: p.absolute,
    repos: z.array(p.repo),
    extraSubtrees: z.array(p.subtree).optional(),
    links: z.array(p.link).optional(),
    subtrees: z.array(p.subtree).optional(),
    unclaimed: z.array(p.topLevelName).optional(),
    digest: z.string(),
    pathDigests: z.record(z.string(), z.string()).optional(),
    verifiedAt: z.string(),
  });
  const rec = await readRecord(file, schema);
  return rec?.subtrees && rec.pathDigests ? (rec as VerifyRecord) : undefined;
}
