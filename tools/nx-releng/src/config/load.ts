import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { z } from 'zod';
import { RelengError } from '../errors';
import { channelPungi, pungiField } from './pungi-settings';
import { DEFAULT_RELEASES_DIR, commonFileOf, composeFilesOf, composeGlobOf } from './files';
import {
  CHANNELS,
  SAFE_NAME,
  SIG_PREFIX,
  type Channel,
  commonSchema,
  composeSchema,
  releaseSchema,
  type CommonConfig,
  type ComposeConfig,
  type ReleaseConfig,
} from './schema';

/** The merged, validated model of one compose project: the only configuration executors read. */
export interface ComposeModel {
  /** Nx project name, as pungi's latest link: Rocky-8, Extras-8, SIG-kernel-8. */
  project: string;
  major: string;
  short: string;
  /** Workspace-relative project root, e.g. releases/8/Rocky. */
  root: string;
  /** Workspace-relative paths of the three layers, for inputs and error messages. */
  files: { common: string; release: string; compose: string };
  common: CommonConfig;
  release: ReleaseConfig;
  compose: ComposeConfig;
}

export { DEFAULT_RELEASES_DIR, commonFileOf, composeGlobOf };

export function describeIssue(issue: z.core.$ZodIssue): string {
  const field = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  return `field ${field}: ${issue.message}`;
}

/** Validates one layer; the error names the file, each bad field and what is allowed. */
export function parseLayer<S extends z.ZodType>(schema: S, file: string, raw: unknown): z.infer<S> {
  const res = schema.safeParse(raw);
  if (!res.success) {
    throw new RelengError(`${file}: invalid configuration\n  ${res.error.issues.map(describeIssue).join('\n  ')}`);
  }
  return res.data;
}

/** The parsed JSON of a layer file; an unreadable or invalid file is an error naming it. */
export function readJson(workspaceRoot: string, file: string): unknown {
  let text: string;
  try {
    text = readFileSync(join(workspaceRoot, file), 'utf8');
  } catch (err) {
    throw new RelengError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RelengError(`${file}: is not valid JSON (${(err as Error).message})`);
  }
}

/** Splits <dir>/<major>/<Short>/compose.json, rejecting names that could escape their directory. */
export function parseComposePath(composeFile: string, dir = DEFAULT_RELEASES_DIR): { major: string; short: string } {
  const parts = composeFile.startsWith(`${dir}/`) ? composeFile.slice(dir.length + 1).split('/') : [];
  if (parts.length !== 3 || parts[2] !== 'compose.json') {
    throw new RelengError(`${composeFile}: compose files must be at ${dir}/<major>/<Short>/compose.json`);
  }
  const [major, short] = parts as [string, string, string];
  if (!/^\d+$/.test(major)) {
    throw new RelengError(`${composeFile}: the major directory '${major}' must be a number, e.g. ${dir}/8`);
  }
  if (!SAFE_NAME.test(short) || short.includes('..')) {
    throw new RelengError(
      `${composeFile}: the compose directory '${short}' must be a plain name (letters, digits, . _ + -)`,
    );
  }
  return { major, short };
}

/** Checks inside release.json that span its own lists (and its directory): names must agree. */
function checkRelease(major: string, releaseFile: string, release: ReleaseConfig): void {
  if (release.revision.split('.')[0] !== major) {
    throw new RelengError(
      `${releaseFile}: field revision: '${release.revision}' does not belong to major ${major} (its directory)`,
    );
  }
  const known = new Set([...release.compsRepos, ...release.plainRepos]);
  for (const [repo, deps] of Object.entries(release.repoclosure)) {
    for (const [i, dep] of deps.entries()) {
      if (!known.has(dep)) {
        throw new RelengError(`${releaseFile}: field repoclosure.${repo}.${i}: unknown repository '${dep}'`);
      }
    }
  }
  for (const [tree, added] of Object.entries(release.treeinfoVariants)) {
    for (const [i, repo] of [tree, ...added].entries()) {
      if (!release.compsRepos.includes(repo)) {
        const field = i === 0 ? `treeinfoVariants.${tree}` : `treeinfoVariants.${tree}.${i - 1}`;
        throw new RelengError(
          `${releaseFile}: field ${field}: '${repo}' is not a comps repository; ` +
            `a .treeinfo names os and kickstart trees, which only compsRepos have (${release.compsRepos.join(', ')})`,
        );
      }
    }
  }
  for (const [i, repo] of release.modularRepos.entries()) {
    if (!known.has(repo)) {
      throw new RelengError(
        `${releaseFile}: field modularRepos.${i}: unknown repository '${repo}'; ` +
          `it must also be listed in compsRepos or plainRepos`,
      );
    }
  }
}

