import type { PromiseExecutor } from '@nx/devkit';
import { hardlinkProduction } from '../../lib/production/hardlink';
import { runMirrorStep } from '../run-step';
import type { HardlinkExecutorSchema } from './schema';

const hardlinkExecutor: PromiseExecutor<HardlinkExecutorSchema> = (_options, context) =>
  runMirrorStep('hardlink', context, async (req) => {
    const trees = await hardlinkProduction(req);
    return { manifest: { trees }, summary: `hardlinked ${trees.length} production trees` };
  });

export default hardlinkExecutor;
