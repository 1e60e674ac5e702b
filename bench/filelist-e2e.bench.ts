/**
 * `nx run mirror:filelist` end to end, nothing changed, against Fedora's create-filelist run as its
 * update-fullfiletimelist wrapper runs it, and against the floor (find + a bare Nx workspace's start). Not run
 * by CI. Issue 16.
 *
 *   CREATE_FILELIST=/path/to/create-filelist \
 *   node -r @swc-node/register bench/filelist-e2e.bench.ts [--entries 300000] [--reps 5] [--seed 1] [--keep]
 *
 * A temporary Nx workspace (test/helpers/nx-workspace.ts) gets a Rocky-shaped tree of --entries entries from
 * bench/gen-tree.ts at <production>/mirror/pub/rocky. Two configurations, each timed in every rep, alternating
 * which side goes first:
 *   one root:  releases/common.json lists only mirror/pub/rocky (a second workspace on the same RELENG_ROOT);
 *              Fedora's side runs create-filelist once, on that root;
 *   shipped:   the shipped common.json: mirror/pub/rocky, mirror/pub/sig and the production root itself (nested;
 *              ours walks once for all three); Fedora's side runs create-filelist on each of the three roots,
 *              which is what it takes to publish the same lists.
 * Sides:
 *   ours       nx run mirror:filelist --excludeTaskDependencies --full (nx start, graph, executor, walk,
 *              compare); the run must report a full walk and every list unchanged
 *   journal    the same without --full: the lists are updated from the change journal, empty here (nothing
 *              changed), so nothing is walked; it must say so and report every list unchanged
 *   fedora     bench/fedora-filelist.sh: flock, `create-filelist -c -s` per root into a temp dir, compare each
 *              list with the published one, rename the changed ones into place (none here; it must rename
 *              nothing). It works on a hard-linked copy of the tree (cp -al: the same files, inodes and times;
 *              directories of its own), so that neither side lists the other's lists.
 *   floor      find ROOT -printf '%T@\t%C@\t%y\t%s\t%P\n' > file (the fields of a timelist line), plus
 *              `nx show projects` in a bare Nx workspace (bench/measure.ts createBareWorkspace; Nx's defaults)
 * Everything is warmed (one run of each side) before the timed reps. Prints medians, ratios and CPU time.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNxWorkspace, type NxWorkspace } from '../test/helpers/nx-workspace';
import { genTree } from './gen-tree';
import { createBareWorkspace, fmtMs, load, machine, median, ok, parseArgs, timed, timedNx, type NxRunner, type Timed } from './measure';

interface FileListRoot {
  root: string;
  timelist: string;
  copies: string[];
}

const ROCKY_ROOT = 'mirror/pub/rocky';
/** Fedora's lists have their usual names: they are written to a copy of the tree. */
const SUFFIX = '';
const FILELIST = ['run', 'mirror:filelist', '--excludeTaskDependencies', '--output-style=static'];

function shippedRoots(ws: NxWorkspace): FileListRoot[] {
  return (JSON.parse(readFileSync(join(ws.dir, 'releases/common.json'), 'utf8')) as { fileLists: FileListRoot[] }).fileLists;
}

/** A second workspace on the first one's RELENG_ROOT whose common.json lists only mirror/pub/rocky. */
function oneRootWorkspace(first: NxWorkspace): { ws: NxWorkspace; env: Record<string, string> } {
  const ws = createNxWorkspace('bench-filelist-one');
  const file = join(ws.dir, 'releases/common.json');
  const common = JSON.parse(readFileSync(file, 'utf8')) as { fileLists: FileListRoot[] };
  common.fileLists = common.fileLists.filter((l) => l.root === ROCKY_ROOT);
  // Its own staging root, hence its own file-list state: the two configurations must not take turns invalidating one.
  (common as unknown as { roots: Record<string, string> }).roots.staging = '/mnt/repos-staging-one-root';
  if (common.fileLists.length !== 1) throw new Error(`releases/common.json has no file list root ${ROCKY_ROOT}`);
  writeFileSync(file, `${JSON.stringify(common, null, 2)}\n`);
  ws.git(['-c', 'user.name=b', '-c', 'user.email=b@b', 'commit', '-qam', 'one file list root']);
  return { ws, env: { RELENG_ROOT: first.relengRoot } };
}

