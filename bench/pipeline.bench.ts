/**
 * Benchmark of the staging pipeline against plain rsync: the no-op run at several tree sizes, and a full sync.
 * Not run by CI.
 *
 *   node -r @swc-node/register bench/pipeline.bench.ts [--sizes 2000,20000] [--reps 5] [--syncReps 3] [--keep]
 *
 * For each size, a temporary Nx workspace (test/helpers/nx-workspace.ts: the real nx CLI, RELENG_ROOT) gets the
 * sandbox's compose inputs (tools/sandbox/sandbox.ts), multiplied so that the three composes (Rocky-8, Extras-8,
 * Rocky-devel-8) hold about <size> package files in all; `nx run-many -t compose --backend=local` then makes
 * real composes of them (createrepo_c over every package). RELENG_ROOT (<ws>/mnt-root) is inside the workspace but
 * kept out of Nx's file map by the helper, as /mnt is outside the workspace on a compose host.
 *
 * How the big composes are made cheaply: every fixture RPM is copied under many new names, and each copy is made a
 * different file that is still a valid package (packageCopy: its lead, a legacy field rpm does not read, names
 * it differently, and the space rpmbuild reserves in the signature header for signing in place is shortened by a
 * multiple of 8 bytes; no digest or signature covers either, `rpm -K` passes). The header, so the NEVRA, is the
 * fixture's: createrepo_c and dnf take such a repository (a NEVRA listed many times, each with its own pkgid).
 * Plain hard links under new names also work with createrepo_c (one pkgid many times), but they would distort the
 * full sync: our rsync preserves hard links (-H) and copies each inode once where `rsync -a` copies every name.
 * Equal-size copies would distort it too: `hardlink` compares the contents of same-size files pairwise, which
 * took 29 s for 13,000 copies in 16 sizes and is far from what a real tree costs.
 *
 * No-op (per size, after a first sync and a settling run, alternating, --reps times):
 *   nx run-many -t sync-staging                   answered by the Nx cache (the runtime input stats the
 *                                                 directories the last sync recorded, never the files)
 *   nx run-many -t sync-staging --skip-nx-cache   every executor runs and finds staging up to date
 *   rsync -a --dry-run of the same compose trees into the same staging trees (one rsync per compose)
 *   nx show projects                              nx starting and building the project graph
 * Against a bare Nx workspace (same nx and node_modules; 3 projects with one cached target each, Nx's defaults;
 * bench/measure.ts createBareWorkspace), alternately in every rep, ratios of medians (FLOOR_CASES):
 *   nx run-many -t sync-staging (all cache hits) and nx show projects, daemon off and daemon on, and with the
 *   same NX_ISOLATE_PLUGINS setting on both sides (false: the plugin's own cost; true: what this repo's .env saves)
 * Full sync (largest size, --syncReps times, 0 for none; before each step the previous tree is renamed aside, not deleted, and
 * `sync` runs, untimed):
 *   nx run-many -t sync-staging                   rsync into a work copy, createrepo_c --update with comps,
 *                                                 modifyrepo_c modules, hardlink, swap, sync record
 *   rsync -a of the same compose trees into an empty dir (one rsync per compose); and rsync -aH
 * Prints medians and ratios to rsync, and how each grows from the smallest to the largest size.
 */
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { NxWorkspace } from '../test/helpers/nx-workspace';
import {
  PROJECTS,
  add,
  composeTrees,
  countTree,
  flush,
  makeComposes,
  recordedDirs,
  rsyncAll,
  rssOf,
  series,
  stagingDir,
  stagingRoot,
  syncAll,
  taskTimes,
  type Series,
  type TaskTimes,
} from './composes';
import { createBareWorkspace, fmtMs, load, machine, median, ok, parseArgs, stopDaemon, timedNx, type NxRunner, type Timed } from './measure';

interface Args {
  sizes: number[];
  reps: number;
  syncReps: number;
  keep: boolean;
}


function args(): Args {
  const m = parseArgs(process.argv.slice(2), ['keep']);
  const sizes = (m.get('sizes') ?? '2000,20000').split(',').map(Number);
  if (sizes.some((s) => !Number.isInteger(s) || s < 25)) throw new Error('--sizes takes package counts >= 25, e.g. 2000,20000');
  return {
    sizes: [...sizes].sort((a, b) => a - b),
    reps: Number(m.get('reps') ?? 5),
    syncReps: Number(m.get('syncReps') ?? 3),
    keep: m.has('keep'),
  };
}


