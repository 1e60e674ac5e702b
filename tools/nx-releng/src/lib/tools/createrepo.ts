import { chmod, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { scratchDir } from '../core/scratch';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { run } from './exec';
import { RelengError } from '../../errors';

/** "Version: 0.17.3 (Features: …)" -> "0.17.3". */
export function parseCreaterepoVersion(output: string): string {
  const m = /Version:\s*(\d+(?:\.\d+)*)/.exec(output);
  if (!m?.[1]) throw new RelengError(`cannot parse createrepo_c --version output: ${output.trim()}`);
  return m[1];
}

/** Numeric dotted-version comparison: versionAtLeast('0.17.3', '1.0') === false. */
export function versionAtLeast(version: string, min: string): boolean {
  const a = version.split('.').map(Number);
  const b = min.split('.').map(Number);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** createrepo_c 1.0 switched the default compression to zstd, which EL7/old tools cannot read. */
function isModernCreaterepo(createrepoVersion: string): boolean {
  return versionAtLeast(createrepoVersion, '1.0');
}

let versionPromise: Promise<string> | undefined;

/** Installed createrepo_c version, read once per process. */
export function createrepoVersion(): Promise<string> {
  versionPromise ??= run('createrepo_c', ['--version']).then((r) => parseCreaterepoVersion(r.stdout + r.stderr));
  // A failed probe (tool missing) should not be cached forever.
  versionPromise.catch(() => (versionPromise = undefined));
  return versionPromise;
}

export interface PungiCreaterepoOptions {
  /** The repo dir (os/, debug/tree/ or source/tree/); metadata is written into it. */
  repoDir: string;
  /** work/<arch>/repo_package_list/<V>.<arch>.<rpm|debuginfo>.conf or work/global/…/<V>.None.srpm.conf */
  pkglist: string;
  /** work/<arch>/comps/comps-<V>.<arch>.xml (rpm repos only) */
  groupfile?: string;
  createrepoVersion: string;
}

/** argv (without the program) of pungi's per-variant createrepo_c call (reference §2.6 / §7 step 5). */
export function pungiCreaterepoArgs(o: PungiCreaterepoOptions): string[] {
  const args = [o.repoDir, `--outputdir=${o.repoDir}`, `--pkglist=${o.pkglist}`];
  if (o.groupfile) args.push(`--groupfile=${o.groupfile}`);
  args.push('--update', '--skip-stat', '--no-database', '--checksum=sha256', '--unique-md-filenames', '--workers=3');
  if (isModernCreaterepo(o.createrepoVersion)) args.push('--general-compress-type=gz', '--compress-type=gz');
  return args;
}

export interface StagingCreaterepoOptions {
  repoDir: string;
  /** Major release, e.g. "8": goes into the distro CPE/name and (by default) the revision. */
  major: string;
  /** e.g. "Rocky Linux" -> "<distroName> <major>" */
  distroName: string;
  /** e.g. "rocky" -> cpe:/o:rocky:rocky:<major> */
  cpeVendor: string;
  workers: number;
  /** comps file; switches to Rocky's createrepo_comps form (xz, revision, sha256). */
  groupfile?: string;
  /** Defaults to the major: Rocky's callers pass ${MAJOR} since 2025 ("majors have more than one character"). */
  revision?: string;
  createrepoVersion: string;
}

export function distroArg(cpeVendor: string, distroName: string, major: string): string {
  return `--distro=cpe:/o:${cpeVendor}:${cpeVendor}:${major},${distroName} ${major}`;
}

/**
 * argv of Rocky's staging helpers (sync/common createrepo_update / createrepo_comps, toolkit §3.2). No
 * --keep-all-metadata: Rocky deliberately drops modules/updateinfo here and re-adds them with modifyrepo_c.
 * sqlite databases stay on (createrepo's default), as on the published mirror.
 */
export function stagingCreaterepoArgs(o: StagingCreaterepoOptions): string[] {
  const distro = distroArg(o.cpeVendor, o.distroName, o.major);
  const workers = ['--workers', String(o.workers)];
  const modern = isModernCreaterepo(o.createrepoVersion);
  if (!o.groupfile) {
    const args = ['--update', o.repoDir, distro, ...workers];
    // Keep what EL8's createrepo_c 0.x writes: gz XML, bz2 sqlite.
    if (modern) args.push('--general-compress-type=gz', '--compress-type=bz2');
    return args;
  }
  const args = [
    '--update',
    o.repoDir,
    `--groupfile=${o.groupfile}`,
    '--xz',
    `--revision=${o.revision ?? o.major}`,
    distro,
    ...workers,
    '--checksum=sha256',
  ];
  if (modern) args.push('--general-compress-type=gz');
  return args;
}

/**
 * argv of Rocky's modifyrepo_module (xz) or pungi's modules call (gz): the yaml file must be named modules.yaml
 * (it names the record).
 */
export function modifyrepoModulesArgs(repodataDir: string, yamlPath: string, compressType: 'xz' | 'gz' = 'xz'): string[] {
  return ['--mdtype=modules', yamlPath, repodataDir, '--compress', `--compress-type=${compressType}`];
}

/**
 * Drops empty `<open-size></open-size>` elements (Rocky's fix_metadata `sed -i '/<open-size><\/open-size>/d'`),
 * removing the whole line when the element is alone on it, like sed does. Everything else stays byte-identical.
 * Must run before the repomd is signed. Returns whether the file changed; writes atomically (temp + rename).
 */
export async function fixOpenSize(repomdPath: string): Promise<boolean> {
  const text = await readFile(repomdPath, 'utf8');
  const fixed = removeEmptyOpenSize(text);
  if (fixed === text) return false;
  const tmp = join(dirname(repomdPath), `.${basename(repomdPath)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, fixed);
    await chmod(tmp, (await stat(repomdPath)).mode & 0o7777);
    await rename(tmp, repomdPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new RelengError(`cannot rewrite ${repomdPath}: ${(err as Error).message}`);
  }
  return true;
}

export function removeEmptyOpenSize(text: string): string {
  return text.replace(/^[ \t]*<open-size><\/open-size>[ \t]*\r?\n/gm, '').replace(/<open-size><\/open-size>/g, '');
}

export async function createrepo(args: readonly string[]): Promise<void> {
  await run('createrepo_c', args);
}

/**
 * Adds module metadata (the text of a modules.yaml, already checked) to a repo. It is written into a private temp
 * dir: Rocky's helper uses a fixed /tmp/modules.yaml, which races when two repos are processed at once.
 */
export async function modifyrepoModules(repodataDir: string, yamlText: string, compressType: 'xz' | 'gz' = 'xz'): Promise<void> {
  const tmp = await scratchDir(tmpdir(), 'releng-modules-');
  try {
    const staged = join(tmp, 'modules.yaml');
    await writeFile(staged, yamlText);
    await run('modifyrepo_c', modifyrepoModulesArgs(repodataDir, staged, compressType));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