interface Config {
  label: string;
  ws: NxWorkspace;
  env: Record<string, string>;
  roots: FileListRoot[];
  /** What find walks: the outermost root. */
  findDir: string;
}

/** `full`: --full, a walk of the whole tree; otherwise the lists are updated from the (empty) change journal. */
function ours(c: Config, full: boolean, warm = false): Timed {
  const r = ok('nx run mirror:filelist', timedNx(c.ws, full ? [...FILELIST, '--full'] : FILELIST, c.env));
  if (!warm && !new RegExp(`file lists unchanged at ${c.roots.length} roots`).test(r.output)) {
    throw new Error(`${c.label}: expected every list unchanged:\n${r.output.slice(-3000)}`);
  }
  if (!warm && !(full ? /walked the whole tree: asked for/ : /updated from the change journal \(0 paths/).test(r.output)) {
    throw new Error(`${c.label}: expected ${full ? 'a full walk' : 'an update from the change journal'}:\n${r.output.slice(-3000)}`);
  }
  return r;
}

function fedora(c: Config, production: string, warm = false): Timed {
  const specs = c.roots.map((l) => `${join(production, l.root)}:${l.timelist}:${l.copies.join(',')}`);
  const r = ok('fedora-filelist.sh', timed('bash', [join(__dirname, 'fedora-filelist.sh'), join(production, '..', 'fedora-filelist.lock'), SUFFIX, ...specs]));
  if (!warm && r.output.trim() !== '') throw new Error(`${c.label}: the Fedora wrapper rewrote lists in an unchanged tree:\n${r.output}`);
  return r;
}

function floor(c: Config, bare: NxRunner, out: string): { find: Timed; show: Timed } {
  const find = ok('find', timed('bash', ['-c', `find "$1" -printf '%T@\\t%C@\\t%y\\t%s\\t%P\\n' > "$2"`, 'find', c.findDir, out]));
  const show = ok('bare nx show projects', timedNx(bare, ['show', 'projects']));
  return { find, show };
}

interface Series {
  ours: Timed[];
  journal: Timed[];
  fedora: Timed[];
  find: Timed[];
  show: Timed[];
  loads: string[];
}

async function main(): Promise<void> {
  const m = parseArgs(process.argv.slice(2), ['keep']);
  const entries = Number(m.get('entries') ?? 300000);
  const reps = Number(m.get('reps') ?? 5);
  const seed = Number(m.get('seed') ?? 1);
  if (!process.env.CREATE_FILELIST || !existsSync(process.env.CREATE_FILELIST)) {
    throw new Error('set CREATE_FILELIST to the path of Fedora\'s create-filelist (see bench/RESULTS.md)');
  }
  console.log(`machine: ${machine()}`);
  const shipped = createNxWorkspace('bench-filelist');
  const one = oneRootWorkspace(shipped);
  const bare = createBareWorkspace(['a', 'b', 'c'], 'sync-staging');
  try {
    const production = join(shipped.relengRoot, 'mnt/repos-production');
    const rocky = join(production, ROCKY_ROOT);
    mkdirSync(join(rocky, '..'), { recursive: true });
    process.stderr.write(`generating ${entries} entries in ${rocky} ...\n`);
    const tree = genTree(rocky, entries, seed);
    process.stderr.write(`  ${JSON.stringify(tree)}\n`);
    for (const l of shippedRoots(shipped)) mkdirSync(join(production, l.root), { recursive: true });
    // Fedora's side lists a hard-linked copy: same files (inodes, times), its own directories, so that neither
    // side's lists ever list the other's (they would rewrite each other's forever).
    const fedoraProduction = join(shipped.relengRoot, 'mnt/fedora-production');
    ok('cp -al', timed('cp', ['-al', production, fedoraProduction]));
    const configs: Config[] = [
      { label: 'one root (mirror/pub/rocky)', ws: one.ws, env: one.env, roots: shippedRoots(one.ws), findDir: rocky },
      { label: 'shipped roots (rocky, sig, production root)', ws: shipped, env: {}, roots: shippedRoots(shipped), findDir: production },
    ];
    const findOut = join(shipped.dir, 'find.out');
    // Warm-up: publish every list of both sides (in both configs) and fill the page cache. The wrapper makes every
    // list before it renames any, so with nested roots its first outer list misses the inner lists it publishes
    // in the same run: a second run publishes the outer lists again, after which they hold.
    for (const c of configs) {
      ours(c, true, true);
      fedora(c, fedoraProduction, true);
      fedora(c, fedoraProduction, true);
    }
    for (const c of configs) {
      ours(c, true);
      ours(c, false);
      fedora(c, fedoraProduction);
      floor(c, bare, findOut);
    }
    const results = new Map(configs.map((c) => [c.label, { ours: [], journal: [], fedora: [], find: [], show: [], loads: [] } as Series]));
    for (let i = 0; i < reps; i++) {
      for (const c of configs) {
        const s = results.get(c.label) as Series;
        s.loads.push(load().split(' ')[0] as string);
        const sides = [
          () => s.ours.push(ours(c, true)),
          () => s.journal.push(ours(c, false)),
          () => s.fedora.push(fedora(c, fedoraProduction)),
          () => {
            const f = floor(c, bare, findOut);
            s.find.push(f.find);
            s.show.push(f.show);
          },
        ];
        for (const side of i % 2 ? sides.reverse() : sides) side();
      }
      process.stderr.write(`rep ${i + 1}/${reps} (load ${load()})\n`);
    }

    const med = (xs: Timed[], k: 'ms' | 'cpuMs' = 'ms') => median(xs.map((x) => x[k] ?? NaN));
    console.log(`\nnx run mirror:filelist, nothing changed, ${entries} entries at ${ROCKY_ROOT} (${JSON.stringify(tree)}), ${reps} reps, medians:`);
    for (const c of configs) {
      const s = results.get(c.label) as Series;
      const floorMs = med(s.find) + med(s.show);
      const floorCpu = med(s.find, 'cpuMs') + med(s.show, 'cpuMs');
      console.log(`${c.label}; load during reps ${s.loads.join(' ')}`);
      const row = (name: string, ms: number, cpu: number) => `  ${name.padEnd(62)} ${fmtMs(ms)}  CPU ${fmtMs(cpu)}`;
      console.log(row('ours: nx run mirror:filelist --excludeTaskDependencies --full', med(s.ours), med(s.ours, 'cpuMs')));
      console.log(row('ours, from the change journal (nothing changed: no walk)', med(s.journal), med(s.journal, 'cpuMs')));
      console.log(row(`fedora: create-filelist -c -s x${c.roots.length}, compare, rename`, med(s.fedora), med(s.fedora, 'cpuMs')));
      console.log(row('find -printf (timelist fields) > file', med(s.find), med(s.find, 'cpuMs')));
      console.log(row('bare Nx workspace: nx show projects', med(s.show), med(s.show, 'cpuMs')));
      console.log(
        `  ratio ours / fedora ${(med(s.ours) / med(s.fedora)).toFixed(2)}x (CPU ${(med(s.ours, 'cpuMs') / med(s.fedora, 'cpuMs')).toFixed(2)}x); ` +
          `ours / (find + bare show) ${(med(s.ours) / floorMs).toFixed(2)}x (CPU ${(med(s.ours, 'cpuMs') / floorCpu).toFixed(2)}x); ` +
          `from the journal / fedora ${(med(s.journal) / med(s.fedora)).toFixed(2)}x`,
      );
    }
  } finally {
    for (const w of [shipped, one.ws]) {
      if (m.has('keep')) process.stderr.write(`kept ${w.dir}\n`);
      else w.dispose();
    }
    bare.dispose();
  }
}

main().catch((err) => {
  process.stderr.write(`filelist-e2e.bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
