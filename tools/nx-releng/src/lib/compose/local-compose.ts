/**
 * A pungi-shaped compose built from local RPMs instead of Koji, following the recipe in
 * shared/reference/pungi-compose.md §7: same directory layout, package lists, createrepo_c calls, per-tree files,
 * productmd metadata, STATUS lifecycle and latest link, so everything downstream (staging sync, errata, signing)
 * cannot tell it from a real pungi-koji run.
 *
 * An update compose has no ISOs; given `isoTypes` (a produce compose) it also makes small real ISOs with xorriso,
 * named and placed as pungi does (see localIsoPlan).
 *
 * Input layout: <srcDir>/<Variant>/*.rpm (binary, debuginfo/debugsource and source RPMs) + optional comps.xml + optional
 * modules.yaml (the variant's module builds, as koji holds them: see addModules), which makes the variant modular.
 */
import { copyFile, link, mkdir, readFile, readdir, rename, rm, stat, writeFile, appendFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createrepoVersion, modifyrepoModules, pungiCreaterepoArgs } from '../tools/createrepo';
import { RelengError, errorMessage } from '../../errors';
import { replaceLink } from '../core/links';
import {
  addRpm,
  type ComposeInfo,
  type ModuleEntry,
  type ComposeSummary,
  type RpmsMap,
  type VariantInfo,
  writeComposeInfo,
  writeModulesMetadata,
  writeRpmsMetadata,
} from '../formats/productmd';
import { nevra, readRpmHeaders, type RpmHeader, srpmNevra } from '../formats/rpm-header';
import { modulemdForRepo } from '../formats/modulemd';
import { readRepomd } from '../formats/repomd';
import { mapLimit } from '../core/concurrency';
import { requireTools, run } from '../tools/exec';
import { repoTree } from '../../layout/paths';

export type ReleaseType = 'ga' | 'updates' | 'updates-testing' | 'eus' | 'aus' | 'els' | 'tus' | 'e4s' | 'fast';
export type ComposeType = 'production' | 'nightly' | 'test' | 'ci' | 'development';

export interface LocalComposeOptions {
  /** Compose root for the major (e.g. /mnt/compose/8); must exist, like pungi's --target-dir. */
  targetDir: string;
  /** <srcDir>/<Variant>/*.rpm */
  srcDir: string;
  /** e.g. 'Rocky Linux' */
  releaseName: string;
  /** release_short, e.g. 'Rocky' */
  short: string;
  /** release_version, e.g. '8.10' */
  version: string;
  /** Default 'updates'. */
  releaseType?: ReleaseType;
  /** Default 'production'. */
  composeType?: ComposeType;
  /** e.g. 'RC-8.10'; pungi's label rules apply. */
  label?: string;
  /** Variant UIDs in config order. */
  variants: string[];
  arches: string[];
  /** YYYYMMDD; default today in local time (as pungi). */
  date?: string;
  /** e.g. 'latest-Rocky-8' */
  latestLinkName: string;
  /** Treat a missing <srcDir>/<Variant> as an empty variant instead of an error. */
  allowEmptyVariant?: boolean;
  /** Concurrent createrepo_c runs (default 3; each already uses 3 workers). */
  createrepoConcurrency?: number;
  /** A produce compose: release.json isoTypes, whose ISOs are made (see localIsoPlan). Absent: no ISOs. */
  isoTypes?: string[];
}

export interface LocalComposeResult {
  composeId: string;
  composeDir: string;
  status: 'FINISHED';
  /** Absolute path of <targetDir>/<latestLinkName>. */
  latestLink: string;
  /** Distinct input RPM files that went into the compose (a noarch RPM counts once). */
  rpmCount: number;
  /** Compose-relative paths of the ISOs made (produce only). */
  isos: string[];
}

const COMPOSE_TYPE_SUFFIX: Record<ComposeType, string> = {
  production: '',
  nightly: '.n',
  test: '.t',
  ci: '.ci',
  development: '.d',
};

