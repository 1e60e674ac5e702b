/** sign takes the options every staging-chain step takes (the channel). */
export type { StagingStepExecutorSchema as SignExecutorSchema } from '../staging-step-schema';
