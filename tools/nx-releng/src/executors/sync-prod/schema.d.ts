import type { Channel } from '../../config/schema';

export interface SyncProdExecutorSchema {
  channel: Channel;
  dryRun?: boolean;
}
