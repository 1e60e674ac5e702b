/**
 * sync-staging against the SOP's own bash (rocky-linux/sig-core-toolkit `sync/sync-to-staging.sh`) on the same
 * composes: the first sync into an empty staging, and the daily re-run with nothing new. Not run by CI. Issue 16.
 *
 *   SIG_CORE_TOOLKIT=/path/to/sig-core-toolkit \
 *   node -r @swc-node/register bench/sop-sync.bench.ts [--sizes 2000,30000] [--reps 5] [--syncReps 3] [--keep]
 *
 * SIG_CORE_TOOLKIT is a checkout of rocky-linux/sig-core-toolkit (nothing of it is in this repository). For each
 * size, bench/composes.ts makes a temporary Nx workspace whose three composes (Rocky-8, Extras-8, Rocky-devel-8)
 * hold about <size> package files. The SOP's side is a temporary copy of `sync/sync-to-staging.sh` and the
 * `common`/`common_8` files it sources, with their /mnt paths pointed into the workspace by sed: /mnt/compose at
 * the same composes ours reads, /mnt/repos-staging (and -production) at a staging of its own, /tmp/modules.yaml
 * beside it; and on PATH, `createrepo` and `modifyrepo` are createrepo_c and modifyrepo_c, `sudo` a no-op (the
 * script only runs `sudo -l`). It runs as the SOP does, `sync-to-staging.sh Rocky`, then Extras, then
 * Rocky-devel (RLVER=8, RLREL=stable), its output captured.
 *
 * First sync (--syncReps times, alternating which side goes first; before each, the side's staging root is
 * renamed aside, not deleted, and `sync` runs, untimed):
 *   ours   nx run-many -t sync-staging (Rocky-8, Extras-8, Rocky-devel-8; every task must sync)
 *   SOP    sync-to-staging.sh Rocky; Extras; Rocky-devel
 * Both staging trees must then hold the same package files (relative paths) and a repomd.xml in every repo.
 * Daily re-run, nothing new (--reps times, alternating; after a settling run of ours):
 *   ours   nx run-many -t sync-staging, answered by the Nx cache (every task must be a cache hit)
 *   SOP    the three scripts again on their staging (they remove every repo's repodata, rsync, and run
 *          createrepo --update, modifyrepo and hardlink again: the script has no "nothing new" path)
 * Prints medians, ratios (ours / SOP), CPU, and how the daily re-run grows from the smallest to the largest size.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { NxWorkspace } from '../test/helpers/nx-workspace';
import { PROJECTS, composeTrees, countTree, flush, makeComposes, stagingDir, stagingRoot, syncAll } from './composes';
import { fmtMs, load, machine, median, ok, parseArgs, timed, type Timed } from './measure';

/** The SOP's short names of the three base composes, in the order its runbook syncs them. */
const SOP_SHORTS = ['Rocky', 'Extras', 'Rocky-devel'];
const SOP_FILES = ['sync-to-staging.sh', 'common', 'common_8'];
const REVISION_DIR = 'mirror/pub/rocky/8.10-RC2';

interface Sop {
  root: string;
  scripts: string;
  env: NodeJS.ProcessEnv;
  staging: string;
}

