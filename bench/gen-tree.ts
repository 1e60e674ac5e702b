/**
 * Deterministic generator of large Rocky-shaped mirror trees for the file-list benchmark.
 *
 *   node -r @swc-node/register bench/gen-tree.ts --out DIR --entries 300000 --seed 1 [--mtime EPOCH]
 *
 * Layout (revision count scales with --entries, about one revision per 35,000 entries):
 *   <rev>/<repo>/<arch>/os/Packages/<letter>/<name>.rpm   (the bulk: empty or small files; some noarch
 *                                                         packages hard-linked across arches; a few symlinks)
 *   <rev>/<repo>/<arch>/os/repodata/{repomd.xml,repomd.xml.asc,<sha>-primary.xml.gz,...}
 *   <rev>/isos/<arch>/{Rocky-<rev>-<arch>-dvd1.iso, ..., Rocky-<arch>-dvd.iso -> ...}
 *   8 -> <newest 8.x>, 9 -> <newest 9.x>, RPM-GPG-KEY-Rocky-{8,9}
 * Exactly --entries names are created below DIR (DIR itself not counted). Same seed and entries => same names,
 * sizes, contents and link structure. --mtime sets the mtime of every entry (one extra syscall per entry).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const REVISIONS = ['8.3', '8.4', '8.5', '8.6', '8.7', '8.8', '8.9', '8.10', '9.0', '9.1', '9.2', '9.3', '9.4', '9.5', '9.6'];
const REPOS = ['BaseOS', 'AppStream', 'PowerTools', 'extras', 'HighAvailability', 'ResilientStorage', 'RT', 'NFV', 'devel', 'plus'];
const ARCHES = ['x86_64', 'aarch64', 'ppc64le'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
const SYLLABLES = ['lib', 'py', 'th', 'on', 'gn', 'ome', 'ker', 'nel', 'sys', 'tem', 'd', 'perl', 'x', 'ml', 'utils', 'devel'];

/** FNV-1a over the seed and a key, then a murmur-style finaliser: a stateless keyed PRNG in [0,1). */
function rand(seed: number, key: string): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return (h >>> 0) / 0x100000000;
}

function hex(seed: number, key: string, len: number): string {
  // mulberry32 stream seeded from the keyed hash: cheap for long strings.
  let a = Math.floor(rand(seed, key) * 0x100000000) >>> 0;
  let out = '';
  while (out.length < len) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out += ((t ^ (t >>> 14)) >>> 0).toString(16).padStart(8, '0');
  }
  return out.slice(0, len);
}

function content(seed: number, key: string): string {
  // 70 % empty, otherwise 1..512 bytes.
  if (rand(seed, `${key}/empty`) < 0.7) return '';
  const len = 1 + Math.floor(rand(seed, `${key}/len`) * 512);
  return hex(seed, `${key}/data`, len);
}

interface Op {
  kind: 'dir' | 'file' | 'symlink' | 'hardlink';
  rel: string;
  data?: string; // file content or link target (symlink: link text; hardlink: rel path of the existing name)
}

interface Leaf {
  rev: string;
  repo: string;
  arch: string;
  archIndex: number;
  letter: string;
  dir: string;
}

function revisionsFor(entries: number): string[] {
  const n = Math.max(1, Math.min(REVISIONS.length, Math.round(entries / 35000)));
  return REVISIONS.slice(REVISIONS.length - n);
}

