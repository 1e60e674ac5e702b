/** filelist takes no options: it works on every compose project of the workspace. */
export type FilelistExecutorSchema = Record<string, never>;