/** A copy of the SOP's scripts with /mnt pointed into the workspace, and PATH shims for what it calls. */
function prepareSop(ws: NxWorkspace, toolkit: string): Sop {
  const root = join(ws.relengRoot, 'sop');
  const scripts = join(root, 'scripts');
  const shims = join(root, 'shims');
  mkdirSync(scripts, { recursive: true });
  mkdirSync(shims, { recursive: true });
  const sed = [
    `s#/mnt/compose#${ws.relengRoot}/mnt/compose#g`,
    `s#/mnt/repos-staging#${root}/repos-staging#g`,
    `s#/mnt/repos-production#${root}/repos-production#g`,
    `s#/tmp/modules.yaml#${root}/modules.yaml#g`,
  ];
  for (const f of SOP_FILES) {
    const src = join(toolkit, 'sync', f);
    if (!existsSync(src)) throw new Error(`${src} not found: SIG_CORE_TOOLKIT must be a checkout of rocky-linux/sig-core-toolkit`);
    const r = spawnSync('sed', [...sed.flatMap((e) => ['-e', e]), src], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sed ${src}: ${r.stderr}`);
    if (/(^|[^\w/-])\/mnt\//m.test(r.stdout.replaceAll(`${ws.relengRoot}/`, 'ROOT/'))) throw new Error(`${f} still names a /mnt path after the sed`);
    writeFileSync(join(scripts, f), r.stdout);
  }
  const shim = (name: string, body: string) => {
    writeFileSync(join(shims, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(shims, name), 0o755);
  };
  shim('createrepo', 'exec createrepo_c "$@"');
  shim('modifyrepo', 'exec modifyrepo_c "$@"');
  shim('sudo', 'exit 0');
  const staging = join(root, 'repos-staging');
  mkdirSync(staging, { recursive: true });
  return { root, scripts, staging, env: { ...process.env, PATH: `${shims}:${process.env.PATH}`, RLVER: '8', RLREL: 'stable' } };
}

/** The three scripts, one after the other; the total (wall and CPU). */
function runSop(sop: Sop): Timed {
  let total: Timed = { ms: 0, status: 0, output: '', cpuMs: 0, maxRssMiB: 0 };
  for (const short of SOP_SHORTS) {
    const r = ok(`sync-to-staging.sh ${short}`, timed('bash', [join(sop.scripts, 'sync-to-staging.sh'), short], { cwd: sop.root, env: sop.env }));
    if (!/\*\* Syncing completed/.test(r.output)) throw new Error(`sync-to-staging.sh ${short} did not complete:\n${r.output.slice(-3000)}`);
    total = {
      ms: total.ms + r.ms,
      status: 0,
      output: '',
      cpuMs: (total.cpuMs ?? 0) + (r.cpuMs ?? NaN),
      maxRssMiB: Math.max(total.maxRssMiB ?? 0, r.maxRssMiB ?? 0),
    };
  }
  return total;
}

/** Relative paths of the package files below dir, sorted; and the repos (dirs with repodata) lacking repomd.xml. */
function stagedPackages(dir: string): { packages: string[]; reposWithoutRepomd: string[] } {
  const packages: string[] = [];
  const missing: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name === 'repodata' && !existsSync(join(p, 'repomd.xml'))) missing.push(relative(dir, d));
        walk(p);
      } else if (e.name.endsWith('.rpm')) packages.push(relative(dir, p));
    }
  };
  walk(dir);
  return { packages: packages.sort(), reposWithoutRepomd: missing };
}

/** Both first syncs must have staged the same package files, with a repomd.xml in every repo. */
function checkSameStaging(ws: NxWorkspace, sop: Sop): number {
  const o = stagedPackages(stagingDir(ws));
  const s = stagedPackages(join(sop.staging, REVISION_DIR));
  if (o.reposWithoutRepomd.length || s.reposWithoutRepomd.length) {
    throw new Error(`repos without repomd.xml: ours ${o.reposWithoutRepomd.join(', ')}; SOP ${s.reposWithoutRepomd.join(', ')}`);
  }
  if (o.packages.length !== s.packages.length || o.packages.some((p, i) => p !== s.packages[i])) {
    const only = (a: string[], b: string[]) => a.filter((p) => !new Set(b).has(p)).slice(0, 5);
    throw new Error(
      `the two stagings differ: ${o.packages.length} package files in ours, ${s.packages.length} in the SOP's; ` +
        `only ours: ${only(o.packages, s.packages).join(' ')}; only the SOP's: ${only(s.packages, o.packages).join(' ')}`,
    );
  }
  return o.packages.length;
}

interface Pair {
  ours: Timed[];
  sop: Timed[];
  loads: string[];
}
const pair = (): Pair => ({ ours: [], sop: [], loads: [] });

interface SizeResult {
  size: number;
  packages: number;
  entries: number;
  staged: number;
  first: Pair;
  daily: Pair;
}

/** Runs ours and the SOP's side alternately (which goes first alternates with the rep). */
function alternate(p: Pair, reps: number, what: string, size: number, ours: () => Timed, sop: () => Timed): void {
  for (let i = 0; i < reps; i++) {
    p.loads.push(load().split(' ')[0] as string);
    const sides = [() => p.ours.push(ours()), () => p.sop.push(sop())];
    for (const side of i % 2 ? sides.reverse() : sides) side();
    process.stderr.write(`[${size}] ${what} rep ${i + 1}/${reps}: ours ${(p.ours.at(-1)?.ms ?? 0).toFixed(0)} ms, SOP ${(p.sop.at(-1)?.ms ?? 0).toFixed(0)} ms (load ${load()})\n`);
  }
}

