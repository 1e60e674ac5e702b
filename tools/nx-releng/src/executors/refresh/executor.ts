import type { PromiseExecutor } from '@nx/devkit';
import { refreshComposeCheckouts } from '../../lib/compose/checkouts';
import { runStep } from '../run-step';
import type { RefreshExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const refreshExecutor: PromiseExecutor<RefreshExecutorSchema> = (options, context) =>
  runStep('refresh', context, async ({ model, roots, log, relengRoot }) => {
    const r = await refreshComposeCheckouts({
      model,
      channel: options.channel ?? DEFAULT_CHANNEL,
      backend: options.backend ?? model.compose.backend,
      offline: options.offline ?? false,
      roots,
      relengRoot,
      log,
    });
    const heads = r.checkouts.map((c) => `${c.dir} ${c.branch} ${c.head.slice(0, 12)}`).join(', ');
    return { manifest: r, summary: r.mode === 'skipped' ? `nothing to refresh: ${r.why}` : `${r.mode}: ${heads}` };
  });

export default refreshExecutor;
