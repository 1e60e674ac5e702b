/**
 * The pungi backend of `compose`: pungi-koji with an argv built from the release model (never a shell string),
 * as pungi-rocky's produce-8.sh and updates-8*.sh call it (shared/reference/pungi-compose.md §1.3, §4, §8),
 * then the checks pungi's exit code does not make: which compose it made, its STATUS, and where the latest
 * link points.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type ComposeModel } from '../../config/load';
import { channelPungi, pungiField } from '../../config/pungi-settings';
import {
  LABEL_NAMES,
  PUNGI_PHASES,
  type Channel,
  type ComposeKind,
  type PungiConfig,
  type PungiPhase,
} from '../../config/schema';
import { pungiLogFile, reRoot, type ChannelRelease, type ComposePaths } from '../../layout/paths';
import { inspectLatestLink } from './compose-ref';
import { RelengError, errorMessage } from '../../errors';
import { run } from '../tools/exec';
import type { Log } from '../core/log';

/** productmd.composeinfo.verify_label: <Name>-<x.y>, so RC-8.10 passes and RC-8 does not. */
const LABEL_RE = new RegExp(`^(${LABEL_NAMES.join('|')})-\\d+\\.\\d+$`);

/** Throws like pungi-koji does (before it creates anything) on a label productmd would refuse. */
export function verifyLabel(label: string): void {
  if (!LABEL_RE.test(label)) {
    throw new RelengError(
      `Label in unknown format: ${label} (pungi accepts <Name>-<major>.<minor> with Name one of ${LABEL_NAMES.join(', ')}; e.g. RC-8.10)`,
    );
  }
}

/**
 * pungi.checks.check_skip_phases and argparse's choices: unknown names, and a phase skipped while the phase
 * that needs it runs (pkgset is needed by gather, gather by createrepo).
 */
export function checkSkipPhases(phases: readonly string[]): void {
  for (const p of phases) {
    if (!(PUNGI_PHASES as readonly string[]).includes(p)) {
      throw new RelengError(`unknown pungi phase '${p}' in --skip-phase; allowed: ${PUNGI_PHASES.join(', ')}`);
    }
  }
  const seen = new Set<string>();
  for (const p of phases) {
    if (seen.has(p)) throw new RelengError(`pungi phase '${p}' is skipped twice`);
    seen.add(p);
  }
  const neededBy: Record<string, string> = { pkgset: 'gather', gather: 'createrepo' };
  for (const [phase, by] of Object.entries(neededBy)) {
    if (seen.has(phase) && !seen.has(by)) {
      throw new RelengError(`${phase} phase is skipped but it's needed by ${by} phase (skip ${by} too)`);
    }
  }
}

/**
 * The label of a compose of this kind: <name>-<revision> from the pungi block, null for --no-label. Without a
 * pungi block (local backend) the SOP's defaults: produce RC-<revision>, update no label.
 */
export function composeLabel(pungi: PungiConfig | undefined, kind: ComposeKind, revision: string): string | null {
  const name = pungi ? pungi.label[kind] : kind === 'produce' ? 'RC' : false;
  return name === false ? null : `${name}-${revision}`;
}

/** Everything pungi-koji's argv is made of, resolved from the model (pure data, for tests and the manifest). */
export interface PungiPlan {
  kind: ComposeKind;
  /** Absolute pungi config (re-rooted like every configured path). */
  config: string;
  /** The compose root for the major and channel: --target-dir. */
  targetDir: string;
  oldComposes: string[];
  skipPhases: PungiPhase[];
  composeType: 'production' | 'nightly' | 'test';
  /** RC-8.10, or null for --no-label. */
  label: string | null;
  latestLink: boolean;
  latestLinkStatus?: 'FINISHED';
  /** The compose.json the settings come from, and the channel whose block they are, for error messages. */
  source: string;
  channel: Channel;
}

/**
 * The SOP's two compose kinds from compose.json's pungi block: produce (full, ISOs; nothing skipped, label
 * RC-<revision>, no old composes) and update (ISO phases skipped, --old-composes=<compose root>).
 */
