import type { PromiseExecutor } from '@nx/devkit';
import { formatBytes } from '../../lib/core/log';
import { syncStaging } from '../../lib/staging/sync-staging';
import { runStep } from '../run-step';
import type { SyncStagingExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';
import { acceptsIncomplete } from '../../config/pungi-settings';

const syncStagingExecutor: PromiseExecutor<SyncStagingExecutorSchema> = (options, context) =>
  runStep('sync-staging', context, async ({ model, roots, log }) => {
    const channel = options.channel ?? DEFAULT_CHANNEL;
    const result = await syncStaging({
      model,
      roots,
      log,
      channel,
      dryRun: options.dryRun,
      // As the cron syncs whatever compose pungi-koji exited 0 for, unless compose.json refuses FINISHED_INCOMPLETE.
      allowIncomplete: options.allowIncomplete || acceptsIncomplete(model, channel),
      minorRelease: options.minorRelease,
    });
    const kind = options.minorRelease ? 'minor release ' : '';
    const what =
      result.outcome === 'up-to-date'
        ? 'up to date, nothing synced'
        : `${result.outcome}: ${kind}${result.files} files, ${formatBytes(result.bytes)}, ${result.repos} repos`;
    // The manifest describes what staging holds, not how this run went, so that an up-to-date run and the
    // run that synced leave the same manifest for the steps after it to hash.
    const { outcome, files, bytes, seconds, ...state } = result;
    return {
      manifest: outcome === 'dry-run' ? { dryRun: true, ...state } : state,
      summary: `${what} (${result.composeId} -> ${result.stagingDir}, ${result.seconds.toFixed(1)}s)`,
    };
  });

export default syncStagingExecutor;
