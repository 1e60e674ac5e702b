import { posix } from 'node:path';
import type { TargetConfiguration } from '@nx/devkit';
import { DEFAULT_RELEASES_DIR } from '../config/files';
import type { ComposeModel } from '../config/load';
import type { Channel } from '../config/schema';
import { projectChannels, sigName, STEP_OUTPUT_ROOT } from '../layout/paths';

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
  const dir = releasesDirOfModel(model);
  return { runtime: `node tools/nx-releng/bin/releng-state.js ${step} ${model.project}${dir === DEFAULT_RELEASES_DIR ? '' : ` ${dir}`}` };
}

/** The release model dir a model was loaded from (the plugin's releasesDir option). */
function releasesDirOfModel(model: ComposeModel): string {
  return posix.dirname(model.files.common);
}

type TargetMetadata = NonNullable<TargetConfiguration['metadata']>;

/**
 * What Nx's project details view and editors show of a target: a one-line description, the programs it runs
 * (technologies, after 'rpm': what the project is), and for a target that takes options, how to list them.
 */
function targetMetadata(description: string, technologies: string[], help?: TargetMetadata['help']): TargetMetadata {
  return { description, technologies, ...(help ? { help } : {}) };
}

/** `help` of a target whose options a person types (--dryRun, --kind...): nx lists them from the executor schema. */
function optionsHelp(project: string, target: string, example: Record<string, unknown>): TargetMetadata['help'] {
  return { command: `npx nx run ${project}:${target} --help`, example: { options: example } };
}

/** The staging chain and the push, as target groups of the project details view. */
export const TARGET_GROUPS = { staging: 'Staging chain', push: 'Push to production' } as const;

/** The Nx configuration of each channel: the bash scripts' RLREL names (-c beta, -c lh). */
export const CHANNEL_CONFIGURATIONS: Record<Channel, string> = { stable: 'stable', beta: 'beta', lookahead: 'lh' };

/** Channels are Nx configurations, only those the release configures. */
function channelConfigurations(model: ComposeModel): Record<string, { channel: Channel }> {
  const configs: Record<string, { channel: Channel }> = {};
  for (const channel of projectChannels(model)) configs[CHANNEL_CONFIGURATIONS[channel]] = { channel };
  return configs;
}

function manifestOutput(step: string): string[] {
  return [`{workspaceRoot}/${STEP_OUTPUT_ROOT}/{projectName}/${step}`];
}

/** Hash a task after the tasks it depends on ran (Nx hashes runtime inputs up front otherwise). */
const AFTER_DEPENDENCIES = { dependentTasksOutputFiles: '**/manifest.json', transitive: false };

export function composeTargets(model: ComposeModel): Record<string, TargetConfiguration> {
  return model.compose.kind === 'sig' ? sigTargets(model, baseComposeTargets(model)) : baseComposeTargets(model);
}

/**
 * A SIG's targets differ from a base compose's in the staging chain: no updateinfo and no sign (the SIG scripts do
 * neither: SIG packages carry their SIG's signatures, errata are the distribution's, and the repodata is published
 * as the SIG compose made it), so verify follows sync-staging directly and checks what it can without a signature:
 * every file repomd.xml and primary name, and that dnf loads each repo. Verify still gates sync-prod.
 */
function sigTargets(model: ComposeModel, targets: Record<string, TargetConfiguration>): Record<string, TargetConfiguration> {
  const rest = { ...targets };
  delete rest['updateinfo'];
  delete rest['sign'];
  const sig = sigName(model);
  const stub = model.common.stubs.sig;
  return {
    ...rest,
    'sync-staging': {
      ...rest['sync-staging'],
      metadata: {
        ...rest['sync-staging']?.metadata,
        description:
          `rsync compose/${model.major}/${sig} of latest-${model.short}-${model.major} to ${stub}/${model.major}/${sig} in staging ` +
          `with delete (repodata as composed)`,
        technologies: ['rpm', 'rsync'],
      },
    },
    verify: {
      ...rest['verify'],
      // No repoclosure, so nothing of another project is read: no ^updateinfo.
      dependsOn: ['sync-staging'],
      metadata: targetMetadata(
        `Vet ${model.project} in staging: checksums of every file repomd.xml and primary name, dnf loads each repo (SIG repodata is not signed)`,
        ['rpm', 'dnf'],
      ),
    },
    'sync-prod': {
      ...rest['sync-prod'],
      metadata: {
        ...rest['sync-prod']?.metadata,
        description: `Copy verified ${stub}/${model.major}/${sig} from staging to production (packages first, repodata last, deletions after)`,
      },
    },
  };
}