/** productmd's label rule; RC-8 (no minor) is rejected like pungi does. */
const LABEL_RE = /^(EA|DevelPhaseExit|InternalAlpha|Alpha|InternalSnapshot|Beta|Snapshot|RC|Update|SecurityFix)-\d+\.\d+$/;
/** These labels mark a supported compose, which productmd writes as "final": true. */
const FINAL_LABEL_RE = /^(RC|Update|SecurityFix)-/;

/** productmd's create_compose_id without layered products. */
export function composeIdFor(o: {
  short: string;
  version: string;
  releaseType: string;
  date: string;
  composeType: ComposeType;
  respin: number;
}): string {
  const typeSuffix = o.releaseType === 'ga' ? '' : `-${o.releaseType}`;
  return `${o.short}-${o.version}${typeSuffix}-${o.date}${COMPOSE_TYPE_SUFFIX[o.composeType]}.${o.respin}`;
}

/** Local date as YYYYMMDD (pungi uses time.localtime()). */
export function localDate(d = new Date()): string {
  return `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}`;
}

/** gather/link.py's hashed directory: first character of the file name, lower-cased. */
export function hashedDir(fileName: string): string {
  return fileName.charAt(0).toLowerCase();
}

/** composeinfo variant paths; source paths are repeated under every binary arch (there is no "src" key). */
export function variantPaths(variant: string, arches: string[]): VariantInfo['paths'] {
  const paths: VariantInfo['paths'] = {};
  const set = (cat: string, arch: string, p: string) => ((paths[cat] ??= {})[arch] = p);
  for (const a of arches) {
    const os = repoTree.os(variant, a);
    const debug = repoTree.debug(variant, a);
    const src = repoTree.source(variant);
    set('os_tree', a, os);
    set('packages', a, `${os}/Packages`);
    set('repository', a, os);
    set('debug_tree', a, debug);
    set('debug_packages', a, `${debug}/Packages`);
    set('debug_repository', a, debug);
    set('source_tree', a, src);
    set('source_packages', a, `${src}/Packages`);
    set('source_repository', a, src);
  }
  return paths;
}

/** productmd treeinfo 1.2 for an update (non-bootable) tree; sections and keys sorted like SortedConfigParser. */
export function treeinfoText(o: {
  releaseName: string;
  releaseShort: string;
  releaseVersion: string;
  variant: string;
  arch: string;
  timestamp: number;
}): string {
  const sections: Record<string, Record<string, string>> = {
    general: {
      '; WARNING.0': 'This section provides compatibility with pre-productmd treeinfos.',
      '; WARNING.1': 'Read productmd documentation for details about new format.',
      arch: o.arch,
      family: o.releaseName,
      name: `${o.releaseName} ${o.releaseVersion}`,
      packagedir: 'Packages',
      platforms: o.arch,
      repository: '.',
      timestamp: String(o.timestamp),
      variant: o.variant,
      variants: o.variant,
      version: o.releaseVersion,
    },
    header: { type: 'productmd.treeinfo', version: '1.2' },
    release: { name: o.releaseName, short: o.releaseShort, version: o.releaseVersion },
    tree: { arch: o.arch, build_timestamp: String(o.timestamp), platforms: o.arch, variants: o.variant },
    [`variant-${o.variant}`]: {
      id: o.variant,
      name: o.variant,
      packages: 'Packages',
      repository: '.',
      type: 'variant',
      uid: o.variant,
    },
  };
  // configparser.write(): "[s]\n", "k = v\n" per key, then a blank line after every section.
  return Object.keys(sections)
    .sort()
    .map((s) => {
      const keys = sections[s]!;
      return `[${s}]\n${Object.keys(keys)
        .sort()
        .map((k) => `${k} = ${keys[k]}\n`)
        .join('')}\n`;
    })
    .join('');
}

export function discinfoText(timestamp: string, description: string, arch: string): string {
  return `${timestamp}\n${description}\n${arch}\nALL\n`;
}

export function mediaRepoText(description: string, timestamp: string): string {
  return `[InstallMedia]\nname=${description}\nmediaid=${timestamp}\nmetadata_expire=-1\ngpgcheck=0\ncost=500\n`;
}

