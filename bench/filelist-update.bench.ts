/**
 * The file lists updated from the change journal against a full walk of the tree (issue #16, "lists in
 * O(changes)"). Not run by CI.
 *
 *   node -r @swc-node/register bench/filelist-update.bench.ts [--entries 300000] [--percent 1] [--reps 5]
 *        [--roots shipped|one] [--seed 1] [--work DIR] [--cold]
 *
 * Generates a Rocky-shaped tree with bench/gen-tree.ts at <work>/production/mirror/pub/rocky (removed at the end),
 * with the shipped list roots (mirror/pub/rocky, mirror/pub/sig and the production root, nested) or only
 * mirror/pub/rocky, and publishes its lists once. Then each rep applies a push that changes --percent of the
 * entries (a third of the changed files replaced by rename, a third added, a third deleted, as rsync and the
 * pending deletions do) and makes the lists of that tree, alternating:
 *   update:    writeFileLists from the changed paths (what mirror:filelist does with a complete journal)
 *   full walk: writeFileLists walking the whole tree (--full, or no usable journal)
 * Both publish the changed lists (four files per root: fullfilelist, the timelist and its copies). After every
 * update a full walk of the same tree must find every list already equal (it rewrites none): the bench fails
 * otherwise. Medians, ratio = full walk / update, and the 1-minute load average.
 * --cold (root only): `sync` and drop the page cache (/proc/sys/vm/drop_caches) before every timed run, as on a host
 * whose tree is not in memory: the walk then reads every inode from disk, the update its lists and changed paths.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { writeFileLists, type FileListRoot, type FileListResult } from '../tools/nx-releng/src/lib/mirror/filelist';
import { genTree } from './gen-tree';
import { machine, median, parseArgs } from './measure';
import { seededRandom } from '../test/helpers/random';

const args = parseArgs(process.argv.slice(2), ['cold']);
const num = (k: string, d: number): number => (args.has(k) ? Number(args.get(k)) : d);
const entries = num('entries', 300000);
const percent = num('percent', 1);
const reps = num('reps', 5);
const seed = num('seed', 1);
const shipped = (args.get('roots') ?? 'shipped') === 'shipped';
const cold = args.has('cold');
if (cold && process.getuid?.() !== 0) throw new Error('--cold drops the page cache: run it as root');
const work = fs.mkdtempSync(path.join(path.resolve(args.get('work') ?? tmpdir()), 'filelist-update-bench-'));

const prod = path.join(work, 'production');
const rocky = path.join(prod, 'mirror/pub/rocky');
const stateDir = path.join(work, 'state');
const staging = path.join(work, 'scratch');
fs.mkdirSync(staging, { recursive: true });

function main(): Promise<void> {
  process.stderr.write(`generating ${entries} entries under ${rocky} ...\n`);
  const gen = genTree(rocky, entries, seed);
  fs.mkdirSync(path.join(prod, 'mirror/pub/sig/8'), { recursive: true });
  const roots: FileListRoot[] = [{ dir: rocky, timelistName: 'fullfiletimelist-rocky', copies: ['fullfiletimelist', 'fullfiletimelist-rocky-linux'] }];
  if (shipped) {
    roots.push({ dir: path.join(prod, 'mirror/pub/sig'), timelistName: 'fullfiletimelist-sig', copies: ['fullfiletimelist'] });
    roots.push({ dir: prod, timelistName: 'fullfiletimelist-rocky', copies: ['fullfiletimelist'] });
  }
  return run(roots, gen.files);
}

/** The package files of the tree (from its published fullfilelist), the ones a push replaces or deletes. */
function packageFiles(): string[] {
  return fs
    .readFileSync(path.join(rocky, 'fullfilelist'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('/Packages/') && l.endsWith('.rpm'))
    .map((l) => path.join(rocky, l.slice(2)));
}

/** One push: `n` changed files (replaced, added, deleted in thirds); returns the paths a journal names. */
function push(random: () => number, files: string[], n: number, rep: number): string[] {
  const changed: string[] = [];
  for (let k = 0; k < n; k++) {
    const i = Math.floor(random() * files.length);
    const f = files[i] as string;
    if (!fs.existsSync(f)) continue;
    switch (k % 3) {
      case 0:
        fs.writeFileSync(`${f}.tmp`, `rebuilt ${rep} ${k}`);
        fs.renameSync(`${f}.tmp`, f);
        changed.push(f);
        break;
      case 1: {
        const added = f.replace(/\.rpm$/, `.r${rep}.${k}.rpm`);
        fs.writeFileSync(added, `new ${rep} ${k}`);
        files.push(added);
        changed.push(added);
        break;
      }
      default:
        fs.rmSync(f);
        files[i] = files[files.length - 1] as string;
        files.pop();
        changed.push(f);
    }
  }
  return changed;
}

/** Writes what is dirty and drops the page cache, dentries and inodes (--cold). */
function dropCaches(): void {
  if (spawnSync('sync').status !== 0) throw new Error('sync failed');
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3\n');
}

type Phases = { make: number; publish: number; save: number };

async function timedLists(roots: FileListRoot[], changed: string[] | undefined, timedCold = cold): Promise<{ ms: number; results: FileListResult[] }> {
  if (timedCold) dropCaches();
  const t0 = process.hrtime.bigint();
  const results = await writeFileLists(roots, { stagingDir: staging, onWarning: () => undefined, incremental: { stateDir, changed, fullWhy: 'bench: full walk' } });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, results };
}

