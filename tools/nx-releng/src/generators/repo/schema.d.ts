export interface RepoGeneratorSchema {
  /** Major with a releases/<major>/release.json, e.g. 8. */
  major: string | number;
  /** Compose directory name (Rocky, Extras, SIG-cloud); with kind sig, SIG- is prepended when missing. */
  short: string;
  /** base: a distribution compose; sig: a SIG compose. Default: sig when short starts with SIG-, else base. */
  kind?: 'base' | 'sig';
  /** Comma-separated top dirs of the compose (repositories of release.json), e.g. "extras,plus"; a SIG's own repos. */
  variants: string | string[];
  /** How `compose` makes the compose. Default pungi. */
  backend?: 'pungi' | 'local';
  /** Absolute path of the pungi configuration (written as pungi.config; needed by backend pungi). */
  pungiConfig?: string;
  /** The koji tag the pungi config gathers from (written as pungi.tag); without it the compose is never skipped. */
  kojiTag?: string;
  /** Copy compose/metadata to staging (only the base distribution compose should). */
  syncMetadata?: boolean;
  description?: string;
}
