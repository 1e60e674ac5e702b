/**
 * repomd.xml: parse it into records, replace or insert one `<data type="X">` record while every other
 * record stays as it is, write it atomically, and list the files it names; read those files (decompressed as a
 * stream: metadataChunks) and checksum them.
 *
 * XML is read and written with @xmldom/xmldom (a namespace-aware DOM), never with regexes. Serialising
 * the DOM keeps the XML declaration, the `xmlns` / `xmlns:rpm` declarations, attribute order, comments
 * and the indentation text between elements. Two things differ from the input in a round trip, both
 * without meaning to any XML reader: an empty element written as `<a></a>` comes back as `<a/>`, and
 * whitespace after the root element is dropped by the DOM (this module puts the original trailing
 * whitespace back, so createrepo_c's final newline survives).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import type { Document, Element, Node } from '@xmldom/xmldom';
import { RelengError, errorMessage } from '../../errors';
import { streamStdout } from '../tools/exec';

export const REPO_NS = 'http://linux.duke.edu/metadata/repo';
export const RPM_NS = 'http://linux.duke.edu/metadata/rpm';

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;

// ---------------------------------------------------------------------------------------------------
// XML helpers shared by repomd, updateinfo and verify
// ---------------------------------------------------------------------------------------------------

/**
 * Parses XML strictly: anything the parser reports (warnings included, e.g. an unquoted attribute)
 * fails. `source` (a path or URL) is named in the RelengError with the parser's message and position.
 * `locator: false` skips position tracking (about a quarter faster on large primary.xml files).
 */
export function parseXml(text: string, source: string, opts: { locator?: boolean } = {}): Document {
  let first: string | undefined;
  try {
    return new DOMParser({
      locator: opts.locator ?? true,
      onError: (level, msg, context) => {
        const loc = (context as { locator?: { lineNumber?: number; columnNumber?: number } } | undefined)?.locator;
        const where = loc?.lineNumber ? ` at line ${loc.lineNumber}, column ${loc.columnNumber ?? '?'}` : '';
        first ??= `${msg.trim()}${where}${level === 'warning' ? ' (warning)' : ''}`;
        throw new Error(msg);
      },
    }).parseFromString(text, 'text/xml');
  } catch (err) {
    const msg =
      first ??
      errorMessage(err)
        .split('\n')
        .filter((l) => l.trim() !== '')
        .slice(0, 3)
        .join(' ');
    throw new RelengError(`${source}: malformed XML: ${msg}`);
  }
}

/** Element children of a node (no text, comments). */
export function childElements(node: Node): Element[] {
  const out: Element[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.nodeType === ELEMENT_NODE) out.push(c as Element);
  return out;
}

/** First element child with this local name (namespace ignored), or undefined. */
export function firstChild(node: Node, localName: string): Element | undefined {
  return childElements(node).find((e) => e.localName === localName);
}

