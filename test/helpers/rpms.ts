/**
 * Real fixture RPMs for tests: built once with plain rpmbuild from test/fixtures/rpm-specs, cached under
 * <repo>/tmp/fixture-rpms/<hash of specs + recipe>/, and staged into the local compose backend's input layout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { mapLimit } from '../../tools/nx-releng/src/lib/core/concurrency';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { readRpmHeaders } from '../../tools/nx-releng/src/lib/formats/rpm-header';

export interface FixtureRpm {
  file: string;
  name: string;
  version: string;
  release: string;
  arch: string;
  category: 'binary' | 'debug' | 'source';
}

export const REPO_ROOT = resolve(__dirname, '../..');
export const SPEC_DIR = join(REPO_ROOT, 'test/fixtures/rpm-specs');
export const COMPS_DIR = join(REPO_ROOT, 'test/fixtures/comps');
export const FIXTURE_ARCHES = ['x86_64', 'aarch64'] as const;
/** The package whose version differs between fixture sets (for "new compose" scenarios). */
export const VERSIONED_PACKAGE = 'releng-hello';
const VERSIONS = ['1.0', '1.1'] as const;

/** Bump when the build recipe below changes, so stale caches are not reused. */
const RECIPE = 'v1';
/** Fixed build time so rebuilding the same specs gives the same headers. */
const SOURCE_DATE_EPOCH = '1704067200';

interface BuildJob {
  spec: string;
  mode: '-ba' | '-bb';
  target: string;
  defines: Record<string, string>;
}

/** One -ba (binary + SRPM) on the first arch, -bb on the others; noarch specs build once. */
async function buildJobs(): Promise<BuildJob[]> {
  const jobs: BuildJob[] = [];
  for (const spec of (await readdir(SPEC_DIR)).filter((f) => f.endsWith('.spec')).sort()) {
    const text = await readFile(join(SPEC_DIR, spec), 'utf8');
    const noarch = /^BuildArch:\s*noarch\s*$/m.test(text);
    const versions = text.includes('%{fixture_version}') ? VERSIONS.map((v) => ({ fixture_version: v })) : [{}];
    for (const defines of versions) {
      const arches = noarch ? ['noarch'] : [...FIXTURE_ARCHES];
      arches.forEach((target, i) => jobs.push({ spec, mode: i === 0 ? '-ba' : '-bb', target, defines }));
    }
  }
  return jobs;
}

