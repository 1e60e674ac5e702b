import type { Tree } from '@nx/devkit';
import { releaseFileOf, type LayerReader } from '../config/load';
import { RelengError } from '../errors';

/**
 * The release model as a generator sees it: the virtual tree, with some files replaced by what the generator
 * is about to write, so they are validated by the loader's one path before anything is written.
 */
export function treeReader(tree: Tree, overrides: Record<string, unknown> = {}): LayerReader {
  return (file) => {
    if (Object.hasOwn(overrides, file)) return overrides[file];
    return readTreeJson(tree, file);
  };
}

/** Parses a file of the tree; the error names the file, as the loader's does. */
export function readTreeJson(tree: Tree, file: string): unknown {
  const text = tree.read(file, 'utf-8');
  if (text === null) throw new RelengError(`${file}: cannot be read (ENOENT)`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RelengError(`${file}: is not valid JSON (${(err as Error).message})`);
  }
}

/** Majors with a release.json, in numeric order. */
export function knownMajors(tree: Tree): string[] {
  return tree
    .children('releases')
    .filter((d) => /^\d+$/.test(d) && tree.isFile(releaseFileOf(d)))
    .sort((a, b) => Number(a) - Number(b));
}

/** The major option as a directory name; refuses anything but a number with a release.json. */
export function checkMajor(tree: Tree, major: unknown): string {
  const m = optionText('major', major);
  if (!/^\d+$/.test(m)) throw new RelengError(`--major '${m}' must be a major version number, e.g. 8`);
  const known = knownMajors(tree);
  if (!known.includes(m)) {
    throw new RelengError(
      `unknown major ${m}: ${releaseFileOf(m)} does not exist (known majors: ${known.join(', ') || 'none'}); ` +
        `add the release first`,
    );
  }
  return m;
}

/** The compose files of one major in the tree (what the loader's compose glob matches on disk). */
export function composeFilesOf(tree: Tree, major: string): string[] {
  const dir = `releases/${major}`;
  return tree
    .children(dir)
    .map((short) => `${dir}/${short}/compose.json`)
    .filter((f) => tree.isFile(f))
    .sort();
}

/**
 * An option as the operator typed it. `nx g` parses options with yargs' number parsing on, so `--to=8.10`
 * arrives as the number 8.1 (the ${REV:0:3} trap again); the text is recovered from the command line. A
 * fractional number that is not there is refused: 8.1 and 8.10 are the same number.
 */
export function optionText(name: string, value: unknown, argv: readonly string[] = process.argv): string {
  if (typeof value !== 'number') return String(value ?? '').trim();
  for (const [i, arg] of argv.entries()) {
    const raw = arg === `--${name}` ? argv[i + 1] : arg.startsWith(`--${name}=`) ? arg.slice(name.length + 3) : undefined;
    if (raw !== undefined && raw.trim() !== '' && Number(raw) === value) return raw.trim();
  }
  if (!Number.isInteger(value)) {
    throw new RelengError(`--${name} ${value} arrived as a number, which cannot tell ${value} from ${value}0; pass it as text`);
  }
  return String(value);
}