/** Trimmed text content of the first child element with this local name. */
export function childText(node: Node, localName: string): string | undefined {
  const el = firstChild(node, localName);
  return el ? (el.textContent ?? '').trim() : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------------

export interface RepomdChecksum {
  /** Checksum type as written in repomd (`sha256`, `sha512`, `sha`/`sha1`, `md5`...). */
  type: string;
  value: string;
}

/** One `<data type="...">` record. Fields absent in the XML are undefined. */
export interface RepomdRecord {
  type: string;
  checksum?: RepomdChecksum;
  openChecksum?: RepomdChecksum;
  /** zchunk records only. */
  headerChecksum?: RepomdChecksum;
  /** `location@href`, relative to the repository root (the directory holding `repodata/`). */
  location: string;
  /** `location@xml:base`, when present (the file then lives elsewhere). */
  locationBase?: string;
  timestamp?: number;
  size?: number;
  openSize?: number;
  headerSize?: number;
  databaseVersion?: number;
}

export interface Repomd {
  /** Path or URL it was read from (for messages). */
  source: string;
  revision?: string;
  records: RepomdRecord[];
}

/** Path of repomd.xml for a repository root. */
export function repomdPath(repoDir: string): string {
  return join(repoDir, 'repodata', 'repomd.xml');
}

function intField(el: Element, name: string, source: string, type: string): number | undefined {
  const t = childText(el, name);
  if (t === undefined || t === '') return undefined; // `<open-size></open-size>` (see fix_metadata in the toolkit)
  if (!/^\d+$/.test(t)) throw new RelengError(`${source}: <data type="${type}"> has a non-numeric <${name}>: '${t}'`);
  return Number(t);
}

function checksumField(el: Element, name: string): RepomdChecksum | undefined {
  const c = firstChild(el, name);
  if (!c) return undefined;
  return { type: c.getAttribute('type') ?? '', value: (c.textContent ?? '').trim() };
}

function recordFromElement(el: Element, source: string): RepomdRecord {
  const type = el.getAttribute('type');
  if (!type) throw new RelengError(`${source}: a <data> element has no type attribute`);
  const loc = firstChild(el, 'location');
  const href = loc?.getAttribute('href');
  if (!loc || !href) throw new RelengError(`${source}: <data type="${type}"> has no <location href>`);
  const rec: RepomdRecord = { type, location: href };
  const base = loc.getAttribute('xml:base');
  if (base) rec.locationBase = base;
  const checksum = checksumField(el, 'checksum');
  if (checksum) rec.checksum = checksum;
  const open = checksumField(el, 'open-checksum');
  if (open) rec.openChecksum = open;
  const header = checksumField(el, 'header-checksum');
  if (header) rec.headerChecksum = header;
  const ints: [keyof RepomdRecord, string][] = [
    ['timestamp', 'timestamp'],
    ['size', 'size'],
    ['openSize', 'open-size'],
    ['headerSize', 'header-size'],
    ['databaseVersion', 'database_version'],
  ];
  for (const [key, name] of ints) {
    const v = intField(el, name, source, type);
    if (v !== undefined) (rec as unknown as Record<string, number>)[key] = v;
  }
  return rec;
}

function repomdRoot(doc: Document, source: string): Element {
  const root = doc.documentElement;
  if (!root || root.localName !== 'repomd') {
    throw new RelengError(`${source}: root element is <${root?.tagName ?? '(none)'}>, expected <repomd>`);
  }
  return root;
}

function dataElements(root: Element): Element[] {
  return childElements(root).filter((e) => e.localName === 'data');
}

/** Parses repomd.xml text. `source` names the file in errors. */
export function parseRepomd(xml: string, source: string): Repomd {
  const doc = parseXml(xml, source);
  const root = repomdRoot(doc, source);
  const records = dataElements(root).map((el) => recordFromElement(el, source));
  const seen = new Set<string>();
  for (const r of records) {
    if (seen.has(r.type)) throw new RelengError(`${source}: more than one <data type="${r.type}"> record`);
    seen.add(r.type);
  }
  const revision = childText(root, 'revision');
  return { source, ...(revision !== undefined ? { revision } : {}), records };
}

/** Reads and parses `<repoDir>/repodata/repomd.xml`. */
export async function readRepomd(repoDir: string): Promise<Repomd> {
  const path = repomdPath(repoDir);
  let xml: string;
  try {
    xml = await readFile(path, 'utf8');
  } catch (err) {
    throw new RelengError(`cannot read ${path}: ${errorMessage(err)}`);
  }
  return parseRepomd(xml, path);
}

/** True when two records say the same thing (every field equal). */
export function sameRecord(a: RepomdRecord, b: RepomdRecord): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    const x = (a as unknown as Record<string, unknown>)[k];
    const y = (b as unknown as Record<string, unknown>)[k];
    if (typeof x === 'object' && typeof y === 'object' && x && y) {
      const cx = x as RepomdChecksum;
      const cy = y as RepomdChecksum;
      if (cx.type !== cy.type || cx.value !== cy.value) return false;
    } else if (x !== y) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Replacing one record
// ---------------------------------------------------------------------------------------------------

/** The whitespace text node just before `el`, if any ("\n  " in createrepo_c's layout). */
function leadingWhitespace(el: Node): string | undefined {
  const prev = el.previousSibling;
  if (prev && prev.nodeType === TEXT_NODE && (prev.nodeValue ?? '').trim() === '') return prev.nodeValue ?? '';
  return undefined;
}

/** Builds `<data type=...>` with children in createrepo_c's order, in the repo namespace of the document. */
function buildRecordElement(doc: Document, ns: string | null, rec: RepomdRecord, recIndent: string | undefined, childIndent: string | undefined): Element {
  const el = doc.createElementNS(ns, 'data');
  el.setAttribute('type', rec.type);
  const add = (child: Element): void => {
    if (childIndent !== undefined) el.appendChild(doc.createTextNode(childIndent));
    el.appendChild(child);
  };
  const text = (name: string, value: string, attrs: [string, string][] = []): Element => {
    const c = doc.createElementNS(ns, name);
    for (const [k, v] of attrs) c.setAttribute(k, v);
    c.appendChild(doc.createTextNode(value));
    return c;
  };
  if (rec.checksum) add(text('checksum', rec.checksum.value, [['type', rec.checksum.type]]));
  if (rec.openChecksum) add(text('open-checksum', rec.openChecksum.value, [['type', rec.openChecksum.type]]));
  if (rec.headerChecksum) add(text('header-checksum', rec.headerChecksum.value, [['type', rec.headerChecksum.type]]));
  const loc = doc.createElementNS(ns, 'location');
  if (rec.locationBase) loc.setAttributeNS('http://www.w3.org/XML/1998/namespace', 'xml:base', rec.locationBase);
  loc.setAttribute('href', rec.location);
  add(loc);
  if (rec.timestamp !== undefined) add(text('timestamp', String(rec.timestamp)));
  if (rec.size !== undefined) add(text('size', String(rec.size)));
  if (rec.openSize !== undefined) add(text('open-size', String(rec.openSize)));
  if (rec.headerSize !== undefined) add(text('header-size', String(rec.headerSize)));
  if (rec.databaseVersion !== undefined) add(text('database_version', String(rec.databaseVersion)));
  if (childIndent !== undefined && recIndent !== undefined) el.appendChild(doc.createTextNode(recIndent));
  return el;
}

/**
 * Returns repomd.xml text with the `<data type="rec.type">` record replaced by `rec` (in place, so
 * the record keeps its position) or, when there is none, appended after the last record. Every other
 * node is left as it was. Indentation follows the existing records.
 */
export function setRepomdRecord(xml: string, rec: RepomdRecord, source = 'repomd.xml'): string {
  const doc = parseXml(xml, source);
  const root = repomdRoot(doc, source);
  parseRepomd(xml, source); // validates every existing record the same way readers will
  const datas = dataElements(root);
  const ns = root.namespaceURI ?? null;
  const sample = datas.find((d) => d.getAttribute('type') !== rec.type) ?? datas[0];
  const lastElement = datas[datas.length - 1] ?? childElements(root).at(-1);
  const indentFrom = sample ?? lastElement;
  const recIndent = indentFrom ? leadingWhitespace(indentFrom) : undefined;
  const firstSampleChild = sample ? childElements(sample)[0] : undefined;
  const childIndent = firstSampleChild
    ? leadingWhitespace(firstSampleChild)
    : recIndent !== undefined
      ? `${recIndent}  `
      : undefined;
  const el = buildRecordElement(doc, ns, rec, recIndent, childIndent);
  const existing = datas.find((d) => d.getAttribute('type') === rec.type);
  if (existing) {
    root.replaceChild(el, existing);
  } else {
    // After the last record (or the last element, e.g. <revision>), before the text that closes the root.
    const anchor = lastElement ? lastElement.nextSibling : null;
    if (recIndent !== undefined && lastElement) root.insertBefore(doc.createTextNode(recIndent), anchor);
    root.insertBefore(el, anchor);
  }
  return serializeXml(doc, xml);
}

/** Serialises a DOM, keeping the whitespace that followed the root element in `original`. */
export function serializeXml(doc: Document, original: string): string {
  const out = new XMLSerializer().serializeToString(doc);
  const trailing = original.slice(original.trimEnd().length);
  return out + trailing;
}

// ---------------------------------------------------------------------------------------------------
// Files
// ---------------------------------------------------------------------------------------------------

/**
 * Writes a file atomically: a temporary file in the same directory, then rename over the target.
 * An existing target's permission bits are kept.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  let mode = 0o644;
  try {
    mode = (await stat(path)).mode & 0o7777;
  } catch {
    /* new file */
  }
  try {
    await writeFile(tmp, data, { mode, flush: true });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new RelengError(`cannot write ${path}: ${errorMessage(err)}`);
  }
}