export function planPungiRun(o: {
  model: ComposeModel;
  channel: ChannelRelease;
  paths: ComposePaths;
  kind: ComposeKind;
  relengRoot?: string;
}): PungiPlan {
  const { model, kind } = o;
  const pungi = channelPungi(model, o.channel.channel);
  if (!pungi) {
    throw new RelengError(
      `${model.files.compose}: field ${pungiField(o.channel.channel)}: required for a pungi compose of channel ${o.channel.channel} ` +
        `(each channel composes with its own pungi config; the stable one is never used for another channel)`,
    );
  }
  const oldComposes =
    kind === 'update' && pungi.oldComposes
      ? [o.paths.composeRoot, ...pungi.extraOldComposes.map((d) => reRoot(d, o.relengRoot))]
      : [];
  return {
    kind,
    config: reRoot(pungi.config, o.relengRoot),
    targetDir: o.paths.composeRoot,
    oldComposes,
    skipPhases: [...pungi.skipPhases[kind]],
    composeType: pungi.composeType,
    label: composeLabel(pungi, kind, o.channel.revision),
    latestLink: pungi.latestLink,
    latestLinkStatus: pungi.latestLinkStatus,
    source: model.files.compose,
    channel: o.channel.channel,
  };
}

/** pungi-koji's argv (without the program), validated the way pungi-koji validates it. */
export function pungiArgs(plan: PungiPlan): string[] {
  const paths: Array<[string, string]> = [
    ['config', plan.config],
    ['target dir', plan.targetDir],
    ...plan.oldComposes.map((d): [string, string] => ['old composes dir', d]),
  ];
  for (const [what, p] of paths) {
    if (!p.startsWith('/')) throw new RelengError(`pungi ${what} must be an absolute path, got '${p}'`);
  }
  checkSkipPhases(plan.skipPhases);
  if (plan.label !== null) verifyLabel(plan.label);
  const args = [`--config=${plan.config}`, `--target-dir=${plan.targetDir}`];
  for (const d of plan.oldComposes) args.push(`--old-composes=${d}`);
  for (const p of plan.skipPhases) args.push('--skip-phase', p);
  args.push(`--${plan.composeType}`);
  if (plan.label === null) args.push('--no-label');
  else args.push('--label', plan.label);
  if (!plan.latestLink) args.push('--no-latest-link');
  else if (plan.latestLinkStatus) args.push('--latest-link-status', plan.latestLinkStatus);
  args.push('--print-output-dir');
  return args;
}

/** The compose dir pungi-koji announces with --print-output-dir ("Compose dir: <path>"), the last one printed. */
export function parseComposeDir(stdout: string): string | undefined {
  const found = [...stdout.matchAll(/^Compose dir: (\/.*?)\s*$/gm)];
  return found.length ? (found[found.length - 1]?.[1] as string) : undefined;
}

export const PUNGI_LOG = 'logs/global/pungi.global.log';

/** The last lines of the compose's global log, for failure messages. */
export async function logTail(composeDir: string, lines = 20): Promise<string> {
  const file = join(composeDir, PUNGI_LOG);
  try {
    const text = (await readFile(file, 'utf8')).trimEnd();
    if (!text) return `(${file} is empty)`;
    return `last ${lines} lines of ${file}:\n${text.split('\n').slice(-lines).join('\n')}`;
  } catch (err) {
    return `(no log: ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)})`;
  }
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function requireDir(dir: string, what: string): Promise<void> {
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
  } catch (err) {
    throw new RelengError(`${what} ${dir} does not exist or is not a directory (${errorMessage(err)})`);
  }
}

export interface PungiResult {
  composeId: string;
  composeDir: string;
  status: 'FINISHED' | 'FINISHED_INCOMPLETE';
  /** The latest link when it points at this compose; undefined when the run was told not to move it. */
  latestLink?: string;
  argv: string[];
}

/**
 * Runs pungi-koji (output streamed), then requires what a usable compose is: the dir it announced (or the
 * latest link, moved), STATUS FINISHED (FINISHED_INCOMPLETE when allowed), and the latest link at it. Any
 * failure names the status and the tail of logs/global/pungi.global.log.
 */
