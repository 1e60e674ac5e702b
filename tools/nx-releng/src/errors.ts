/**
 * The one error type executors report to the operator: its message says what is wrong and where
 * (file, field, path, tool), so executors print it as is, without a stack trace.
 */
export class RelengError extends Error {
  override name = 'RelengError';
}

/** Message of any thrown value, for the one-line failure summary executors print. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
