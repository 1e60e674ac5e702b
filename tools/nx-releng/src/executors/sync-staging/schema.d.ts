import type { Channel } from '../../config/schema';

export interface SyncStagingExecutorSchema {
  channel: Channel;
  dryRun?: boolean;
  allowIncomplete?: boolean;
  minorRelease?: boolean;
}