async function runSize(size: number, toolkit: string, reps: number, syncReps: number, keep: boolean): Promise<SizeResult> {
  const { ws } = await makeComposes('bench-sop', size);
  try {
    const tree = countTree(composeTrees(ws).flatMap((t) => t.sources));
    process.stderr.write(`[${size}] composes: ${JSON.stringify(tree)}\n`);
    const sop = prepareSop(ws, toolkit);
    const parked = join(ws.relengRoot, 'parked');
    mkdirSync(parked, { recursive: true });
    let n = 0;
    const first = pair();
    const fresh = (dir: string) => {
      if (existsSync(dir)) renameSync(dir, join(parked, `${n++}`));
      mkdirSync(dir, { recursive: true });
      flush();
    };
    alternate(
      first,
      syncReps,
      'first sync',
      size,
      () => {
        fresh(stagingRoot(ws));
        return syncAll(ws, ['synced']);
      },
      () => {
        fresh(sop.staging);
        return runSop(sop);
      },
    );
    const staged = checkSameStaging(ws, sop);
    rmSync(parked, { recursive: true, force: true });
    // Settling: the run after a sync finds staging up to date and is cached; from then on the Nx cache answers.
    syncAll(ws, ['up-to-date', 'cache']);
    syncAll(ws, ['cache']);
    runSop(sop);
    const daily = pair();
    alternate(daily, reps, 'daily re-run', size, () => syncAll(ws, ['cache']), () => runSop(sop));
    return { size, packages: tree.packages, entries: tree.entries, staged, first, daily };
  } finally {
    if (keep) process.stderr.write(`kept ${ws.dir}\n`);
    else ws.dispose();
  }
}

async function main(): Promise<void> {
  const m = parseArgs(process.argv.slice(2), ['keep']);
  const sizes = (m.get('sizes') ?? '2000,30000').split(',').map(Number).sort((a, b) => a - b);
  const reps = Number(m.get('reps') ?? 5);
  const syncReps = Number(m.get('syncReps') ?? 3);
  const toolkit = process.env.SIG_CORE_TOOLKIT;
  if (!toolkit || !existsSync(join(toolkit, 'sync/sync-to-staging.sh'))) {
    throw new Error('set SIG_CORE_TOOLKIT to a checkout of rocky-linux/sig-core-toolkit (see bench/RESULTS.md)');
  }
  console.log(`machine: ${machine()}`);
  console.log(`SOP scripts: ${SOP_FILES.map((f) => `sync/${f}`).join(', ')} of ${toolkit}; ours: ${PROJECTS.join(', ')}`);
  const results: SizeResult[] = [];
  for (const size of sizes) results.push(await runSize(size, toolkit, reps, syncReps, m.has('keep')));

  const med = (xs: Timed[], k: 'ms' | 'cpuMs' = 'ms') => median(xs.map((x) => x[k] ?? NaN));
  const row = (name: string, xs: Timed[]) =>
    `    ${name.padEnd(52)} median ${fmtMs(med(xs))}  CPU ${fmtMs(med(xs, 'cpuMs'))}  each: ${xs.map((x) => (x.ms / 1000).toFixed(1)).join(' ')} s`;
  const ratio = (p: Pair) =>
    `    ratio ours / SOP ${(med(p.ours) / med(p.sop)).toFixed(2)}x (CPU ${(med(p.ours, 'cpuMs') / med(p.sop, 'cpuMs')).toFixed(2)}x)`;
  for (const r of results) {
    console.log(`\nsize ${r.size}: ${r.packages} package files, ${r.entries} entries in the composes' synced trees; ${r.staged} package files staged by each side`);
    if (r.first.ours.length) {
      console.log(`  first sync into an empty staging, ${r.first.ours.length} reps; load during reps ${r.first.loads.join(' ')}`);
      console.log(row('ours: nx run-many -t sync-staging (3 tasks)', r.first.ours));
      console.log(row('SOP: sync-to-staging.sh Rocky; Extras; Rocky-devel', r.first.sop));
      console.log(ratio(r.first));
    }
    console.log(`  daily re-run, nothing new, ${r.daily.ours.length} reps; load during reps ${r.daily.loads.join(' ')}`);
    console.log(row('ours: nx run-many -t sync-staging (3 cache hits)', r.daily.ours));
    console.log(row('SOP: the three scripts re-run', r.daily.sop));
    console.log(ratio(r.daily));
  }
  if (results.length > 1) {
    const lo = results[0] as SizeResult;
    const hi = results[results.length - 1] as SizeResult;
    console.log(
      `\ndaily re-run growth from ${lo.packages} to ${hi.packages} package files: ours x${(med(hi.daily.ours) / med(lo.daily.ours)).toFixed(2)}, ` +
        `SOP x${(med(hi.daily.sop) / med(lo.daily.sop)).toFixed(2)}`,
    );
  }
}

main().catch((err) => {
  process.stderr.write(`sop-sync.bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
