/**
 * The real dnf as a client of local repo directories, isolated from the host's dnf configuration and state.
 *
 * Quirks found with dnf 4.14 on Debian 12 (why the options are what they are):
 * - Without --installroot dnf writes /var/log/dnf*.log and /var/lib/dnf/history.sqlite on the host, and reads the
 *   host's /etc/dnf/dnf.conf; so every call gets a fresh installroot (also: an empty rpmdb, and no metadata cache
 *   shared between calls, which would go stale when a test rewrites a repo in place).
 * - With --installroot, do NOT also pass --setopt=cachedir/logdir: dnf prefixes those with the installroot for its own
 *   files but hands the unprefixed logdir to hawkey, which then fails with "Failed to open log file: <dir>/hawkey.log".
 *   The defaults (<root>/var/cache/dnf, <root>/var/log) just work.
 * - `repoquery` lists packages of every arch in the repo, even ones the (forced) arch cannot install, so the arch
 *   filter is passed explicitly (`--arch=<arch>,noarch`); --forcearch only sets $basearch and installability.
 * - An empty reposdir plus an empty --config keeps host .repo files out; --repofrompath repos are then the only ones.
 * - Debian's rpm keeps its database in ~/.rpmdb, so inside the installroot it lands in <root>/root/.rpmdb.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { arch as nodeArch, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';

export interface DnfOptions {
  /** Client arch: 'x86_64', 'aarch64', … or 'src' to list source packages. */
  arch: string;
}

const NEVRA_QF = '%{name}-%{epoch}:%{version}-%{release}.%{arch}';

export function hostArch(): string {
  const a = nodeArch();
  return a === 'x64' ? 'x86_64' : a === 'arm64' ? 'aarch64' : a;
}

/** Runs dnf with a throwaway installroot; `repoDirs` maps repo id -> local repo dir (containing repodata/). */
async function dnf(repoDirs: Record<string, string>, opts: DnfOptions, args: string[]): Promise<string> {
  const tmp = await mkdtemp(join(tmpdir(), 'releng-dnf-'));
  try {
    const root = join(tmp, 'root');
    const reposd = join(tmp, 'repos.d');
    await mkdir(root);
    await mkdir(reposd);
    await writeFile(join(tmp, 'dnf.conf'), '[main]\n');
    const argv = [
      '-q',
      '-y',
      `--config=${join(tmp, 'dnf.conf')}`,
      `--installroot=${root}`,
      '--disableplugin=*',
      `--setopt=reposdir=${reposd}`,
      '--releasever=8',
    ];
    if (opts.arch !== 'src' && opts.arch !== hostArch()) argv.push(`--forcearch=${opts.arch}`);
    for (const [id, dir] of Object.entries(repoDirs)) argv.push(`--repofrompath=${id},${resolve(dir)}`);
    argv.push(`--repo=${Object.keys(repoDirs).join(',')}`);
    const { stdout } = await run('dnf', [...argv, ...args], { env: { LC_ALL: 'C' } });
    return stdout;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/** Sorted, de-duplicated NEVRAs (with epoch) a client of `opts.arch` sees: that arch + noarch (or only src). */
export async function repoquery(
  repoDirs: Record<string, string>,
  opts: DnfOptions & { extraArgs?: string[] },
): Promise<string[]> {
  const arches = opts.arch === 'src' ? 'src' : `${opts.arch},noarch`;
  const out = await dnf(repoDirs, opts, ['repoquery', `--arch=${arches}`, '--qf', NEVRA_QF, ...(opts.extraArgs ?? [])]);
  return [...new Set(out.split('\n').map((l) => l.trim()).filter(Boolean))].sort();
}

/** `dnf module list` as a client of `opts.arch` sees the repos: the module streams and their profiles, as dnf prints them. */
export function moduleList(repoDirs: Record<string, string>, opts: DnfOptions): Promise<string> {
  return dnf(repoDirs, opts, ['module', 'list']);
}

/**
 * Sorted group names from `dnf group list` (available groups; the installroot has none installed).
 * With `ids: true` returns group ids instead (parsed from `--ids` output "Name (id)").
 */
export async function groupList(repoDirs: Record<string, string>, opts: DnfOptions & { ids?: boolean }): Promise<string[]> {
  const out = await dnf(repoDirs, opts, ['group', 'list', ...(opts.ids ? ['--ids'] : [])]);
  // Headings ("Available Groups:") are flush left; entries are indented.
  const entries = out
    .split('\n')
    .filter((l) => /^\s+\S/.test(l))
    .map((l) => l.trim());
  const values = opts.ids ? entries.map((e) => /\(([^()]+)\)$/.exec(e)?.[1] ?? e) : entries;
  return [...new Set(values)].sort();
}
