/**
 * Plain constants of the release model, apart from the schemas so that what needs only these (layout, the
 * graph, the runtime inputs) does not load the schema library; schema.ts re-exports them.
 */
export const CHANNELS = ['stable', 'beta', 'lookahead'] as const;
export type Channel = (typeof CHANNELS)[number];
/** The channel of a target run without a configuration (-c beta / -c lh pick the others). */
export const DEFAULT_CHANNEL: Channel = 'stable';
/** Project names of SIG composes start with this (SIG-cloud-8); the rest is the SIG's name. */
export const SIG_PREFIX = 'SIG-';
