/**
 * Benchmark of the mirror file-list generator (tools/nx-releng/src/lib/filelist.ts) against GNU find.
 * Not run by CI.
 *
 *   node -r @swc-node/register bench/filelist.bench.ts [--entries 300000] [--small 100000] [--reps 5]
 *        [--seed 1] [--work DIR]
 *
 * Generates (once, reused afterwards) two Rocky-shaped trees with bench/gen-tree.ts under --work (default
 * $TMPDIR/filelist-bench), warms the cache, then alternates, in this process:
 *   find DIR -printf '%T@\t%y\t%s\t%p\n' > /dev/null             (one lstat per entry, one line out)
 *   writeFileLists([DIR]) with worker threads (default) and with workers: 0
 *   a bare Node walk: readdirSync + lstatSync per entry, no output (the floor for any Node walker)
 * on the large tree, and prints medians and ratios to find, and the 1-minute load average at each rep (other
 * processes on the machine change every figure). writeFileLists runs in steady state (lists already
 * published, tree unchanged), i.e. generate both lists + checksums + compare, as a production re-run does.
 * Peak RSS is measured in child processes (one run each) for both tree sizes, to show memory does not
 * grow with the tree.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { writeFileLists, type FileListRoot, type WriteFileListsOptions } from '../tools/nx-releng/src/lib/mirror/filelist';
import { genTree } from './gen-tree';
import { parseArgs } from './measure';

interface Args {
  entries: number;
  small: number;
  reps: number;
  seed: number;
  work: string;
  child?: string;
  workers?: number;
}

function readArgs(argv: string[]): Args {
  const m = parseArgs(argv);
  const n = (k: string, d: number): number => (m.has(k) ? Number(m.get(k)) : d);
  return {
    entries: n('entries', 300000),
    small: n('small', 100000),
    reps: n('reps', 5),
    seed: n('seed', 1),
    work: path.resolve(m.get('work') ?? path.join(tmpdir(), 'filelist-bench')),
    child: m.get('child'),
    workers: m.has('workers') ? Number(m.get('workers')) : undefined,
  };
}

const rootFor = (dir: string): FileListRoot => ({ dir, timelistName: 'fullfiletimelist-rocky', copies: ['fullfiletimelist', 'fullfiletimelist-rocky-linux'] });

function ensureTree(work: string, entries: number, seed: number): string {
  const dir = path.join(work, `rocky-${entries}-s${seed}`);
  const marker = `${dir}.json`;
  if (fs.existsSync(marker)) return dir;
  fs.rmSync(dir, { recursive: true, force: true });
  process.stderr.write(`generating ${entries} entries in ${dir} ...\n`);
  const res = genTree(dir, entries, seed);
  fs.writeFileSync(marker, JSON.stringify(res));
  process.stderr.write(`  ${JSON.stringify(res)}\n`);
  return dir;
}

function ms(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function timeFind(dir: string): number {
  const devnull = fs.openSync('/dev/null', 'w');
  try {
    const t = process.hrtime.bigint();
    const r = spawnSync('find', [dir, '-printf', '%T@\\t%y\\t%s\\t%p\\n'], { stdio: ['ignore', devnull, 'inherit'] });
    const elapsed = ms(t);
    if (r.status !== 0) throw new Error(`find exited with ${r.status}`);
    return elapsed;
  } finally {
    fs.closeSync(devnull);
  }
}

async function timeOurs(dir: string, opts: WriteFileListsOptions): Promise<number> {
  const t = process.hrtime.bigint();
  const [res] = await writeFileLists([rootFor(dir)], { onWarning: () => {}, ...opts });
  const elapsed = ms(t);
  if (!res || res.entries === 0) throw new Error('no entries listed');
  return elapsed;
}

function timeFloor(dir: string): number {
  const t = process.hrtime.bigint();
  let n = 0;
  const walk = (d: string): void => {
    for (const name of fs.readdirSync(d)) {
      const st = fs.lstatSync(`${d}/${name}`);
      n++;
      if (st.isDirectory()) walk(`${d}/${name}`);
    }
  };
  walk(dir);
  return ms(t);
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** One run in a fresh process: elapsed and peak RSS. */
function child(dir: string, workers: number | undefined): { ms: number; maxRSSMiB: number; entries: number } {
  const r = spawnSync(
    process.execPath,
    [...process.execArgv, __filename, '--child', dir, ...(workers === undefined ? [] : ['--workers', String(workers)])],
    { encoding: 'utf8', env: process.env },
  );
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}

async function main(): Promise<void> {
  const a = readArgs(process.argv.slice(2));
  if (a.child !== undefined) {
    if (a.child === 'baseline') {
      process.stdout.write(`${JSON.stringify({ ms: 0, maxRSSMiB: process.resourceUsage().maxRSS / 1024, entries: 0 })}\n`);
      return;
    }
    const t = process.hrtime.bigint();
    const [res] = await writeFileLists([rootFor(a.child)], { onWarning: () => {}, workers: a.workers });
    process.stdout.write(`${JSON.stringify({ ms: ms(t), maxRSSMiB: process.resourceUsage().maxRSS / 1024, entries: res?.entries ?? 0 })}\n`);
    return;
  }

  fs.mkdirSync(a.work, { recursive: true });
  const big = ensureTree(a.work, a.entries, a.seed);
  const small = ensureTree(a.work, a.small, a.seed);

  // Warm the cache and publish the lists once (later runs are the steady state: nothing changes).
  for (const d of [small, big]) {
    timeFind(d);
    await timeOurs(d, {});
  }

  const find: number[] = [];
  const par: number[] = [];
  const serial: number[] = [];
  const floor: number[] = [];
  const load: number[] = [];
  for (let i = 0; i < a.reps; i++) {
    load.push(loadavg()[0] as number);
    find.push(timeFind(big));
    par.push(await timeOurs(big, {}));
    serial.push(await timeOurs(big, { workers: 0 }));
    floor.push(timeFloor(big));
  }
  const f = median(find);
  const row = (name: string, xs: number[]): string =>
    `${name.padEnd(46)} median ${median(xs).toFixed(0).padStart(6)} ms   min ${Math.min(...xs).toFixed(0).padStart(6)} ms   ratio to find ${(median(xs) / f).toFixed(2)}x`;
  console.log(`tree: ${big} (${a.entries} entries), ${a.reps} reps, warm cache, node ${process.version}`);
  console.log(`1-minute load average at each rep: ${load.map((l) => l.toFixed(1)).join(' ')} (after: ${(loadavg()[0] as number).toFixed(1)})`);
  console.log(row("find -printf '%T@\\t%y\\t%s\\t%p\\n' > /dev/null", find));
  console.log(row('writeFileLists (default workers)', par));
  console.log(row('writeFileLists (workers: 0, single thread)', serial));
  console.log(row('bare Node walk (readdirSync+lstatSync, no output)', floor));

  console.log('\npeak RSS, one run per fresh process (includes Node + swc-node startup):');
  const base = child('baseline', undefined);
  console.log(`  baseline (load only)                       ${base.maxRSSMiB.toFixed(1)} MiB`);
  for (const [label, dir, n] of [['small', small, a.small], ['large', big, a.entries]] as const) {
    for (const w of [0, undefined]) {
      const c = child(dir, w);
      console.log(`  ${label} tree ${String(n).padStart(8)} entries, workers ${w === undefined ? 'default' : String(w).padEnd(7)} ${c.maxRSSMiB.toFixed(1)} MiB  (${c.ms.toFixed(0)} ms)`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`filelist.bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