function variantsXml(variants: string[], arches: string[]): string {
  const archXml = arches.map((a) => `      <arch>${a}</arch>`).join('\n');
  const body = variants
    .map((v) => `  <variant id="${v}" name="${v}" type="variant">\n    <arches>\n${archXml}\n    </arches>\n  </variant>`)
    .join('\n');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    '<!DOCTYPE variants PUBLIC "-//Red Hat, Inc.//DTD Variants info//EN" "variants2012.dtd">\n' +
    `<variants>\n${body}\n</variants>\n`
  );
}

/** Hardlink like pungi's default link_type "hardlink-or-copy": copy when the link crosses devices. */
export async function linkOrCopy(src: string, dest: string): Promise<void> {
  try {
    await link(src, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
    await copyFile(src, dest);
  }
}

/** Creates <targetDir>/<base>.<respin> with the first free respin (a DOOMED compose also uses one up). */
export async function makeComposeDir(targetDir: string, idFor: (respin: number) => string): Promise<{ id: string; dir: string; respin: number }> {
  for (let respin = 0; respin < 10000; respin++) {
    const id = idFor(respin);
    const dir = join(targetDir, id);
    try {
      await mkdir(dir);
      return { id, dir, respin };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new RelengError(`cannot create compose dir ${dir}: ${errorMessage(err)}`);
      }
    }
  }
  throw new RelengError(`no free respin for ${idFor(0)} in ${targetDir}`);
}

/** One ISO of a produce compose, in <dir>/<name> (compose-relative). */
export interface LocalIso {
  /** The ISO-type variant whose iso dir holds it: BaseOS, Minimal. */
  isoType: string;
  arch: string;
  /** BaseOS/x86_64/iso */
  dir: string;
  /** Rocky-8.10-x86_64-dvd1.iso */
  name: string;
  /** The os tree whose .treeinfo, .discinfo, media.repo, Packages and repodata go on it (compose-relative). */
  tree: string;
  /** Whether it carries the tree's packages and repodata (dvd, minimal) or only the tree files (boot). */
  withPackages: boolean;
  volumeId: string;
}

/**
 * The ISOs pungi makes for Rocky (reference pungi-compose.md: `Rocky-8.8-aarch64-boot.iso`, `…-dvd1.iso` in
 * BaseOS/<arch>/iso, the minimal ISO in Minimal/<arch>/iso): an ISO-type variant the compose has gets boot and
 * dvd1; one it does not have (Minimal, a tree variant with no repo) gets `<type lower-cased>`. Only the compose
 * that has an ISO-type variant makes ISOs (Rocky, not Extras or devel). Their content is a tiny stand-in for
 * the installer: the first ISO-type variant's os tree files and packages, no boot loader.
 */
export function localIsoPlan(short: string, version: string, variants: readonly string[], isoTypes: readonly string[], arches: readonly string[]): LocalIso[] {
  const source = isoTypes.find((t) => variants.includes(t));
  if (!source) return [];
  const isos: LocalIso[] = [];
  for (const arch of arches) {
    // Volume ids as pungi's images.json shows them: dots to dashes (Rocky-8-8-aarch64-dvd), at most 32 characters.
    const volid = (kind: string) => `${short}-${version.replace(/\./g, '-')}-${arch}-${kind}`.slice(0, 32);
    for (const isoType of isoTypes) {
      const dir = `${isoType}/${arch}/iso`;
      const tree = repoTree.os(source, arch);
      const kinds = variants.includes(isoType)
        ? [
            { kind: 'boot', withPackages: false, vol: 'dvd' },
            { kind: 'dvd1', withPackages: true, vol: 'dvd' },
          ]
        : [{ kind: isoType.toLowerCase(), withPackages: true, vol: isoType.toLowerCase() }];
      for (const k of kinds) {
        isos.push({ isoType, arch, dir, name: `${short}-${version}-${arch}-${k.kind}.iso`, tree, withPackages: k.withPackages, volumeId: volid(k.vol) });
      }
    }
  }
  return isos;
}

