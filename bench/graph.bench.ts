/**
 * Benchmark of the project graph: `nx show projects` in a workspace with many repository projects against one
 * with few. Not run by CI.
 *
 *   node -r @swc-node/register bench/graph.bench.ts [--small 4] [--large 40] [--reps 7] [--keep]
 *
 * Two temporary workspaces (test/helpers/nx-workspace.ts: a copy of the plugin and releases/, the real nx CLI,
 * NX_DAEMON=false). Each keeps the three shipped composes of releases/8 (Rocky, Extras, Rocky-devel) and gets
 * SIG composes (releases/8/SIG-<name>/compose.json, kind sig, backend pungi, variants taken from the repositories
 * releases/8/release.json declares) up to --small and --large repository projects; both also have the
 * production-wide project `mirror` and the plugin's own package project. Every rep is a fresh nx process, alternating small and large:
 *   warm: .nx/workspace-data kept from the previous run (what a user sees from the second command on)
 *   cold: .nx/workspace-data removed before the run (the first command after a checkout or a change)
 * Without the daemon nx runs the plugin's createNodes on every command; the cache only spares file hashing. Also,
 * alternately with the others, the same command in a bare Nx workspace (bench/measure.ts createBareWorkspace: 3
 * projects, no plugin, Nx's defaults). Prints medians, the large/small and small/bare ratios and peak RSS.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createNxWorkspace, type NxWorkspace } from '../test/helpers/nx-workspace';
import { writeJsonFile } from '../test/helpers/workspace';
import { createBareWorkspace, fmtMs, load, machine, median, ok, parseArgs, timedNx, type Timed } from './measure';

const BASE_COMPOSES = 3; // Rocky-8, Extras-8, Rocky-devel-8
const SIG_NAMES = [
  'cloud', 'kernel', 'altarch', 'core', 'hpc', 'virtualization', 'security', 'storage', 'containers', 'desktop',
  'ai', 'automotive', 'edge', 'hyperscale', 'infra', 'kmods', 'messaging', 'network', 'openstack', 'rt',
  'sap', 'science', 'testing', 'multimedia', 'gaming', 'fips', 'appstream-extras', 'backports', 'ceph', 'gluster',
  'nfv', 'ovirt', 'podman', 'python', 'ruby', 'java', 'perl', 'golang', 'rust', 'nodejs', 'php', 'dotnet',
];

/** Adds SIG composes until the workspace has `repos` repository projects; commits them. */
function addSigs(ws: NxWorkspace, repos: number): void {
  const release = JSON.parse(readFileSync(join(ws.dir, 'releases/8/release.json'), 'utf8')) as {
    compsRepos: string[];
    plainRepos: string[];
  };
  // SIG repos are plain ones in practice; rotate through every declared repo so the loader checks them all.
  const variants = [...release.plainRepos, ...release.compsRepos];
  const sigs = repos - BASE_COMPOSES;
  if (sigs < 0 || sigs > SIG_NAMES.length) throw new Error(`between ${BASE_COMPOSES} and ${BASE_COMPOSES + SIG_NAMES.length} repository projects`);
  for (let i = 0; i < sigs; i++) {
    const name = SIG_NAMES[i] as string;
    writeJsonFile(join(ws.dir, `releases/8/SIG-${name}/compose.json`), {
      kind: 'sig',
      description: `The ${name} SIG for Rocky Linux 8`,
      variants: [variants[i % variants.length], ...(i % 3 === 0 ? [variants[(i + 1) % variants.length]] : [])],
      backend: 'pungi',
      pungi: { config: `/etc/pungi-sig/${name}8.conf` },
    });
  }
  ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A']);
  ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', `${sigs} SIGs`, '--allow-empty']);
}