/** All operations in creation order (parents before children). `counts` gives the files per leaf. */
function* plan(seed: number, revs: string[], counts: number[] | undefined): Generator<Op> {
  let leafIndex = 0;
  yield { kind: 'file', rel: 'RPM-GPG-KEY-Rocky-8', data: content(seed, 'key8') || 'key8\n' };
  yield { kind: 'file', rel: 'RPM-GPG-KEY-Rocky-9', data: content(seed, 'key9') || 'key9\n' };
  for (const major of ['8', '9']) {
    const newest = [...revs].reverse().find((r) => r.startsWith(`${major}.`));
    if (newest) yield { kind: 'symlink', rel: major, data: newest };
  }
  for (const rev of revs) {
    yield { kind: 'dir', rel: rev };
    for (const repo of REPOS) {
      const repoName = rev.startsWith('9') && repo === 'PowerTools' ? 'CRB' : repo;
      yield { kind: 'dir', rel: `${rev}/${repoName}` };
      // Per-letter counts of arch 0, to know which slots can be hard-linked from the other arches.
      const firstArchCounts = new Map<string, number>();
      for (let archIndex = 0; archIndex < ARCHES.length; archIndex++) {
        const arch = ARCHES[archIndex] as string;
        const base = `${rev}/${repoName}/${arch}`;
        yield { kind: 'dir', rel: base };
        yield { kind: 'dir', rel: `${base}/os` };
        yield { kind: 'dir', rel: `${base}/os/Packages` };
        for (const letter of LETTERS) {
          const dir = `${base}/os/Packages/${letter}`;
          yield { kind: 'dir', rel: dir };
          const n = counts ? (counts[leafIndex] as number) : 0;
          leafIndex++;
          if (archIndex === 0) firstArchCounts.set(letter, n);
          const leaf: Leaf = { rev, repo: repoName, arch, archIndex, letter, dir };
          yield* leafOps(seed, leaf, n, firstArchCounts.get(letter) ?? 0);
        }
        yield { kind: 'dir', rel: `${base}/os/repodata` };
        const key = `${base}/repodata`;
        yield { kind: 'file', rel: `${base}/os/repodata/repomd.xml`, data: `<repomd>${hex(seed, key, 180)}</repomd>\n` };
        yield { kind: 'file', rel: `${base}/os/repodata/repomd.xml.asc`, data: `sig ${hex(seed, `${key}/asc`, 64)}\n` };
        for (const kind of ['primary.xml.gz', 'filelists.xml.gz', 'other.xml.gz', `comps-${repoName}.${arch}.xml`]) {
          yield { kind: 'file', rel: `${base}/os/repodata/${hex(seed, `${key}/${kind}`, 64)}-${kind}`, data: content(seed, `${key}/${kind}`) };
        }
      }
    }
    yield { kind: 'dir', rel: `${rev}/isos` };
    for (const arch of ARCHES) {
      const dir = `${rev}/isos/${arch}`;
      yield { kind: 'dir', rel: dir };
      for (const flavour of ['dvd1', 'minimal', 'boot']) {
        const iso = `Rocky-${rev}-${arch}-${flavour}.iso`;
        yield { kind: 'file', rel: `${dir}/${iso}`, data: content(seed, `${dir}/${iso}`) };
        yield { kind: 'symlink', rel: `${dir}/Rocky-${arch}-${flavour.replace(/1$/, '')}.iso`, data: iso };
      }
      yield { kind: 'file', rel: `${dir}/CHECKSUM`, data: `# ${hex(seed, `${dir}/CHECKSUM`, 64)}\n` };
    }
  }
}

function packageName(seed: number, leaf: Leaf, i: number, noarch: boolean): string {
  const key = `${leaf.rev}/${leaf.repo}/${leaf.letter}/${i}`;
  const parts = [leaf.letter];
  const syl = 1 + Math.floor(rand(seed, `${key}/n`) * 3);
  for (let s = 0; s < syl; s++) parts.push(SYLLABLES[Math.floor(rand(seed, `${key}/s${s}`) * SYLLABLES.length)] as string);
  const ver = `${1 + Math.floor(rand(seed, `${key}/v`) * 9)}.${Math.floor(rand(seed, `${key}/w`) * 30)}`;
  const major = leaf.rev.split('.')[0];
  return `${parts.join('')}${i}-${ver}-${1 + (i % 7)}.el${major}.${noarch ? 'noarch' : leaf.arch}.rpm`;
}

function* leafOps(seed: number, leaf: Leaf, n: number, firstArchCount: number): Generator<Op> {
  let previous: string | undefined;
  for (let i = 0; i < n; i++) {
    const key = `${leaf.rev}/${leaf.repo}/${leaf.letter}/${i}`;
    const noarch = rand(seed, `${key}/noarch`) < 0.2;
    const name = packageName(seed, leaf, i, noarch);
    const rel = `${leaf.dir}/${name}`;
    if (previous && rand(seed, `${key}/${leaf.arch}/symlink`) < 0.005) {
      yield { kind: 'symlink', rel: `${leaf.dir}/${name.replace(/\.rpm$/, '.latest.rpm')}`, data: previous };
      continue;
    }
    if (noarch && leaf.archIndex > 0 && i < firstArchCount && !isSymlinkSlot(seed, leaf, i)) {
      const first = `${leaf.rev}/${leaf.repo}/${ARCHES[0]}/os/Packages/${leaf.letter}/${name}`;
      yield { kind: 'hardlink', rel, data: first };
    } else {
      yield { kind: 'file', rel, data: content(seed, key) };
    }
    previous = name;
  }
}

