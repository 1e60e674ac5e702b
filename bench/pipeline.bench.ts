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
import { mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stageSandbox } from '../tools/sandbox/sandbox';
import { createNxWorkspace, type NxWorkspace } from '../test/helpers/nx-workspace';
import { createBareWorkspace, fmtMs, load, machine, median, ok, parseArgs, stopDaemon, timed, timedNx, type NxRunner, type Timed } from './measure';

interface Args {
  sizes: number[];
  reps: number;
  syncReps: number;
  keep: boolean;
}

const PROJECTS = ['Extras-8', 'Rocky-8', 'Rocky-devel-8'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
/** RPM lead: 96 bytes; the package name is 66 bytes at offset 10, NUL-terminated. */
const LEAD_SIZE = 96;
const LEAD_NAME_OFFSET = 10;
const LEAD_NAME_LEN = 66;
/** Signature header tags: the immutable region, and the space rpmbuild reserves for signing in place. */
const RPMTAG_HEADERSIGNATURES = 62;
const RPMSIGTAG_RESERVEDSPACE = 1008;

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

/**
 * The n-th copy of an RPM, a different file that is still a valid package: its lead names it `<name>~<n>`, and
 * when the signature header ends with rpmbuild's reserved space (RESERVEDSPACE, then the region trailer), that
 * space is shortened by a multiple of 8 bytes, so copies differ in size too (as real packages do; equal sizes
 * would make `hardlink` compare every pair). Neither the lead nor the reserved space is covered by a digest or
 * signature: `rpm -K` passes and the header (NEVRA, checksums of the payload) is unchanged.
 */
function packageCopy(rpm: Buffer, n: number): Buffer {
  let out = Buffer.from(rpm);
  const field = out.subarray(LEAD_NAME_OFFSET, LEAD_NAME_OFFSET + LEAD_NAME_LEN);
  const nul = field.indexOf(0);
  const end = Math.min(nul < 0 ? LEAD_NAME_LEN : nul, LEAD_NAME_LEN - 12);
  field.fill(0, end);
  field.write(`~${n}`, end, 'latin1');
  // Signature header: magic (8), entry count (4), data size (4), entries (16 each: tag, type, offset, count), data.
  const sig = LEAD_SIZE;
  const count = out.readUInt32BE(sig + 8);
  const size = out.readUInt32BE(sig + 12);
  const entry = (tag: number) => {
    for (let i = 0; i < count; i++) if (out.readInt32BE(sig + 16 + 16 * i) === tag) return sig + 16 + 16 * i;
    return -1;
  };
  const region = entry(RPMTAG_HEADERSIGNATURES);
  const reserved = entry(RPMSIGTAG_RESERVEDSPACE);
  if (region < 0 || reserved < 0) return out;
  const resOffset = out.readInt32BE(reserved + 8);
  const resCount = out.readInt32BE(reserved + 12);
  const trailer = out.readInt32BE(region + 8);
  if (resOffset + resCount !== trailer || trailer + 16 !== size) return out; // not the layout rpmbuild writes
  const cut = 8 * (n % Math.floor(resCount / 8));
  if (cut === 0) return out;
  const data = sig + 16 + 16 * count;
  out.writeInt32BE(resCount - cut, reserved + 12);
  out.writeInt32BE(trailer - cut, region + 8);
  out.writeUInt32BE(size - cut, sig + 12);
  out = Buffer.concat([out.subarray(0, data + trailer - cut), out.subarray(data + trailer)]);
  return out;
}

/** The compose arches of releases/8 (a noarch input becomes one package file per arch). */
function composeArches(ws: NxWorkspace): number {
  return (JSON.parse(readFileSync(join(ws.dir, 'releases/8/release.json'), 'utf8')) as { arches: string[] }).arches.length;
}

/**
 * Multiplies the local backend's inputs (<koji>/local/8/<Short>/<Variant>/*.rpm) so that the composes hold about
 * `target` package files. Returns the copies per fixture RPM.
 */
function multiplyInputs(ws: NxWorkspace, target: number): number {
  const src = join(ws.relengRoot, 'mnt/koji/local/8');
  const arches = composeArches(ws);
  const files: string[] = [];
  for (const short of readdirSync(src)) {
    for (const variant of readdirSync(join(src, short))) {
      for (const f of readdirSync(join(src, short, variant))) if (f.endsWith('.rpm')) files.push(join(src, short, variant, f));
    }
  }
  const perCopy = files.reduce((n, f) => n + (f.endsWith('.noarch.rpm') ? arches : 1), 0);
  const copies = Math.max(1, Math.round(target / perCopy));
  for (const file of files) {
    const data = readFileSync(file);
    const dir = join(file, '..');
    const name = file.slice(dir.length + 1);
    for (let j = 1; j < copies; j++) {
      writeFileSync(join(dir, `${LETTERS[j % LETTERS.length]}${String(j).padStart(6, '0')}-${name}`), packageCopy(data, j));
    }
  }
  return copies;
}

interface ComposeTree {
  project: string;
  /** Absolute paths of the top dirs of <compose>/compose that sync-staging syncs (variants, metadata). */
  sources: string[];
}

/** What each project's latest link points at, and which of its top dirs sync-staging syncs. */
function composeTrees(ws: NxWorkspace): ComposeTree[] {
  const root = join(ws.relengRoot, 'mnt/compose/8');
  return PROJECTS.map((project) => {
    const short = project.replace(/-8$/, '');
    const conf = JSON.parse(readFileSync(join(ws.dir, 'releases/8', short, 'compose.json'), 'utf8')) as {
      variants: string[];
      syncMetadata?: boolean;
    };
    const composeDir = join(root, readlinkSync(join(root, `latest-${short}-8`)));
    const tops = [...conf.variants, ...(conf.syncMetadata ? ['metadata'] : [])];
    return { project, sources: tops.map((t) => join(composeDir, 'compose', t)) };
  });
}

/** Files, package files and directories below the given dirs. */
function countTree(dirs: string[]): { entries: number; packages: number; dirs: number } {
  const c = { entries: 0, packages: 0, dirs: 0 };
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      c.entries++;
      if (e.isDirectory()) {
        c.dirs++;
        walk(join(d, e.name));
      } else if (e.name.endsWith('.rpm')) c.packages++;
    }
  };
  for (const d of dirs) walk(d);
  return c;
}

