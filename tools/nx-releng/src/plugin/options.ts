import { DEFAULT_RELEASES_DIR } from '../config/files';
import { RelengError } from '../errors';

/** The plugin's options, from its entry in nx.json `plugins` ({ "plugin": "@nx-releng/plugin", "options": {...} }). */
export interface RelengPluginOptions {
  /** Workspace-relative dir of the release model (common.json, <major>/release.json, <major>/<Short>/compose.json). */
  releasesDir?: string;
}

const WHERE = 'nx.json: plugins entry @nx-releng/plugin, options';
/** Plain relative path segments: the dir is used in globs and input patterns, so nothing that could escape or match. */
const SEGMENT = /^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/;

/** The release model dir the options name (default releases), or a clear error naming nx.json. */
export function releasesDirOf(options: unknown): string {
  if (options === undefined || options === null) return DEFAULT_RELEASES_DIR;
  if (typeof options !== 'object' || Array.isArray(options)) throw new RelengError(`${WHERE}: must be an object, e.g. { "releasesDir": "releases" }`);
  const unknown = Object.keys(options).filter((k) => k !== 'releasesDir');
  if (unknown.length) throw new RelengError(`${WHERE}: unknown option ${unknown.map((k) => `'${k}'`).join(', ')}; allowed: releasesDir`);
  const dir = (options as RelengPluginOptions).releasesDir;
  if (dir === undefined) return DEFAULT_RELEASES_DIR;
  if (typeof dir !== 'string' || !dir.split('/').every((s) => SEGMENT.test(s))) {
    throw new RelengError(
      `${WHERE}.releasesDir: ${JSON.stringify(dir)} is not a workspace-relative dir; allowed: plain names joined by /, ` +
        `no leading or trailing /, no . or .. (e.g. "releases" or "config/releases")`,
    );
  }
  return dir;
}