async function specHash(): Promise<string> {
  const h = createHash('sha256').update(RECIPE);
  for (const spec of (await readdir(SPEC_DIR)).filter((f) => f.endsWith('.spec')).sort()) {
    h.update(spec).update('\0').update(await readFile(join(SPEC_DIR, spec))).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

async function runBuild(job: BuildJob, topdir: string, outDir: string): Promise<void> {
  const defs = {
    _topdir: topdir,
    dist: '.el8',
    // gzip payloads are readable by every EL8 tool; no build-id links or debug extraction on Debian.
    _binary_payload: 'w9.gzdio',
    _source_payload: 'w9.gzdio',
    _buildhost: 'releng-fixtures',
    use_source_date_epoch_as_buildtime: '1',
    clamp_mtime_to_source_date_epoch: '1',
    ...job.defines,
  };
  const args = [job.mode, '--target', job.target, '--nodeps'];
  for (const [k, v] of Object.entries(defs)) args.push('--define', `${k} ${v}`);
  args.push(join(SPEC_DIR, job.spec));
  await run('rpmbuild', args, { env: { SOURCE_DATE_EPOCH, LC_ALL: 'C' } });
  for (const sub of ['RPMS', 'SRPMS']) {
    const base = join(topdir, sub);
    if (!existsSync(base)) continue;
    for (const ent of await readdir(base, { withFileTypes: true, recursive: true })) {
      if (ent.isFile() && ent.name.endsWith('.rpm')) await rename(join(ent.parentPath, ent.name), join(outDir, ent.name));
    }
  }
}

let cached: Promise<{ dir: string; all: FixtureRpm[] }> | undefined;

async function buildAll(): Promise<{ dir: string; all: FixtureRpm[] }> {
  const root = join(REPO_ROOT, 'tmp/fixture-rpms');
  const dir = join(root, await specHash());
  if (!existsSync(dir)) {
    await mkdir(root, { recursive: true });
    // Build into a private temp dir and rename it into place: parallel test processes either win the
    // rename or find the finished dir; nobody ever sees a half-built cache.
    const tmp = join(root, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
    const out = join(tmp, 'rpms');
    await mkdir(out, { recursive: true });
    try {
      const jobs = await buildJobs();
      await mapLimit(jobs, 4, (job) => runBuild(job, join(tmp, `top-${jobs.indexOf(job)}`), out));
      await rename(out, join(tmp, 'final'));
      try {
        await rename(join(tmp, 'final'), dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw err;
      }
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }
  const files = (await readdir(dir)).filter((f) => f.endsWith('.rpm')).sort().map((f) => join(dir, f));
  const all = (await readRpmHeaders(files)).map(({ file, name, version, release, arch, category }) => ({
    file,
    name,
    version,
    release,
    arch,
    category,
  }));
  return { dir, all };
}

/** Source package name of a fixture RPM: every spec's subpackages are named <spec>-debuginfo/-debugsource. */
function sourceName(r: FixtureRpm): string {
  return r.name.replace(/-debug(info|source)$/, '');
}

/**
 * Builds every fixture spec (once per spec content; cached across test processes) and returns the set for
 * one version of releng-hello: all other packages are the same files in both sets.
 */
export async function buildFixtureRpms(opts: { version?: '1.0' | '1.1' } = {}): Promise<{ dir: string; rpms: FixtureRpm[] }> {
  const version = opts.version ?? '1.0';
  cached ??= buildAll();
  const { dir, all } = await cached;
  const rpms = all.filter((r) => sourceName(r) !== VERSIONED_PACKAGE || r.version === version);
  return { dir, rpms };
}

export interface StageOptions {
  version?: '1.0' | '1.1';
  /** Arches whose binary RPMs are staged (default both fixture arches). */
  arches?: string[];
  /** Comps per variant; default: the fixture comps for BaseOS and AppStream. */
  comps?: Record<string, string>;
}

/**
 * Lays out fixture RPMs as the local compose backend's input:
 * <kojiRoot>/local/<major>/<short>/<Variant>/*.rpm (+ comps.xml), with each listed package's binary, debug and
 * source RPMs. A variant with an empty list still gets its (empty) directory. Returns the source dir.
 */
export async function stageLocalSource(
  kojiRoot: string,
  major: string,
  short: string,
  layout: Record<string, string[]>,
  opts: StageOptions = {},
): Promise<string> {
  const { rpms } = await buildFixtureRpms({ version: opts.version });
  const arches = new Set([...(opts.arches ?? FIXTURE_ARCHES), 'noarch', 'src']);
  const comps = opts.comps ?? {
    BaseOS: join(COMPS_DIR, 'comps-BaseOS.xml'),
    AppStream: join(COMPS_DIR, 'comps-AppStream.xml'),
  };
  const srcDir = join(kojiRoot, 'local', major, short);
  for (const [variant, names] of Object.entries(layout)) {
    const vdir = join(srcDir, variant);
    await mkdir(vdir, { recursive: true });
    for (const name of names) {
      const chosen = rpms.filter((r) => sourceName(r) === name && arches.has(r.arch));
      if (!chosen.some((r) => r.category === 'binary')) throw new Error(`no fixture RPM named ${name}`);
      for (const r of chosen) await copyFile(r.file, join(vdir, basename(r.file)));
    }
    const compsFile = comps[variant];
    if (compsFile) await copyFile(compsFile, join(vdir, 'comps.xml'));
  }
  return srcDir;
}
