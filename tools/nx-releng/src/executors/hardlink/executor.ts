import type { PromiseExecutor } from '@nx/devkit';
import { hardlinkProduction } from '../../lib/mirror/mirror';
import { runMirrorStep } from '../run-step';

const hardlinkExecutor: PromiseExecutor<Record<string, never>> = (_options, context) =>
  runMirrorStep('hardlink', context, async (req) => {
    const trees = await hardlinkProduction(req);
    return { manifest: { trees }, summary: `hardlinked ${trees.length} production trees` };
  });

export default hardlinkExecutor;