/** Writes repomd.xml atomically unless its content is already `xml`; returns whether it wrote. */
export async function writeRepomdIfChanged(path: string, xml: string): Promise<boolean> {
  try {
    if ((await readFile(path, 'utf8')) === xml) return false;
  } catch {
    /* absent: write it */
  }
  parseRepomd(xml, path); // never write something we cannot read back
  await writeFileAtomic(path, xml);
  return true;
}

export interface RepomdFile {
  type: string;
  /** `location@href` as written. */
  href: string;
  /** Absolute local path, or undefined when href escapes the repository or xml:base points elsewhere. */
  path?: string;
  checksum?: RepomdChecksum;
  size?: number;
  problem?: string;
}

/** Resolves an href relative to the repository root; undefined when it escapes the root. */
export function resolveInRepo(repoDir: string, href: string): string | undefined {
  if (isAbsolute(href) || href.includes('\0')) return undefined;
  const root = resolve(repoDir);
  const p = resolve(root, href);
  const rel = relative(root, p);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) return undefined;
  return p;
}

/** The files repomd names, resolved under `repoDir`. */
export function repomdFiles(repoDir: string, repomd: Repomd): RepomdFile[] {
  return repomd.records.map((r) => {
    const f: RepomdFile = { type: r.type, href: r.location };
    if (r.checksum) f.checksum = r.checksum;
    if (r.size !== undefined) f.size = r.size;
    if (r.locationBase) {
      f.problem = `record ${r.type} has xml:base=${r.locationBase}: the file is not in this repository`;
      return f;
    }
    const p = resolveInRepo(repoDir, r.location);
    if (p) f.path = p;
    else f.problem = `record ${r.type} location '${r.location}' is outside the repository`;
    return f;
  });
}

