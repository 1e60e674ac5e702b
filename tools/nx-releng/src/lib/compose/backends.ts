/**
 * The compose backends, one function per backend and compose kind (base or SIG), picked from a table so the
 * executor has one call and a new backend is one row.
 */
import { type ComposeModel } from '../../config/load';
import { channelPungi } from '../../config/pungi-settings';
import type { ComposeConfig, ComposeKind } from '../../config/schema';
import { RelengError } from '../../errors';
import { sigName, type ChannelRelease, type ComposePaths } from '../../layout/paths';
import type { Log } from '../core/log';
import { createLocalCompose } from './local-compose';
import { createLocalSigCompose } from './local-sig-compose';
import { composeLabel, planPungiRun, runPungi } from './pungi';

export interface BackendRun {
  model: ComposeModel;
  kind: ComposeKind;
  channel: ChannelRelease;
  paths: ComposePaths;
  relengRoot?: string;
  allowIncomplete: boolean;
  /** YYYYMMDD from the CLI (local backend only; pungi dates its composes itself). */
  date?: string | number;
  log: Log;
}

export interface MadeCompose {
  composeId: string;
  composeDir: string;
  status: string;
  /** The latest link when it points at this compose. */
  latestLink?: string;
  /** pungi-koji's argv, for the manifest. */
  argv?: string[];
}

export type ComposeBackend = (r: BackendRun) => Promise<MadeCompose>;

const pungiCompose: ComposeBackend = async ({ model, kind, channel, paths, relengRoot, allowIncomplete, log }) => {
  const plan = planPungiRun({ model, channel, paths, kind, relengRoot });
  log.info(`${model.project}: pungi ${kind} compose with ${plan.config} into ${paths.composeRoot}`);
  return runPungi(plan, { latestLink: paths.latestLink, allowIncomplete, log });
};

const localBaseCompose: ComposeBackend = async ({ model, kind, channel, paths, date, log }) => {
  log.info(`${model.project}: local ${kind} compose from ${paths.localSource} into ${paths.composeRoot}`);
  return createLocalCompose({
    targetDir: paths.composeRoot,
    srcDir: paths.localSource,
    releaseName: model.common.distro.name,
    short: model.short,
    version: channel.revision,
    releaseType: kind === 'produce' ? 'ga' : 'updates',
    // The label the channel's pungi block gives (the stable one where a channel has none: the local backend reads no config).
    label: composeLabel(channelPungi(model, channel.channel) ?? model.compose.pungi, kind, channel.revision) ?? undefined,
    variants: model.compose.variants,
    arches: model.release.arches,
    date: composeDate(date),
    latestLinkName: latestLinkName(paths),
    // A produce compose makes the ISOs of release.json's isoTypes, as pungi's createiso does.
    isoTypes: kind === 'produce' ? model.release.isoTypes : undefined,
  });
};

/** The empanadas layout compose/<major>/<sig>/<arch>/<repo> (lib/compose/local-sig-compose.ts). */
const localSigCompose: ComposeBackend = async ({ model, kind, channel, paths, date, log }) => {
  if (kind !== 'update') {
    throw new RelengError(`${model.project}: a SIG compose is an update of its repositories; --kind=${kind} is for base composes`);
  }
  log.info(`${model.project}: local SIG compose from ${paths.localSource} into ${paths.composeRoot} (compose/${model.major}/${sigName(model)})`);
  return createLocalSigCompose({
    targetDir: paths.composeRoot,
    srcDir: paths.localSource,
    short: model.short,
    sig: sigName(model),
    major: model.major,
    version: channel.revision,
    repos: model.compose.variants,
    arches: model.release.arches,
    date: composeDate(date),
    latestLinkName: latestLinkName(paths),
  });
};

const BACKENDS: Record<ComposeConfig['backend'], Record<ComposeConfig['kind'], ComposeBackend>> = {
  pungi: { base: pungiCompose, sig: pungiCompose },
  local: { base: localBaseCompose, sig: localSigCompose },
};

export function composeBackend(backend: ComposeConfig['backend'], kind: ComposeConfig['kind']): ComposeBackend {
  return BACKENDS[backend][kind];
}

function latestLinkName(paths: ComposePaths): string {
  return paths.latestLink.split('/').pop() as string;
}

/** YYYYMMDD from the CLI, where nx turns 20241115 into a number. */
function composeDate(date: string | number | undefined): string | undefined {
  if (date === undefined) return undefined;
  const text = String(date);
  if (!/^\d{8}$/.test(text)) throw new RelengError(`--date must be YYYYMMDD, got '${text}'`);
  return text;
}
