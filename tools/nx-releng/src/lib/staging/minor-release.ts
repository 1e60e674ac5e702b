/**
 * The minor (GA) release extras of a staging sync, what minor-release-sync-to-staging.sh does on top of the
 * daily sync (shared/reference/rocky-sync-toolkit.md §4.2), without its defects (§9.2):
 * - the ISOs of the ISO-type variants are copied (never moved: the compose is not modified) into isos/<arch>/,
 *   with the Rocky-<major>-latest-<arch>-{boot,dvd,minimal}.iso links, a manifest per ISO, a .CHECKSUM per ISO and
 *   link and the combined CHECKSUM, all written whole (a re-run gives the same bytes, never duplicate lines);
 * - a frozen kickstart/ copy of every comps repo's os tree, which sync-staging records as a repo of the project
 *   so sign signs it and verify checks it;
 * - the install tree's .treeinfo gains the configured variants (treeinfoModder), idempotently;
 * - the linkRepos links (nfv -> NFV) and the category links latest-<major> and <revision>, replaced atomically.
 *
 * Beta and lookahead syncs do the same, less the kickstart trees and the category links (§4.3).
 *
 * sync-staging calls these hooks: planMinorRelease before anything is touched, buildMinorRelease on its work
 * copy (so a failure leaves staging unchanged), publishMinorReleaseLinks after the swap.
 */