interface SizeResult {
  size: number;
  copies: number;
  tree: { entries: number; packages: number; dirs: number };
  recorded: number;
  composeMs: number;
  firstSyncMs: number;
  cache: Series;
  skip: Series;
  rsync: Series;
  show: Series;
  /** Against the bare workspace, by FLOOR_CASES label: ours and the bare workspace's, timed alternately. */
  floor: Map<string, { ours: Series; bare: Series }>;
  ws: NxWorkspace;
}

/**
 * The no-op commands held against a bare Nx workspace (createBareWorkspace: 3 projects, one cached target each):
 * the same nx command in both, one right after the other. `ours`/`bare`: environment of each side on top of the
 * workspace's own (ours has NX_ISOLATE_PLUGINS=false in its .env; the bare one Nx's defaults).
 */
const RUN_MANY = ['run-many', '-t', 'sync-staging', '--output-style=static'];
const SHOW = ['show', 'projects'];
const DAEMON = { NX_DAEMON: 'true' };
const FLOOR_CASES: { label: string; args: string[]; ours?: Record<string, string>; bare?: Record<string, string> }[] = [
  { label: 'run-many, daemon off', args: RUN_MANY },
  { label: 'show projects, daemon off', args: SHOW },
  { label: 'run-many, daemon on', args: RUN_MANY, ours: DAEMON, bare: DAEMON },
  { label: 'show projects, daemon on', args: SHOW, ours: DAEMON, bare: DAEMON },
  // The same setting on both sides: what is left is the plugin's own cost.
  { label: 'run-many, daemon off, both NX_ISOLATE_PLUGINS=false', args: RUN_MANY, bare: { NX_ISOLATE_PLUGINS: 'false' } },
  { label: 'show projects, daemon off, both NX_ISOLATE_PLUGINS=false', args: SHOW, bare: { NX_ISOLATE_PLUGINS: 'false' } },
  // Nx's default isolation on both sides: what the .env saves.
  { label: 'run-many, daemon off, both NX_ISOLATE_PLUGINS=true', args: RUN_MANY, ours: { NX_ISOLATE_PLUGINS: 'true' } },
  { label: 'show projects, daemon off, both NX_ISOLATE_PLUGINS=true', args: SHOW, ours: { NX_ISOLATE_PLUGINS: 'true' } },
];

/** One floor command in one workspace; a run-many must be all cache hits. */
function floorRun(ws: NxRunner, args: string[], env: Record<string, string>): Timed {
  const r = ok(`nx ${args.join(' ')}`, timedNx(ws, args, env));
  if (args[0] === 'run-many' && !/for 3 out of 3 tasks/.test(r.output)) throw new Error(`expected 3 cache hits:\n${r.output.slice(-3000)}`);
  return r;
}

async function prepare(size: number): Promise<SizeResult> {
  const { ws, copies, composeMs } = await makeComposes('bench-pipeline', size);
  try {
    const trees = composeTrees(ws);
    const tree = countTree(trees.flatMap((t) => t.sources));
    process.stderr.write(`[${size}] compose ${(composeMs / 1000).toFixed(1)}s: ${JSON.stringify(tree)}; first sync ...\n`);
    const first = syncAll(ws, ['synced']);
    // Settling: the run after a sync finds staging up to date (its runtime input changed with the record) and
    // is cached; from then on the Nx cache answers.
    syncAll(ws, ['up-to-date', 'cache']);
    syncAll(ws, ['cache']);
    return {
      size,
      copies,
      tree,
      recorded: recordedDirs(ws),
      composeMs,
      firstSyncMs: first.ms,
      cache: series(),
      skip: series(),
      rsync: series(),
      show: series(),
      floor: new Map(FLOOR_CASES.map((c) => [c.label, { ours: series(), bare: series() }])),
      ws,
    };
  } catch (err) {
    ws.dispose();
    throw err;
  }
}

