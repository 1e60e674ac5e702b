/** status takes no options: it works on every compose project of the workspace. */
export type StatusExecutorSchema = Record<string, never>;
