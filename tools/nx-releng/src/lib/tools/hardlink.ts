import { sameInode } from '../core/fs-checks';
import { run } from './exec';
import { splitsAt } from './rsync';

/**
 * util-linux hardlink as Rocky's perform_hardlink runs it: identical files share one inode, except the metadata
 * files that later steps rewrite in place (repodata xml, .treeinfo, .discinfo), which keep their own.
 */
const OWN_INODE = ['.*\\.xml.*', '.*\\.treeinfo', '.*\\.discinfo'];

export function hardlinkArgs(dirs: readonly string[], opts: { quiet?: boolean; verbose?: boolean } = {}): string[] {
  return [...(opts.quiet ? ['-q'] : []), ...(opts.verbose ? ['-v'] : []), ...OWN_INODE.flatMap((x) => ['-x', x]), ...dirs];
}

export interface HardlinkResult {
  /** Files linked, from hardlink's summary (0 when quiet, which prints none). */
  linked: number;
  /** With `listLinks`: both paths of every link made (each replaced file and the file it now shares an inode with). */
  paths: string[];
  /** Links it made that cannot be named path by path (a line that does not split one way only). */
  unsure: string[];
}

/**
 * The `Linking <a> to <b> (-<size>)` records of `hardlink -v` (2.38; printed before each link, names raw, so a
 * record may span lines) and the summary's count.
 */
export function parseHardlinkOutput(stdout: string): { linked: number; records: string[] } {
  const records = [...stdout.matchAll(/^Linking (\/[\s\S]*?) \(-[^()\n]*\)$/gm)].map((m) => m[1] as string);
  return { linked: Number(/^Linked:\s+(\d+)/m.exec(stdout)?.[1] ?? '0'), records };
}

/** The one cut of `<a> to <b>` whose two sides exist and share an inode (a name may hold ' to '). */
export async function splitHardlinkRecord(record: string): Promise<[string, string] | undefined> {
  const fits: Array<[string, string]> = [];
  for (const [a, b] of splitsAt(record, ' to ')) if (b.startsWith('/') && (await sameInode(a, b))) fits.push([a, b]);
  return fits.length === 1 ? fits[0] : undefined;
}

/** Runs hardlink over the dirs; with `listLinks`, also reports both paths of every link it made. */
export async function hardlink(dirs: readonly string[], opts: { quiet?: boolean; listLinks?: boolean } = {}): Promise<HardlinkResult> {
  // LC_ALL=C: the Linking lines and the summary are translated in other locales.
  const { stdout } = await run('hardlink', hardlinkArgs(dirs, { quiet: opts.quiet, verbose: opts.listLinks }), { env: { LC_ALL: 'C' } });
  const { linked, records } = parseHardlinkOutput(stdout);
  const result: HardlinkResult = { linked, paths: [], unsure: [] };
  if (!opts.listLinks) return result;
  for (const record of records) {
    const split = await splitHardlinkRecord(record);
    if (split) result.paths.push(...split);
    else result.unsure.push(`cannot tell the two names apart in hardlink's line: Linking ${record}`);
  }
  // Each link is printed before it is made; one that failed is in the records, not in the count.
  if (records.length !== linked) result.unsure.push(`hardlink printed ${records.length} link(s) but reports ${linked} linked`);
  return result;
}
