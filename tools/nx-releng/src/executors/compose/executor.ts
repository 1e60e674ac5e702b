import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PromiseExecutor } from '@nx/devkit';
import { channelRelease, composePaths, stepOutputDir } from '../../layout/paths';
import { compareComposes, summarizeReport, writeChangeReport } from '../../lib/compose/compose-diff';
import { inspectLatestLink, statusWord } from '../../lib/compose/compose-ref';
import { takeComposeInputNote } from '../../lib/compose/compose-state';
import { composeBackend } from '../../lib/compose/backends';
import { runStep } from '../run-step';
import type { ComposeExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';
import { acceptsIncomplete, channelPungi } from '../../config/pungi-settings';

/**
 * Makes one compose with the configured backend, then reports what changed since the compose the latest link
 * pointed at before the run: changes.json and changes.md beside the manifest, a short summary in the output.
 */
const composeExecutor: PromiseExecutor<ComposeExecutorSchema> = (options, context) =>
  runStep('compose', context, async ({ model, roots, log, workspaceRoot, relengRoot }) => {
    const backend = options.backend ?? model.compose.backend;
    const ch = channelRelease(model.release, options.channel ?? DEFAULT_CHANNEL, model.files.release);
    const kind = options.kind ?? channelPungi(model, ch.channel)?.kind ?? 'update';
    const allowIncomplete = options.allowIncomplete || acceptsIncomplete(model, ch.channel);
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

    const made = await composeBackend(backend, model.compose.kind)({
      model,
      kind,
      channel: ch,
      paths,
      relengRoot,
      allowIncomplete,
      date: options.date,
      log,
    });

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
        `${made.composeId} ${statusWord(made.status)}, ${report.packages} binary packages` +
        (made.latestLink ? `, ${made.latestLink} -> ${made.composeId}` : ', latest link not moved') +
        (previous ? `; since ${previous.id}: ${c.upgraded} upgraded, ${c.added} added, ${c.removed} removed, ${c.downgraded} downgraded` : ''),
    };
  });

export default composeExecutor;
