import { lstat, readdir, readlink } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { RelengError } from '../../errors';

/**
 * The link policy: what a compose, staging or production tree may hold as symbolic links. A compose is input
 * the tool does not control; what it publishes must not reach out of the tree, and nothing the tool writes or
 * deletes may go through a link it did not make.
 * - A link must be relative and stay inside its tree: from the link's directory its target climbs with leading
 *   `..` only, never above the tree, then names (nfv -> NFV, Rocky-8-latest-x86_64-dvd.iso -> Rocky-8.10-x86_64-dvd1.iso).
 *   Absolute targets, `..` after a name and targets climbing out are refused.
 * - A directory of the layout must be a real directory, not a link, even one that stays inside: the subtrees
 *   the tool syncs (a variant, <Variant>/<arch>, metadata, isos), every directory on the way to a repository,
 *   the repository itself, and any repodata or Packages dir. rsync follows a source or destination dir given
 *   with a trailing slash, and createrepo, clearing old repodata and the tool's own writes would go through it.
 * Everything is seen as lstat sees it (readdir's entry types, lstat for the starting points), and checked before
 * anything is touched; each problem names the path.
 */

/** Dir names that are layout wherever they are: the tool reads, writes and deletes inside them. */
const LAYOUT_NAMES = new Set(['repodata', 'Packages']);

/** Why a link at `link` (absolute) with this target breaks the policy for `tree`; undefined when it is fine. */
export function linkTargetProblem(tree: string, link: string, target: string): string | undefined {
  if (target.startsWith('/')) return `${link} is a symbolic link to the absolute path ${target}, outside ${tree}`;
  const depth = relative(tree, dirname(link)).split('/').filter((s) => s !== '').length;
  let ups = 0;
  let named = false;
  for (const seg of target.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg !== '..') named = true;
    else if (named) return `${link} is a symbolic link to ${target}, which climbs back with '..' after a name`;
    else if (++ups > depth) return `${link} is a symbolic link to ${target}, which leaves ${tree}`;
  }
  return undefined;
}

type EntryType = 'link' | 'dir' | 'other';

/** What the policy needs to know of an entry, from lstat or from a readdir entry (both describe the entry itself). */
function entryType(e: { isSymbolicLink(): boolean; isDirectory(): boolean }): EntryType {
  return e.isSymbolicLink() ? 'link' : e.isDirectory() ? 'dir' : 'other';
}

/** An entry that is gone by the time it is read is skipped, as one lstat no longer finds. */
function ifGone(err: NodeJS.ErrnoException): undefined {
  if (err.code === 'ENOENT') return undefined;
  throw err;
}

/** Every directory on the way to each repository, and the repositories themselves (relative to the tree). */
export function layoutDirs(repos: readonly string[]): string[] {
  const dirs = new Set<string>();
  for (const repo of repos) {
    const parts = repo.split('/');
    for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs];
}

/**
 * The policy's problems in the given subtrees of a tree (missing subtrees are skipped): each subtree and each
 * `layout` dir (relative) must be a real directory, and every link below must pass linkTargetProblem; so must
 * every link at or below the top-level entries `others`.
 */
export async function treeLinkProblems(
  tree: string,
  subtrees: readonly string[],
  layout: readonly string[] = [],
  others: readonly string[] = [],
): Promise<string[]> {
  const problems: string[] = [];
  const mustBeDir = new Set([...subtrees, ...layout]);
  // `type` is what readdir's entry says (lstat's answer: node lstat's an entry the filesystem does not type), so
  // below the starting points a tree costs one readdir per directory, not one lstat per file.
  const visit = async (rel: string, name: string, type: EntryType | undefined): Promise<void> => {
    const path = join(tree, rel);
    if (type === 'link') {
      const target = await readlink(path).catch(ifGone);
      if (target === undefined) return;
      if (mustBeDir.has(rel) || LAYOUT_NAMES.has(name)) {
        problems.push(`${path} is a symbolic link (to ${target}) where the layout has a directory`);
      } else {
        const problem = linkTargetProblem(tree, path, target);
        if (problem) problems.push(problem);
      }
    } else if (type === 'dir') {
      const children = await readdir(path, { withFileTypes: true }).catch(ifGone);
      if (!children) return;
      children.sort((a, b) => (a.name < b.name ? -1 : 1)); // names are unique: the order of readdir(path).sort()
      for (const child of children) await visit(`${rel}/${child.name}`, child.name, entryType(child));
    }
  };
  const start = async (rel: string, name: string) => visit(rel, name, await lstat(join(tree, rel)).then(entryType, () => undefined));
  // Top-level entries that are no layout (a revision's images/, live/, files): any link there only stays inside.
  for (const name of [...others].sort()) await start(name, name);
  for (const sub of [...subtrees].sort()) {
    // lstat follows every component but the last: the dirs above a subtree are layout too.
    const parts = sub.split('/');
    let above: string | undefined;
    for (let i = 1; i < parts.length && !above; i++) {
      const rel = parts.slice(0, i).join('/');
      if ((await lstat(join(tree, rel)).catch(() => undefined))?.isSymbolicLink()) above = rel;
    }
    if (above === undefined) await start(sub, parts[parts.length - 1] as string);
    else if (!problems.some((p) => p.startsWith(`${join(tree, above)} `))) {
      problems.push(`${join(tree, above)} is a symbolic link (to ${await readlink(join(tree, above))}) where the layout has a directory`);
    }
  }
  return problems;
}

/**
 * A copy from one tree to another (staging to production): the source must publish nothing the policy refuses,
 * and the destination must have no link where the copy writes and deletes.
 */
export async function refuseLinksOnBothSides(
  project: string,
  from: string,
  to: string,
  subtrees: readonly string[],
  repos: readonly string[],
  /** Top-level entries that are no layout (the unclaimed content the revision's owner publishes). */
  others: readonly string[] = [],
): Promise<void> {
  await refuseLinks(`${project}: staging ${from}`, from, subtrees, layoutDirs(repos), others);
  await refuseLinks(`${project}: production ${to}`, to, subtrees, layoutDirs(repos), others);
}

/** treeLinkProblems as a refusal: `what` (e.g. "compose Rocky-8-...") and every problem, nothing changed. */
export async function refuseLinks(
  what: string,
  tree: string,
  subtrees: readonly string[],
  layout: readonly string[] = [],
  others: readonly string[] = [],
): Promise<void> {
  const problems = await treeLinkProblems(tree, subtrees, layout, others);
  if (problems.length === 0) return;
  const shown = problems.slice(0, 10).concat(problems.length > 10 ? [`... and ${problems.length - 10} more`] : []);
  throw new RelengError(
    `${what}: ${shown.join('\n  ')}\n` +
      'Refused by the link policy: a link must be relative and stay inside its tree, and never stand in for a ' +
      'directory of the layout (variant, arch, repository, repodata, Packages, metadata, isos); nothing was changed',
  );
}