export async function runPungi(
  plan: PungiPlan,
  o: { latestLink: string; allowIncomplete: boolean; log: Log },
): Promise<PungiResult> {
  const argv = pungiArgs(plan);
  await requireDir(plan.targetDir, 'compose target dir (pungi-koji --target-dir)');
  try {
    if (!(await stat(plan.config)).isFile()) throw new Error('not a file');
  } catch (err) {
    throw new RelengError(`${plan.source}: field pungi.config: pungi config ${plan.config} cannot be read (${errorMessage(err)})`);
  }
  const before = await inspectLatestLink(o.latestLink);
  o.log.info(`pungi-koji ${argv.join(' ')}`);
  const res = await run('pungi-koji', argv, { stream: { log: pungiLogFile(plan.targetDir, new Date()) }, allowFailure: true });

  let composeDir = parseComposeDir(res.stdout);
  if (!composeDir) {
    // No "Compose dir:" line (an old pungi, or output lost): the latest link tells, if it moved.
    const after = await inspectLatestLink(o.latestLink);
    if (after.composeDir && after.composeDir !== before.composeDir) composeDir = after.composeDir;
  }
  const status = composeDir ? await readTrimmed(join(composeDir, 'STATUS')) : undefined;

  if (res.exitCode !== 0) {
    if (!composeDir) {
      const detail = (res.stderr || res.stdout).trimEnd().split('\n').slice(-20).join('\n');
      throw new RelengError(`pungi-koji failed with exit code ${res.exitCode} before it made a compose${detail ? `:\n${detail}` : ''}`);
    }
    throw new RelengError(
      `pungi-koji failed with exit code ${res.exitCode}; compose ${composeDir} has STATUS ${status ?? '(none)'}\n` +
        (await logTail(composeDir)),
    );
  }
  if (!composeDir) {
    throw new RelengError(
      `pungi-koji exited 0 but printed no 'Compose dir:' line and ${o.latestLink} did not move; cannot tell which compose it made`,
    );
  }
  const [realTarget, realParent] = await Promise.all([realpath(plan.targetDir), realpath(dirname(composeDir)).catch(() => '')]);
  if (realParent !== realTarget) {
    throw new RelengError(`pungi-koji made its compose at ${composeDir}, outside the target dir ${plan.targetDir}`);
  }
  const accepted = o.allowIncomplete ? ['FINISHED', 'FINISHED_INCOMPLETE'] : ['FINISHED'];
  if (!status || !accepted.includes(status)) {
    const hint =
      status === 'FINISHED_INCOMPLETE'
        ? ` (${plan.source} says ${pungiField(plan.channel)}.finishedIncomplete "refuse"; --allowIncomplete accepts it for one run)`
        : '';
    throw new RelengError(
      `compose ${composeDir} has STATUS ${status ?? '(none)'}; only ${accepted.join(' or ')} is accepted${hint}\n` +
        (await logTail(composeDir)),
    );
  }
  const composeId = (await readTrimmed(join(composeDir, 'COMPOSE_ID'))) || basename(composeDir);
  if (status === 'FINISHED_INCOMPLETE') {
    o.log.warn(`compose ${composeId} is INCOMPLETE (STATUS FINISHED_INCOMPLETE: some deliverables failed; pungi-koji exited 0); accepted`);
  }

  // pungi moves the link after writing the final status, unless told not to or the status does not match.
  const linkExpected = plan.latestLink && (!plan.latestLinkStatus || status === plan.latestLinkStatus);
  const after = await inspectLatestLink(o.latestLink);
  if (linkExpected) {
    const realCompose = await realpath(composeDir);
    if (after.composeDir !== realCompose) {
      throw new RelengError(
        `compose ${composeId} is ${status} but ${o.latestLink} ` +
          (after.problem ? `is not usable: ${after.problem}` : `points at ${after.composeDir}, not at it`),
      );
    }
  } else {
    o.log.warn(
      `${o.latestLink} was not moved to ${composeId} ` +
        (plan.latestLink ? `(status ${status}, --latest-link-status ${plan.latestLinkStatus})` : '(--no-latest-link)') +
        '; sync-staging still syncs the compose it points at',
    );
  }
  return {
    composeId,
    composeDir,
    status: status as PungiResult['status'],
    latestLink: linkExpected ? o.latestLink : undefined,
    argv,
  };
}
