import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { RelengError } from './errors';

/**
 * Nx loads the plugin, its executors and the runtime inputs from dist/, the CommonJS that bin/build.js compiles
 * from src/ (no TypeScript loader at nx start). Nx hashes src/, not dist/ (gitignored), so code built from an
 * older src/ would run, and be cached, under the new src/'s hash: the build records which src/ it was made
 * from, and the plugin and every executor refuse to run on a build that does not match.
 */

/** tools/nx-releng, from dist/ when built (or from src/ under the TypeScript loader of the tests). */
const PACKAGE_DIR = join(__dirname, '..');
/** The build this code runs from; undefined when it runs from src/. */
export const BUILD_DIR: string | undefined = basename(__dirname) === 'dist' ? __dirname : undefined;
const STAMP = '.source-digest';
const BUILD_COMMAND = 'node tools/nx-releng/bin/build.js';

/** Every file under src/, by relative path and content, sorted by path: what a build is made from. */
export function sourceDigest(packageDir = PACKAGE_DIR): string {
  const hash = createHash('sha256');
  const walk = (rel: string): void => {
    const names = readdirSync(join(packageDir, 'src', rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of names) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(path);
      else hash.update(`${path}\0`).update(readFileSync(join(packageDir, 'src', path))).update('\0');
    }
  };
  walk('');
  return hash.digest('hex');
}

export function stampFile(buildDir: string): string {
  return join(buildDir, STAMP);
}

/** Whether the build in buildDir was made from the src/ of packageDir as it is now. */
export function buildIsCurrent(buildDir: string, packageDir = PACKAGE_DIR): boolean {
  let recorded: string;
  try {
    recorded = readFileSync(stampFile(buildDir), 'utf8').trim();
  } catch {
    return false;
  }
  return recorded === sourceDigest(packageDir);
}

/** Refuses to run built code that src/ has moved past (a no-op when running from src/ itself). */
export function assertBuildCurrent(): void {
  if (BUILD_DIR && !buildIsCurrent(BUILD_DIR)) {
    throw new RelengError(
      `tools/nx-releng/dist was not built from the current tools/nx-releng/src; run \`${BUILD_COMMAND}\` ` +
        '(tools/setup.sh and test/run.mjs do) and try again',
    );
  }
}
