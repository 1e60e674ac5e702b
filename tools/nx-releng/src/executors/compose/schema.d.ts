import type { Channel, ComposeKind } from '../../config/schema';

export interface ComposeExecutorSchema {
  channel: Channel;
  /** Overrides compose.json's backend for this run (the sandbox uses local). */
  backend?: 'pungi' | 'local';
  /**
   * update (default): an update compose as updates-8*.sh (ISO phases skipped, old composes reused);
   * produce: a full compose with ISOs as produce-8.sh (nothing skipped, label RC-<revision>).
   */
  kind?: ComposeKind;
  /** Accept a compose that pungi finished as FINISHED_INCOMPLETE (some deliverables failed). */
  allowIncomplete?: boolean;
  /** Forwarded to refresh: check the checkouts, fetch nothing. */
  offline?: boolean;
  /** YYYYMMDD; defaults to today (local time), as pungi does. Local backend only. */
  date?: string | number;
}
