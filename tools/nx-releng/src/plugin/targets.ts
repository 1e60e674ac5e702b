import type { TargetConfiguration } from '@nx/devkit';
import type { ComposeModel } from '../config/load';
import { CHANNELS, type Channel } from '../config/schema';

/**
 * The target factory: release model in, Nx targets out. Pure, so the graph is table-tested without Nx.
 */

export const PLUGIN_NAME = '@nx-releng/plugin';

/** The plugin's own code: a change to it must re-run every step it drives. */
export const PLUGIN_SOURCE_INPUTS = [
  '{workspaceRoot}/tools/nx-releng/src/**/*',
  '{workspaceRoot}/tools/nx-releng/bin/**/*',
  '{workspaceRoot}/tools/nx-releng/*.json',
];

/** The three config layers of one project. */
export function configInputs(model: ComposeModel): string[] {
  return [
    `{workspaceRoot}/${model.files.common}`,
    `{workspaceRoot}/${model.files.release}`,
    '{projectRoot}/**/*',
  ];
}

/** Inputs every releng target has: config, plugin code, the root redirection; never the npm lockfile. */
function baseInputs(model: ComposeModel) {
  return [...configInputs(model), ...PLUGIN_SOURCE_INPUTS, { env: 'RELENG_ROOT' }, { externalDependencies: [] }];
}

/**
 * Hashes what lives outside the workspace: the compose each latest link points at, and whether the
 * destination still matches what the last sync recorded (a nonce when it does not, so a destination changed
 * behind the tool's back is never a cache hit). See tools/nx-releng/src/lib/state.ts. For compose: what the
 * compose is made from (src/lib/compose-state.ts).
 */
export function stateInput(step: string, model: ComposeModel) {
  return { runtime: `node tools/nx-releng/bin/releng-state.js ${step} ${model.project}` };
}

/** Channels are Nx configurations (-c beta), only those the release configures. */
function channelConfigurations(model: ComposeModel): Record<string, { channel: Channel }> {
  const configs: Record<string, { channel: Channel }> = {};
  for (const channel of CHANNELS) {
    if (model.release.channels[channel]) configs[channel] = { channel };
  }
  return configs;
}

function manifestOutput(step: string): string[] {
  return [`{workspaceRoot}/dist/releng/{projectName}/${step}`];
}

/** Hash a task after the tasks it depends on ran (Nx hashes runtime inputs up front otherwise). */
const AFTER_DEPENDENCIES = { dependentTasksOutputFiles: '**/manifest.json', transitive: false };

