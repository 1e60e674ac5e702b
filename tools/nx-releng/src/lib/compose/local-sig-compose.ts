/**
 * The local backend for a SIG compose (kind sig): the same inputs as a base compose
 * (<srcDir>/<repo>/*.rpm, optional comps.xml) laid out the way empanadas' SigRepoSync lays a SIG compose out and
 * sync-to-staging-sig.sh reads it (toolkit §4.8, §5.1):
 *
 *   compose/<major>/<sig>/<arch>/<repo>/{Packages/<letter>/*.rpm, repodata/}
 *   compose/<major>/<sig>/<arch>/<repo>-debug/...
 *   compose/<major>/<sig>/source/<repo>/...
 *
 * with STATUS, COMPOSE_ID, the log and compose/metadata/rpms.json (the what-changed report reads it; the sync
 * never copies it), and the latest link moved only once the compose is FINISHED. No .treeinfo/.discinfo: SIG
 * repos are plain repositories, not install trees.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mapLimit } from '../core/concurrency';
import { createrepoVersion, pungiCreaterepoArgs } from '../tools/createrepo';
import { RelengError } from '../../errors';
import { run } from '../tools/exec';
import {
  composeIdFor,
  linkOrCopy,
  listVariantRpms,
  localDate,
  makeComposeDir,
  withComposeStatus,
  planRepos,
  rpmsMapFor,
  type ComposeType,
  type LocalComposeResult,
} from './local-compose';
import { replaceLink } from '../core/links';
import { writeRpmsMetadata, type ComposeSummary } from '../formats/productmd';
import { readRpmHeaders, type RpmHeader } from '../formats/rpm-header';

export interface LocalSigComposeOptions {
  /** Compose root for the major (e.g. /mnt/compose/8); must exist. */
  targetDir: string;
  /** <srcDir>/<repo>/*.rpm */
  srcDir: string;
  /** compose id prefix and rpms.json release short: SIG-cloud */
  short: string;
  /** The SIG's dir name: cloud */
  sig: string;
  major: string;
  /** release_version in the compose id, e.g. 8.10 */
  version: string;
  /** The SIG's repos (compose.json variants). */
  repos: string[];
  arches: string[];
  /** YYYYMMDD; default today. */
  date?: string;
  composeType?: ComposeType;
  /** latest-SIG-cloud-8 */
  latestLinkName: string;
}

/** Compose-relative paths of a SIG repo: compose/<major>/<sig>/... */
export const sigComposePaths = {
  os: (major: string, sig: string, arch: string, repo: string) => `${major}/${sig}/${arch}/${repo}`,
  debug: (major: string, sig: string, arch: string, repo: string) => `${major}/${sig}/${arch}/${repo}-debug`,
  source: (major: string, sig: string, repo: string) => `${major}/${sig}/source/${repo}`,
};

/** Where each RPM of one repo goes: binaries to <arch>/<repo> (noarch to every arch), debug to -debug, SRPMs to source. */
export function planSigRepo(o: { major: string; sig: string; repo: string; arches: string[] }, headers: RpmHeader[]) {
  return planRepos(o.repo, o.arches, headers, {
    os: (a) => sigComposePaths.os(o.major, o.sig, a, o.repo),
    debug: (a) => sigComposePaths.debug(o.major, o.sig, a, o.repo),
    source: () => sigComposePaths.source(o.major, o.sig, o.repo),
  });
}

export async function createLocalSigCompose(opts: LocalSigComposeOptions): Promise<LocalComposeResult> {
  const date = opts.date ?? localDate();
  const composeType = opts.composeType ?? 'production';
  if (!/^\d{8}$/.test(date)) throw new RelengError(`compose date must be YYYYMMDD, got '${date}'`);
  if (opts.repos.length === 0) throw new RelengError('no SIG repos configured');
  const { id: composeId, dir: composeDir, respin } = await makeComposeDir(opts.targetDir, (r) =>
    composeIdFor({ short: opts.short, version: opts.version, releaseType: 'updates', date, composeType, respin: r }),
  );
  const compose = join(composeDir, 'compose');
  let rpmCount = 0;
  await withComposeStatus(composeDir, composeId, async (log) => {
    await log(`Local SIG compose of ${opts.srcDir} into compose/${opts.major}/${opts.sig} (repos ${opts.repos.join(', ')})`);

    const inputs = await Promise.all(opts.repos.map((r) => listVariantRpms(opts.srcDir, r, false)));
    const headers = await readRpmHeaders(inputs.flatMap((i) => i.files));
    let offset = 0;
    const plans = opts.repos.map((repo, i) => {
      const own = headers.slice(offset, (offset += inputs[i]!.files.length));
      return { ...planSigRepo({ major: opts.major, sig: opts.sig, repo, arches: opts.arches }, own), comps: inputs[i]!.comps };
    });
    rpmCount = new Set(plans.flatMap((p) => p.placements.map((x) => x.header.file))).size;

    for (const plan of plans) {
      for (const dir of plan.lists.keys()) await mkdir(join(compose, dir, 'Packages'), { recursive: true });
      for (const d of new Set(plan.placements.map((p) => join(compose, p.path, '..')))) await mkdir(d, { recursive: true });
      await mapLimit(plan.placements, 16, (p) => linkOrCopy(p.header.file, join(compose, p.path)));
    }
    const summary: ComposeSummary = { id: composeId, date, respin, type: composeType };
    await writeRpmsMetadata(join(compose, 'metadata/rpms.json'), {
      header: { type: 'productmd.rpms', version: '1.2' },
      payload: { compose: summary, rpms: rpmsMapFor(plans, opts.arches) },
    });

    // One createrepo_c per repo dir, empty ones included (a SIG repo of an arch with no packages still resolves).
    const crVersion = await createrepoVersion();
    const jobs: Array<{ dir: string; pkglist: string; groupfile?: string }> = [];
    for (const plan of plans) {
      for (const [dir, list] of plan.lists) {
        const pkglist = join(composeDir, 'work/global/repo_package_list', `${dir.replace(/\//g, '_')}.conf`);
        await writeFile(pkglist, list.map((l) => `${l}\n`).join(''));
        const os = !dir.endsWith('-debug') && !dir.includes('/source/');
        let groupfile: string | undefined;
        if (os && plan.comps) {
          groupfile = join(composeDir, 'work/global', `comps-${plan.variant}.xml`);
          await copyFile(plan.comps, groupfile);
        }
        jobs.push({ dir, pkglist, groupfile });
      }
    }
    await mapLimit(jobs, 3, async (j) => {
      const args = pungiCreaterepoArgs({ repoDir: join(compose, j.dir), pkglist: j.pkglist, groupfile: j.groupfile, createrepoVersion: crVersion });
      const res = await run('createrepo_c', args, { allowFailure: true });
      if (res.exitCode !== 0) throw new RelengError(`createrepo_c failed (exit ${res.exitCode}) for ${j.dir}:\n${res.stderr.trim()}`);
    });
    await log(`Linked ${rpmCount} RPM(s); created ${jobs.length} repositories`);
  });
  const latestLink = await replaceLink(opts.targetDir, opts.latestLinkName, composeId);
  return { composeId, composeDir, status: 'FINISHED', latestLink, rpmCount, isos: [] };
}
