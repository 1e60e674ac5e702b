import type { PromiseExecutor } from '@nx/devkit';
import { formatBytes } from '../../lib/core/log';
import { syncProd } from '../../lib/production/sync-prod';
import { runStep } from '../run-step';
import type { SyncProdExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const syncProdExecutor: PromiseExecutor<SyncProdExecutorSchema> = (options, context) =>
  runStep('sync-prod', context, async ({ model, roots, log }) => {
    const r = await syncProd({ model, roots, log, channel: options.channel ?? DEFAULT_CHANNEL, dryRun: options.dryRun });
    const what =
      r.outcome === 'up-to-date'
        ? 'up to date, nothing synced'
        : r.outcome === 'dry-run'
          ? `dry run: ${r.files} changes`
          : `synced: ${r.files} files, ${formatBytes(r.bytes)}`;
    const { outcome, files, bytes, ...state } = r;
    return { manifest: state, summary: `${what} (${r.composeId} -> ${r.productionDir})` };
  });

export default syncProdExecutor;
