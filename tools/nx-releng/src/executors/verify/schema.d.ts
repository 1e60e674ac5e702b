/** verify takes the options every staging-chain step takes (the channel). */
export type { StagingStepExecutorSchema as VerifyExecutorSchema } from '../staging-step-schema';