/** Directories the sync records list: what the up-to-date check and the Nx runtime input stat. */
function recordedDirs(ws: NxWorkspace): number {
  const dir = join(ws.relengRoot, 'mnt/repos-staging/.releng/state/mirror_pub_rocky/8.10-RC2');
  return PROJECTS.reduce(
    (n, p) => n + Object.keys((JSON.parse(readFileSync(join(dir, `${p}.sync-staging.json`), 'utf8')) as { dirs: object }).dirs).length,
    0,
  );
}

const stagingRoot = (ws: NxWorkspace) => join(ws.relengRoot, 'mnt/repos-staging');
const stagingDir = (ws: NxWorkspace) => join(stagingRoot(ws), 'mirror/pub/rocky/8.10-RC2');

/**
 * What each sync-staging task of a run did, from nx's static output: 'cache' (answered by the Nx cache), or the
 * executor's summary ('synced', 'up-to-date'), or 'failed'.
 */
function outcomesOf(output: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const chunk of output.split(/^> nx run /m).slice(1)) {
    const project = /^(\S+):sync-staging/.exec(chunk)?.[1];
    if (!project) continue;
    const header = chunk.split('\n')[0] as string;
    if (/\[(local cache|remote cache|existing outputs match the cache, left as is)\]/.test(header)) out[project] = 'cache';
    else if (new RegExp(`^${project}:sync-staging up to date, nothing synced`, 'm').test(chunk)) out[project] = 'up-to-date';
    else if (new RegExp(`^${project}:sync-staging synced: `, 'm').test(chunk)) out[project] = 'synced';
    else out[project] = 'failed';
  }
  return out;
}