export function composeTargets(model: ComposeModel): Record<string, TargetConfiguration> {
  const configurations = channelConfigurations(model);
  // updateinfo and sign are cached on what the step before them produced (its manifest: which compose, which
  // updateinfo files), so an unchanged repo skips them. What could change behind their back is caught by
  // verify, which hashes the content itself, and sync-prod takes nothing verify did not pass.
  const chainStep = (
    executor: string,
    dependsOn: string,
    description: string,
    extraInputs: TargetConfiguration['inputs'] = [],
  ): TargetConfiguration => ({
    executor: `${PLUGIN_NAME}:${executor}`,
    dependsOn: [dependsOn],
    cache: true,
    inputs: [...baseInputs(model), AFTER_DEPENDENCIES, ...extraInputs],
    outputs: manifestOutput(executor),
    options: { channel: 'stable' },
    configurations,
    metadata: { description },
  });
  return {
    compose: {
      executor: `${PLUGIN_NAME}:compose`,
      // Skipped when nothing it is made from changed: the config layers here, and (runtime input, hashed once
      // per task, never in graph creation) the pungi config, the koji tag's latest builds or the local RPMs, and
      // whether the latest link still points at a FINISHED compose. --kind, --backend, --date and -c are
      // options, which Nx hashes too. See src/lib/compose-state.ts.
      cache: true,
      inputs: [...baseInputs(model), stateInput('compose', model)],
      outputs: manifestOutput('compose'),
      options: { channel: 'stable' },
      configurations,
      metadata: {
        description: `Make a compose of ${model.short} ${model.major} (backend ${model.compose.backend}) and move latest-${model.short}-${model.major}`,
      },
    },
    'sync-staging': {
      executor: `${PLUGIN_NAME}:sync-staging`,
      // Deliberately no dependsOn compose: syncing never starts a compose; it syncs what the latest link points at.
      cache: true,
      inputs: [...baseInputs(model), stateInput('sync-staging', model)],
      outputs: manifestOutput('sync-staging'),
      options: { channel: 'stable' },
      configurations,
      metadata: {
        description: `rsync latest-${model.short}-${model.major} into the staging revision dir and regenerate its repodata`,
      },
    },
    updateinfo: chainStep(
      'updateinfo',
      'sync-staging',
      `Add errata to the ${model.project} os repos in staging (after each sync; --skip-nx-cache fetches them again)`,
      [{ env: 'RELENG_ERRATA_URL' }],
    ),
    sign: chainStep('sign', 'updateinfo', `Sign every repomd.xml of ${model.project} in staging`),
    verify: {
      executor: `${PLUGIN_NAME}:verify`,
      dependsOn: ['sign'],
      // A pure check of exactly the content hashed below, so a cache hit is the same verdict.
      cache: true,
      inputs: [...baseInputs(model), AFTER_DEPENDENCIES, stateInput('verify', model)],
      outputs: manifestOutput('verify'),
      options: { channel: 'stable' },
      configurations,
      metadata: { description: `Vet ${model.project} in staging: checksums, signatures, repoclosure, dnf with repo_gpgcheck` },
    },
    'sync-prod': {
      executor: `${PLUGIN_NAME}:sync-prod`,
      // Deliberately no dependsOn the staging chain: between staging and production people test, and a
      // production sync must never pull a newer compose through staging. The executor refuses staging that
      // does not carry a passing verify of exactly its current content, and skips what production already has.
      cache: false,
      inputs: baseInputs(model),
      outputs: manifestOutput('sync-prod'),
      options: { channel: 'stable' },
      configurations,
      metadata: { description: `Copy verified ${model.project} staging to production (packages first, repodata last, deletions after)` },
    },
    housekeeping: {
      executor: `${PLUGIN_NAME}:housekeeping`,
      // Deletes from the compose root, outside the workspace: it always runs, and never after another step.
      cache: false,
      inputs: baseInputs(model),
      outputs: manifestOutput('housekeeping'),
      options: { channel: 'stable' },
      configurations,
      metadata: {
        description:
          `Remove ${model.project} composes older than ${model.common.housekeeping.keepDays} days from the compose root ` +
          `(never one a latest link points at or one matching a keep pattern)`,
      },
    },
  };
}

/** The production-wide project: the steps that run once, after every sync-prod in the run. */
export const MIRROR_PROJECT = 'mirror';

export function mirrorTargets(): Record<string, TargetConfiguration> {
  const inputs = [
    '{workspaceRoot}/releases/common.json',
    '{workspaceRoot}/releases/*/release.json',
    ...PLUGIN_SOURCE_INPUTS,
    { env: 'RELENG_ROOT' },
    { externalDependencies: [] },
  ];
  return {
    hardlink: {
      executor: `${PLUGIN_NAME}:hardlink`,
      dependsOn: [{ projects: 'tag:type:compose', target: 'sync-prod' }],
      cache: false,
      inputs,
      outputs: manifestOutput('hardlink'),
      metadata: { description: 'hardlink over the production trees, after every sync-prod of the run' },
    },
    filelist: {
      executor: `${PLUGIN_NAME}:filelist`,
      dependsOn: ['hardlink'],
      cache: false,
      inputs,
      outputs: manifestOutput('filelist'),
      metadata: { description: 'Regenerate fullfilelist and fullfiletimelist-* once every production sync of the run is done' },
    },
    status: {
      executor: `${PLUGIN_NAME}:status`,
      cache: false,
      inputs,
      outputs: manifestOutput('status'),
      metadata: {
        description:
          'Write the release status page (dist/releng/mirror/status/index.html): latest, staging, verify and production ' +
          'compose of every repository, the last compose changes and the file lists',
      },
    },
  };
}

export function projectTags(model: ComposeModel): string[] {
  return ['type:compose', `major:${model.major}`, `kind:${model.compose.kind}`];
}
