import { posix } from 'node:path';
import type { ComposeModel } from '../config/load';
import { CHANNELS, SIG_PREFIX, type Channel } from '../config/constants';
import type { CommonConfig, ErrataConfig, ReleaseConfig, SigningConfig } from '../config/schema';
import { RelengError } from '../errors';

/**
 * Every path the pipeline touches, derived from the release model. Pure: no I/O, no environment reads
 * (callers pass RELENG_ROOT in), so the whole module is table-tested.
 */

export interface Roots {
  compose: string;
  staging: string;
  production: string;
  koji: string;
  moduleMetadata: string;
}

/** Re-roots an absolute configured path under RELENG_ROOT (sandbox, tests): /mnt/compose -> $R/mnt/compose. */
export function reRoot(path: string, relengRoot: string | undefined): string {
  if (!relengRoot) return path;
  if (!relengRoot.startsWith('/')) throw new RelengError(`RELENG_ROOT must be an absolute path, got '${relengRoot}'`);
  return posix.join(relengRoot, path);
}

export function resolveRoots(common: CommonConfig, release: ReleaseConfig, relengRoot?: string): Roots {
  return {
    compose: reRoot(common.roots.compose, relengRoot),
    staging: reRoot(common.roots.staging, relengRoot),
    production: reRoot(common.roots.production, relengRoot),
    koji: reRoot(common.roots.koji, relengRoot),
    moduleMetadata: reRoot(release.moduleMetadataDir, relengRoot),
  };
}

export interface ChannelRelease {
  channel: Channel;
  /** 8.10 */
  revision: string;
  /** -RC2, -BETA, -LookAhead */
  suffix: string;
  /** '' for stable, -BETA / -LookAhead for the other compose roots */
  composeSuffix: string;
}

export function channelRelease(release: ReleaseConfig, channel: Channel, releaseFile = 'release.json'): ChannelRelease {
  const conf = release.channels[channel];
  if (!conf) {
    const known = Object.keys(release.channels).join(', ');
    throw new RelengError(`${releaseFile}: channel '${channel}' is not configured (configured: ${known})`);
  }
  return {
    channel,
    revision: conf.revision ?? release.revision,
    suffix: conf.suffix,
    composeSuffix: conf.composeSuffix,
  };
}

/** The major of a revision, without the bash scripts' single-character slicing (8.10, 10.1). */
export function majorOf(revision: string): string {
  return revision.split('.')[0] as string;
}

/** The production directory name of a staging revision dir: the channel suffix dropped (8.10-RC2 -> 8.10). */
export function productionRevisionName(stagingRevisionName: string): string {
  return stagingRevisionName.replace(/-.*$/, '');
}

export interface ComposePaths {
  /** /mnt/compose/8 or /mnt/compose/8-BETA: pungi's --target-dir */
  composeRoot: string;
  /** /mnt/compose/8/latest-Rocky-8 */
  latestLink: string;
  /** Input of the local backend: <koji>/local/<major>/<Short>/<Variant>/*.rpm */
  localSource: string;
}

export function composePaths(model: ComposeModel, ch: ChannelRelease, roots: Roots): ComposePaths {
  if (model.compose.kind === 'sig') sigMajorDir(model, ch); // refuses a channel SIGs do not have
  const composeRoot = posix.join(roots.compose, `${model.major}${ch.composeSuffix}`);
  return {
    composeRoot,
    latestLink: posix.join(composeRoot, `latest-${model.short}-${model.major}`),
    localSource: posix.join(roots.koji, 'local', model.major, model.short),
  };
}

export interface StagingPaths {
  /** 8.10-RC2; for a SIG the major (its repos live in <sig stub>/<major>/<sig>) */
  revisionName: string;
  /** /mnt/repos-staging/mirror/pub/rocky */
  categoryDir: string;
  /** /mnt/repos-staging/mirror/pub/rocky/8.10-RC2 */
  revisionDir: string;
  /** One lock per staging revision dir, kept outside the published tree. */
  lockFile: string;
  /** What the last successful sync of this project wrote, kept outside the published tree. */
  syncRecord: string;
  /** Where a sync builds the project's new subtrees before swapping them in (same filesystem as staging). */
  workDir: string;
  /** What the last passing verify of this project saw: the gate sync-prod checks. */
  verifyRecord: string;
  /** Beta and lookahead: the category link to the revision dir (8-BETA -> 8.10-BETA); none for stable. */
  channelLink?: string;
}

/** The tool's own state under the staging root (locks, records, work copies), never inside a published tree. */
export function stateDir(roots: Pick<Roots, 'staging'>): string {
  return posix.join(roots.staging, '.releng');
}