/** sync-staging of every project; checks what each task did. */
function syncAll(ws: NxWorkspace, expect: readonly string[], extra: string[] = [], env: Record<string, string> = {}): Timed & { outcomes: string } {
  const r = ok('nx run-many -t sync-staging', timedNx(ws, ['run-many', '-t', 'sync-staging', '--output-style=static', ...extra], env));
  const outcomes = outcomesOf(r.output);
  const kinds = [...new Set(PROJECTS.map((p) => outcomes[p] ?? 'missing'))];
  if (kinds.some((k) => !expect.includes(k))) {
    throw new Error(`expected every task to be ${expect.join(' or ')}, got ${JSON.stringify(outcomes)}:\n${r.output.slice(-3000)}`);
  }
  return { ...r, outcomes: kinds.join('+') };
}

/** One rsync per compose, one after the other; the total. */
function rsyncAll(trees: ComposeTree[], dest: string, flags: string[]): Timed {
  let total: Timed = { ms: 0, status: 0, output: '', maxRssMiB: 0 };
  for (const t of trees) {
    const r = ok(`rsync ${flags.join(' ')}`, timed('rsync', [...flags, ...t.sources, `${dest}/`]));
    total = {
      ms: total.ms + r.ms,
      status: 0,
      output: total.output + r.output,
      maxRssMiB: r.maxRssMiB === undefined ? undefined : Math.max(total.maxRssMiB ?? 0, r.maxRssMiB),
    };
  }
  return total;
}

/** What one sync-staging task reported: its own seconds, and the rsync and createrepo seconds it logged. */
interface TaskTimes {
  seconds: number;
  /** Summed over the rsync units (up to rsync.parallel of them run at once). */
  rsync: number;
  /** Summed over the repos (two regenerate at once). */
  createrepo: number;
}

/** Per project, from the executors' own lines in nx's static output. */
function taskTimes(output: string): Record<string, TaskTimes> {
  const out: Record<string, TaskTimes> = {};
  for (const chunk of output.split(/^> nx run /m).slice(1)) {
    const project = /^(\S+):sync-staging/.exec(chunk)?.[1];
    const summary = project && new RegExp(`^${project}:sync-staging [^\\n]*, (\\d+(?:\\.\\d+)?)s\\)$`, 'm').exec(chunk);
    if (!project || !summary) continue;
    const sum = (re: RegExp) => [...chunk.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
    out[project] = {
      seconds: Number(summary[1]),
      rsync: sum(/^  (?:\[\d+\/\d+\] )?\S+: \d+ files, .* in (\d+(?:\.\d+)?)s(?:;.*)?$/gm),
      createrepo: sum(/repodata regenerated in (\d+(?:\.\d+)?)s$/gm),
    };
  }
  return out;
}

interface Series {
  ms: number[];
  rss: number[];
  cpu: number[];
  loads: string[];
  outcome?: string;
}
const series = (): Series => ({ ms: [], rss: [], cpu: [], loads: [] });
function add(s: Series, r: Timed & { outcomes?: string }): void {
  s.ms.push(r.ms);
  if (r.maxRssMiB !== undefined) s.rss.push(r.maxRssMiB);
  if (r.cpuMs !== undefined) s.cpu.push(r.cpuMs);
  s.loads.push(load().split(' ')[0] as string);
  if (r.outcomes) s.outcome = s.outcome && s.outcome !== r.outcomes ? `${s.outcome}/${r.outcomes}` : r.outcomes;
}
const rssOf = (s: Series) => (s.rss.length ? `${Math.max(...s.rss).toFixed(0).padStart(5)} MiB` : '    - MiB');

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
  const ws = createNxWorkspace(`bench-pipeline-${size}`);
  try {
    await stageSandbox(ws.relengRoot);
    const copies = multiplyInputs(ws, size);
    process.stderr.write(`[${size}] ${ws.dir}: ${copies} copies of each fixture RPM; composing ...\n`);
    const compose = ok('nx run-many -t compose', timedNx(ws, ['run-many', '-t', 'compose', '--backend=local', '--output-style=static']));
    const trees = composeTrees(ws);
    const tree = countTree(trees.flatMap((t) => t.sources));
    process.stderr.write(`[${size}] compose ${(compose.ms / 1000).toFixed(1)}s: ${JSON.stringify(tree)}; first sync ...\n`);
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
      composeMs: compose.ms,
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

/** Writes dirty pages out (untimed), so that no timed step pays for the writeback of the one before it. */
function flush(): void {
  ok('sync', timed('sync', []));
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
