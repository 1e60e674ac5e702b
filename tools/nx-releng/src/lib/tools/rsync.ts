import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { run } from './exec';
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
}

/** The argv of one sync, as the toolkit's `rsync -vrlptDSH[og] --chown=...` minus progress noise. */
export function rsyncArgs(o: RsyncOptions, isRoot: boolean): string[] {
  const args = ['-rlptDSH', '--stats'];
  if (o.chown && isRoot) args.push('-og', `--chown=${o.chown.uid}:${o.chown.gid}`);
  if (o.delete) args.push('--delete');
  if (o.delayUpdates) args.push('--delay-updates');
  if (o.noLinks) args.push('--no-links');
  if (o.linkDest) args.push(`--link-dest=${o.linkDest}`);
  if (o.dryRun) args.push('--dry-run', '--itemize-changes');
  for (const x of o.includes ?? []) args.push(`--include=${x}`);
  for (const x of o.excludes ?? []) args.push(`--exclude=${x}`);
  args.push(o.src.endsWith('/') ? o.src : `${o.src}/`, o.dest.endsWith('/') ? o.dest : `${o.dest}/`);
  return args;
}

export interface RsyncStats {
  filesTransferred: number;
  bytesTransferred: number;
  deleted: number;
  /** --itemize-changes lines of a dry run: what would change. */
  changes: string[];
}

function statNumber(out: string, label: string): number {
  const m = out.match(new RegExp(`^${label}: ([\\d,]+)`, 'm'));
  return m ? Number((m[1] as string).replace(/,/g, '')) : 0;
}

export function parseRsyncStats(stdout: string): RsyncStats {
  const changes = stdout
    .split('\n')
    .filter((l) => /^[<>ch.*][fdLDS*][^ ]* /.test(l) || l.startsWith('*deleting'))
    .filter((l) => !/^\.[fdLDS] {2,}/.test(l) && !/^\.d\.\.t\.\.\.\.\.\. \.\/$/.test(l));
  return {
    filesTransferred: statNumber(stdout, 'Number of regular files transferred'),
    bytesTransferred: statNumber(stdout, 'Total transferred file size'),
    deleted: statNumber(stdout, 'Number of deleted files'),
    changes,
  };
}

export async function rsync(o: RsyncOptions): Promise<RsyncStats> {
  // rsync creates only the last directory of the destination (--mkpath is too new for EL8's rsync 3.1).
  if (!o.dryRun) await mkdir(dirname(o.dest.replace(/\/+$/, '')), { recursive: true });
  const { stdout } = await run('rsync', rsyncArgs(o, runningAsRoot()));
  return parseRsyncStats(stdout);
}
