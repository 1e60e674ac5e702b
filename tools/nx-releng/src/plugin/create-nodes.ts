import type { CreateNodes, CreateNodesResult, TargetConfiguration } from '@nx/devkit';
import { commonFileOf } from '../config/files';
import type { ComposeModel } from '../config/load';
import { loadComposeModelsCached } from '../config/model-cache';
import { projectChannels } from '../layout/paths';
import { releasesDirOf, type RelengPluginOptions } from './options';
import { MIRROR_PROJECT, TARGET_GROUPS, composeTargets, mirrorTargets, projectTags } from './targets';

/**
 * One Nx project per compose, inferred from <releases dir>/<major>/<Short>/compose.json, and the production-wide
 * project `mirror` from <releases dir>/common.json; the dir is the plugin's releasesDir option (default releases).
 * Reads only the release model (no child processes, nothing under /mnt), so graph creation stays fast and
 * deterministic.
 *
 * The pattern is fixed before the options are known, so it takes every common.json and compose.json, and the
 * function keeps those of the model's dir.
 */
export const PROJECT_FILES_GLOB = '**/{common,compose}.json';

/** The compose files of the model in `dir`: exactly <dir>/<major>/<Short>/compose.json, as the loader expects. */
function isComposeFile(file: string, dir: string): boolean {
  return file.startsWith(`${dir}/`) && file.endsWith('/compose.json') && file.slice(dir.length + 1).split('/').length === 3;
}

/** The programs a project's targets run, once each, in target order. */
function technologiesOf(targets: Record<string, TargetConfiguration>): string[] {
  return [...new Set(Object.values(targets).flatMap((t) => (t.metadata?.technologies as string[] | undefined) ?? []))];
}

/** The groups of the project details view: the targets of each group the project has. */
function targetGroups(targets: Record<string, TargetConfiguration>, groups: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(groups).map(([name, members]) => [name, members.filter((t) => t in targets)]));
}

function composeProject(model: ComposeModel): CreateNodesResult {
  const targets = composeTargets(model);
  return {
    projects: {
      [model.root]: {
        name: model.project,
        root: model.root,
        projectType: 'library',
        tags: projectTags(model),
        targets,
        metadata: {
          // compose.json's description is optional; the project details view always has a line.
          description: model.compose.description ?? `The ${model.short} compose of major ${model.major} (${model.compose.kind})`,
          technologies: technologiesOf(targets),
          targetGroups: targetGroups(targets, {
            [TARGET_GROUPS.staging]: ['sync-staging', 'updateinfo', 'sign', 'verify'],
            [TARGET_GROUPS.push]: ['sync-prod'],
          }),
          releng: {
            major: model.major,
            short: model.short,
            kind: model.compose.kind,
            backend: model.compose.backend,
            channels: projectChannels(model),
          },
        },
      },
    },
  };
}

function mirrorProject(releasesDir: string): CreateNodesResult {
  const targets = mirrorTargets(releasesDir);
  return {
    projects: {
      [releasesDir]: {
        name: MIRROR_PROJECT,
        root: releasesDir,
        projectType: 'library',
        tags: ['type:production'],
        targets,
        metadata: {
          description: 'Production-wide steps that run once, after every production sync of the run',
          technologies: technologiesOf(targets),
          targetGroups: { [TARGET_GROUPS.push]: ['hardlink', 'filelist'] },
        },
      },
    },
  };
}

export const createNodes: CreateNodes<RelengPluginOptions> = [
  PROJECT_FILES_GLOB,
  (files, options, context) => {
    const dir = releasesDirOf(options);
    const commonFile = commonFileOf(dir);
    const composeFiles = files.filter((f) => isComposeFile(f, dir));
    if (!composeFiles.length && !files.includes(commonFile)) return [];
    const results = loadComposeModelsCached(context.workspaceRoot, composeFiles, dir).map(
      (model) => [model.files.compose, composeProject(model)] as const,
    );
    return files.includes(commonFile) ? [[commonFile, mirrorProject(dir)] as const, ...results] : results;
  },
];