function slug(stub: string): string {
  return stub.replace(/\//g, '_');
}

export function stagingPaths(model: ComposeModel, ch: ChannelRelease, roots: Roots): StagingPaths {
  const stub = model.compose.kind === 'sig' ? model.common.stubs.sig : model.common.stubs.category;
  const revisionName = model.compose.kind === 'sig' ? sigMajorDir(model, ch) : `${ch.revision}${ch.suffix}`;
  const categoryDir = posix.join(roots.staging, stub);
  const state = stateDir(roots);
  return {
    revisionName,
    categoryDir,
    revisionDir: posix.join(categoryDir, revisionName),
    lockFile: posix.join(state, 'locks', `${slug(stub)}--${revisionName}.lock`),
    syncRecord: posix.join(state, 'state', slug(stub), revisionName, `${model.project}.sync-staging.json`),
    workDir: posix.join(state, 'work', slug(stub), revisionName, model.project),
    verifyRecord: posix.join(state, 'state', slug(stub), revisionName, `${model.project}.verify.json`),
    channelLink: ch.channel === 'stable' ? undefined : posix.join(categoryDir, `${model.major}${ch.suffix}`),
  };
}

export interface ProductionPaths {
  /** 8.10; for a SIG the major */
  revisionName: string;
  categoryDir: string;
  /** /mnt/repos-production/mirror/pub/rocky/8.10 */
  revisionDir: string;
  /**
   * Lock and record of production syncs. Everything under the production root is published to mirrors, so
   * they live beside the staging state instead.
   */
  lockFile: string;
  syncRecord: string;
  /**
   * What this project's last push left in production that vetted staging no longer holds: deleted by
   * mirror:filelist once the lists no longer name it (lib/production/pending-deletions.ts).
   */
  pendingDeletions: string;
}

export function productionPaths(model: ComposeModel, ch: ChannelRelease, roots: Roots): ProductionPaths {
  const stub = model.compose.kind === 'sig' ? model.common.stubs.sig : model.common.stubs.category;
  const revisionName =
    model.compose.kind === 'sig' ? sigMajorDir(model, ch) : productionRevisionName(`${ch.revision}${ch.suffix}`);
  const categoryDir = posix.join(roots.production, stub);
  const state = productionStateDir(roots);
  return {
    revisionName,
    categoryDir,
    revisionDir: posix.join(categoryDir, revisionName),
    lockFile: posix.join(state, 'locks', `${slug(stub)}--${revisionName}.lock`),
    syncRecord: posix.join(state, 'state', slug(stub), revisionName, `${model.project}.sync-prod.json`),
    pendingDeletions: posix.join(state, 'state', slug(stub), revisionName, `${model.project}.pending-deletions.json`),
  };
}

/** The repositories of one variant in a compose or staging tree, relative to its top. */
export interface RepoDir {
  variant: string;
  /** x86_64, aarch64, or 'source' */
  arch: string;
  /** kickstart: the frozen copy of a comps repo's os tree a minor release makes (never regenerated). */
  kind: 'os' | 'debug' | 'source' | 'kickstart';
  /** BaseOS/x86_64/os, BaseOS/x86_64/debug/tree, BaseOS/source/tree, BaseOS/x86_64/kickstart */
  path: string;
}

/** Compose- and staging-relative repo trees, as pungi lays them out (pungi/paths.py). */
export const repoTree = {
  os: (variant: string, arch: string) => `${variant}/${arch}/os`,
  debug: (variant: string, arch: string) => `${variant}/${arch}/debug/tree`,
  source: (variant: string) => `${variant}/source/tree`,
};

export function repoDirs(variant: string, arches: readonly string[]): RepoDir[] {
  const dirs: RepoDir[] = [];
  for (const arch of arches) {
    dirs.push({ variant, arch, kind: 'os', path: repoTree.os(variant, arch) });
    dirs.push({ variant, arch, kind: 'debug', path: repoTree.debug(variant, arch) });
  }
  dirs.push({ variant, arch: 'source', kind: 'source', path: repoTree.source(variant) });
  return dirs;
}

/** The comps file pungi leaves in the compose's work dir, which Rocky's sync reuses as --groupfile. */
export function compsFile(composeDir: string, variant: string, arch: string): string {
  return posix.join(composeDir, 'work', arch, 'comps', `comps-${variant}.${arch}.xml`);
}

/** The hand-maintained modules.yaml of a modular repo (rocky-module-metadata). */
export function moduleYaml(roots: Roots, arch: string, repo: string): string {
  return posix.join(roots.moduleMetadata, arch, `${repo}-modules.yaml`);
}

export type SignerConfig =
  | {
      type: 'gpg';
      /** Key id, fingerprint or user id of the secret key. */
      keyId: string;
      /** GnuPG home holding the secret key. */
      homedir: string;
      /** File whose first line is the passphrase (omit for an unprotected key). */
      passphraseFile?: string;
      /** Exported public key (armoured or binary) to verify with; default: the homedir keyring. */
      publicKey?: string;
    }
  | {
      type: 'command';
      /** argv; the path of repomd.xml is appended. */
      command: string[];
      /** Exported public key to verify with (this or homedir is required). */
      publicKey?: string;
      /** GnuPG home whose public keyring verifies the signature. */
      homedir?: string;
      /** When set, the signature must be made by this key. */
      keyId?: string;
    };

/** The signer with its key and program paths re-rooted like every other configured path. */
export function resolveSigner(signing: SigningConfig, relengRoot?: string): SignerConfig {
  if (signing.type === 'gpg') {
    return {
      type: 'gpg',
      keyId: signing.keyId,
      homedir: reRoot(signing.homedir, relengRoot),
      passphraseFile: signing.passphraseFile && reRoot(signing.passphraseFile, relengRoot),
      publicKey: reRoot(signing.publicKey, relengRoot),
    };
  }
  const [program, ...args] = signing.command as [string, ...string[]];
  return { type: 'command', command: [reRoot(program, relengRoot), ...args], publicKey: reRoot(signing.publicKey, relengRoot) };
}

/**
 * Where advisories come from.
 * - http: `<baseUrl>/<productSlug>/<major>/<repo>/updateinfo.xml?arch=<arch>` (Apollo v3,
 *   e.g. baseUrl `https://apollo.build.resf.org/api/v3/updateinfo`, productSlug `rocky-linux`).
 * - dir: `<path>/<repo>/<arch>/updateinfo.xml` (a local mirror of the same, or hand-made errata).
 */
export type AdvisorySource = (
  | { type: 'http'; baseUrl: string; productSlug: string; minorVersion?: string | number; timeoutMs?: number }
  | { type: 'dir'; path: string }
) & {
  /** The largest advisory document accepted (release.json errata.maxBytes). */
  maxBytes?: number;
};

/** Where advisories come from; RELENG_ERRATA_URL points the http source elsewhere (a test server, a mirror). */
export function resolveErrataSource(errata: ErrataConfig, relengRoot?: string, errataUrl?: string): AdvisorySource {
  const source = errata.source;
  const { maxBytes } = errata;
  if (source.type === 'dir') return { type: 'dir', path: reRoot(source.path, relengRoot), maxBytes };
  return { type: 'http', baseUrl: errataUrl || source.baseUrl, productSlug: source.productSlug, maxBytes };
}

/** The repo of a staging repo path, and its arch: BaseOS/x86_64/os -> BaseOS, x86_64, os. */
export function parseRepoPath(path: string): RepoDir {
  const parts = path.split('/');
  const [variant, arch, kind] = parts as [string, string, string];
  if (arch === 'source') return { variant, arch, kind: 'source', path };
  return { variant, arch, kind: kind === 'debug' ? 'debug' : kind === 'kickstart' ? 'kickstart' : 'os', path };
}

/*
 * SIG composes (kind sig). A SIG compose is laid out the empanadas way, compose/<major>/<sig>/<arch>/<repo>,
 * <arch>/<repo>-debug and source/<repo>, and published as <stub>/<major>/<sig>/ in staging and production, with no
 * revision dir (sync-to-staging-sig.sh, sync-to-prod-sig.sh). Its "revision dir" is therefore <stub>/<major>, the
 * dir its repo paths are relative to (cloud/x86_64/cloud-common), and the SIG's own subtree is <sig>.
 */


/** The SIG's name, as in compose/<major>/<sig> and mirror/pub/sig/<major>/<sig>: SIG-cloud -> cloud. */
export function sigName(model: Pick<ComposeModel, 'short'>): string {
  return model.short.startsWith(SIG_PREFIX) ? model.short.slice(SIG_PREFIX.length) : model.short;
}

/** The channels a project runs on: a SIG has only stable (the SIG scripts know no beta or lookahead). */
export function projectChannels(model: ComposeModel): Channel[] {
  return CHANNELS.filter((c) => model.release.channels[c] && (model.compose.kind !== 'sig' || c === 'stable'));
}

function sigMajorDir(model: ComposeModel, ch: ChannelRelease): string {
  if (ch.channel !== 'stable') {
    throw new RelengError(
      `${model.project}: SIG composes have only the stable channel (mirror/pub/sig/<major>/<sig> has no ${ch.channel} tree); ` +
        `refusing channel ${ch.channel}`,
    );
  }
  return model.major;
}

/** Where a SIG repo sits below the SIG dir: os repos in <arch>/<repo>, debug in <arch>/<repo>-debug, source/<repo>. */
export function sigRepoDirs(sig: string, repo: string, arches: readonly string[]): RepoDir[] {
  const dirs: RepoDir[] = [];
  for (const arch of arches) {
    dirs.push({ variant: repo, arch, kind: 'os', path: `${sig}/${arch}/${repo}` });
    dirs.push({ variant: repo, arch, kind: 'debug', path: `${sig}/${arch}/${repo}-debug` });
  }
  dirs.push({ variant: repo, arch: 'source', kind: 'source', path: `${sig}/source/${repo}` });
  return dirs;
}

/** A SIG repo path as recorded (cloud/x86_64/cloud-common-debug) back to its repo, arch and kind. */
export function parseSigRepoPath(path: string, repos: readonly string[]): RepoDir {
  const [, arch, dir] = path.split('/') as [string, string, string];
  if (arch === 'source') return { variant: dir, arch, kind: 'source', path };
  const debugOf = dir.endsWith('-debug') ? dir.slice(0, -'-debug'.length) : undefined;
  // A repo may itself end in -debug; it is a debug tree only when its base name is a configured repo and it is not.
  if (debugOf !== undefined && repos.includes(debugOf) && !repos.includes(dir)) return { variant: debugOf, arch, kind: 'debug', path };
  return { variant: dir, arch, kind: 'os', path };
}

/** A recorded repo path of this project, base or SIG layout. */
export function projectRepoPath(model: ComposeModel, path: string): RepoDir {
  return model.compose.kind === 'sig' ? parseSigRepoPath(path, model.compose.variants) : parseRepoPath(path);
}

/** State of the production-wide steps, beside the staging state: everything under the production root is published. */
export function productionStateDir(roots: Pick<Roots, 'staging'>): string {
  return posix.join(stateDir(roots), 'production');
}

/** The production-wide steps' own locks and scratch space. */
export function mirrorStatePaths(roots: Pick<Roots, 'staging'>) {
  return {
    /** One lock for every file-list run. */
    fileListLock: posix.join(productionStateDir(roots), 'locks', 'filelists.lock'),
    /** Where new lists are written before they are renamed into place (same filesystem as production). */
    fileListScratch: productionStateDir(roots),
    /** What every production writer changed since the lists were written (production/change-journal.ts). */
    changeJournalDir: posix.join(productionStateDir(roots), 'journal'),
    /** What the last file lists were made from, so the next can be updated instead of walked (mirror/filelist-update.ts). */
    fileListStateDir: posix.join(productionStateDir(roots), 'filelist-state'),
    /** One lock for every torrents run of the host, as gen-torrents' /tmp/gen-torrents.lock. */
    torrentsLock: posix.join(stateDir(roots), 'locks', 'torrents.lock'),
  };
}

/** The directory of one configured mirror file-list root ('.' is the production root itself). */
export function fileListDir(roots: Pick<Roots, 'production'>, listRoot: string): string {
  return listRoot === '.' ? roots.production : posix.join(roots.production, listRoot);
}

/** Housekeeping's lock and trash, inside the compose root it cleans (the projects sharing a root take turns). */
export function housekeepingPaths(composeRoot: string) {
  const dir = posix.join(composeRoot, '.releng-housekeeping');
  return { stateDir: dir, lockFile: posix.join(dir, 'housekeeping.lock'), trashDir: posix.join(dir, 'trash') };
}

/** pungi-koji's own output for one run (hours of it: kept on disk, not in memory), beside the composes it made. */
export function pungiLogFile(composeRoot: string, startedAt: Date): string {
  return posix.join(composeRoot, '.releng-logs', `pungi-koji-${startedAt.toISOString().replace(/[:.]/g, '-')}.log`);
}

/** Where targets keep their declared outputs (manifests, reports), relative to the workspace root. */
export const STEP_OUTPUT_ROOT = 'dist/releng';

/** A target's declared output dir: <workspace>/dist/releng/<project>/<step>. */
export function stepOutputDir(workspaceRoot: string, project: string, step: string): string {
  return posix.join(workspaceRoot, STEP_OUTPUT_ROOT, project, step);
}

/** Where compose's runtime input leaves its reasons for the executor (beside, not inside, the target's outputs). */
export function composeInputNotePath(workspaceRoot: string, project: string): string {
  return posix.join(workspaceRoot, STEP_OUTPUT_ROOT, project, 'compose-input.json');
}

/** One lock per git checkout a compose reads, so the composes that share it never refresh it at once. */
export function checkoutLockPath(roots: Pick<Roots, 'staging'>, checkoutDir: string): string {
  return posix.join(stateDir(roots), 'locks', `checkout--${slug(checkoutDir.replace(/^\/+/, ''))}.lock`);
}
