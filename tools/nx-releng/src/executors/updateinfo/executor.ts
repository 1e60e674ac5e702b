import type { PromiseExecutor } from '@nx/devkit';
import { applyErrata } from '../../lib/vetting/staging-steps';
import { runStep } from '../run-step';
import type { UpdateinfoExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const updateinfoExecutor: PromiseExecutor<UpdateinfoExecutorSchema> = (options, context) =>
  runStep('updateinfo', context, async (ctx) => {
    const s = await applyErrata({ ...ctx, channel: options.channel ?? DEFAULT_CHANNEL });
    return {
      // What the repos carry, not how this run went: sign is cached on it (updateinfo itself always runs).
      manifest: { project: ctx.model.project, channel: options.channel, composeId: s.composeId, syncedAt: s.syncedAt, applied: s.applied },
      summary:
        `${s.changed.length} repos got new advisories, ${s.unchanged.length} unchanged, ${s.skipped.length} without advisories` +
        (s.warnings.length ? `, ${s.warnings.length} warnings` : ''),
    };
  });

export default updateinfoExecutor;
