import type { PromiseExecutor } from '@nx/devkit';
import { loadAllComposeModels } from '../../config/load';
import { formatBytes } from '../../lib/core/log';
import { syncProd } from '../../lib/production/sync-prod';
import { errorMessage } from '../../errors';
import { runStep } from '../run-step';
import { ANNOUNCING_TASK, announcedInRun, forgetLastOutcome, type NotPublished } from '../publication';
import type { SyncProdExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const syncProdExecutor: PromiseExecutor<SyncProdExecutorSchema> = (options, context) =>
  runStep<object>('sync-prod', context, async ({ model, roots, log }) => {
    await forgetLastOutcome(context, model.project);
    const models = loadAllComposeModels(context.root);
    const r = await syncProd({ model, models, roots, log, channel: options.channel ?? DEFAULT_CHANNEL, dryRun: options.dryRun }).catch(
      (err: unknown) => {
        // In a push that ends with the file lists, they still announce what the other projects published.
        if (!announcedInRun(context)) throw err;
        return { notPublished: errorMessage(err) };
      },
    );
    if ('notPublished' in r) {
      return {
        manifest: { project: model.project, notPublished: r.notPublished } satisfies NotPublished,
        summary: `NOT PUBLISHED: ${r.notPublished}\n  (${ANNOUNCING_TASK} still announces what the others published, then fails naming ${model.project})`,
      };
    }
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
