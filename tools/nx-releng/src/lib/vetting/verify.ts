/**
 * Vetting one repository before it goes to production (the checks the toolkit leaves to people, see
 * "Tests and checks before production"): every file repomd names is there with its recorded checksum
 * and size; every package in primary is there with its checksum and size; repomd.xml.asc verifies
 * against the public key and is not older than repomd.xml; `dnf repoclosure` passes against the
 * dependency repos (empanadas' repoclosure_map); and dnf itself loads the repository with
 * repo_gpgcheck=1 and the key, as a client would.
 *
 * dnf runs fully isolated: a private config file, an empty reposdir and an empty installroot (which also
 * holds dnf's cache, state and logs) in a temporary directory, plugins off except repoclosure. Problems are collected, not
 * thrown; a missing tool (dnf, gpg, gpgv) or an unreadable key file is a RelengError.
 */
import { lstat, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { scratchDir } from '../core/scratch';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { forEachLimit } from '../core/concurrency';
import { RelengError, errorMessage } from '../../errors';
import { run } from '../tools/exec';
import { fileDigest, hashAlgorithm, readRepomd, repomdFiles, repomdPath, resolveInRepo } from '../formats/repomd';
import { primaryPackages, type PrimaryPackage } from '../formats/primary';
import { readModulesRecord, requireModules } from '../formats/modulemd';
import type { Repomd, RepomdChecksum } from '../formats/repomd';
import { verifyDetachedSignature } from './sign';

/**
 * Which repos a repo's dependencies may come from, per repo name (empanadas' `repoclosure_map.repos`),
 * e.g. `{ BaseOS: [], AppStream: ['BaseOS'], PowerTools: ['BaseOS', 'AppStream'] }`. Plain data: the
 * actual map belongs in the release config.
 */
export type RepoclosureMap = Record<string, string[]>;

/**
 * `--arch` lists per base arch for repoclosure (empanadas el8 `repoclosure_map.arches`; EL8 has no
 * multilib in its repos but the x86_64 list still admits the 32-bit x86 arches, as empanadas does).
 */
export const DEFAULT_CLOSURE_ARCHES: Record<string, string[]> = {
  x86_64: ['x86_64', 'athlon', 'i686', 'i586', 'i486', 'i386', 'noarch'],
  aarch64: ['aarch64', 'noarch'],
  ppc64le: ['ppc64le', 'noarch'],
  s390x: ['s390x', 'noarch'],
  riscv64: ['riscv64', 'noarch'],
};

/** closureRepos for `repo`: its dependency repos from the map, each resolved to a directory. */
export function closureReposFor(map: RepoclosureMap, repo: string, dirOf: (repo: string) => string): Record<string, string> {
  const deps = map[repo];
  if (!deps) throw new RelengError(`repoclosure map has no entry for repo ${repo}`);
  return Object.fromEntries(deps.map((d) => [d, dirOf(d)]));
}

export interface VerifyRepoOptions {
  /** Exported public key file (armoured) the repo's repomd.xml.asc must verify against; unused when unsigned. */
  publicKey: string;
  /** The repo carries no repomd.xml.asc by design (SIG repos): no signature checks, dnf loads it without repo_gpgcheck. */
  unsigned?: boolean;
  /** false: no repoclosure (the repo's dependencies are not among the repos at hand, as for a SIG). Default true. */
  repoclosure?: boolean;
  /** Base arch of the repo (x86_64, aarch64...); repoclosure is skipped for `src`/`source`. */
  arch: string;
  /** Dependency repos for repoclosure: repo id → repository root. */
  closureRepos?: Record<string, string>;
  /** dnf repo id for the repo under test (default `target`). */
  repoId?: string;
  /** `--arch` list for repoclosure; default DEFAULT_CLOSURE_ARCHES[arch] or [arch, 'noarch']. */
  closureArches?: string[];
  /** Value for dnf's --releasever (no $releasever is used; default `releng`). */
  releasever?: string;
  /** Skip the dnf checks (repoclosure and repo_gpgcheck loading). */
  skipDnf?: boolean;
  /** Parallel package checksum workers (default 4). */
  concurrency?: number;
  /** Name for the report (default: the directory). */
  name?: string;
}

const LINK_NOT_FILE = 'is a symbolic link; production would receive the link, not the file';

export interface RepoReport {
  repo: string;
  ok: boolean;
  problems: string[];
}

/** A file production will receive as it is here: lstat, so a link is reported rather than its target checked. */
async function checkFile(label: string, path: string, checksum: RepomdChecksum | undefined, size: number | undefined): Promise<string[]> {
  let st;
  try {
    st = await lstat(path);
  } catch {
    return [`${label}: ${path} is missing`];
  }
  if (st.isSymbolicLink()) return [`${label}: ${path} ${LINK_NOT_FILE}`];
  if (!st.isFile()) return [`${label}: ${path} is not a regular file`];
  const problems: string[] = [];
  if (size !== undefined && st.size !== size) problems.push(`${label}: ${path} has size ${st.size}, expected ${size}`);
  if (!checksum) {
    problems.push(`${label}: no checksum recorded`);
  } else {
    const algo = hashAlgorithm(checksum.type);
    if (!algo) {
      problems.push(`${label}: unknown checksum type '${checksum.type}'`);
    } else if (problems.length === 0) {
      const got = await fileDigest(path, algo);
      if (got !== checksum.value.toLowerCase()) problems.push(`${label}: ${path} ${checksum.type} is ${got}, expected ${checksum.value}`);
    }
  }
  return problems;
}

/** One package primary names: in this repository, there as a regular file with its size and checksum. */
async function checkPackage(repoDir: string, p: PrimaryPackage): Promise<string[]> {
  const label = `package ${p.name}-${p.epoch !== '0' ? `${p.epoch}:` : ''}${p.version}-${p.release}.${p.arch}`;
  if (p.locationBase) return [`${label}: location has xml:base=${p.locationBase}; not in this repository`];
  const path = resolveInRepo(repoDir, p.href);
  if (!path) return [`${label}: location '${p.href}' is outside the repository`];
  return checkFile(label, path, p.checksum, p.size);
}

function dnfArgsBase(work: string, releasever: string): string[] {
  return [
    '-c',
    join(work, 'dnf.conf'),
    `--installroot=${join(work, 'root')}`,
    `--releasever=${releasever}`,
    `--setopt=reposdir=${join(work, 'repos.d')}`,
    // cache, persist and log dirs default to <installroot>/var/...; setting logdir explicitly breaks
    // hawkey's log (it gets the unprefixed path).
    '--assumeyes',
  ];
}

async function prepareDnfDir(): Promise<string> {
  const work = await scratchDir(tmpdir(), 'releng-dnf-');
  for (const d of ['repos.d', 'root']) await mkdir(join(work, d), { recursive: true });
  await writeFile(
    join(work, 'dnf.conf'),
    '[main]\ngpgcheck=0\nrepo_gpgcheck=0\nskip_if_unavailable=False\ninstall_weak_deps=False\nkeepcache=False\nmetadata_expire=0\n',
  );
  return work;
}

/** dnf's error lines (from the first "Error..." line on), else its last lines, on one line. */
function dnfError(text: string, n = 3): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const at = lines.findIndex((l) => /^Errors?\b/.test(l));
  return (at >= 0 ? lines.slice(at) : lines.slice(-n)).join(' | ');
}

