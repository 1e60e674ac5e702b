/** updateinfo takes the options every staging-chain step takes (the channel). */
export type { StagingStepExecutorSchema as UpdateinfoExecutorSchema } from '../staging-step-schema';