function showProjects(ws: NxWorkspace, expected: number, cold: boolean): Timed {
  if (cold) rmSync(join(ws.dir, '.nx/workspace-data'), { recursive: true, force: true });
  const r = ok('nx show projects', timedNx(ws, ['show', 'projects']));
  const projects = r.output.split('\n').filter((l) => /^\S+$/.test(l));
  const repos = projects.filter((p) => /^[A-Za-z0-9._+-]+-\d+$/.test(p));
  if (repos.length !== expected || !projects.includes('mirror')) {
    throw new Error(`expected ${expected} repository projects and mirror, got ${repos.length}:\n${r.output}`);
  }
  return r;
}

async function main(): Promise<void> {
  const m = parseArgs(process.argv.slice(2), ['keep']);
  const small = Number(m.get('small') ?? 4);
  const large = Number(m.get('large') ?? 40);
  const reps = Number(m.get('reps') ?? 7);
  console.log(`machine: ${machine()}`);
  const wss: { dir: string; dispose(): void }[] = [];
  try {
    const ws = { small: createNxWorkspace(`bench-graph-${small}`), large: createNxWorkspace(`bench-graph-${large}`) };
    const bare = createBareWorkspace(['a', 'b', 'c'], 'build');
    wss.push(ws.small, ws.large, bare);
    addSigs(ws.small, small);
    addSigs(ws.large, large);
    const t: Record<string, { ms: number[]; rss: number[] }> = {};
    const rec = (key: string, r: Timed) => {
      const s = (t[key] ??= { ms: [], rss: [] });
      s.ms.push(r.ms);
      if (r.maxRssMiB !== undefined) s.rss.push(r.maxRssMiB);
    };
    // One run each first: nx writes its workspace data, the plugin is transpiled.
    showProjects(ws.small, small, false);
    showProjects(ws.large, large, false);
    const loads: string[] = [];
    for (let i = 0; i < reps; i++) {
      for (const cold of [false, true]) {
        rec(`small ${cold}`, showProjects(ws.small, small, cold));
        rec(`large ${cold}`, showProjects(ws.large, large, cold));
      }
      rec('bare', ok('bare nx show projects', timedNx(bare, ['show', 'projects'])));
      loads.push(load().split(' ')[0] as string);
      process.stderr.write(`rep ${i + 1}/${reps} (load ${load()})\n`);
    }
    console.log(`\nnx show projects, NX_DAEMON=false, fresh process each, ${reps} reps; load during reps ${loads.join(' ')}:`);
    for (const cold of [false, true]) {
      const s = t[`small ${cold}`] as { ms: number[]; rss: number[] };
      const l = t[`large ${cold}`] as { ms: number[]; rss: number[] };
      const rss = (x: { rss: number[] }) => (x.rss.length ? `${Math.max(...x.rss).toFixed(0)} MiB` : '-');
      const label = cold ? 'cold (.nx/workspace-data removed)' : 'warm (.nx/workspace-data kept)';
      console.log(`  ${label}`);
      console.log(`    ${String(small).padStart(3)} repository projects  median ${fmtMs(median(s.ms))}  min ${fmtMs(Math.min(...s.ms))}  peak RSS ${rss(s)}`);
      console.log(`    ${String(large).padStart(3)} repository projects  median ${fmtMs(median(l.ms))}  min ${fmtMs(Math.min(...l.ms))}  peak RSS ${rss(l)}`);
      console.log(
        `    ratio ${large}/${small}: ${(median(l.ms) / median(s.ms)).toFixed(2)}x  ` +
          `(per added project: ${((median(l.ms) - median(s.ms)) / (large - small)).toFixed(1)} ms)`,
      );
    }
    const bareMs = (t['bare'] as { ms: number[] }).ms;
    console.log(
      `  bare Nx workspace (3 projects, no plugin), warm  median ${fmtMs(median(bareMs))}  min ${fmtMs(Math.min(...bareMs))}; ` +
        `ratio ${small} repository projects (warm) / bare: ${(median((t['small false'] as { ms: number[] }).ms) / median(bareMs)).toFixed(2)}x`,
    );
  } finally {
    for (const w of wss) {
      if (m.has('keep')) process.stderr.write(`kept ${w.dir}\n`);
      else w.dispose();
    }
  }
}

main().catch((err) => {
  process.stderr.write(`graph.bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
