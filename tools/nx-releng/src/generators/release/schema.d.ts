export interface ReleaseGeneratorSchema {
  /** Major with a releases/<major>/release.json, e.g. 8. */
  major: string | number;
  /**
   * rc: the next release candidate (-RC2 -> -RC3; no RC suffix -> -RC1);
   * minor: the next minor (8.10 -> 8.11, previousRevision 8.10, -RC1);
   * an explicit revision (8.11) or candidate (8.11-RC2, 8.10-RC3) of the same major, not lower than the current one.
   */
  to: string | number;
}
