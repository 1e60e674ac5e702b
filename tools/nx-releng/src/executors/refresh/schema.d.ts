import type { Channel } from '../../config/schema';

export interface RefreshExecutorSchema {
  channel: Channel;
  /** Only check the checkouts (git checkout, right branch); fetch nothing. */
  offline?: boolean;
  /** Forwarded from compose: the local backend reads no checkout, so nothing is refreshed. */
  backend?: 'pungi' | 'local';
}
