/**
 * The release channels (the bash scripts' RLREL). Plain data apart from the schemas, so that what needs only the
 * names (layout, the runtime inputs) does not load the schema library.
 */
export const CHANNELS = ['stable', 'beta', 'lookahead'] as const;
export type Channel = (typeof CHANNELS)[number];
