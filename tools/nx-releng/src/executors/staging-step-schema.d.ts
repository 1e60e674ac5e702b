import type { Channel } from '../config/schema';

/** Options of the staging chain executors (updateinfo, sign, verify). */
export interface StagingStepExecutorSchema {
  channel: Channel;
}
