/**
 * productmd 1.2 metadata (composeinfo.json, rpms.json, modules.json) as pungi writes it:
 * json.dump(indent=4, sort_keys=True, separators=(",", ": ")), ASCII-escaped, no trailing newline.
 * Readers check header.type and header.version so a productmd 2.0 compose fails loudly instead of misparsing.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { RelengError } from '../../errors';

export const PRODUCTMD_VERSION = '1.2';

export type ProductmdType = 'productmd.composeinfo' | 'productmd.rpms' | 'productmd.modules';

export interface ProductmdHeader<T extends ProductmdType = ProductmdType> {
  type: T;
  version: string;
}

/** The compose block shared by all files (composeinfo adds label/final). */
export interface ComposeSummary {
  id: string;
  /** YYYYMMDD */
  date: string;
  respin: number;
  type: string;
}

export interface ComposeInfoCompose extends ComposeSummary {
  label?: string;
  final?: boolean;
}

export interface ReleaseInfo {
  name: string;
  short: string;
  version: string;
  type: string;
  internal: boolean;
  is_layered?: boolean;
}

/** category ("os_tree", "packages", "source_tree", …) -> arch -> path relative to <compose>/compose/ */
export type VariantPaths = Record<string, Record<string, string>>;

export interface VariantInfo {
  id: string;
  uid: string;
  name: string;
  type: 'variant' | 'optional' | 'addon' | 'layered-product';
  arches: string[];
  paths: VariantPaths;
  variants?: string[];
}

export interface ComposeInfo {
  header: ProductmdHeader<'productmd.composeinfo'>;
  payload: {
    compose: ComposeInfoCompose;
    release: ReleaseInfo;
    variants: Record<string, VariantInfo>;
  };
}

export interface RpmEntry {
  category: 'binary' | 'debug' | 'source';
  path: string;
  sigkey: string | null;
}

/** variant -> binary arch -> srpm NEVRA -> rpm NEVRA -> entry */
export type RpmsMap = Record<string, Record<string, Record<string, Record<string, RpmEntry>>>>;

export interface RpmsMetadata {
  header: ProductmdHeader<'productmd.rpms'>;
  payload: { compose: ComposeSummary; rpms: RpmsMap };
}

export interface ModuleEntry {
  metadata: { uid: string; name: string; stream: string; version: string; context: string; koji_tag?: string };
  modulemd_path: Record<string, string>;
  rpms: string[];
}

export interface ModulesMetadata {
  header: ProductmdHeader<'productmd.modules'>;
  payload: { compose: ComposeSummary; modules: Record<string, Record<string, Record<string, ModuleEntry>>> };
}

function escapeString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function dump(value: unknown, level: number): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return escapeString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  const pad = ' '.repeat(4 * (level + 1));
  const end = ' '.repeat(4 * level);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + dump(v, level + 1)).join(',\n')}\n${end}]`;
  }
  // Explicit sort: JS objects iterate integer-like keys first, Python's sort_keys does not.
  const keys = Object.keys(value as object)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  if (keys.length === 0) return '{}';
  const items = keys.map((k) => `${pad}${escapeString(k)}: ${dump((value as Record<string, unknown>)[k], level + 1)}`);
  return `{\n${items.join(',\n')}\n${end}}`;
}

/**
 * Python's json.dumps(x, indent=4, sort_keys=True) byte for byte for the data productmd holds (strings, ints,
 * bools, null, lists, dicts): ", " / ": " separators, non-ASCII as lower-case \\uXXXX, no trailing newline.
 * Undefined object members are left out (optional fields). Python sorts keys by code point and JS by UTF-16
 * unit; they differ only for astral-plane keys, which productmd never has.
 */
export function serializeProductmd(data: unknown): string {
  return dump(data, 0);
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new RelengError(`cannot write ${path}: ${(err as Error).message}`);
  }
}

export function writeComposeInfo(path: string, data: ComposeInfo): Promise<void> {
  return writeAtomic(path, serializeProductmd(data));
}

export function writeRpmsMetadata(path: string, data: RpmsMetadata): Promise<void> {
  return writeAtomic(path, serializeProductmd(data));
}

export function writeModulesMetadata(path: string, data: ModulesMetadata): Promise<void> {
  return writeAtomic(path, serializeProductmd(data));
}

/** Parses productmd JSON text and checks its header; `file` only names the source in errors. */
export function parseProductmd<T>(text: string, type: ProductmdType, file: string): T {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new RelengError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const header = (data as { header?: { type?: unknown; version?: unknown } } | null)?.header;
  if (!header || header.type !== type) {
    throw new RelengError(`${file}: header.type is ${JSON.stringify(header?.type)}, expected "${type}"`);
  }
  if (header.version !== PRODUCTMD_VERSION) {
    throw new RelengError(
      `${file}: productmd header.version is ${JSON.stringify(header.version)}, only "${PRODUCTMD_VERSION}" is supported`,
    );
  }
  const payload = (data as { payload?: unknown }).payload;
  if (!payload || typeof payload !== 'object') throw new RelengError(`${file}: missing payload`);
  return data as T;
}

async function readProductmd<T>(path: string, type: ProductmdType): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RelengError(`cannot read ${path}: ${(err as Error).message}`);
  }
  return parseProductmd<T>(text, type, path);
}

export function readComposeInfo(path: string): Promise<ComposeInfo> {
  return readProductmd<ComposeInfo>(path, 'productmd.composeinfo');
}

export function readRpmsMetadata(path: string): Promise<RpmsMetadata> {
  return readProductmd<RpmsMetadata>(path, 'productmd.rpms');
}

export function readModulesMetadata(path: string): Promise<ModulesMetadata> {
  return readProductmd<ModulesMetadata>(path, 'productmd.modules');
}

/** Adds one RPM the way productmd's Rpms.add() files it (arch key must be a binary arch, path relative). */
export function addRpm(
  rpms: RpmsMap,
  variant: string,
  arch: string,
  srpmNevra: string,
  rpmNevra: string,
  entry: RpmEntry,
): void {
  if (arch === 'src' || arch === 'nosrc') throw new RelengError(`rpms.json: arch key may not be ${arch} (${rpmNevra})`);
  if (entry.path.startsWith('/')) throw new RelengError(`rpms.json: path must be relative: ${entry.path}`);
  const byArch = (rpms[variant] ??= {});
  const bySrpm = (byArch[arch] ??= {});
  const byRpm = (bySrpm[srpmNevra] ??= {});
  byRpm[rpmNevra] = { ...entry, sigkey: entry.sigkey?.toLowerCase() ?? null };
}
