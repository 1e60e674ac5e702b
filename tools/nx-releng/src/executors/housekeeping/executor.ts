import type { PromiseExecutor } from '@nx/devkit';
import { housekeeping } from '../../lib/compose/housekeeping';
import { runStep } from '../run-step';
import type { HousekeepingExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const housekeepingExecutor: PromiseExecutor<HousekeepingExecutorSchema> = (options, context) =>
  runStep('housekeeping', context, async ({ model, roots, log }) => {
    const r = await housekeeping({ model, roots, log, channel: options.channel ?? DEFAULT_CHANNEL, dryRun: options.dryRun });
    const n = (count: number) => `${count} old compose${count === 1 ? '' : 's'}`;
    const what = r.dryRun ? `dry run: would remove ${n(r.removed.length)}` : `removed ${n(r.removed.length)}`;
    const { seconds, ...manifest } = r;
    return {
      manifest,
      summary: `${what}, kept ${r.kept.length} (${r.composeRoot}, keepDays ${r.keepDays}, ${seconds.toFixed(1)}s)`,
    };
  });

export default housekeepingExecutor;