/** Makes one bootless ISO with xorriso (written beside, then renamed in). */
async function makeLocalIso(compose: string, iso: LocalIso): Promise<void> {
  const dir = join(compose, iso.dir);
  await mkdir(dir, { recursive: true });
  const tree = join(compose, iso.tree);
  const variant = iso.tree.split('/')[0] as string;
  const maps: string[] = [];
  for (const f of ['.treeinfo', '.discinfo', 'media.repo']) maps.push('-map', join(tree, f), `/${f}`);
  if (iso.withPackages) {
    for (const d of ['Packages', 'repodata']) maps.push('-map', join(tree, d), `/${variant}/${d}`);
  }
  const tmp = join(dir, `.${iso.name}.tmp-${process.pid}`);
  try {
    await run('xorriso', ['-no_rc', '-outdev', tmp, '-volid', iso.volumeId, '-joliet', 'on', ...maps]);
    await rename(tmp, join(dir, iso.name));
  } catch (err) {
    await rm(tmp, { force: true });
    throw new RelengError(`cannot make ${iso.dir}/${iso.name} with xorriso: ${errorMessage(err)}`);
  }
}

export interface Placement {
  header: RpmHeader;
  /** Compose-relative path of the linked file. */
  path: string;
  /** rpms.json arch key (binary arch); undefined for SRPMs, which are filed later. */
  arch?: string;
}

interface VariantPlan {
  variant: string;
  comps?: string;
  /** <srcDir>/<Variant>/modules.yaml: the variant's module builds (a modular variant). */
  modules?: string;
  placements: Placement[];
  /** repo-relative package list lines per repo dir (compose-relative) */
  lists: Map<string, string[]>;
}

/** The compose-relative repo dirs of one variant (pungi's layout) or one SIG repo (empanadas' layout). */
export interface RepoLayout {
  os(arch: string): string;
  debug(arch: string): string;
  source(): string;
}

/**
 * Decides where each RPM goes: binary/debug RPMs to their arch (noarch to every arch), SRPMs to the source tree.
 * RPMs built for arches the compose does not have are left out.
 */
export function planRepos(variant: string, arches: string[], headers: RpmHeader[], layout: RepoLayout): Omit<VariantPlan, 'comps'> {
  const lists = new Map<string, string[]>();
  for (const a of arches) lists.set(layout.os(a), []).set(layout.debug(a), []);
  lists.set(layout.source(), []);

  const placements: Placement[] = [];
  const place = (h: RpmHeader, repo: string, arch?: string) => {
    const name = basename(h.file);
    const rel = `Packages/${hashedDir(name)}/${name}`;
    lists.get(repo)!.push(rel);
    placements.push({ header: h, path: `${repo}/${rel}`, arch });
  };
  for (const h of headers) {
    if (h.category === 'source') place(h, layout.source());
    else {
      const targets = h.arch === 'noarch' ? arches : arches.filter((a) => a === h.arch);
      for (const a of targets) place(h, h.category === 'debug' ? layout.debug(a) : layout.os(a), a);
    }
  }
  for (const l of lists.values()) l.sort();
  return { variant, placements, lists };
}

/** A variant of a pungi-shaped compose. */
export function planVariant(variant: string, arches: string[], headers: RpmHeader[]): Omit<VariantPlan, 'comps'> {
  return planRepos(variant, arches, headers, {
    os: (a) => repoTree.os(variant, a),
    debug: (a) => repoTree.debug(variant, a),
    source: () => repoTree.source(variant),
  });
}

/**
 * rpms.json payload.rpms: binaries and debug RPMs under their arch keyed by their SRPM; each SRPM under every
 * arch that has one of its binaries. An SRPM with no binaries in this compose is filed under every arch, so the
 * metadata still accounts for every file of the source repo.
 */