function noopReps(r: SizeResult, bare: NxRunner, reps: number): void {
  const trees = composeTrees(r.ws);
  const staging = stagingDir(r.ws);
  // The daemons start (and compute their graphs) before the timed reps.
  floorRun(r.ws, RUN_MANY, DAEMON);
  floorRun(bare, RUN_MANY, DAEMON);
  try {
    for (let i = 0; i < reps; i++) {
      add(r.cache, syncAll(r.ws, ['cache']));
      add(r.skip, syncAll(r.ws, ['up-to-date'], ['--skip-nx-cache']));
      add(r.rsync, rsyncAll(trees, staging, ['-a', '--dry-run']));
      add(r.show, ok('nx show projects', timedNx(r.ws, SHOW)));
      for (const c of FLOOR_CASES) {
        const s = r.floor.get(c.label) as { ours: Series; bare: Series };
        // Which side goes first alternates with the rep, so neither always runs right after the other's work.
        const sides = [() => add(s.ours, floorRun(r.ws, c.args, c.ours ?? {})), () => add(s.bare, floorRun(bare, c.args, c.bare ?? {}))];
        for (const side of i % 2 ? sides.reverse() : sides) side();
      }
      process.stderr.write(`[${r.size}] no-op rep ${i + 1}/${reps} (load ${load()})\n`);
    }
  } finally {
    stopDaemon(r.ws);
    stopDaemon(bare);
  }
}

function fullSyncReps(r: SizeResult, reps: number) {
  const trees = composeTrees(r.ws);
  const ours = series();
  const plain = series();
  const plainH = series();
  const tasks: Array<Record<string, TaskTimes>> = [];
  // Nothing is deleted between timed steps: on a filesystem without a journal (as on the machine of RESULTS.md)
  // ext4 skips recently freed inodes when it allocates, and creating files right after deleting thousands got
  // slower with every rep. Previous trees are renamed aside and removed after the last rep.
  const parked = join(r.ws.relengRoot, 'parked');
  mkdirSync(parked, { recursive: true });
  try {
    for (let i = 0; i < reps; i++) {
      renameSync(stagingRoot(r.ws), join(parked, `staging-${i}`));
      flush();
      const s = syncAll(r.ws, ['synced']);
      add(ours, s);
      tasks.push(taskTimes(s.output));
      for (const [flags, into] of [
        [['-a'], plain],
        [['-aH'], plainH],
      ] as const) {
        const dest = join(parked, `rsync${flags.join('')}-${i}`);
        mkdirSync(dest);
        flush();
        add(into, rsyncAll(trees, dest, [...flags]));
      }
      process.stderr.write(`[${r.size}] full sync rep ${i + 1}/${reps} (load ${load()})\n`);
    }
  } finally {
    rmSync(parked, { recursive: true, force: true });
  }
  return { ours, plain, plainH, tasks };
}

