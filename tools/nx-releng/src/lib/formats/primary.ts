/**
 * primary.xml (the package list of a repository), read as a stream: decompressed as it is read (metadataChunks) and
 * parsed by a SAX parser (saxes: namespace-aware, checks well-formedness as it goes), handing the caller one package
 * at a time. Memory stays flat however many packages the repository has: what is held at once is one chunk of
 * text, the packages parsed from it, and at most one token (text node, attribute, tag) of up to MAX_TOKEN_CHARS.
 *
 * Strict, as the DOM reader it replaces: malformed XML, a DOCTYPE (so no entity can be declared, and saxes
 * refuses an undeclared one), a root other than <metadata> in the common namespace, or a token over the cap is a
 * RelengError naming the file and the line and column the parser had reached.
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { RelengError, errorMessage } from '../../errors';
import { metadataChunks, readRepomd, resolveInRepo, type Repomd, type RepomdChecksum } from './repomd';

/** Namespace of primary.xml's elements (createrepo_c, yum, dnf). */
export const COMMON_NS = 'http://linux.duke.edu/metadata/common';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';

/**
 * Longest single text node, attribute value, comment or tag the parser may hold (characters). A description, the
 * longest text primary has, runs to some kilobytes; a megabyte is only ever a hostile or broken file. The fields
 * kept (name, arch, checksum) are held to it exactly; any other token is refused once it has spanned more than
 * this between two reads, so the parser never holds more than the cap and one read (64 KiB) of it.
 */
export const MAX_TOKEN_CHARS = 1024 * 1024;

export interface PrimaryPackage {
  name: string;
  arch: string;
  epoch: string;
  version: string;
  release: string;
  /** `location@href` relative to the repository root. */
  href: string;
  locationBase?: string;
  checksum?: RepomdChecksum;
  /** `size@package`: the .rpm file size. */
  size?: number;
}

/** The package's own fields that are text (the rest are attributes). */
type TextField = 'name' | 'arch' | 'checksum';
const TEXT_FIELDS = new Set<string>(['name', 'arch', 'checksum']);

export interface PrimaryReadOptions {
  /** Cap on one token, in characters (default MAX_TOKEN_CHARS). */
  maxTokenChars?: number;
}

/** Path of the primary file repomd names, inside the repository. */
export function primaryPath(repoDir: string, repomd: Repomd): string {
  const rec = repomd.records.find((r) => r.type === 'primary');
  if (!rec) throw new RelengError(`${repomd.source}: no primary record`);
  const path = resolveInRepo(repoDir, rec.location);
  if (!path) throw new RelengError(`${repomd.source}: primary location '${rec.location}' is outside the repository`);
  return path;
}

/** The packages of the repository's primary metadata, one at a time (repomd read when not given). */
export async function* primaryPackages(repoDir: string, repomd?: Repomd, opts: PrimaryReadOptions = {}): AsyncGenerator<PrimaryPackage> {
  yield* primaryFilePackages(primaryPath(repoDir, repomd ?? (await readRepomd(repoDir))), opts);
}

/** The packages of one primary file (compressed or not, by its suffix), one at a time. */
export async function* primaryFilePackages(path: string, opts: PrimaryReadOptions = {}): AsyncGenerator<PrimaryPackage> {
  const maxTokenChars = opts.maxTokenChars ?? MAX_TOKEN_CHARS;
  const parser = new SaxesParser({ xmlns: true, position: true });
  const where = () => `line ${parser.line}, column ${parser.column}`;
  const refuse = (what: string) => new RelengError(`${path}: ${what} (at ${where()})`);

  const ready: PrimaryPackage[] = [];
  let depth = 0;
  let pkg: PrimaryPackage | undefined;
  let field: TextField | undefined;
  let text = '';
  // Where the last token ended: the parser buffers a token whole, so the distance from here is what it holds.
  let lastToken = 0;
  const mark = () => void (lastToken = parser.position);

  parser.on('error', (err) => {
    throw new RelengError(`${path}: malformed XML at ${where()}: ${err.message.replace(/^\d+:\d+: /, '')}`);
  });
  parser.on('doctype', () => {
    throw refuse('carries a <!DOCTYPE> declaration; primary metadata has none, refusing it (entities are never expanded)');
  });
  for (const event of ['opentagstart', 'attribute', 'comment', 'cdata', 'processinginstruction', 'xmldecl'] as const) parser.on(event, mark);
  parser.on('opentag', (tag: SaxesTagNS) => {
    mark();
    depth++;
    if (depth === 1) {
      if (tag.local !== 'metadata' || tag.uri !== COMMON_NS) {
        throw refuse(`root element is <${tag.name}> in namespace '${tag.uri}', expected <metadata> in ${COMMON_NS}`);
      }
    } else if (depth === 2 && tag.local === 'package' && tag.uri === COMMON_NS) {
      pkg = { name: '', arch: '', epoch: '0', version: '', release: '', href: '' };
    } else if (depth === 3 && pkg && tag.uri === COMMON_NS) {
      const attr = (local: string, uri = '') => Object.values(tag.attributes).find((a) => a.local === local && a.uri === uri)?.value;
      if (TEXT_FIELDS.has(tag.local)) {
        field = tag.local as TextField;
        text = '';
        if (field === 'checksum') pkg.checksum = { type: attr('type') ?? '', value: '' };
      } else if (tag.local === 'version') {
        pkg.epoch = attr('epoch') ?? '0';
        pkg.version = attr('ver') ?? '';
        pkg.release = attr('rel') ?? '';
      } else if (tag.local === 'location') {
        pkg.href = attr('href') ?? '';
        const base = attr('base', XML_NS);
        if (base) pkg.locationBase = base;
      } else if (tag.local === 'size') {
        const size = attr('package');
        if (size && /^\d+$/.test(size)) pkg.size = Number(size);
      }
    }
  });
  parser.on('text', (t) => {
    mark();
    if (!field) return;
    text += t;
    if (text.length > maxTokenChars) throw refuse(`<${field}> is longer than ${maxTokenChars} characters`);
  });
  parser.on('closetag', () => {
    mark();
    if (depth === 3 && pkg && field) {
      const value = text.trim();
      if (field === 'checksum') (pkg.checksum as RepomdChecksum).value = value;
      else pkg[field] = value;
      field = undefined;
      text = '';
    } else if (depth === 2 && pkg) {
      ready.push(pkg);
      pkg = undefined;
    }
    depth--;
  });

  let written = 0; // parser.position is only right inside a handler: after write() it counts the chunk twice
  for await (const chunk of metadataChunks(path)) {
    parser.write(chunk);
    written += chunk.length;
    if (written - lastToken > maxTokenChars) {
      throw refuse(`a single text node, attribute, comment or tag is longer than ${maxTokenChars} characters`);
    }
    yield* ready;
    ready.length = 0;
  }
  try {
    parser.close(); // an unclosed element or no root at all fails here
  } catch (err) {
    throw err instanceof RelengError ? err : new RelengError(`${path}: ${errorMessage(err)}`);
  }
  yield* ready;
}
