/**
 * Peak memory of verify against the size of the repository (issue 14). Not run by CI.
 *
 *   node -r @swc-node/register bench/verify-memory.bench.ts [--sizes 1000,10000,100000] [--work DIR] [--dom 1000,10000]
 *
 * For each size N, a repository of N packages is made once under --work (default $TMPDIR/verify-memory-bench, kept
 * for reruns; remove it by hand): one fixture RPM built by rpmbuild (test/helpers/rpms.ts), hard-linked N times
 * under distinct file names (Packages/<bucket>/releng-hello-<i>.rpm, a fresh copy every 50,000 links: ext4 caps
 * the links of one inode at 65,000), then `createrepo_c --no-database`.
 *
 * What is measured: `verifyRepo(repo, { skipDnf: true, unsigned: true })` (lib/vetting/verify.ts), run once per
 * size in a fresh child `node`: read and check repomd.xml and every file it names (sha256), stream primary.xml.gz
 * and check every package it lists (lstat, size, sha256 of the file). Left out: dnf (makecache, repoclosure) and
 * gpgv, separate programs whose memory is theirs, not verify's. The figure is the child's peak RSS
 * (process.resourceUsage().maxRSS, which includes Node itself and swc-node's compiler), and the verify's wall time.
 * Each size is printed as a ratio to the 1,000-package run of the same invocation: flat memory is ~1.0x.
 *
 * --dom SIZES also runs, at those sizes, what readPrimary did before the streaming parser (decompress primary.xml
 * whole, parse it into an @xmldom DOM, build the package list; no file checks), for comparison. It grows by some
 * 40 KiB per package here (about 4 GiB at 100,000): keep its sizes small on a shared machine.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildFixtureRpms } from '../test/helpers/rpms';
import { childElements, childText, firstChild, metadataChunks, parseXml, readRepomd } from '../tools/nx-releng/src/lib/formats/repomd';
import { primaryPath } from '../tools/nx-releng/src/lib/formats/primary';
import { run } from '../tools/nx-releng/src/lib/tools/exec';
import { verifyRepo } from '../tools/nx-releng/src/lib/vetting/verify';
import { parseArgs } from './measure';

interface Args {
  sizes: number[];
  work: string;
  dom: number[];
  child?: string;
  mode?: 'verify' | 'dom';
}

function readArgs(argv: string[]): Args {
  const m = parseArgs(argv);
  return {
    sizes: (m.get('sizes') ?? '1000,10000,100000').split(',').map(Number),
    work: resolve(m.get('work') ?? join(tmpdir(), 'verify-memory-bench')),
    dom: m.has('dom') ? (m.get('dom') as string).split(',').map(Number) : [],
    child: m.get('child'),
    mode: m.get('mode') as Args['mode'],
  };
}

const LINKS_PER_COPY = 50_000;

/** A repository of n packages (hard links of one real RPM), made once and reused. */
async function ensureRepo(work: string, n: number): Promise<string> {
  const repo = join(work, `repo-${n}`);
  const marker = `${repo}.done`;
  if (existsSync(marker)) return repo;
  rmSync(repo, { recursive: true, force: true });
  const { rpms } = await buildFixtureRpms();
  const rpm = rpms.find((r) => r.name === 'releng-hello' && r.arch === 'x86_64');
  if (!rpm) throw new Error('no releng-hello x86_64 fixture RPM');
  const t = Date.now();
  let source = '';
  for (let i = 0; i < n; i++) {
    if (i % LINKS_PER_COPY === 0) {
      source = join(work, `source-${n}-${i / LINKS_PER_COPY}.rpm`);
      copyFileSync(rpm.file, source);
    }
    const dir = join(repo, 'Packages', String(Math.floor(i / 1000)));
    if (i % 1000 === 0) mkdirSync(dir, { recursive: true });
    linkSync(source, join(dir, `releng-hello-${i}.rpm`));
  }
  await run('createrepo_c', ['--quiet', '--no-database', '--workers', '2', repo], { maxBytes: 1_000_000 });
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  console.log(`made ${repo}: ${n} packages in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  return repo;
}

/** In the child: one measured run; prints a JSON line. */
async function child(repo: string, mode: 'verify' | 'dom'): Promise<void> {
  const t = process.hrtime.bigint();
  let packages = 0;
  let problems: string[] = [];
  if (mode === 'verify') {
    const report = await verifyRepo(repo, { publicKey: '/dev/null', unsigned: true, skipDnf: true, arch: 'x86_64' });
    problems = report.problems;
    // How many packages primary says it lists (its root's packages="N"), to show the run covered them.
    for await (const text of metadataChunks(primaryPath(repo, await readRepomd(repo)))) {
      packages = Number(/<metadata [^>]*packages="(\d+)"/.exec(text)?.[1] ?? -1);
      break;
    }
  } else {
    // The removed readPrimary: the whole decompressed text, a DOM, then the package list.
    const path = primaryPath(repo, await readRepomd(repo));
    const doc = parseXml(gunzipSync(readFileSync(path)).toString('utf8'), path, { locator: false });
    const list: { name: string; href: string }[] = [];
    for (const p of childElements(doc.documentElement as never)) {
      if (p.localName !== 'package') continue;
      list.push({ name: childText(p, 'name') ?? '', href: firstChild(p, 'location')?.getAttribute('href') ?? '' });
    }
    packages = list.length;
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, ms, packages, problems: problems.slice(0, 5), problemCount: problems.length }));
}

interface Measured {
  maxRssMiB: number;
  ms: number;
  packages: number;
  problemCount: number;
  problems: string[];
}

function measure(repo: string, mode: 'verify' | 'dom'): Measured {
  const r = spawnSync(process.execPath, ['-r', '@swc-node/register', __filename, '--child', repo, '--mode', mode], {
    encoding: 'utf8',
    env: process.env,
    maxBuffer: 16 * 1024 * 1024,
  });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  if (r.status !== 0 || !line.startsWith('{')) throw new Error(`child ${mode} ${repo} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  const got = JSON.parse(line) as Omit<Measured, 'maxRssMiB'> & { maxRssKiB: number };
  return { ...got, maxRssMiB: got.maxRssKiB / 1024 };
}

async function main(): Promise<void> {
  const args = readArgs(process.argv.slice(2));
  if (args.child) return child(args.child, args.mode ?? 'verify');
  mkdirSync(args.work, { recursive: true });
  const repos = new Map<number, string>();
  for (const n of args.sizes) repos.set(n, await ensureRepo(args.work, n));
  for (const n of args.dom) if (!repos.has(n)) repos.set(n, await ensureRepo(args.work, n));
  const modes: ('verify' | 'dom')[] = args.dom.length ? ['verify', 'dom'] : ['verify'];
  for (const mode of modes) {
    const rows: { n: number; m: Measured; load: number }[] = [];
    for (const n of mode === 'verify' ? args.sizes : args.dom) {
      const m = measure(repos.get(n) as string, mode);
      if (mode === 'verify' && m.problemCount !== 0) throw new Error(`verify of ${n} packages found problems: ${m.problems.join('; ')}`);
      if (m.packages !== n) throw new Error(`the repository of ${n} packages lists ${m.packages}`);
      rows.push({ n, m, load: loadavg()[0] as number });
    }
    const base = rows[0] as (typeof rows)[number];
    console.log(`\n${mode === 'verify' ? 'verifyRepo (skipDnf, unsigned)' : 'before: whole primary.xml into a DOM (parse only)'}, peak RSS of the child node`);
    console.log('| packages | peak RSS | ratio to first | wall | load (1 min) |');
    console.log('| ---: | ---: | ---: | ---: | ---: |');
    for (const { n, m, load } of rows) {
      console.log(
        `| ${n.toLocaleString('en')} | ${m.maxRssMiB.toFixed(1)} MiB | ${(m.maxRssMiB / base.m.maxRssMiB).toFixed(2)}x | ` +
          `${(m.ms / 1000).toFixed(1)} s | ${load.toFixed(1)} |`,
      );
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
