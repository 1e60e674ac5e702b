import { mkdir, readlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from './exec';
import { sameInode } from '../core/fs-checks';
import { runningAsRoot } from '../core/links';

/** Installer pieces an update sync must never copy over the GA install tree (sync/common rsync_no_delete_staging_pungi). */
export const STAGING_EXCLUDES = [
  'ppc',
  'images',
  'boot',
  '.discinfo',
  '.treeinfo',
  'EFI',
  'isolinux',
  'media.repo',
  'EULA',
  'LICENSE',
  'COMMUNITY-CHARTER',
  'extra_files.json',
  'Minimal',
  'Cloud',
] as const;

export interface RsyncOptions {
  src: string;
  dest: string;
  /** rsync filter rules in order: includes first, then excludes (rsync's first match wins). */
  includes?: readonly string[];
  excludes?: readonly string[];
  delete?: boolean;
  /** Put all updated files into place at the end of the transfer, in one quick series of renames. */
  delayUpdates?: boolean;
  /** Skip symbolic links (--no-links): copy the files they name first, the links in a later pass. */
  noLinks?: boolean;
  /** Hard-link files that are unchanged against this directory (absolute) instead of copying them. */
  linkDest?: string;
  /** uid:gid to give the copies; only honoured when running as root (rsync -o/-g need it). */
  chown?: { uid: number; gid: number };
  dryRun?: boolean;
  /**
   * Report every path the run changed (--itemize-changes; dry runs always itemize): what a production writer
   * records in the change journal (production/change-journal.ts).
   */
  itemize?: boolean;
}

/** The argv of one sync, as the toolkit's `rsync -vrlptDSH[og] --chown=...` minus progress noise. */
export function rsyncArgs(o: RsyncOptions, isRoot: boolean): string[] {
  const args = ['-rlptDSH', '--stats'];
  if (o.chown && isRoot) args.push('-og', `--chown=${o.chown.uid}:${o.chown.gid}`);
  if (o.delete) args.push('--delete');
  if (o.delayUpdates) args.push('--delay-updates');
  if (o.noLinks) args.push('--no-links');
  if (o.linkDest) args.push(`--link-dest=${o.linkDest}`);
  if (o.dryRun) args.push('--dry-run');
  if (o.dryRun || o.itemize) args.push('--itemize-changes');
  for (const x of o.includes ?? []) args.push(`--include=${x}`);
  for (const x of o.excludes ?? []) args.push(`--exclude=${x}`);
  args.push(o.src.endsWith('/') ? o.src : `${o.src}/`, o.dest.endsWith('/') ? o.dest : `${o.dest}/`);
  return args;
}

export interface RsyncStats {
  filesTransferred: number;
  bytesTransferred: number;
  deleted: number;
  /** --itemize-changes lines (dry runs, itemized runs): what would change, or what changed. */
  changes: string[];
  /** What an itemized real run changed, as absolute paths; undefined for other runs. */
  changed?: ChangedPaths;
}

export interface ChangedPaths {
  paths: string[];
  /** Changes the run made that cannot be named path by path (a name that is not UTF-8, an ambiguous link line). */
  unsure: string[];
}

/** One --itemize-changes line: what rsync did (or would do) to one entry of the transfer. */
export interface ItemizedChange {
  line: string;
  deleting: boolean;
  /** f file, d directory, L symbolic link, D device, S special file ('' for a deletion). */
  type: string;
  /** A hard link (`hf... name => other`), whose other name is also changed (its link count). */
  hardLink: boolean;
  /**
   * The ways to read the line's text as [name, other] (relative to the transfer root, escapes decoded, no trailing
   * slash): `other` is a symlink's target or a hard link's other name. More than one only when a name holds the
   * arrow (' -> ', ' => '); none when a name is not UTF-8 (then `unsure` says so).
   */
  splits: Array<[string, string?]>;
  unsure?: string;
}

// rsync 3.1+ (EL8 has 3.1.3): an 11-character change code, or '*deleting' padded to 11, then a space and the name.
const ITEMIZED = /^([<>ch.*][fdLDS][^\n]{9}) (.*)$/;
const DELETING = /^\*deleting {3}(.*)$/;

/**
 * rsync escapes a byte it will not print (a control character, a non-UTF-8 byte, a backslash before `#ddd`) as
 * `\#ooo` (octal). Returns the name, or undefined when its bytes are not UTF-8 text (no string names that path).
 */
export function decodeRsyncName(text: string): string | undefined {
  if (text.includes('\uFFFD')) return undefined; // raw bytes that were not UTF-8, replaced as stdout was read
  if (!text.includes('\\#')) return text;
  const bytes: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const m = raw[i] === 0x5c && /^#[0-7]{3}$/.test(raw.subarray(i + 1, i + 5).toString('latin1'));
    if (m) {
      bytes.push(parseInt(raw.subarray(i + 2, i + 5).toString('latin1'), 8));
      i += 4;
    } else {
      bytes.push(raw[i] as number);
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}

/** Every way to cut `text` at `arrow` into two names. */
export function splitsAt(text: string, arrow: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = text.indexOf(arrow); i >= 0; i = text.indexOf(arrow, i + 1)) out.push([text.slice(0, i), text.slice(i + arrow.length)]);
  return out;
}

/** Parses one line of rsync's output as an itemized change; undefined for any other line (stats, messages). */
export function parseItemizedLine(line: string): ItemizedChange | undefined {
  const del = DELETING.exec(line);
  const item = del ? undefined : ITEMIZED.exec(line);
  if (!del && !item) return undefined;
  const code = item?.[1] ?? '';
  const text = (del?.[1] ?? item?.[2]) as string;
  const type = del ? '' : (code[1] as string);
  const hardLink = code[0] === 'h';
  const arrow = hardLink ? ' => ' : type === 'L' ? ' -> ' : undefined;
  const raw: Array<[string, string?]> = arrow && text.includes(arrow) ? splitsAt(text, arrow) : [[text]];
  const splits: Array<[string, string?]> = [];
  for (const [name, other] of raw) {
    const n = decodeRsyncName(name.replace(/\/$/, ''));
    const o = other === undefined ? undefined : decodeRsyncName(other);
    if (n !== undefined && (other === undefined || o !== undefined)) splits.push(other === undefined ? [n] : [n, o]);
  }
  const unsure = splits.length ? undefined : `rsync named a path that is not UTF-8 text: ${line}`;
  return { line, deleting: Boolean(del), type, hardLink, splits, unsure };
}

/** Lines of entries rsync only lists (`.f` or `.d` with no change letter), and the transfer root's own time. */
function unchanged(line: string): boolean {
  return /^\.[fdLDS] {2,}/.test(line) || /^\.d\.\.t\.\.\.\.\.\. \.\/$/.test(line);
}

function statNumber(out: string, label: string): number {
  const m = out.match(new RegExp(`^${label}: ([\\d,]+)`, 'm'));
  return m ? Number((m[1] as string).replace(/,/g, '')) : 0;
}

export function parseRsyncStats(stdout: string): RsyncStats {
  const changes = stdout.split('\n').filter((l) => parseItemizedLine(l) !== undefined && !unchanged(l));
  return {
    filesTransferred: statNumber(stdout, 'Number of regular files transferred'),
    bytesTransferred: statNumber(stdout, 'Total transferred file size'),
    deleted: statNumber(stdout, 'Number of deleted files'),
    changes,
  };
}

/**
 * The one reading of a line that the destination bears out, when a name holds the arrow: the symlink that points
 * at the rest, or the two names of one inode.
 */
async function settleSplit(dest: string, c: ItemizedChange): Promise<[string, string?] | undefined> {
  if (c.splits.length === 1) return c.splits[0];
  const fits: Array<[string, string?]> = [];
  for (const [name, other = ''] of c.splits) {
    const abs = join(dest, name);
    // readlink answers only for a symbolic link.
    const fit = c.hardLink ? await sameInode(abs, join(dest, other)) : (await readlink(abs).catch(() => undefined)) === other;
    if (fit) fits.push([name, other]);
  }
  return fits.length === 1 ? fits[0] : undefined;
}

/**
 * The absolute paths an itemized real run into `dest` changed: each itemized entry (a hard link's both names, a
 * symlink's own name), the transfer root itself (rsync names it './'), and with --delay-updates the dir of each
 * updated file (rsync made and removed its .~tmp~ there).
 */
export async function changedPaths(dest: string, changes: readonly string[], delayUpdates = false): Promise<ChangedPaths> {
  const root = dest.replace(/\/+$/, '');
  const paths = new Set<string>([root]);
  const unsure: string[] = [];
  for (const line of changes) {
    const c = parseItemizedLine(line);
    if (!c) continue;
    const split = c.unsure ? undefined : await settleSplit(root, c);
    if (!split) {
      unsure.push(c.unsure ?? `cannot tell the names apart in rsync's line: ${line}`);
      continue;
    }
    const [name, other] = split;
    const abs = join(root, name);
    paths.add(abs);
    if (c.hardLink && other !== undefined) paths.add(join(root, other));
    if (delayUpdates && c.type === 'f' && !c.deleting) paths.add(dirname(abs));
  }
  return { paths: [...paths], unsure };
}

/** The directories `mkdir -p dir` made: from the first one it created down to dir. */
async function mkdirs(dir: string): Promise<string[]> {
  const first = await mkdir(dir, { recursive: true });
  if (first === undefined) return [];
  const made = [dir];
  while (made[0] !== first && dirname(made[0] as string) !== made[0]) made.unshift(dirname(made[0] as string));
  return made;
}

export async function rsync(o: RsyncOptions): Promise<RsyncStats> {
  // rsync creates only the last directory of the destination (--mkpath is too new for EL8's rsync 3.1).
  const made = o.dryRun ? [] : await mkdirs(dirname(o.dest.replace(/\/+$/, '')));
  const { stdout } = await run('rsync', rsyncArgs(o, runningAsRoot()));
  const stats = parseRsyncStats(stdout);
  if (o.itemize && !o.dryRun) {
    const changed = await changedPaths(o.dest, stats.changes, o.delayUpdates);
    stats.changed = { paths: [...made, ...changed.paths], unsure: changed.unsure };
  }
  return stats;
}