export function rpmsMapFor(plans: Array<Pick<VariantPlan, 'variant' | 'placements'>>, arches: string[]): RpmsMap {
  const rpms: RpmsMap = {};
  for (const { variant, placements } of plans) {
    const archesOfSrpm = new Map<string, Set<string>>();
    for (const p of placements) {
      if (!p.arch) continue;
      const s = srpmNevra(p.header);
      addRpm(rpms, variant, p.arch, s, nevra(p.header), {
        category: p.header.category,
        path: p.path,
        sigkey: p.header.sigkey,
      });
      let set = archesOfSrpm.get(s);
      if (!set) archesOfSrpm.set(s, (set = new Set()));
      set.add(p.arch);
    }
    for (const p of placements) {
      if (p.arch) continue;
      const s = nevra(p.header);
      for (const a of archesOfSrpm.get(s) ?? arches) {
        addRpm(rpms, variant, a, s, s, { category: 'source', path: p.path, sigkey: p.header.sigkey });
      }
    }
  }
  return rpms;
}

export async function listVariantRpms(srcDir: string, variant: string, allowEmpty: boolean): Promise<{ files: string[]; comps?: string; modules?: string }> {
  const dir = join(srcDir, variant);
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && allowEmpty) return { files: [] };
    throw new RelengError(`source directory of variant ${variant} is missing or unreadable: ${dir} (${errorMessage(err)})`);
  }
  return {
    files: entries.filter((f) => f.endsWith('.rpm')).sort().map((f) => join(dir, f)),
    comps: entries.includes('comps.xml') ? join(dir, 'comps.xml') : undefined,
    modules: entries.includes('modules.yaml') ? join(dir, 'modules.yaml') : undefined,
  };
}

/**
 * The life of one compose dir as pungi leaves it: STATUS STARTED, COMPOSE_ID and the global log, then `build`,
 * then FINISHED. A failure marks it DOOMED (logged) and throws naming the compose. The latest link is the
 * caller's to move, and only after this returns.
 */
export async function withComposeStatus(composeDir: string, composeId: string, build: (log: (msg: string) => Promise<void>) => Promise<void>): Promise<void> {
  const logFile = join(composeDir, 'logs/global/pungi.global.log');
  const log = (msg: string) => appendFile(logFile, `${new Date().toISOString()} [INFO    ] ${msg}\n`);
  const writeStatus = (s: string) => writeFile(join(composeDir, 'STATUS'), `${s}\n`);
  try {
    await writeStatus('STARTED');
    await writeFile(join(composeDir, 'COMPOSE_ID'), composeId);
    for (const d of ['logs/global', 'work/global/repo_package_list', 'compose/metadata']) {
      await mkdir(join(composeDir, d), { recursive: true });
    }
    await build(log);
    await log('Compose finished');
    await writeStatus('FINISHED');
  } catch (err) {
    try {
      await writeStatus('DOOMED');
      await log(`Compose failed: ${errorMessage(err)}`);
    } catch {
      /* the original error is what matters */
    }
    throw new RelengError(`compose ${composeId} DOOMED: ${errorMessage(err)}`);
  }
}

/** Checks pungi makes before it creates anything (its exit code 2 cases). */
function checkLocalComposeOptions(opts: LocalComposeOptions, date: string): void {
  const { variants, arches } = opts;
  if (!/^\d{8}$/.test(date)) throw new RelengError(`compose date must be YYYYMMDD, got '${date}'`);
  if (opts.label !== undefined && !LABEL_RE.test(opts.label)) {
    throw new RelengError(`invalid compose label '${opts.label}' (expected e.g. RC-8.10 or Update-8.10)`);
  }
  if (variants.length === 0) throw new RelengError('no variants configured');
  if (arches.length === 0) throw new RelengError('no arches configured');
  if (arches.some((a) => a === 'src' || a === 'noarch')) throw new RelengError(`arches must be binary arches: ${arches.join(', ')}`);
  if (!/^[^/]+$/.test(opts.latestLinkName)) throw new RelengError(`invalid latest link name '${opts.latestLinkName}'`);
}