async function run(roots: FileListRoot[], fileCount: number): Promise<void> {
  console.log(`# ${machine()}`);
  console.log(`# tree: ${entries} entries (${fileCount} files) at ${rocky}; roots: ${roots.map((r) => path.relative(prod, r.dir) || '.').join(', ')}`);
  await timedLists(roots, undefined);
  const files = packageFiles();
  const n = Math.round((entries * percent) / 100);
  console.log(`# each push changes ${n} files (${percent} % of the entries): replaced, added, deleted in thirds${cold ? '; page cache dropped before every timed run' : ''}`);
  const random = seededRandom(seed);
  const update: number[] = [];
  const full: number[] = [];
  // Where each side's time went (writeFileLists' madeBy.ms): making the lists, publishing them, saving the state.
  const phases = { update: [] as Phases[], full: [] as Phases[] };
  for (let rep = 0; rep < reps * 2; rep++) {
    const changed = push(random, files, n, rep);
    const updateTurn = rep % 2 === 0;
    const { ms, results } = await timedLists(roots, updateTurn ? changed : undefined);
    const made = results[0]?.madeBy;
    if (updateTurn) {
      if (made?.kind !== 'update') throw new Error(`the update walked: ${made?.why}`);
      update.push(ms);
      const mine = new Map(results.flatMap((r) => r.files.map((f) => [f.path, fs.readFileSync(f.path, 'utf8')] as const)));
      const check = await timedLists(roots, undefined, false);
      const differ = check.results.flatMap((r) => r.files.filter((f) => f.changed).map((f) => f.path));
      if (differ.length) {
        const [a, b] = [(mine.get(differ[0] as string) ?? '').split('\n'), fs.readFileSync(differ[0] as string, 'utf8').split('\n')];
        const i = a.findIndex((line, k) => line !== b[k]);
        if (process.env.BENCH_DEBUG) fs.writeFileSync(process.env.BENCH_DEBUG, a.join('\n'));
        throw new Error(`the update's lists differ from a full walk: ${differ.join(', ')}; first at line ${i + 1}: ${JSON.stringify(a[i])} vs walk ${JSON.stringify(b[i])}`);
      }
    } else full.push(ms);
    if (made?.ms) phases[updateTurn ? 'update' : 'full'].push(made.ms);
    const rewritten = results.reduce((k, r) => k + r.changed.length, 0);
    const split = made?.ms ? ` (make ${made.ms.make}, publish ${made.ms.publish}, save ${made.ms.save})` : '';
    console.log(`rep ${rep}: ${updateTurn ? 'update   ' : 'full walk'} ${ms.toFixed(0).padStart(6)} ms${split}  ${made?.kind === 'update' ? `${made.examined} paths looked at` : ''} ${rewritten} lists rewritten, load ${loadavg()[0]?.toFixed(2)}`);
  }
  const u = median(update);
  const f = median(full);
  console.log(`\n| lists of a push changing ${percent} % of ${entries} entries${cold ? ', page cache dropped' : ''} | median |`);
  console.log('| --- | --- |');
  console.log(`| update from the changed paths | ${u.toFixed(0)} ms |`);
  console.log(`| full walk | ${f.toFixed(0)} ms |`);
  console.log(`| full walk / update | **${(f / u).toFixed(1)}x** (target >= 10x) |`);
  const phaseMedians = (xs: Phases[]) => (['make', 'publish', 'save'] as const).map((k) => `${k} ${median(xs.map((x) => x[k])).toFixed(0)} ms`).join(', ');
  console.log(`\nmedians of the parts: update ${phaseMedians(phases.update)}; full walk ${phaseMedians(phases.full)}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => process.env.BENCH_DEBUG || fs.rmSync(work, { recursive: true, force: true }));