/** Checks that span layers: names in compose.json and release.json must agree. */
function checkCrossLayer(model: ComposeModel): void {
  const { release, compose, files } = model;
  if (compose.backend === 'pungi' && !compose.pungi) {
    throw new RelengError(
      `${files.compose}: field pungi: required when backend is "pungi"; ` +
        `give at least the pungi-koji config, e.g. "pungi": { "config": "/etc/pungi-prod/r8.conf" } ` +
        `(or set "backend": "local")`,
    );
  }
  checkPungiChannels(model);
  if (compose.kind === 'sig' || model.short.startsWith(SIG_PREFIX)) {
    checkSig(model);
    return;
  }
  const known = new Set([...release.compsRepos, ...release.plainRepos]);
  for (const [i, variant] of compose.variants.entries()) {
    if (!known.has(variant)) {
      throw new RelengError(
        `${files.compose}: field variants.${i}: unknown repository '${variant}'; ` +
          `allowed (compsRepos and plainRepos of ${files.release}): ${[...known].join(', ')}`,
      );
    }
  }
  for (const [i, variant] of compose.variants.entries()) {
    if (!release.repoclosure[variant]) {
      throw new RelengError(
        `${files.release}: field repoclosure: no entry for '${variant}' (variants.${i} of ${files.compose}); ` +
          `list the repositories its dependencies may come from, e.g. "${variant}": ["BaseOS"]`,
      );
    }
  }
}

/** Channel blocks only for channels release.json configures; each pungi config inside its checkout. */
function checkPungiChannels(model: ComposeModel): void {
  const { release, compose, files } = model;
  for (const channel of Object.keys(compose.channels ?? {}) as Channel[]) {
    if (!release.channels[channel]) {
      throw new RelengError(
        `${files.compose}: field channels.${channel}: channel '${channel}' is not configured in ${files.release} ` +
          `(configured: ${Object.keys(release.channels).join(', ')})`,
      );
    }
  }
  for (const channel of CHANNELS) {
    const pungi = channelPungi(model, channel);
    const dir = pungi?.checkout?.dir;
    if (pungi && dir && !pungi.config.startsWith(`${dir.replace(/\/+$/, '')}/`)) {
      throw new RelengError(
        `${files.compose}: field ${pungiField(channel)}.config: ${pungi.config} is not inside the checkout ` +
          `${pungiField(channel)}.checkout.dir ${dir}; the config and every file it imports come from that checkout`,
      );
    }
  }
}

/**
 * A SIG compose: its directory is SIG-<name> (the latest link is latest-SIG-<name>-<major>, the compose and mirror
 * dirs are <major>/<name>), and its variants are the SIG's own repositories (compose/<major>/<name>/<arch>/<repo>),
 * not repositories of release.json: adding a SIG is adding its compose.json alone.
 */