function baseComposeTargets(model: ComposeModel): Record<string, TargetConfiguration> {
  const configurations = channelConfigurations(model);
  // sign is cached on what updateinfo produced (its manifest: which compose and sync, which updateinfo files), so
  // an unchanged repo skips it. What could change behind their back is caught by
  // verify, which hashes the content itself, and sync-prod takes nothing verify did not pass.
  const chainStep = (
    executor: string,
    dependsOn: string,
    metadata: TargetMetadata,
  ): TargetConfiguration => ({
    executor: `${PLUGIN_NAME}:${executor}`,
    dependsOn: [dependsOn],
    cache: true,
    inputs: [...baseInputs(model), AFTER_DEPENDENCIES],
    outputs: manifestOutput(executor),
    options: { channel: 'stable' },
    configurations,
    metadata,
  });
  return {
    refresh: {
      executor: `${PLUGIN_NAME}:refresh`,
      // Fetches the checkouts compose.json names from their git remotes: it always runs (never cached).
      cache: false,
      inputs: baseInputs(model),
      outputs: manifestOutput('refresh'),
      options: { channel: 'stable' },
      configurations,
      metadata: targetMetadata(
        `Bring the git checkouts ${model.project}'s compose reads to their branch (--offline: only check them)`,
        ['rpm', 'git'],
        optionsHelp(model.project, 'refresh', { offline: true }),
      ),
    },
    compose: {
      executor: `${PLUGIN_NAME}:compose`,
      // Hashed after refresh (AFTER_DEPENDENCIES), so the key sees the checkouts as refreshed; --offline and
      // --backend reach refresh too.
      dependsOn: [{ target: 'refresh', params: 'forward' }],
      // Skipped when nothing it is made from changed: the config layers here, and (runtime input, hashed once
      // per task, never in graph creation) each channel's pungi config, checkouts (HEAD and working tree), the
      // latest builds of every koji tag or the local RPMs, and whether the latest link still points at a finished
      // compose. --kind, --backend, --date and -c are options, which Nx hashes too. See lib/compose/compose-state.ts.
      cache: true,
      inputs: [...baseInputs(model), AFTER_DEPENDENCIES, stateInput('compose', model)],
      outputs: manifestOutput('compose'),
      options: { channel: 'stable' },
      configurations,
      metadata: targetMetadata(
        `Make a compose of ${model.short} ${model.major} (backend ${model.compose.backend}) and move latest-${model.short}-${model.major}`,
        model.compose.backend === 'pungi' ? ['rpm', 'pungi', 'koji'] : ['rpm', 'createrepo_c'],
        // A GA compose for the distribution; a SIG has no ISOs, so its typical option is the backend.
        optionsHelp(model.project, 'compose', model.compose.kind === 'base' ? { kind: 'produce' } : { backend: 'local' }),
      ),
    },
    'sync-staging': {
      executor: `${PLUGIN_NAME}:sync-staging`,
      // Deliberately no dependsOn compose: syncing never starts a compose; it syncs what the latest link points at.
      cache: true,
      inputs: [...baseInputs(model), stateInput('sync-staging', model)],
      outputs: manifestOutput('sync-staging'),
      options: { channel: 'stable' },
      // -c minor-release: the GA sync of a produce compose (ISOs, kickstart trees, .treeinfo, links), stable only;
      // the distribution's composes only (SIGs have no minor release of their own).
      configurations:
        model.compose.kind === 'base' ? { ...configurations, 'minor-release': { channel: 'stable', minorRelease: true } } : configurations,
      metadata: targetMetadata(
        `rsync latest-${model.short}-${model.major} into the staging revision dir and regenerate its repodata`,
        ['rpm', 'rsync', 'createrepo_c'],
        optionsHelp(model.project, 'sync-staging', { dryRun: true }),
      ),
    },
    // Never cached: Apollo publishes advisories after the packages, so every run asks it again (an unreachable
    // Apollo fails the run). Unchanged advisories write nothing, and its manifest (the compose and sync, and per os repo
    // the updateinfo file named by the advisories' digest) is then the same, so sign and verify are cache hits.
    updateinfo: {
      ...chainStep(
        'updateinfo',
        'sync-staging',
        targetMetadata(`Add the errata Apollo serves now to the ${model.project} os repos in staging (every run)`, ['rpm']),
      ),
      cache: false,
    },
    sign: chainStep('sign', 'updateinfo', targetMetadata(`Sign every repomd.xml of ${model.project} in staging`, ['rpm', 'gpg'])),
    verify: {
      executor: `${PLUGIN_NAME}:verify`,
      // ^updateinfo: repoclosure reads the repos of the composes this one depends on (the project graph's edges from
      // release.json repoclosure, plugin/dependencies.ts) in the same staging dir: their sync-staging makes them and
      // their updateinfo rewrites repomd.xml and deletes the old updateinfo file, so verify waits for both. Their
      // sign only adds repomd.xml.asc, which repoclosure does not read.
      dependsOn: ['sign', '^updateinfo'],
      // A pure check of exactly the content hashed below, so a cache hit is the same verdict.
      cache: true,
      inputs: [...baseInputs(model), AFTER_DEPENDENCIES, stateInput('verify', model)],
      outputs: manifestOutput('verify'),
      options: { channel: 'stable' },
      configurations,
      metadata: targetMetadata(`Vet ${model.project} in staging: checksums, signatures, repoclosure, dnf with repo_gpgcheck`, ['rpm', 'dnf', 'gpg']),
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
      metadata: targetMetadata(
        `Copy verified ${model.project} staging to production (packages first, repodata last, deletions after)`,
        ['rpm', 'rsync'],
        optionsHelp(model.project, 'sync-prod', { dryRun: true }),
      ),
    },
    housekeeping: {
      executor: `${PLUGIN_NAME}:housekeeping`,
      // Deletes from the compose root, outside the workspace: it always runs, and never after another step.
      cache: false,
      inputs: baseInputs(model),
      outputs: manifestOutput('housekeeping'),
      options: { channel: 'stable' },
      configurations,
      metadata: targetMetadata(
        `Remove ${model.project} composes older than ${model.common.housekeeping.keepDays} days from the compose root ` +
          `(never one a latest link points at or one matching a keep pattern)`,
        ['rpm', 'pungi'],
        optionsHelp(model.project, 'housekeeping', { dryRun: true }),
      ),
    },
    ...torrentsTarget(model, configurations),
  };
}

