import type { CreateNodes, CreateNodesResult } from '@nx/devkit';
import { COMPOSE_GLOB, loadComposeModels } from '../config/load';
import { CHANNELS } from '../config/schema';
import { composeTargets, projectTags } from './targets';

/**
 * One Nx project per compose, inferred from releases/<major>/<Short>/compose.json. Reads only the release
 * model (no child processes, nothing under /mnt), so graph creation stays fast and deterministic.
 */
export const createNodes: CreateNodes = [
  COMPOSE_GLOB,
  (composeFiles, _options, context) => {
    const models = loadComposeModels(context.workspaceRoot, composeFiles);
    return models.map((model) => {
      const result: CreateNodesResult = {
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
                channels: CHANNELS.filter((c) => model.release.channels[c]),
              },
            },
          },
        },
      };
      return [model.files.compose, result] as const;
    });
  },
];
