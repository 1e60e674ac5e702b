import type { Channel } from '../../config/schema';

export interface HousekeepingExecutorSchema {
  channel: Channel;
  dryRun?: boolean;
}
