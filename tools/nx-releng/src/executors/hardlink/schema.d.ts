/** hardlink takes no options: it works on every compose project of the workspace. */
export type HardlinkExecutorSchema = Record<string, never>;