/** Whether slot i of arch 0 became a symlink (then there is no file to hard-link to). */
function isSymlinkSlot(seed: number, leaf: Leaf, i: number): boolean {
  const key = `${leaf.rev}/${leaf.repo}/${leaf.letter}/${i}`;
  return i > 0 && rand(seed, `${key}/${ARCHES[0]}/symlink`) < 0.005;
}

/** Splits `total` over `n` leaves with seeded weights; the parts sum to exactly `total`. */
function apportion(seed: number, total: number, n: number): number[] {
  const weights: number[] = [];
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const w = 0.2 + 1.6 * rand(seed, `leaf-weight/${i}`);
    weights.push(w);
    sum += w;
  }
  const out: number[] = [];
  let acc = 0;
  let given = 0;
  for (let i = 0; i < n; i++) {
    acc += weights[i] as number;
    const upto = i === n - 1 ? total : Math.floor((total * acc) / sum);
    out.push(upto - given);
    given = upto;
  }
  return out;
}

export interface GenTreeResult {
  out: string;
  entries: number;
  dirs: number;
  files: number;
  symlinks: number;
  hardlinks: number;
  bytes: number;
  seconds: number;
}

export function genTree(out: string, entries: number, seed: number, mtime?: number): GenTreeResult {
  const revs = revisionsFor(entries);
  let skeleton = 0;
  for (const _op of plan(seed, revs, undefined)) skeleton++;
  const leaves = revs.length * REPOS.length * ARCHES.length * LETTERS.length;
  if (entries < skeleton) throw new Error(`--entries ${entries} is below the skeleton size ${skeleton} for ${revs.length} revision(s)`);
  const counts = apportion(seed, entries - skeleton, leaves);

  if (fs.existsSync(out) && fs.readdirSync(out).length > 0) throw new Error(`${out} exists and is not empty`);
  fs.mkdirSync(out, { recursive: true });
  const started = process.hrtime.bigint();
  const res: GenTreeResult = { out, entries: 0, dirs: 0, files: 0, symlinks: 0, hardlinks: 0, bytes: 0, seconds: 0 };
  const dirsForTimes: string[] = [];
  for (const op of plan(seed, revs, counts)) {
    const abs = path.join(out, op.rel);
    switch (op.kind) {
      case 'dir':
        fs.mkdirSync(abs);
        res.dirs++;
        if (mtime !== undefined) dirsForTimes.push(abs);
        break;
      case 'file': {
        const data = op.data ?? '';
        if (data.length === 0) fs.closeSync(fs.openSync(abs, 'w', 0o644));
        else fs.writeFileSync(abs, data, { mode: 0o644 });
        res.files++;
        res.bytes += data.length;
        if (mtime !== undefined) fs.utimesSync(abs, mtime, mtime);
        break;
      }
      case 'symlink':
        fs.symlinkSync(op.data as string, abs);
        res.symlinks++;
        if (mtime !== undefined) fs.lutimesSync(abs, mtime, mtime);
        break;
      case 'hardlink':
        fs.linkSync(path.join(out, op.data as string), abs);
        res.hardlinks++;
        break;
    }
    res.entries++;
  }
  // Directory mtimes last (creating children bumps them).
  for (const d of dirsForTimes.reverse()) fs.utimesSync(d, mtime as number, mtime as number);
  res.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return res;
}

function parseArgs(argv: string[]): { out: string; entries: number; seed: number; mtime?: number } {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (!a.startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${a}; usage: --out DIR [--entries N] [--seed S] [--mtime EPOCH]`);
    args.set(a.slice(2), argv[++i] as string);
  }
  const out = args.get('out');
  if (!out) throw new Error('--out DIR is required');
  const num = (k: string, d?: number): number | undefined => {
    const v = args.get(k);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k} must be a non-negative integer`);
    return n;
  };
  return { out: path.resolve(out), entries: num('entries', 300000) as number, seed: num('seed', 1) as number, mtime: num('mtime') };
}

if (require.main === module) {
  try {
    const a = parseArgs(process.argv.slice(2));
    const res = genTree(a.out, a.entries, a.seed, a.mtime);
    process.stdout.write(`${JSON.stringify(res)}\n`);
  } catch (err) {
    process.stderr.write(`gen-tree: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