async function main(): Promise<void> {
  const a = args();
  console.log(`machine: ${machine()}`);
  const results: SizeResult[] = [];
  const bare = createBareWorkspace(['a', 'b', 'c'], 'sync-staging');
  try {
    for (const size of a.sizes) results.push(await prepare(size));
    // No-op reps of every size interleaved per rep would mix page caches; each size runs its reps in a block.
    for (const r of results) noopReps(r, bare, a.reps);

    console.log(`\nNo-op sync-staging (every compose unchanged), ${a.reps} reps, warm cache:`);
    for (const r of results) {
      const base = median(r.rsync.ms);
      const row = (name: string, s: Series) =>
        `  ${name.padEnd(48)} median ${fmtMs(median(s.ms))}  min ${fmtMs(Math.min(...s.ms))}  ratio to rsync ${(median(s.ms) / base)
          .toFixed(2)
          .padStart(6)}x  peak RSS ${rssOf(s)}${s.outcome ? `  tasks: ${s.outcome}` : ''}`;
      console.log(
        `size ${r.size}: ${r.tree.packages} package files, ${r.tree.entries} entries (${r.tree.dirs} dirs) in the synced compose trees; ` +
          `${r.copies} copies per fixture RPM; ${r.recorded} dirs in the sync records; load during reps ${r.cache.loads.join(' ')}`,
      );
      console.log(row('nx run-many -t sync-staging', r.cache));
      console.log(row('nx run-many -t sync-staging --skip-nx-cache', r.skip));
      console.log(row('rsync -a --dry-run (3 rsyncs, one per compose)', r.rsync));
      console.log(row('nx show projects (nx startup + graph)', r.show));
      console.log(`  (compose ${(r.composeMs / 1000).toFixed(1)}s, first sync ${(r.firstSyncMs / 1000).toFixed(1)}s)`);
    }
    console.log(
      `\nAgainst a bare Nx workspace (same nx and node_modules, 3 projects with one cached target each, Nx's defaults), ` +
        `the same command in both, alternately, ${a.reps} reps; ratio of medians (ours / bare), wall and CPU (user+sys, all processes):`,
    );
    for (const r of results) {
      console.log(`size ${r.size}: load during reps ${r.cache.loads.join(' ')}`);
      for (const c of FLOOR_CASES) {
        const { ours, bare: b } = r.floor.get(c.label) as { ours: Series; bare: Series };
        const cpu = ours.cpu.length && b.cpu.length ? `  CPU ${fmtMs(median(ours.cpu))} / ${fmtMs(median(b.cpu))} = ${(median(ours.cpu) / median(b.cpu)).toFixed(2)}x` : '';
        console.log(
          `  ${c.label.padEnd(58)} ours ${fmtMs(median(ours.ms))}  bare ${fmtMs(median(b.ms))}  ratio ${(median(ours.ms) / median(b.ms)).toFixed(2).padStart(5)}x${cpu}`,
        );
      }
    }
    if (results.length > 1) {
      const lo = results[0] as SizeResult;
      const hi = results[results.length - 1] as SizeResult;
      const growth = (f: (r: SizeResult) => Series) => (median(f(hi).ms) / median(f(lo).ms)).toFixed(2);
      console.log(
        `growth from ${lo.tree.packages} to ${hi.tree.packages} package files (x${(hi.tree.packages / lo.tree.packages).toFixed(1)}; ` +
          `entries x${(hi.tree.entries / lo.tree.entries).toFixed(1)}):`,
      );
      console.log(`  nx run-many -t sync-staging (cache)           x${growth((r) => r.cache)}`);
      console.log(`  nx run-many -t sync-staging --skip-nx-cache   x${growth((r) => r.skip)}`);
      console.log(`  rsync -a --dry-run                            x${growth((r) => r.rsync)}`);
      console.log(`  nx show projects                              x${growth((r) => r.show)}`);
    }

    if (a.syncReps > 0) {
      const big = results[results.length - 1] as SizeResult;
      const full = fullSyncReps(big, a.syncReps);
      const base = median(full.plain.ms);
      const row = (name: string, s: Series) =>
        `  ${name.padEnd(48)} median ${fmtMs(median(s.ms))}  min ${fmtMs(Math.min(...s.ms))}  ratio to rsync -a ${(median(s.ms) / base)
          .toFixed(2)
          .padStart(6)}x  peak RSS ${rssOf(s)}  each: ${s.ms.map((x) => (x / 1000).toFixed(1)).join(' ')} s`;
      console.log(
        `\nFull sync into an empty staging (size ${big.size}: ${big.tree.packages} package files, ${big.tree.entries} entries), ` +
          `${a.syncReps} reps; load during reps ${full.ours.loads.join(' ')}:`,
      );
      console.log(row('nx run-many -t sync-staging (3 tasks)', full.ours));
      console.log(row('rsync -a (3 rsyncs, one per compose)', full.plain));
      console.log(row('rsync -aH (3 rsyncs)', full.plainH));
      console.log(
        '  sync-staging includes nx startup and graph, the runtime inputs, rsync -H into a work copy, createrepo_c --update\n' +
          '  for every repo (comps where configured), modifyrepo_c, hardlink, the swap and the sync record. What the\n' +
          "  executors reported (medians; an executor's time includes waiting for the staging lock the three tasks share,\n" +
          '  so they run one after the other; rsync and createrepo are summed over their parallel jobs):',
      );
      for (const p of PROJECTS) {
        const of = (k: keyof TaskTimes) => median(full.tasks.map((t) => t[p]?.[k] ?? NaN)).toFixed(1);
        console.log(`    ${p.padEnd(14)} ${of('seconds').padStart(6)}s in the executor; rsync ${of('rsync')}s, createrepo_c+modifyrepo_c ${of('createrepo')}s`);
      }
    }
  } finally {
    for (const r of results) {
      if (a.keep) process.stderr.write(`kept ${r.ws.dir}\n`);
      else r.ws.dispose();
    }
    if (a.keep) process.stderr.write(`kept ${bare.dir}\n`);
    else bare.dispose();
  }
}

main().catch((err) => {
  process.stderr.write(`pipeline.bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