/** Node hash name for a repodata checksum type; undefined when unknown. */
export function hashAlgorithm(type: string): string | undefined {
  const t = type.toLowerCase();
  const map: Record<string, string> = {
    sha: 'sha1',
    sha1: 'sha1',
    sha224: 'sha224',
    sha256: 'sha256',
    sha384: 'sha384',
    sha512: 'sha512',
    md5: 'md5',
  };
  return map[t];
}

/** Reads a file through a hash, 64 KiB at a time; returns the hex digest. */
export async function fileDigest(path: string, algorithm: string): Promise<string> {
  const h = createHash(algorithm);
  const fh = await open(path, 'r');
  try {
    // One buffer per file, sized for it: a repo's many small RPMs then make little garbage.
    const buf = Buffer.allocUnsafe(Math.min(64 * 1024, (await fh.stat()).size + 1));
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

/** Decompressors of repodata files by suffix, besides gzip (zlib, in process). */
const DECOMPRESSORS: [string, string][] = [
  ['.xz', 'xz'],
  ['.bz2', 'bzip2'],
  ['.zst', 'zstd'],
];

/**
 * The text of a repodata file as a stream of UTF-8 chunks, decompressed by its suffix as it is read: .gz natively;
 * .xz, .bz2 and .zst through xz, bzip2 and zstd; anything else as is. Nothing is held beyond a chunk. A read or
 * decompression error (a truncated gzip, a tool's non-zero exit) is a RelengError naming the file; a reader that
 * stops early (return/break) stops the decompressor.
 */
export async function* metadataChunks(path: string): AsyncGenerator<string> {
  const tool = DECOMPRESSORS.find(([ext]) => path.endsWith(ext))?.[1];
  const proc = tool ? streamStdout(tool, ['-dc', '--', path]) : undefined;
  const raw: Readable = proc
    ? proc.stdout
    : path.endsWith('.gz')
      ? pipeline(createReadStream(path), createGunzip(), () => undefined) // errors reach the reader through the gunzip stream
      : createReadStream(path);
  const decoder = new StringDecoder('utf8');
  try {
    for await (const chunk of raw) {
      const text = decoder.write(chunk as Buffer);
      if (text) yield text;
    }
    const rest = decoder.end();
    if (rest) yield rest;
    await proc?.done; // a decompressor that failed half-way must not pass for a short file
  } catch (err) {
    let cause = err;
    // The tool's own failure (missing, bad input) says more than the broken pipe it leaves.
    if (proc && !(err instanceof RelengError)) cause = await proc.done.then(() => err, (toolErr: unknown) => toolErr);
    throw new RelengError(`cannot read ${path}: ${errorMessage(cause)}`);
  } finally {
    raw.destroy();
    proc?.kill();
  }
}

/** Contents of a (small) repodata file, decompressed as metadataChunks does. */
export async function readMetadataFile(path: string): Promise<string> {
  let text = '';
  for await (const chunk of metadataChunks(path)) text += chunk;
  return text;
}
