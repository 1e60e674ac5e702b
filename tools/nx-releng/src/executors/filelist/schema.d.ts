export interface FilelistExecutorSchema {
  /** Walk the whole production tree instead of updating the lists from the change journal. */
  full?: boolean;
  /** Walk the whole tree anyway when the last full walk is older than this many hours (default 24). */
  fullWalkEveryHours?: number;
}