/** Gather: read every header once (batched rpm -qp), plan placements per variant, and link the packages in. */
async function gatherAndLink(
  opts: LocalComposeOptions,
  compose: string,
  summary: ComposeSummary,
  log: (line: string) => Promise<void>,
): Promise<{ plans: VariantPlan[]; rpmCount: number }> {
  const { variants, arches } = opts;
  const inputs = await Promise.all(variants.map((v) => listVariantRpms(opts.srcDir, v, !!opts.allowEmptyVariant)));
  const headers = await readRpmHeaders(inputs.flatMap((i) => i.files));
  const plans: VariantPlan[] = [];
  let offset = 0;
  variants.forEach((v, i) => {
    const input = inputs[i]!;
    const own = headers.slice(offset, (offset += input.files.length));
    plans.push({ ...planVariant(v, arches, own), comps: input.comps, modules: input.modules });
  });
  const used = new Set(plans.flatMap((p) => p.placements.map((x) => x.header.file)));
  const skipped = headers.filter((h) => !used.has(h.file));
  if (skipped.length) {
    await log(`Excluding ${skipped.length} RPM(s) of arches not in the compose: ${skipped.map((h) => basename(h.file)).join(' ')}`);
  }

  // Link packages into the hashed Packages/<letter>/ dirs (every repo dir gets a Packages/ even when empty).
  for (const plan of plans) {
    for (const repo of plan.lists.keys()) await mkdir(join(compose, repo, 'Packages'), { recursive: true });
    const dirs = new Set(plan.placements.map((p) => join(compose, p.path, '..')));
    for (const d of dirs) await mkdir(d, { recursive: true });
    await mapLimit(plan.placements, 16, (p) => linkOrCopy(p.header.file, join(compose, p.path)));
  }
  await writeRpmsMetadata(join(compose, 'metadata/rpms.json'), {
    header: { type: 'productmd.rpms', version: '1.2' },
    payload: { compose: summary, rpms: rpmsMapFor(plans, arches) },
  });
  await log(`Linked ${used.size} RPM(s); wrote compose/metadata/rpms.json`);
  return { plans, rpmCount: used.size };
}

/** Package lists and comps in pungi's work/ paths, then one createrepo_c per repo, even for empty repos. */
async function createRepos(
  opts: LocalComposeOptions,
  composeDir: string,
  plans: readonly VariantPlan[],
  log: (line: string) => Promise<void>,
): Promise<void> {
  const { arches } = opts;
  const compose = join(composeDir, 'compose');
  const crVersion = await createrepoVersion();
  const jobs: Array<{ repo: string; pkglist: string; groupfile?: string; log: string }> = [];
  for (const plan of plans) {
    const v = plan.variant;
    for (const a of arches) {
      await mkdir(join(composeDir, 'work', a, 'repo_package_list'), { recursive: true });
      await mkdir(join(composeDir, 'logs', a), { recursive: true });
      let groupfile: string | undefined;
      if (plan.comps) {
        groupfile = join(composeDir, 'work', a, 'comps', `comps-${v}.${a}.xml`);
        await mkdir(join(groupfile, '..'), { recursive: true });
        await copyFile(plan.comps, groupfile);
      }
      for (const [kind, repo, gf] of [
        ['rpm', repoTree.os(v, a), groupfile],
        ['debuginfo', repoTree.debug(v, a), undefined],
      ] as const) {
        const pkglist = join(composeDir, 'work', a, 'repo_package_list', `${v}.${a}.${kind}.conf`);
        await writeFile(pkglist, plan.lists.get(repo)!.map((l) => `${l}\n`).join(''));
        jobs.push({ repo, pkglist, groupfile: gf, log: join(composeDir, 'logs', a, `createrepo-${v}.${kind}.${a}.log`) });
      }
    }
    const srcRepo = repoTree.source(v);
    const pkglist = join(composeDir, 'work/global/repo_package_list', `${v}.None.srpm.conf`);
    await writeFile(pkglist, plan.lists.get(srcRepo)!.map((l) => `${l}\n`).join(''));
    jobs.push({ repo: srcRepo, pkglist, log: join(composeDir, 'logs/global', `createrepo-${v}.srpm.global.log`) });
  }
  await mapLimit(jobs, opts.createrepoConcurrency ?? 3, async (j) => {
    const args = pungiCreaterepoArgs({
      repoDir: join(compose, j.repo),
      pkglist: j.pkglist,
      groupfile: j.groupfile,
      createrepoVersion: crVersion,
    });
    const res = await run('createrepo_c', args, { allowFailure: true });
    await writeFile(j.log, `createrepo_c ${args.join(' ')}\n${res.stdout}${res.stderr}`);
    if (res.exitCode !== 0) {
      throw new RelengError(`createrepo_c failed (exit ${res.exitCode}) for ${j.repo}; see ${j.log}:\n${res.stderr.trim()}`);
    }
  });
  await log(`Created ${jobs.length} repositories with createrepo_c ${crVersion}`);
}

