import type { Channel } from '../../config/schema';

export interface ComposeExecutorSchema {
  channel: Channel;
  /** Overrides compose.json's backend for this run (the sandbox uses local). */
  backend?: 'pungi' | 'local';
  /** YYYYMMDD; defaults to today (local time), as pungi does. */
  date?: string;
}
