import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Where the release model's layers are (workspace-relative). Apart from the loader, which loads the schemas. */

/** Where the release model lives unless the plugin's `releasesDir` option (nx.json) says otherwise. */
export const DEFAULT_RELEASES_DIR = 'releases';

/** The common layer of the model in `dir`. */
export function commonFileOf(dir = DEFAULT_RELEASES_DIR): string {
  return `${dir}/common.json`;
}

/** The compose layers of the model in `dir`. */
export function composeGlobOf(dir = DEFAULT_RELEASES_DIR): string {
  return `${dir}/*/*/compose.json`;
}

/**
 * The files composeGlobOf(dir) matches, by two readdirs: a glob library would add its load time to every nx command
 * and runtime input that loads this module.
 */
export function composeFilesIn(workspaceRoot: string, dir = DEFAULT_RELEASES_DIR): string[] {
  const subdirs = (rel: string): string[] => {
    try {
      return readdirSync(join(workspaceRoot, rel)).flatMap((name) => (name.startsWith('.') ? [] : [`${rel}/${name}`]));
    } catch {
      return []; // missing, or not a directory
    }
  };
  return subdirs(dir)
    .flatMap(subdirs)
    .map((d) => `${d}/compose.json`)
    .filter((file) => {
      // throwIfNoEntry covers ENOENT only: releases/<major>/release.json/compose.json is ENOTDIR.
      try {
        return statSync(join(workspaceRoot, file)).isFile();
      } catch {
        return false;
      }
    });
}