/** Source package name of an RPM: the module component it was built from. */
function srpmName(h: RpmHeader): string {
  return srpmNevra(h).replace(/-\d+:[^-]+-[^-]+\.src$/, '');
}

type ModulesByVariant = Record<string, Record<string, Record<string, ModuleEntry>>>;

/**
 * The module metadata of the modular variants, as pungi's createrepo phase adds it: for every arch, the variant's
 * module builds (<srcDir>/<Variant>/modules.yaml, modulemd documents naming their source packages in
 * data.components.rpms) with data.arch and data.artifacts.rpms set to the os repo's packages built from those
 * components, added with `modifyrepo_c --mdtype=modules --compress-type=gz`. Returns what modules.json records.
 * A component with no package in the variant is refused: a module build always has its packages.
 */
async function addModules(
  opts: LocalComposeOptions,
  compose: string,
  plans: readonly VariantPlan[],
  log: (line: string) => Promise<void>,
): Promise<ModulesByVariant> {
  const modules: ModulesByVariant = {};
  for (const plan of plans) {
    if (!plan.modules) continue;
    const text = await readFile(plan.modules, 'utf8');
    const components = new Set(plan.placements.map((p) => srpmName(p.header)));
    for (const arch of opts.arches) {
      const repo = repoTree.os(plan.variant, arch);
      const inRepo = plan.placements.filter((p) => p.path.startsWith(`${repo}/`));
      const artifactsOf = (component: string) => {
        if (!components.has(component)) {
          throw new RelengError(`${plan.modules}: module component ${component} has no RPM in ${join(opts.srcDir, plan.variant)}`);
        }
        return inRepo.filter((p) => srpmName(p.header) === component).map((p) => nevra(p.header));
      };
      const md = modulemdForRepo(text, plan.modules, arch, artifactsOf);
      const repodata = join(compose, repo, 'repodata');
      await modifyrepoModules(repodata, md.text, 'gz');
      const record = (await readRepomd(join(compose, repo))).records.find((r) => r.type === 'modules');
      if (!record) throw new RelengError(`modifyrepo_c added no modules record to ${repodata}/repomd.xml`);
      for (const s of md.streams) {
        const uid = `${s.name}:${s.stream}:${s.version}:${s.context}`;
        ((modules[plan.variant] ??= {})[arch] ??= {})[uid] = {
          metadata: { uid, name: s.name, stream: s.stream, version: s.version, context: s.context, koji_tag: `module-${s.name}-${s.stream}-${s.version}-${s.context}` },
          modulemd_path: { binary: `${repo}/${record.location}` },
          rpms: s.artifacts,
        };
      }
    }
    await log(`Added module metadata of ${plan.variant} (${Object.keys(modules[plan.variant]?.[opts.arches[0] as string] ?? {}).join(', ')})`);
  }
  return modules;
}

/** Per-tree files for every os tree and the source tree (pungi: every arch plus src). */
async function writeTreeFiles(opts: LocalComposeOptions, compose: string): Promise<void> {
  const { variants, arches } = opts;
  const now = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) : Date.now() / 1000;
  const stamp = now.toFixed(6);
  const description = `${opts.releaseName} ${opts.version}`;
  for (const v of variants) {
    const trees: Array<[string, string]> = arches.map((a) => [repoTree.os(v, a), a]);
    trees.push([repoTree.source(v), 'src']);
    for (const [tree, arch] of trees) {
      const dir = join(compose, tree);
      await writeFile(
        join(dir, '.treeinfo'),
        treeinfoText({
          releaseName: opts.releaseName,
          releaseShort: opts.short,
          releaseVersion: opts.version,
          variant: v,
          arch,
          timestamp: Math.floor(now),
        }),
      );
      await writeFile(join(dir, '.discinfo'), discinfoText(stamp, description, arch));
      await writeFile(join(dir, 'media.repo'), mediaRepoText(description, stamp));
    }
  }
}

