/**
 * The tree digest (lib/core/tree-digest.ts: verify's runtime input and record, sync-prod's checks, the status page)
 * against `find` printing the same fields of the same tree. Not run by CI.
 *
 *   node -r @swc-node/register bench/tree-digest.bench.ts [--entries 300000] [--reps 5] [--work DIR]
 *
 * Generates a Rocky-shaped tree with bench/gen-tree.ts (removed at the end), then alternately, --reps times, warm:
 *   digest:   treeDigest of the tree's top-level entries, in this process (what the steps run)
 *   find:     find -printf of type, path, size, mtime and inode of every entry, piped to sha256sum
 * Medians, ratio = digest / find, and the 1-minute load average.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { treeDigest } from '../tools/nx-releng/src/lib/core/tree-digest';
import { genTree } from './gen-tree';
import { machine, median, parseArgs } from './measure';

const args = parseArgs(process.argv.slice(2));
const entries = Number(args.get('entries') ?? 300000);
const reps = Number(args.get('reps') ?? 5);
const work = fs.mkdtempSync(path.join(path.resolve(args.get('work') ?? tmpdir()), 'tree-digest-bench-'));

function main(): void {
  const root = path.join(work, 'tree');
  process.stderr.write(`generating ${entries} entries under ${root} ...\n`);
  genTree(root, entries, 1);
  const tops = fs.readdirSync(root);
  console.log(`# ${machine()}`);
  console.log(`# tree: ${entries} entries in ${tops.length} top-level entries at ${root}`);
  const digest: number[] = [];
  const find: number[] = [];
  for (let rep = 0; rep < reps * 2; rep++) {
    const ours = rep % 2 === 0;
    const t0 = process.hrtime.bigint();
    if (ours) treeDigest(root, tops);
    else {
      const r = spawnSync('sh', ['-c', `find ${tops.map((t) => `'${t}'`).join(' ')} -printf '%y %p %s %T@ %i\\n' | sha256sum`], { cwd: root, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`find failed: ${r.stderr}`);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    (ours ? digest : find).push(ms);
    console.log(`rep ${rep}: ${ours ? 'digest' : 'find  '} ${ms.toFixed(0).padStart(6)} ms, load ${loadavg()[0]?.toFixed(2)}`);
  }
  const d = median(digest);
  const f = median(find);
  console.log(`\n| ${entries} entries, warm | median |`);
  console.log('| --- | --- |');
  console.log(`| treeDigest | ${d.toFixed(0)} ms |`);
  console.log(`| find -printf the same fields, sha256sum | ${f.toFixed(0)} ms |`);
  console.log(`| treeDigest / find | **${(d / f).toFixed(2)}x** |`);
}

try {
  main();
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
