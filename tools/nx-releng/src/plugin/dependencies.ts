import { DependencyType, validateDependency, type CreateDependencies, type RawProjectGraphDependency } from '@nx/devkit';
import { commonFileOf, composeFilesIn } from '../config/files';
import type { ComposeModel } from '../config/load';
import { loadComposeModelsCached } from '../config/model-cache';
import { RelengError } from '../errors';
import { releasesDirOf, type RelengPluginOptions } from './options';
import { MIRROR_PROJECT } from './targets';

/** One project graph edge of the release model, with the file that says why (for error messages). */
export interface ReleaseEdge {
  source: string;
  target: string;
  why: string;
}

/**
 * The edges the release model implies, and no other:
 * - a base compose depends on each compose of its major that has a repository its repoclosure map (release.json
 *   `repoclosure`) needs: verify closes its repos over those (Extras-8 and Rocky-devel-8 on Rocky-8);
 * - `mirror` depends on every compose: its hardlink and file lists run after every compose's sync-prod and list
 *   every production tree (common.json fileLists).
 * A SIG has no repoclosure (its dependencies live in the distribution's repos, which verify does not close it
 * over), so nothing of the model ties it to a base compose: its only edge is mirror's.
 * A repository the map needs that no compose of the major has is an error naming release.json's field.
 */
export function releaseEdges(models: readonly ComposeModel[], commonFile: string): ReleaseEdge[] {
  const edges = new Map<string, ReleaseEdge>();
  const add = (edge: ReleaseEdge) => edges.set(`${edge.source} ${edge.target}`, edge);
  for (const model of models) {
    add({ source: MIRROR_PROJECT, target: model.project, why: commonFile });
    if (model.compose.kind !== 'base') continue;
    for (const variant of model.compose.variants) {
      for (const needed of model.release.repoclosure[variant] ?? []) {
        if (model.compose.variants.includes(needed)) continue;
        const providers = models.filter((m) => m.major === model.major && m.compose.kind === 'base' && m.compose.variants.includes(needed));
        if (!providers.length) {
          const composes = models.filter((m) => m.major === model.major).map((m) => m.project);
          throw new RelengError(
            `${model.files.release}: field repoclosure.${variant}: '${needed}' is needed by ${model.project} ` +
              `(variant '${variant}' of ${model.files.compose}), but no compose of major ${model.major} has it ` +
              `(composes: ${composes.join(', ')}); add a compose with variant '${needed}' or take it out of the map`,
          );
        }
        for (const p of providers) add({ source: model.project, target: p.project, why: model.files.compose });
      }
    }
  }
  return [...edges.values()].sort((a, b) => `${a.source} ${a.target}`.localeCompare(`${b.source} ${b.target}`));
}

/**
 * The release model's edges in the project graph (`nx graph`), checked against the projects Nx has: an edge
 * to a project that does not exist is an error (a compose left out by nx.json `include`/`exclude`, say), and
 * each edge passes Nx's own validateDependency.
 *
 * Implicit, not static: Nx keeps a static edge with the file it names and reuses it while that file is unchanged,
 * but these edges come from several files (a new SIG's compose.json adds mirror's edge to it, release.json's map
 * moves a compose's), so they are computed afresh each time the graph is.
 */
export const createDependencies: CreateDependencies<RelengPluginOptions> = (options, context) => {
  const dir = releasesDirOf(options);
  const models = loadComposeModelsCached(context.workspaceRoot, composeFilesIn(context.workspaceRoot, dir), dir);
  const edges = releaseEdges(models, commonFileOf(dir));
  return edges.filter((edge) => edge.source in context.projects).map((edge) => {
    if (!(edge.target in context.projects)) {
      throw new RelengError(`${edge.why}: ${edge.source} depends on ${edge.target}, which is not a project of this workspace`);
    }
    const dependency: RawProjectGraphDependency = { source: edge.source, target: edge.target, type: DependencyType.implicit };
    validateDependency(dependency, context);
    return dependency;
  });
};
