import { logger, type Tree } from '@nx/devkit';
import type { z } from 'zod';
import { parseRelease, releaseFileOf, validateComposeModels } from '../../config/load';
import { CHANNELS, type releaseSchema } from '../../config/schema';
import { RelengError } from '../../errors';
import { formatJson } from '../json-format';
import { checkMajor, composeFilesOf, optionText, readTreeJson, treeReader } from '../tree-model';
import type { ReleaseGeneratorSchema } from './schema';

/** release.json as written (defaults not filled in), so the file keeps what it had and gains nothing else. */
export type ReleaseJson = z.input<typeof releaseSchema>;

const RC = /^-RC(\d+)$/;
const TARGET = /^(\d+)\.(\d+)(-RC\d+)?$/;

/** Where the stable channel stages: <revision><suffix>, e.g. 8.10-RC2. */
export function stableName(release: ReleaseJson): string {
  return `${release.channels.stable.revision ?? release.revision}${release.channels.stable.suffix}`;
}

/** -RC2 -> -RC3; anything else (a final release, '') -> -RC1. */
export function nextCandidate(suffix: string): string {
  const m = RC.exec(suffix);
  return m ? `-RC${Number(m[1]) + 1}` : '-RC1';
}

/** Minor numbers compare as numbers: 8.9 < 8.10. */
function minorOf(revision: string): number {
  return Number(revision.split('.')[1]);
}

/** A new revision: the old one becomes previousRevision (the vault needs it) and channels that followed it move. */
function moveRevision(release: ReleaseJson, revision: string, suffix: string): ReleaseJson {
  const old = release.revision;
  // previousRevision right after revision, where the shipped files have it, also when it is new.
  const { $schema, revision: _revision, previousRevision: _previous, ...rest } = structuredClone(release);
  const next: ReleaseJson = { ...($schema === undefined ? {} : { $schema }), revision, previousRevision: old, ...rest };
  for (const channel of CHANNELS) {
    const c = next.channels[channel];
    if (c?.revision === old) c.revision = revision;
  }
  next.channels.stable.suffix = suffix;
  return next;
}

/**
 * The release.json after `--to`, or null when it already is there (an explicit --to equal to the current
 * revision or candidate). Only revision, previousRevision, channel revisions and the stable suffix change.
 */
export function planRelease(release: ReleaseJson, to: string, major: string): ReleaseJson | null {
  const file = releaseFileOf(major);
  const target = to.trim();
  if (target === 'rc') {
    const next: ReleaseJson = structuredClone(release);
    next.channels.stable.suffix = nextCandidate(release.channels.stable.suffix);
    return next;
  }
  if (target === 'minor') {
    return moveRevision(release, `${major}.${minorOf(release.revision) + 1}`, '-RC1');
  }
  const m = TARGET.exec(target);
  if (!m) {
    throw new RelengError(`--to '${to}': expected rc, minor, or a revision such as ${major}.${minorOf(release.revision) + 1}`);
  }
  const [, toMajor, toMinor, toSuffix] = m as unknown as [string, string, string, string | undefined];
  const revision = `${Number(toMajor)}.${Number(toMinor)}`;
  if (Number(toMajor) !== Number(major)) {
    throw new RelengError(`--to '${to}': revision ${revision} is not of major ${major} (${file})`);
  }
  const current = minorOf(release.revision);
  if (Number(toMinor) < current) {
    throw new RelengError(
      `--to '${to}': ${revision} is lower than the current revision ${release.revision} of ${file}; ` +
        `a release only moves forward`,
    );
  }
  if (Number(toMinor) > current) return moveRevision(release, revision, toSuffix ?? '-RC1');
  // Same revision: only an explicit candidate changes anything, and setting it twice is a no-op.
  if (toSuffix === undefined || toSuffix === release.channels.stable.suffix) return null;
  const next: ReleaseJson = structuredClone(release);
  next.channels.stable.suffix = toSuffix;
  return next;
}

/**
 * `nx g @nx-releng/plugin:release`: moves a major to its next candidate (`--to=rc`), its next minor
 * (`--to=minor`) or an explicit revision, editing releases/<major>/release.json. The result is validated with
 * every compose of the major, as the project graph will validate it, before it is written.
 */
export async function releaseGenerator(tree: Tree, options: ReleaseGeneratorSchema): Promise<void> {
  const major = checkMajor(tree, options.major);
  const file = releaseFileOf(major);
  const raw = readTreeJson(tree, file);
  parseRelease(major, raw); // refuse to start from an invalid file
  const release = raw as ReleaseJson;
  const next = planRelease(release, optionText('to', options.to), major);
  if (!next) {
    logger.info(`${file}: already at ${stableName(release)}; nothing to change`);
    return;
  }
  parseRelease(major, next);
  validateComposeModels(treeReader(tree, { [file]: next }), composeFilesOf(tree, major));
  tree.write(file, formatJson(next));
  const previous = next.previousRevision !== release.previousRevision ? `, previousRevision ${next.previousRevision}` : '';
  logger.info(`${file}: ${stableName(release)} -> ${stableName(next)}${previous}`);
}

export default releaseGenerator;
