import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PromiseExecutor } from '@nx/devkit';
import { channelRelease, composePaths, stepOutputDir } from '../../layout/paths';
import { compareComposes, summarizeReport, writeChangeReport } from '../../lib/compose/compose-diff';
import { inspectLatestLink } from '../../lib/compose/compose-ref';
import { takeComposeInputNote } from '../../lib/compose/compose-state';
import { RelengError } from '../../errors';
import { createLocalCompose } from '../../lib/compose/local-compose';
import { createLocalSigCompose } from '../../lib/compose/local-sig-compose';
import type { ComposeModel } from '../../config/load';
import { sigName, type ComposePaths } from '../../layout/paths';
import type { Log } from '../../lib/core/log';
import { composeLabel, planPungiRun, runPungi } from '../../lib/compose/pungi';
import { runStep } from '../run-step';
import type { ComposeExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

/**
 * Makes one compose with the configured backend, then reports what changed since the compose the latest link
 * pointed at before the run: changes.json and changes.md beside the manifest, a short summary in the output.
 */
const composeExecutor: PromiseExecutor<ComposeExecutorSchema> = (options, context) =>
  runStep('compose', context, async ({ model, roots, log, workspaceRoot, relengRoot }) => {
    const backend = options.backend ?? model.compose.backend;
    const kind = options.kind ?? 'update';
    const allowIncomplete = options.allowIncomplete ?? false;
    const ch = channelRelease(model.release, options.channel ?? DEFAULT_CHANNEL, model.files.release);
    const paths = composePaths(model, ch, roots);
    const outDir = stepOutputDir(workspaceRoot, model.project, 'compose');
    // A report left by an earlier run must not pass for this one's if this one fails.
    await Promise.all(['changes.json', 'changes.md'].map((f) => rm(join(outDir, f), { force: true })));

    // Why Nx could not skip this compose, as its runtime input found it (Nx shows nothing of that itself).
    // Its warnings are about the pungi package set (koji): a warning only when pungi runs. The runtime input
    // cannot see --backend, so a local compose is keyed on them too: for it they only explain a miss, which
    // is moot under --skip-nx-cache (nx sets NX_SKIP_NX_CACHE for the task).
    const hashed = await takeComposeInputNote(workspaceRoot, model.project);
    for (const w of backend === 'pungi' ? hashed?.warnings ?? [] : []) log.warn(w);
    const misses = [...(backend === 'pungi' ? [] : hashed?.warnings ?? []), ...(hashed?.notes ?? [])];
    if (process.env['NX_SKIP_NX_CACHE'] !== 'true') for (const n of misses) log.info(`not a cache hit: ${n}`);

    const prev = await inspectLatestLink(paths.latestLink);
    const previous = prev.composeDir ? { id: prev.composeId ?? prev.composeDir.split('/').pop()!, dir: prev.composeDir } : null;

    let made: { composeId: string; composeDir: string; status: string; latestLink?: string; argv?: string[] };
    if (backend === 'pungi') {
      const plan = planPungiRun({ model, channel: ch, paths, kind, relengRoot });
      log.info(`${model.project}: pungi ${kind} compose with ${plan.config} into ${paths.composeRoot}`);
      made = await runPungi(plan, { latestLink: paths.latestLink, allowIncomplete, log });
    } else if (model.compose.kind === 'sig') {
      made = await localSigCompose(model, kind, paths, ch.revision, options.date, log);
    } else {
      log.info(`${model.project}: local ${kind} compose from ${paths.localSource} into ${paths.composeRoot}`);
      made = await createLocalCompose({
        targetDir: paths.composeRoot,
        srcDir: paths.localSource,
        releaseName: model.common.distro.name,
        short: model.short,
        version: ch.revision,
        releaseType: kind === 'produce' ? 'ga' : 'updates',
        label: composeLabel(model.compose.pungi, kind, ch.revision) ?? undefined,
        variants: model.compose.variants,
        arches: model.release.arches,
        date: composeDate(options.date),
        latestLinkName: paths.latestLink.split('/').pop() as string,
        // A produce compose makes the ISOs of release.json's isoTypes, as pungi's createiso does.
        isoTypes: kind === 'produce' ? model.release.isoTypes : undefined,
      });
    }

    const report = await compareComposes({ id: made.composeId, dir: made.composeDir }, previous);
    const written = await writeChangeReport(outDir, report);
    const { lines, warnings } = summarizeReport(report);
    for (const line of lines) log.info(line);
    for (const w of warnings) log.warn(w);
    log.info(`what changed: ${written.markdown}`);

    const c = report.counts;
    return {
      manifest: {
        project: model.project,
        channel: ch.channel,
        backend,
        kind,
        composeId: made.composeId,
        composeDir: made.composeDir,
        status: made.status,
        latestLink: made.latestLink ?? null,
        previousComposeId: previous?.id ?? null,
        changes: c,
        ...(made.argv ? { pungiArgs: made.argv } : {}),
      },
      summary:
        `${made.composeId} ${made.status}, ${report.packages} binary packages` +
        (made.latestLink ? `, ${made.latestLink} -> ${made.composeId}` : ', latest link not moved') +
        (previous ? `; since ${previous.id}: ${c.upgraded} upgraded, ${c.added} added, ${c.removed} removed, ${c.downgraded} downgraded` : ''),
    };
  });

export default composeExecutor;

/** YYYYMMDD from the CLI, where nx turns 20241115 into a number. */
function composeDate(date: string | number | undefined): string | undefined {
  if (date === undefined) return undefined;
  const text = String(date);
  if (!/^\d{8}$/.test(text)) throw new RelengError(`--date must be YYYYMMDD, got '${text}'`);
  return text;
}

/** A SIG compose of the local backend: the empanadas layout compose/<major>/<sig>/<arch>/<repo> (lib/local-sig-compose.ts). */
function localSigCompose(model: ComposeModel, kind: string, paths: ComposePaths, version: string, date: string | number | undefined, log: Log) {
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
    version,
    repos: model.compose.variants,
    arches: model.release.arches,
    date: composeDate(date),
    latestLinkName: paths.latestLink.split('/').pop() as string,
  });
}