/** Turns repoclosure's "package: X from R / unresolved deps (n): / dep" blocks into one line each. */
export function parseRepoclosureOutput(stdout: string): string[] {
  const out: string[] = [];
  let current: { pkg: string; deps: string[] } | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^package:\s+(.+)$/.exec(line.trim());
    if (m) {
      if (current) out.push(`${current.pkg}: unresolved ${current.deps.join(', ')}`);
      current = { pkg: m[1] as string, deps: [] };
    } else if (current && /^\s{4,}\S/.test(line) && !/unresolved deps/.test(line)) {
      current.deps.push(line.trim());
    }
  }
  if (current) out.push(`${current.pkg}: unresolved ${current.deps.join(', ')}`);
  return out;
}

/** The dnf checks: repo_gpgcheck loading and repoclosure. */
async function dnfChecks(repoDir: string, opts: VerifyRepoOptions): Promise<string[]> {
  const problems: string[] = [];
  const id = opts.repoId ?? 'target';
  const closure = opts.closureRepos ?? {};
  if (id in closure) throw new RelengError(`repo id ${id} is used both for the repo under test and a closure repo`);
  const work = await prepareDnfDir();
  try {
    const base = dnfArgsBase(work, opts.releasever ?? 'releng');
    // 1. dnf loads the repository with repo_gpgcheck=1 (librepo verifies repomd.xml.asc with the key).
    const gpg = opts.unsigned
      ? [`--setopt=${id}.repo_gpgcheck=0`]
      : [`--setopt=${id}.repo_gpgcheck=1`, `--setopt=${id}.gpgkey=${pathToFileURL(resolve(opts.publicKey)).href}`];
    const load = await run(
      'dnf',
      [
        ...base,
        '--noplugins',
        `--repofrompath=${id},${resolve(repoDir)}`,
        `--repo=${id}`,
        ...gpg,
        `--setopt=${id}.gpgcheck=0`,
        `--setopt=${id}.skip_if_unavailable=0`,
        'makecache',
      ],
      { allowFailure: true, env: { LC_ALL: 'C' } },
    );
    if (load.exitCode !== 0) {
      const how = opts.unsigned ? '' : ' with repo_gpgcheck=1';
      problems.push(`dnf cannot load the repository${how}: ${dnfError(load.stderr || load.stdout)}`);
    }
    // 2. repoclosure for the arch against the dependency repos.
    if (opts.repoclosure !== false && opts.arch !== 'src' && opts.arch !== 'source') {
      const arches = opts.closureArches ?? DEFAULT_CLOSURE_ARCHES[opts.arch] ?? [opts.arch, 'noarch'];
      const repoArgs: string[] = [];
      for (const [cid, dir] of [[id, repoDir] as const, ...Object.entries(closure)]) {
        repoArgs.push(`--repofrompath=${cid},${resolve(dir)}`, `--repo=${cid}`, `--setopt=${cid}.skip_if_unavailable=0`);
      }
      const archArgs = opts.arch === 'noarch' ? [] : [`--forcearch=${opts.arch}`];
      for (const a of arches) archArgs.push(`--arch=${a}`);
      const rc = await run(
        'dnf',
        [...base, '--disableplugin=*', '--enableplugin=repoclosure', 'repoclosure', ...repoArgs, `--check=${id}`, ...archArgs],
        { allowFailure: true, env: { LC_ALL: 'C' } },
      );
      if (rc.exitCode !== 0) {
        const unresolved = parseRepoclosureOutput(rc.stdout);
        if (unresolved.length) {
          for (const u of unresolved) problems.push(`repoclosure (${opts.arch}): ${u}`);
        } else {
          problems.push(`dnf repoclosure failed (exit ${rc.exitCode}): ${dnfError(rc.stderr || rc.stdout)}`);
        }
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return problems;
}

/**
 * Checks one repository (the directory holding `repodata/`). Returns every problem found; `ok` when
 * there is none.
 */
export async function verifyRepo(repoDir: string, opts: VerifyRepoOptions): Promise<RepoReport> {
  const name = opts.name ?? repoDir;
  const problems: string[] = [];
  const mdPath = repomdPath(repoDir);
  for (const path of [mdPath, `${mdPath}.asc`]) {
    if ((await lstat(path).catch(() => undefined))?.isSymbolicLink()) problems.push(`${path} ${LINK_NOT_FILE}`);
  }
  let repomd: Repomd | undefined;
  try {
    repomd = await readRepomd(repoDir);
  } catch (err) {
    problems.push(errorMessage(err));
  }

  if (repomd) {
    // Files named by repomd.
    for (const f of repomdFiles(repoDir, repomd)) {
      if (f.problem || !f.path) {
        problems.push(f.problem ?? `record ${f.type}: unusable location ${f.href}`);
        continue;
      }
      problems.push(...(await checkFile(`repomd ${f.type}`, f.path, f.checksum, f.size)));
    }
    // Packages named by primary, streamed: only the problems are kept (in primary's order), never the package list.
    const found: { at: number; problems: string[] }[] = [];
    let next = 0;
    try {
      await forEachLimit(primaryPackages(repoDir, repomd), opts.concurrency ?? 4, async (p) => {
        const at = next++;
        const got = await checkPackage(repoDir, p);
        if (got.length) found.push({ at, problems: got });
      });
    } catch (err) {
      found.push({ at: next, problems: [errorMessage(err)] });
    }
    for (const f of found.sort((a, b) => a.at - b.at)) problems.push(...f.problems);
  }

  // Signature.
  const ascPath = `${mdPath}.asc`;
  let ascTime: number | undefined;
  try {
    if (!opts.unsigned) ascTime = (await stat(ascPath)).mtimeMs;
  } catch {
    problems.push(`${ascPath} is missing (repomd.xml is not signed)`);
  }
  if (ascTime !== undefined) {
    const v = await verifyDetachedSignature(ascPath, mdPath, { publicKey: opts.publicKey });
    if (!v.ok) problems.push(v.reason);
    try {
      const mdTime = (await stat(mdPath)).mtimeMs;
      if (ascTime < mdTime) problems.push(`${ascPath} is older than repomd.xml (repomd.xml changed after signing)`);
    } catch {
      /* repomd missing: already reported */
    }
  }

  if (!opts.skipDnf && repomd) problems.push(...(await dnfChecks(repoDir, opts)));

  return { repo: name, ok: problems.length === 0, problems };
}

/**
 * A modular repo's module metadata, as EL8 clients read it: repomd.xml has a `modules` record whose file parses as
 * modulemd documents listing at least one module. Returns the problems (none when it holds).
 */
export async function checkModules(repoDir: string): Promise<string[]> {
  try {
    const record = await readModulesRecord(repoDir);
    if (!record) return [`repodata/repomd.xml has no modules record; a modular repo without module metadata breaks module filtering on every client`];
    requireModules(record.text, relative(repoDir, record.file));
    return [];
  } catch (err) {
    return [errorMessage(err)];
  }
}
