import type { Channel } from '../../config/schema';

export interface TorrentsExecutorSchema {
  channel: Channel;
}
