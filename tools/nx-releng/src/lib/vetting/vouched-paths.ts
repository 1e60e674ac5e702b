import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { exists } from '../core/fs-checks';
import { treeDigest } from '../core/tree-digest';
import type { RevisionLink } from '../staging/sync-record';

/**
 * Who publishes what of a staging revision dir, so that a push of every project makes production the whole vetted
 * revision. Each project publishes its top-level subtrees: the variant dirs of its repos, metadata/ (syncMetadata),
 * a minor release's isos/, and its linkRepos links. What no compose project of the revision claims (images/ that
 * the cloud import reads, live/, top-level files a release adds, and in production a tree staging no longer has)
 * belongs to the project carrying the release's first comps repo (BaseOS: Rocky-<major>, which lays down the
 * install tree): its verify vouches for it and its sync-prod publishes it and deletes what staging lost.
 */
export interface Vouched {
  /** Top-level subtrees of the project, published with their packages-then-repodata discipline. */
  subtrees: string[];
  /** Top-level entries no project claims, for their owner only: published as they are, then deleted when gone. */
  unclaimed: string[];
  links: RevisionLink[];
}

/**
 * The paths verify digests and sync-prod recomputes: verify, its runtime input, sync-prod and the status page
 * digest the same paths (the verify record keeps what was vouched for).
 */
export function vettedPaths(v: { subtrees: readonly string[]; unclaimed?: readonly string[]; links?: readonly RevisionLink[] }): string[] {
  return [...v.subtrees, ...(v.unclaimed ?? []), ...(v.links ?? []).map((l) => l.name)];
}

/** Whether this project owns the revision dir's unclaimed content. */
export function ownsUnclaimed(model: ComposeModel): boolean {
  const first = model.release.compsRepos[0];
  return model.compose.kind === 'base' && first !== undefined && model.compose.variants.includes(first);
}

/** The top-level names the compose projects of this model's revision dir claim (every base project of its major). */
export function revisionClaims(models: readonly ComposeModel[], model: ComposeModel): string[] {
  const claims = new Set(['isos', ...Object.values(model.release.linkRepos)]);
  for (const m of models) {
    if (m.compose.kind !== 'base' || m.major !== model.major) continue;
    for (const v of m.compose.variants) claims.add(v);
    if (m.compose.syncMetadata) claims.add('metadata');
  }
  return [...claims].sort();
}

/** What the project's verify vouches for and its sync-prod publishes, as staging holds it now. */
export async function vouchedPaths(
  model: ComposeModel,
  claims: readonly string[],
  revisionDir: string,
  rec: { repos: readonly string[]; extraSubtrees?: readonly string[]; links?: readonly RevisionLink[] },
): Promise<Vouched> {
  const subtrees = new Set([...rec.repos.map((r) => r.split('/')[0] as string), ...(rec.extraSubtrees ?? [])]);
  if (model.compose.syncMetadata && (await exists(join(revisionDir, 'metadata')))) subtrees.add('metadata');
  const unclaimed = ownsUnclaimed(model)
    ? (await readdir(revisionDir).catch(() => [] as string[])).filter((n) => !claims.includes(n)).sort()
    : [];
  return { subtrees: [...subtrees].sort(), unclaimed, links: [...(rec.links ?? [])] };
}

/**
 * The digest verify records of what it vouched for, and each path's own, so that a refusal names what changed.
 * One walk of each path (lib/core/tree-digest.ts), the whole digest made of theirs.
 */
export function vouchedDigest(revisionDir: string, paths: readonly string[]): { digest: string; byPath: Record<string, string> } {
  const byPath: Record<string, string> = {};
  const h = createHash('sha256');
  for (const p of [...paths].sort()) {
    byPath[p] = treeDigest(revisionDir, [p]);
    h.update(`${p} ${byPath[p]}\n`);
  }
  return { digest: h.digest('hex'), byPath };
}
