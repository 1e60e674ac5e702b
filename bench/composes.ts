/**
 * The composes the staging benchmarks share (pipeline.bench.ts, sop-sync.bench.ts): a temporary Nx workspace
 * whose three composes (Rocky-8, Extras-8, Rocky-devel-8) hold about <size> package files, made by
 * `nx run-many -t compose --backend=local` from the sandbox's inputs multiplied (packageCopy below); and the
 * helpers that run and check sync-staging there. Not run by CI.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stageSandbox } from '../tools/sandbox/sandbox';
import { createNxWorkspace, dropShippedSigs, type NxWorkspace } from '../test/helpers/nx-workspace';
import { load, ok, timed, timedNx, type Timed } from './measure';

export const PROJECTS = ['Extras-8', 'Rocky-8', 'Rocky-devel-8'];
const LETTERS = 'abcdefghijklmnopqrstuvwxyz'.split('');
/** RPM lead: 96 bytes; the package name is 66 bytes at offset 10, NUL-terminated. */
const LEAD_SIZE = 96;
const LEAD_NAME_OFFSET = 10;
const LEAD_NAME_LEN = 66;
/** Signature header tags: the immutable region, and the space rpmbuild reserves for signing in place. */
const RPMTAG_HEADERSIGNATURES = 62;
const RPMSIGTAG_RESERVEDSPACE = 1008;

/**
 * The n-th copy of an RPM, a different file that is still a valid package: its lead names it `<name>~<n>`, and
 * when the signature header ends with rpmbuild's reserved space (RESERVEDSPACE, then the region trailer), that
 * space is shortened by a multiple of 8 bytes, so copies differ in size too (as real packages do; equal sizes
 * would make `hardlink` compare every pair). Neither the lead nor the reserved space is covered by a digest or
 * signature: `rpm -K` passes and the header (NEVRA, checksums of the payload) is unchanged.
 */
export function packageCopy(rpm: Buffer, n: number): Buffer {
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
export function composeArches(ws: NxWorkspace): number {
  return (JSON.parse(readFileSync(join(ws.dir, 'releases/8/release.json'), 'utf8')) as { arches: string[] }).arches.length;
}

/**
 * Multiplies the local backend's inputs (<koji>/local/8/<Short>/<Variant>/*.rpm) so that the composes hold about
 * `target` package files. Returns the copies per fixture RPM.
 */
export function multiplyInputs(ws: NxWorkspace, target: number): number {
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

export interface ComposeTree {
  project: string;
  /** Absolute paths of the top dirs of <compose>/compose that sync-staging syncs (variants, metadata). */
  sources: string[];
}

/** What each project's latest link points at, and which of its top dirs sync-staging syncs. */
export function composeTrees(ws: NxWorkspace): ComposeTree[] {
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
export function countTree(dirs: string[]): { entries: number; packages: number; dirs: number } {
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
export function recordedDirs(ws: NxWorkspace): number {
  const dir = join(ws.relengRoot, 'mnt/repos-staging/.releng/state/mirror_pub_rocky/8.10-RC2');
  return PROJECTS.reduce(
    (n, p) => n + Object.keys((JSON.parse(readFileSync(join(dir, `${p}.sync-staging.json`), 'utf8')) as { dirs: object }).dirs).length,
    0,
  );
}

export const stagingRoot = (ws: NxWorkspace) => join(ws.relengRoot, 'mnt/repos-staging');
export const stagingDir = (ws: NxWorkspace) => join(stagingRoot(ws), 'mirror/pub/rocky/8.10-RC2');

/**
 * What each sync-staging task of a run did, from nx's static output: 'cache' (answered by the Nx cache), or the
 * executor's summary ('synced', 'up-to-date'), or 'failed'.
 */
export function outcomesOf(output: string): Record<string, string> {
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
export function syncAll(ws: NxWorkspace, expect: readonly string[], extra: string[] = [], env: Record<string, string> = {}): Timed & { outcomes: string } {
  const r = ok('nx run-many -t sync-staging', timedNx(ws, ['run-many', '-t', 'sync-staging', '--output-style=static', ...extra], env));
  const outcomes = outcomesOf(r.output);
  const kinds = [...new Set(PROJECTS.map((p) => outcomes[p] ?? 'missing'))];
  if (kinds.some((k) => !expect.includes(k))) {
    throw new Error(`expected every task to be ${expect.join(' or ')}, got ${JSON.stringify(outcomes)}:\n${r.output.slice(-3000)}`);
  }
  return { ...r, outcomes: kinds.join('+') };
}

/** One rsync per compose, one after the other; the total. */
export function rsyncAll(trees: ComposeTree[], dest: string, flags: string[]): Timed {
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
export interface TaskTimes {
  seconds: number;
  /** Summed over the rsync units (up to rsync.parallel of them run at once). */
  rsync: number;
  /** Summed over the repos (two regenerate at once). */
  createrepo: number;
}

/** Per project, from the executors' own lines in nx's static output. */
export function taskTimes(output: string): Record<string, TaskTimes> {
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

export interface Series {
  ms: number[];
  rss: number[];
  cpu: number[];
  loads: string[];
  outcome?: string;
}
export const series = (): Series => ({ ms: [], rss: [], cpu: [], loads: [] });
export function add(s: Series, r: Timed & { outcomes?: string }): void {
  s.ms.push(r.ms);
  if (r.maxRssMiB !== undefined) s.rss.push(r.maxRssMiB);
  if (r.cpuMs !== undefined) s.cpu.push(r.cpuMs);
  s.loads.push(load().split(' ')[0] as string);
  if (r.outcomes) s.outcome = s.outcome && s.outcome !== r.outcomes ? `${s.outcome}/${r.outcomes}` : r.outcomes;
}
export const rssOf = (s: Series) => (s.rss.length ? `${Math.max(...s.rss).toFixed(0).padStart(5)} MiB` : '    - MiB');

/** A workspace with the three composes (Rocky-8, Extras-8, Rocky-devel-8) of about `size` package files made, not yet synced. */
export async function makeComposes(prefix: string, size: number): Promise<{ ws: NxWorkspace; copies: number; composeMs: number }> {
  const ws = createNxWorkspace(`${prefix}-${size}`);
  try {
    // The three base composes only, as the SOP's sync-to-staging.sh runs them (and the bare workspace has 3).
    dropShippedSigs(ws);
    await stageSandbox(ws.relengRoot);
    const copies = multiplyInputs(ws, size);
    process.stderr.write(`[${size}] ${ws.dir}: ${copies} copies of each fixture RPM; composing ...\n`);
    const compose = ok('nx run-many -t compose', timedNx(ws, ['run-many', '-t', 'compose', '--backend=local', '--output-style=static']));
    return { ws, copies, composeMs: compose.ms };
  } catch (err) {
    ws.dispose();
    throw err;
  }
}

/** Writes dirty pages out (untimed), so that no timed step pays for the writeback of the one before it. */
export function flush(): void {
  ok('sync', timed('sync', []));
}