function checkSig(model: ComposeModel): void {
  const { compose, files, short } = model;
  if (compose.kind !== 'sig') {
    throw new RelengError(
      `${files.compose}: field kind: '${compose.kind}', but a compose directory named SIG-* is a SIG; set "kind": "sig" ` +
        `or rename the directory`,
    );
  }
  if (!/^SIG-[A-Za-z0-9][A-Za-z0-9._+-]*$/.test(short)) {
    throw new RelengError(
      `${files.compose}: a SIG compose (kind sig) must be in a directory named SIG-<name>, e.g. releases/${model.major}/SIG-cloud ` +
        `(its latest link is latest-SIG-<name>-${model.major}); got '${short}'`,
    );
  }
  for (const [i, repo] of compose.variants.entries()) {
    if (repo.endsWith('-debug') && compose.variants.includes(repo.slice(0, -'-debug'.length))) {
      throw new RelengError(
        `${files.compose}: field variants.${i}: '${repo}' is the debug tree of '${repo.slice(0, -'-debug'.length)}' ` +
          `(<arch>/<repo>-debug); list only the repository`,
      );
    }
  }
  if (compose.channels) {
    throw new RelengError(`${files.compose}: field channels: a SIG has only the stable channel; remove it`);
  }
  if (compose.syncMetadata) {
    throw new RelengError(`${files.compose}: field syncMetadata: a SIG compose has no compose metadata to stage; remove it`);
  }
}

/** Where the layers' parsed JSON comes from: the disk for the graph and executors, a virtual tree for generators. */
export type LayerReader = (file: string) => unknown;

/** Path of the release layer of a major. */
export function releaseFileOf(major: string, dir = DEFAULT_RELEASES_DIR): string {
  return `${dir}/${major}/release.json`;
}

/** Validates release.json of a major on its own (schema and its internal checks), as the loader does. */
export function parseRelease(major: string, raw: unknown, dir = DEFAULT_RELEASES_DIR): ReleaseConfig {
  const releaseFile = releaseFileOf(major, dir);
  const release = parseLayer(releaseSchema, releaseFile, raw);
  checkRelease(major, releaseFile, release);
  return release;
}

/**
 * The one validation path of the release model: validates the models of the given compose files
 * (workspace-relative) from already-parsed JSON that `read` returns. Shared layers are read once. Throws on
 * the first invalid file: no target may run on a half-valid model.
 */
export function validateComposeModels(
  read: LayerReader,
  composeFiles: readonly string[],
  dir = DEFAULT_RELEASES_DIR,
): ComposeModel[] {
  const commonFile = commonFileOf(dir);
  const common = parseLayer(commonSchema, commonFile, read(commonFile));
  const releases = new Map<string, ReleaseConfig>();
  return [...composeFiles].sort().map((composeFile) => {
    const { major, short } = parseComposePath(composeFile, dir);
    const releaseFile = releaseFileOf(major, dir);
    let release = releases.get(major);
    if (!release) {
      release = parseRelease(major, read(releaseFile), dir);
      releases.set(major, release);
    }
    const compose = parseLayer(composeSchema, composeFile, read(composeFile));
    const model: ComposeModel = {
      project: `${short}-${major}`,
      major,
      short,
      root: posix.dirname(composeFile),
      files: { common: commonFile, release: releaseFile, compose: composeFile },
      common,
      release,
      compose,
    };
    checkCrossLayer(model);
    return model;
  });
}

/** Loads and validates the models of the given compose files (workspace-relative) from the disk. */
export function loadComposeModels(workspaceRoot: string, composeFiles: readonly string[], dir = DEFAULT_RELEASES_DIR): ComposeModel[] {
  return validateComposeModels((file) => readJson(workspaceRoot, file), composeFiles, dir);
}

/** Loads every compose of the model in `dir` (the production-wide steps span them all). */
export function loadAllComposeModels(workspaceRoot: string, dir = DEFAULT_RELEASES_DIR): ComposeModel[] {
  return loadComposeModels(workspaceRoot, composeFilesOf(workspaceRoot, dir), dir);
}

/** Loads the model of one project from its root (<releases dir>/<major>/<Short>), as executors do. */
export function loadComposeModel(workspaceRoot: string, projectRoot: string): ComposeModel {
  const [model] = loadComposeModels(workspaceRoot, [`${projectRoot}/compose.json`], posix.dirname(posix.dirname(projectRoot)));
  return model as ComposeModel;
}
