import type { PromiseExecutor } from '@nx/devkit';
import { signStaging } from '../../lib/vetting/staging-steps';
import { runStep } from '../run-step';
import type { SignExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const signExecutor: PromiseExecutor<SignExecutorSchema> = (options, context) =>
  runStep('sign', context, async (ctx) => {
    const s = await signStaging({ ...ctx, channel: options.channel ?? DEFAULT_CHANNEL });
    return {
      // What verify's hash depends on: which compose and repos, not whether this run had to sign.
      manifest: { project: ctx.model.project, channel: options.channel, composeId: s.composeId, repos: [...s.signed, ...s.unchanged].sort() },
      summary: `${s.signed.length} repomd.xml signed, ${s.unchanged.length} already signed`,
    };
  });

export default signExecutor;
