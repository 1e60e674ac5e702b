import { run } from './exec';

/**
 * util-linux hardlink as Rocky's perform_hardlink runs it: identical files share one inode, except the metadata
 * files that later steps rewrite in place (repodata xml, .treeinfo, .discinfo), which keep their own.
 */
const OWN_INODE = ['.*\\.xml.*', '.*\\.treeinfo', '.*\\.discinfo'];

export function hardlinkArgs(dirs: readonly string[], opts: { quiet?: boolean } = {}): string[] {
  return [...(opts.quiet ? ['-q'] : []), ...OWN_INODE.flatMap((x) => ['-x', x]), ...dirs];
}

/** Runs hardlink over the dirs; returns how many files it linked (0 when quiet, which prints no summary). */
export async function hardlink(dirs: readonly string[], opts: { quiet?: boolean } = {}): Promise<number> {
  const { stdout } = await run('hardlink', hardlinkArgs(dirs, opts));
  return Number(/Linked:\s+(\d+)/.exec(stdout)?.[1] ?? '0');
}