/**
 * Torrents of the release images (gen-torrents.sh) belong to the compose whose variants make ISOs (release.json
 * isoTypes: Rocky-8's BaseOS), when release.json configures them: the images are that compose's, and its
 * revision and arches name them.
 */
export function makesTorrents(model: ComposeModel): boolean {
  return !!model.release.torrents && model.compose.kind === 'base' && model.compose.variants.some((v) => model.release.isoTypes.includes(v));
}

function torrentsTarget(model: ComposeModel, configurations: Record<string, { channel: Channel }>): Record<string, TargetConfiguration> {
  if (!makesTorrents(model)) return {};
  return {
    torrents: {
      executor: `${PLUGIN_NAME}:torrents`,
      // Deliberately no dependsOn: it is run by hand after the minor release sync has put the ISOs into staging,
      // as the SOP runs gen-torrents; sync-staging does not bring ISOs, so depending on it would only start an
      // unrelated sync. It reads staging and writes outside the workspace, so it always runs (never cached); a
      // torrent that already exists is left alone.
      cache: false,
      inputs: baseInputs(model),
      outputs: manifestOutput('torrents'),
      options: { channel: 'stable' },
      configurations,
      metadata: targetMetadata(
        `Make a torrent of each ${model.major} release image set in staging isos/ (boot, minimal, dvd1, dvd per arch) ` +
          `into the watch dir of ${model.files.release}; existing torrents are left alone; stable only`,
        ['rpm', 'mktorrent'],
      ),
    },
  };
}

/** The production-wide project: the steps that run once, after every sync-prod in the run. */
export const MIRROR_PROJECT = 'mirror';

export function mirrorTargets(releasesDir: string): Record<string, TargetConfiguration> {
  const inputs = [
    `{workspaceRoot}/${releasesDir}/common.json`,
    `{workspaceRoot}/${releasesDir}/*/release.json`,
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
      metadata: targetMetadata('hardlink over the production trees, after every sync-prod of the run', ['mirror', 'hardlink']),
    },
    filelist: {
      executor: `${PLUGIN_NAME}:filelist`,
      dependsOn: ['hardlink'],
      cache: false,
      inputs,
      outputs: manifestOutput('filelist'),
      metadata: targetMetadata('Regenerate fullfilelist and fullfiletimelist-* once every production sync of the run is done', ['mirror']),
    },
    status: {
      executor: `${PLUGIN_NAME}:status`,
      cache: false,
      inputs,
      outputs: manifestOutput('status'),
      metadata: targetMetadata(
        'Write the release status page (dist/releng/mirror/status/index.html): latest, staging, verify and production ' +
          'compose of every repository, the last compose changes and the file lists',
        ['mirror'],
      ),
    },
  };
}

export function projectTags(model: ComposeModel): string[] {
  return ['type:compose', `major:${model.major}`, `kind:${model.compose.kind}`];
}