/** Builds one compose; see the module comment. Throws RelengError (STATUS DOOMED, latest link untouched). */
export async function createLocalCompose(opts: LocalComposeOptions): Promise<LocalComposeResult> {
  const releaseType = opts.releaseType ?? 'updates';
  const composeType = opts.composeType ?? 'production';
  const date = opts.date ?? localDate();
  const { targetDir, variants, arches } = opts;

  checkLocalComposeOptions(opts, date);
  const isoPlan = opts.isoTypes ? localIsoPlan(opts.short, opts.version, variants, opts.isoTypes, arches) : [];
  if (isoPlan.length) await requireTools(['xorriso']);
  try {
    if (!(await stat(targetDir)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new RelengError(`compose target dir ${targetDir} does not exist or is not a directory (${errorMessage(err)})`);
  }

  const { id: composeId, dir: composeDir, respin } = await makeComposeDir(targetDir, (r) =>
    composeIdFor({ short: opts.short, version: opts.version, releaseType, date, composeType, respin: r }),
  );
  const compose = join(composeDir, 'compose');

  let rpmCount = 0;
  const summary: ComposeSummary = { id: composeId, date, respin, type: composeType };
  const composeInfo: ComposeInfo = {
    header: { type: 'productmd.composeinfo', version: '1.2' },
    payload: {
      compose: {
        ...summary,
        ...(opts.label ? { label: opts.label, final: FINAL_LABEL_RE.test(opts.label) } : {}),
      },
      release: {
        name: opts.releaseName,
        short: opts.short,
        version: opts.version,
        type: releaseType,
        internal: false,
      },
      variants: {},
    },
  };

  await withComposeStatus(composeDir, composeId, async (log) => {
    await log(`Compose dir: ${composeDir}`);
    await log(`Local compose of ${opts.srcDir} (variants ${variants.join(', ')}; arches ${arches.join(', ')})`);
    await writeComposeInfo(join(composeDir, 'work/global/composeinfo-base.json'), composeInfo);
    await writeFile(join(composeDir, 'work/global/variants.xml'), variantsXml(variants, arches));

    const gathered = await gatherAndLink(opts, compose, summary, log);
    rpmCount = gathered.rpmCount;
    await createRepos(opts, composeDir, gathered.plans, log);
    const modules = await addModules(opts, compose, gathered.plans, log);
    await writeTreeFiles(opts, compose);

    // createiso: after the trees are complete, as pungi's createiso phase runs after createrepo.
    for (const iso of isoPlan) await makeLocalIso(compose, iso);
    if (isoPlan.length) await log(`Made ${isoPlan.length} ISO(s) with xorriso: ${isoPlan.map((i) => i.name).join(' ')}`);

    // Metadata written at the end, like pungi's write_compose_info.
    await writeModulesMetadata(join(compose, 'metadata/modules.json'), {
      header: { type: 'productmd.modules', version: '1.2' },
      payload: { compose: summary, modules },
    });
    for (const v of variants) {
      composeInfo.payload.variants[v] = {
        id: v,
        uid: v,
        name: v,
        type: 'variant',
        arches: [...arches].sort(),
        paths: {
          ...variantPaths(v, arches),
          // A produce compose names its iso dirs (pungi: "isos": {"x86_64": "BaseOS/x86_64/iso"}).
          ...(isoPlan.some((i) => i.isoType === v) ? { isos: Object.fromEntries(arches.map((a) => [a, `${v}/${a}/iso`])) } : {}),
        },
      };
    }
    await writeComposeInfo(join(compose, 'metadata/composeinfo.json'), composeInfo);
  });

  // Only a finished compose moves the link (pungi: after write_status("FINISHED")).
  const latestLink = await replaceLink(targetDir, opts.latestLinkName, composeId);
  return { composeId, composeDir, status: 'FINISHED', latestLink, rpmCount, isos: isoPlan.map((i) => `${i.dir}/${i.name}`) };
}
