import type { CreateNodes, CreateNodesResult } from '@nx/devkit';
import { COMMON_FILE, COMPOSE_GLOB } from '../config/files';
import type { ComposeModel } from '../config/load';
import { loadComposeModelsCached } from '../config/model-cache';
import { projectChannels } from '../layout/paths';
import { MIRROR_PROJECT, composeTargets, mirrorTargets, projectTags } from './targets';

/**
 * One Nx project per compose, inferred from releases/<major>/<Short>/compose.json, and the production-wide
 * project `mirror` from releases/common.json. Reads only the release model (no child processes, nothing under
 * /mnt), so graph creation stays fast and deterministic.
 */
export const PROJECT_FILES_GLOB = `{${COMMON_FILE},${COMPOSE_GLOB}}`;

function composeProject(model: ComposeModel): CreateNodesResult {
  return {
    projects: {
      [model.root]: {
        name: model.project,
        root: model.root,
        projectType: 'library',
        tags: projectTags(model),
        targets: composeTargets(model),
        metadata: {
          description: model.compose.description,
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

const mirrorProject: CreateNodesResult = {
  projects: {
    releases: {
      name: MIRROR_PROJECT,
      root: 'releases',
      projectType: 'library',
      tags: ['type:production'],
      targets: mirrorTargets(),
      metadata: { description: 'Production-wide steps that run once, after every production sync of the run' },
    },
  },
};

export const createNodes: CreateNodes = [
  PROJECT_FILES_GLOB,
  (files, _options, context) => {
    const composeFiles = files.filter((f) => f !== COMMON_FILE);
    const results = loadComposeModelsCached(context.workspaceRoot, composeFiles).map(
      (model) => [model.files.compose, composeProject(model)] as const,
    );
    return files.includes(COMMON_FILE) ? [[COMMON_FILE, mirrorProject] as const, ...results] : results;
  },
];
