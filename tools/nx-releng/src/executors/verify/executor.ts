import type { PromiseExecutor } from '@nx/devkit';
import { loadAllComposeModels } from '../../config/load';
import { verifyStaging } from '../../lib/vetting/staging-steps';
import { runStep } from '../run-step';
import type { VerifyExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const verifyExecutor: PromiseExecutor<VerifyExecutorSchema> = (options, context) =>
  runStep('verify', context, async (ctx) => {
    const models = loadAllComposeModels(ctx.workspaceRoot);
    const record = await verifyStaging({ ...ctx, models, channel: options.channel ?? DEFAULT_CHANNEL });
    const extras = [
      ...(record.extraSubtrees ?? []).map((s) => `${s}/`),
      ...(record.links ?? []).map((l) => l.name),
      ...(record.unclaimed?.length ? [`unclaimed ${record.unclaimed.join(' ')}`] : []),
    ];
    return {
      manifest: record,
      summary: `${record.repos.length} repos passed${extras.length ? `, and ${extras.join(', ')}` : ''} (${record.composeId}, digest ${record.digest.slice(0, 12)})`,
    };
  });

export default verifyExecutor;