import { chown, mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { ChannelRelease, RepoDir, StagingPaths } from '../../layout/paths';
import type { ComposeRef } from '../compose/compose-ref';
import { RelengError } from '../../errors';
import { run } from '../tools/exec';
import { isDir, isFile } from '../core/fs-checks';
import { checkLinkSlot, pointLink, runningAsRoot } from '../core/links';
import { refuseLinks } from '../core/link-policy';
import type { Log } from '../core/log';
import { fileDigest, writeFileAtomic } from '../formats/repomd';
import { rsync } from '../tools/rsync';
import type { RevisionLink } from './sync-record';

/**
 * A minor release copies the whole install tree (images/, EFI/, .treeinfo, ... which the daily sync leaves out,
 * as the bash rsync_no_delete_staging does) except each arch's iso/ dir: the ISOs go to isos/<arch>/.
 */
export const MINOR_RELEASE_EXCLUDES = ['/iso/'] as const;

/** Tools a minor release needs on top of the sync's. */
export const MINOR_RELEASE_TOOLS = ['xorriso'];

export interface MinorReleasePlan {
  model: ComposeModel;
  revision: string;
  revisionDir: string;
  categoryDir: string;
  /** Compose iso dirs holding this arch's ISOs (absolute), and the ISO names in each. */
  isoDirs: Array<{ arch: string; dir: string; isos: string[] }>;
  /** The os trees to freeze as kickstart/ (BaseOS/x86_64/os ...). */
  kickstart: RepoDir[];
  /** Links in the revision dir: name -> target (nfv -> NFV). */
  repoLinks: Array<{ name: string; target: string }>;
  /** Links in the category dir: latest-8 -> 8.10-RC2, 8.10 -> 8.10-RC2. */
  categoryLinks: Array<{ name: string; target: string }>;
}

async function listIsos(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.iso'))
    .map((e) => e.name)
    .sort();
}

/** Checks everything a minor release needs before anything is touched; what it will do. */
export async function planMinorRelease(
  model: ComposeModel,
  ch: ChannelRelease,
  compose: ComposeRef,
  sp: StagingPaths,
  log: Log,
): Promise<MinorReleasePlan> {
  const { release } = model;
  if (model.compose.kind !== 'base') {
    throw new RelengError(`${model.project}: a minor release is made of the distribution's composes (kind base), not of a ${model.compose.kind} compose`);
  }
  // Beta and lookahead trees get the same ISO handling, links and .treeinfo (beta-release-sync-to-staging.sh),
  // but no kickstart tree and no latest-<major> link (their own 8-BETA link is sync-staging's), and a compose
  // without ISOs is synced without them.
  const preRelease = ch.channel !== 'stable';
  const top = join(compose.composeDir, 'compose');
  // The compose with an ISO-type variant (Rocky: BaseOS) carries every ISO type's iso dirs, Minimal's too.
  const isoDirs: MinorReleasePlan['isoDirs'] = [];
  if (model.compose.variants.some((v) => release.isoTypes.includes(v))) {
    for (const arch of release.arches) {
      const seen = new Map<string, string>();
      for (const isoType of release.isoTypes) {
        const dir = join(top, isoType, arch, 'iso');
        const isos = await listIsos(dir);
        if (isos.length === 0 && preRelease) continue;
        if (isos.length === 0) {
          throw new RelengError(
            `${model.project}: compose ${compose.composeId} has no ISOs in compose/${isoType}/${arch}/iso ` +
              `(${(await isDir(dir)) ? 'no *.iso files' : 'no such directory'}), but isoTypes in ${model.files.release} lists ${isoType}. ` +
              `A minor release publishes the ISOs of a produce compose: nx run ${model.project}:compose --kind=produce`,
          );
        }
        for (const iso of isos) {
          const other = seen.get(iso);
          if (other) throw new RelengError(`${model.project}: compose ${compose.composeId} has ${iso} in both ${other} and ${isoType}/${arch}/iso`);
          seen.set(iso, `${isoType}/${arch}/iso`);
        }
        isoDirs.push({ arch, dir, isos });
      }
    }
  }
  // Minimal's iso dirs are not a variant of the project: checked here, the variants' by sync-staging.
  await refuseLinks(`compose ${compose.composeId}`, top, isoDirs.map((d) => relative(top, d.dir)));
  const kickstart: RepoDir[] = [];
  for (const variant of preRelease ? [] : model.compose.variants.filter((v) => release.compsRepos.includes(v))) {
    for (const arch of release.arches) {
      if (await isDir(join(top, variant, arch, 'os', 'repodata'))) {
        kickstart.push({ variant, arch, kind: 'kickstart', path: `${variant}/${arch}/kickstart` });
      }
    }
  }
  // A link belongs to the project whose variant it points at (nfv -> NFV: Rocky), so it is made once the
  // target is in place.
  const repoLinks: MinorReleasePlan['repoLinks'] = [];
  for (const [target, name] of Object.entries(release.linkRepos)) {
    if (model.compose.variants.includes(target)) {
      await checkLinkSlot(join(sp.revisionDir, name), target, 'the minor release');
      repoLinks.push({ name, target });
    } else if (model.compose.variants.includes(name)) {
      log.warn(
        `${model.files.release}: linkRepos ${target} -> ${name} is not made: ${name} is a variant (a directory) of ` +
          `${model.project} and no compose of ${model.major} has a variant ${target}`,
      );
    }
  }
  const categoryLinks = preRelease ? [] : [{ name: `latest-${model.major}`, target: sp.revisionName }];
  if (!preRelease && ch.revision !== sp.revisionName) categoryLinks.push({ name: ch.revision, target: sp.revisionName });
  for (const link of categoryLinks) await checkLinkSlot(join(sp.categoryDir, link.name), link.target, 'the minor release');
  return { model, revision: ch.revision, revisionDir: sp.revisionDir, categoryDir: sp.categoryDir, isoDirs, kickstart, repoLinks, categoryLinks };
}

/**
 * What of a minor release a later daily sync keeps in its record, read from staging (not from the last record, which
 * a failed sync drops): isos/ of the project that makes ISOs, and the linkRepos links it owns, as long as staging
 * holds them. Without this a daily sync between the GA sync and the GA push would drop them from verify and so
 * from production. (Its kickstart trees stay repos of the project: kickstartRepos.)
 */
export async function keptReleaseState(model: ComposeModel, revisionDir: string): Promise<{ extraSubtrees?: string[]; links?: RevisionLink[] }> {
  const { release } = model;
  const makesIsos = model.compose.variants.some((v) => release.isoTypes.includes(v));
  const extraSubtrees = makesIsos && (await isDir(join(revisionDir, 'isos'))) ? ['isos'] : [];
  const links: RevisionLink[] = [];
  for (const [target, name] of Object.entries(release.linkRepos)) {
    if (!model.compose.variants.includes(target)) continue;
    if ((await readlink(join(revisionDir, name)).catch(() => undefined)) === target) links.push({ name, target });
  }
  return { ...(extraSubtrees.length ? { extraSubtrees } : {}), ...(links.length ? { links } : {}) };
}

/** Subtrees of the revision dir the minor release adds to the project's (swapped in with them). */
export function minorReleaseSubtrees(plan: MinorReleasePlan): string[] {
  return plan.isoDirs.length ? ['isos'] : [];
}

/** Files this module writes get the configured owner, as rsync --chown gives everything else (only as root). */
async function own(model: ComposeModel, path: string): Promise<void> {
  if (runningAsRoot()) await chown(path, model.common.owner.uid, model.common.owner.gid);
}

/** Everything that goes into the project's work copy; returns the kickstart repos made. */
export async function buildMinorRelease(plan: MinorReleasePlan, work: string, log: Log): Promise<RepoDir[]> {
  const { model } = plan;
  // kickstart/ is the os tree as this release ships it (repodata regenerated, before any errata): a copy that
  // later update syncs never touch. Packages are hard links (RPMs are never rewritten), the rest real copies.
  for (const repo of plan.kickstart) {
    const os = join(work, repo.variant, repo.arch, 'os');
    const ks = join(work, repo.path);
    const owner = model.common.owner;
    await rsync({ src: os, dest: ks, excludes: ['/Packages/'], delete: true, chown: owner });
    if (await isDir(join(os, 'Packages'))) {
      await rsync({ src: join(os, 'Packages'), dest: join(ks, 'Packages'), linkDest: join(os, 'Packages'), delete: true, chown: owner });
    }
  }
  if (plan.kickstart.length) log.info(`  kickstart: froze ${plan.kickstart.map((r) => r.path).join(', ')}`);

  for (const [tree, added] of Object.entries(model.release.treeinfoVariants)) {
    if (!model.compose.variants.includes(tree)) continue;
    for (const arch of model.release.arches) {
      for (const kind of ['os', 'kickstart'] as const) {
        const file = join(work, tree, arch, kind, '.treeinfo');
        if (!(await isFile(file))) {
          if (kind === 'os') log.warn(`${tree}/${arch}/os has no .treeinfo; ${added.join(', ')} not added to it`);
          continue;
        }
        const text = await readFile(file, 'utf8');
        const updated = addTreeinfoVariants(text, arch, kind, added, file);
        // Atomic: the work copy's .treeinfo is a hard link of the published one until replaced.
        if (updated !== text) await writeFileAtomic(file, updated);
        await own(model, file);
      }
    }
    log.info(`  .treeinfo of ${tree}: variants ${[tree, ...added].join(',')}`);
  }

  if (plan.isoDirs.length) await buildIsos(plan, join(work, 'isos'), log);
  return plan.kickstart;
}

/** isos/<arch>/ from scratch: the compose's ISOs, latest links, manifests and checksums. */
async function buildIsos(plan: MinorReleasePlan, isos: string, log: Log): Promise<void> {
  const { model } = plan;
  await rm(isos, { recursive: true, force: true });
  for (const arch of model.release.arches) {
    const dir = join(isos, arch);
    await mkdir(dir, { recursive: true });
    // Copied, not linked: the compose's files must not change, not even their link count or owner.
    for (const src of plan.isoDirs.filter((d) => d.arch === arch)) {
      await rsync({ src: src.dir, dest: dir, includes: ['*.iso'], excludes: ['*'], chown: model.common.owner });
    }
    const names = await listIsos(dir);
    const digests = new Map<string, { size: number; sha256: string }>();
    for (const name of names) {
      const path = join(dir, name);
      digests.set(name, { size: (await stat(path)).size, sha256: await fileDigest(path, 'sha256') });
      await writeOwned(model, `${path}.manifest`, manifestText(await xorrisoFind(path)));
    }
    for (const link of latestIsoLinks(model.short, model.major, plan.revision, arch, names)) {
      await pointLink(dir, link.name, link.target, model.common.owner);
      digests.set(link.name, digests.get(link.target) as { size: number; sha256: string });
    }
    // One .CHECKSUM per name a user can download, the links too (so a download by the latest name can be
    // checked against CHECKSUM, as the bash glob does); the combined file is their concatenation.
    const entries = [...digests.keys()].sort(byteOrder);
    for (const name of entries) await writeOwned(model, join(dir, `${name}.CHECKSUM`), checksumEntry(name, digests.get(name)!));
    await writeOwned(model, join(dir, 'CHECKSUM'), entries.map((n) => checksumEntry(n, digests.get(n)!)).join(''));
    log.info(`  isos/${arch}: ${names.join(', ')} (+ ${entries.length - names.length} latest links, manifests, CHECKSUM)`);
  }
}

async function writeOwned(model: ComposeModel, path: string, text: string): Promise<void> {
  await writeFile(path, text);
  await own(model, path);
}

/** After the swap: the repo links in the revision dir and the category links, each replaced atomically. */
export async function publishMinorReleaseLinks(plan: MinorReleasePlan, log: Log): Promise<void> {
  for (const { dir, links } of [
    { dir: plan.revisionDir, links: plan.repoLinks },
    { dir: plan.categoryDir, links: plan.categoryLinks },
  ]) {
    for (const link of links) {
      await pointLink(dir, link.name, link.target, plan.model.common.owner);
      log.info(`  ${join(dir, link.name)} -> ${link.target}`);
    }
  }
}

/** The kickstart trees a project's staging tree holds: repos of the project like its os trees. */
export async function kickstartRepos(model: ComposeModel, tree: string): Promise<RepoDir[]> {
  const repos: RepoDir[] = [];
  for (const variant of model.compose.variants.filter((v) => model.release.compsRepos.includes(v))) {
    for (const arch of model.release.arches) {
      const path = `${variant}/${arch}/kickstart`;
      if (await isDir(join(tree, path, 'repodata'))) repos.push({ variant, arch, kind: 'kickstart', path });
    }
  }
  return repos;
}

// ---------------------------------------------------------------------------------------------------
// Pure parts
// ---------------------------------------------------------------------------------------------------

/** Sorting as `sort` and a shell glob do under LC_ALL=C: by bytes. */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The latest links of one arch, each only when its target exists: Rocky-8-latest-x86_64-boot.iso ->
 * Rocky-8.10-x86_64-boot.iso, -dvd.iso -> -dvd1.iso (or -dvd.iso), -minimal.iso -> -minimal.iso.
 */
export function latestIsoLinks(short: string, major: string, revision: string, arch: string, isos: readonly string[]) {
  const links: Array<{ name: string; target: string }> = [];
  const kinds: Array<[string, string[]]> = [
    ['boot', ['boot']],
    ['dvd', ['dvd1', 'dvd']],
    ['minimal', ['minimal']],
  ];
  for (const [kind, candidates] of kinds) {
    const target = candidates.map((c) => `${short}-${revision}-${arch}-${c}.iso`).find((n) => isos.includes(n));
    if (target) links.push({ name: `${short}-${major}-latest-${arch}-${kind}.iso`, target });
  }
  return links;
}

/** `printf "# %s: %s bytes\n%s\n" name size "$(sha256sum --tag name)"`: one entry of a CHECKSUM file. */
export function checksumEntry(name: string, d: { size: number; sha256: string }): string {
  return `# ${name}: ${d.size} bytes\nSHA256 (${name}) = ${d.sha256}\n`;
}

/**
 * The manifest of an ISO from `xorriso -indev FILE -find /` output, as the bash pipeline
 * `| tail -n+2 | tr -d "'" | cut -c2- | sort` makes it: one path per line, no leading "/", sorted (C locale).
 */
export function manifestText(findOutput: string): string {
  const lines = findOutput
    .split('\n')
    .filter((l) => l !== '')
    .slice(1)
    .map((l) => l.replace(/'/g, '').slice(1));
  return lines.sort(byteOrder).map((l) => `${l}\n`).join('');
}

/**
 * Lists an ISO's paths. -indev opens it read-only (the bash -dev opens it for writing too). The start path "/" is
 * explicit: with none, current xorriso prints './'-relative paths and the pipeline would leave a leading "/".
 */
export async function xorrisoFind(iso: string): Promise<string> {
  const { stdout } = await run('xorriso', ['-no_rc', '-indev', iso, '-find', '/']);
  return stdout;
}

/**
 * treeinfoModder: the install tree's .treeinfo also lists `added` variants, with paths to their trees of the same
 * kind (os or kickstart): `[tree] variants` gets them appended and each gets a [variant-<V>] section. Idempotent:
 * a variant already listed is not listed again, its section is rewritten with the same values, so a second run
 * gives the same bytes. Sections and keys keep their order; new ones are appended, written as configparser does.
 */
export function addTreeinfoVariants(text: string, arch: string, kind: 'os' | 'kickstart', added: readonly string[], file = '.treeinfo'): string {
  const ini = parseIni(text, file);
  const tree = ini.get('tree');
  if (!tree) throw new RelengError(`${file}: no [tree] section; not a productmd .treeinfo`);
  const variants = (tree.get('variants') ?? '').split(',').filter(Boolean);
  for (const v of added) if (!variants.includes(v)) variants.push(v);
  tree.set('variants', variants.join(','));
  for (const v of added) {
    const section = ini.get(`variant-${v}`) ?? new Map<string, string>();
    for (const [k, value] of [
      ['id', v],
      ['name', v],
      ['packages', `../../../${v}/${arch}/${kind}/Packages`],
      ['repository', `../../../${v}/${arch}/${kind}/`],
      ['type', 'variant'],
      ['uid', v],
    ] as const) {
      section.set(k, value);
    }
    ini.set(`variant-${v}`, section);
  }
  return [...ini].map(([name, keys]) => `[${name}]\n${[...keys].map(([k, v]) => `${k} = ${v}\n`).join('')}\n`).join('');
}

/** The INI productmd and configparser write: [section], `key = value`, blank lines between sections. */
function parseIni(text: string, file: string): Map<string, Map<string, string>> {
  const ini = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trimEnd();
    if (line === '') continue;
    const section = /^\[([^\]]+)\]$/.exec(line);
    if (section) {
      current = new Map();
      ini.set(section[1] as string, current);
      continue;
    }
    const kv = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!kv || !current) throw new RelengError(`${file}: line ${i + 1} is not a section header or key = value: '${line}'`);
    current.set(kv[1] as string, kv[2] as string);
  }
  return ini;
}
