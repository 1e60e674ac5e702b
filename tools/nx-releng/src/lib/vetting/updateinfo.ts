/**
 * updateinfo (errata): fetch advisories per repo × arch, validate them, and put them into a repository
 * the way Rocky's apollo_tree does (sig-core-toolkit mangle/errata/apollo_tree.py), minus its quirks:
 *
 * - the gzip is deterministic (mtime 0, level 9, no file name), so the same advisories give the same
 *   `<sha256>-updateinfo.xml.gz`;
 * - `open-size` is the byte size of the XML (apollo_tree records the character count);
 * - only the updateinfo `<data>` record is replaced; every other record keeps its bytes;
 * - a 404 from the advisory service is "no advisories for <repo>/<arch>", a skip (apollo_tree aborts
 *   the whole run on it);
 * - the same advisories again change nothing on disk: no new file, no repomd.xml rewrite.
 *
 * Timestamp of a new or changed record: the latest `issued`/`updated` date among the advisories
 * (UTC), or the current time when no advisory carries a date. So the record, and with it repomd.xml,
 * is a function of the advisories alone: two trees given the same advisories get identical repodata,
 * and a re-run with unchanged advisories keeps the record untouched because its checksum is equal.
 * The caller may pass `timestamp` to override.
 */
import { createHash } from 'node:crypto';
import type { AdvisorySource } from '../../layout/paths';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync, constants as zlibConstants } from 'node:zlib';
import { RelengError, errorMessage } from '../../errors';
import { ERRATA_MAX_BYTES } from '../../config/schema';
import {
  type RepomdRecord,
  childElements,
  childText,
  firstChild,
  parseXml,
  readRepomd,
  repomdPath,
  resolveInRepo,
  sameRecord,
  setRepomdRecord,
  writeFileAtomic,
  writeRepomdIfChanged,
} from '../formats/repomd';
import { exists } from '../core/fs-checks';
import { primaryPackages } from '../formats/primary';

// ---------------------------------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------------------------------


export interface AdvisoryTarget {
  repo: string;
  arch: string;
  major: string | number;
}

export type AdvisoryFetch =
  | { kind: 'xml'; xml: Buffer; origin: string }
  | { kind: 'skip'; reason: string; origin: string };

/** URL of the advisories for one repo × arch. */
export function advisoryUrl(source: Extract<AdvisorySource, { type: 'http' }>, t: AdvisoryTarget): string {
  const base = source.baseUrl.replace(/\/+$/, '');
  const url = new URL(
    `${base}/${encodeURIComponent(source.productSlug)}/${encodeURIComponent(String(t.major))}/${encodeURIComponent(t.repo)}/updateinfo.xml`,
  );
  url.searchParams.set('arch', t.arch);
  if (source.minorVersion !== undefined) url.searchParams.set('minor_version', String(source.minorVersion));
  return url.toString();
}

/** Loopback hosts, the only ones advisories may come from over plain http (a local mirror, a test server). */
function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** Advisories decide what clients are told to install: they travel over https, or never leave the host. */
function checkTransport(url: string, what: string): void {
  const u = new URL(url);
  if (u.protocol === 'https:' || (u.protocol === 'http:' && isLoopback(u.hostname))) return;
  throw new RelengError(
    `${what} ${url}: advisories must be fetched over https (plain http only from a loopback host: localhost, 127.0.0.0/8, ::1); ` +
      `check release.json errata.source.baseUrl and RELENG_ERRATA_URL`,
  );
}

function tooLarge(origin: string, maxBytes: number, seen: string): RelengError {
  return new RelengError(`${origin}: the advisories are larger than ${maxBytes} bytes (${seen}); release.json errata.maxBytes sets the limit`);
}

/** Reads a response body, giving up as soon as it passes `maxBytes`. */
async function readCapped(res: Response, url: string, maxBytes: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    await res.body?.cancel();
    throw tooLarge(url, maxBytes, `Content-Length ${declared}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  for (let r = await reader?.read(); reader && r && !r.done; r = await reader.read()) {
    size += r.value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(url, maxBytes, `more than ${maxBytes} bytes received`);
    }
    chunks.push(r.value);
  }
  return Buffer.concat(chunks);
}

/** GET `url`, following at most 5 redirects, each checked by checkTransport before it is followed. */
async function fetchChecked(url: string, timeoutMs: number): Promise<Response> {
  let at = url;
  for (let hop = 0; hop <= 5; hop++) {
    checkTransport(at, hop ? `${url} redirects to` : 'advisory URL');
    let res: Response;
    try {
      res = await fetch(at, {
        headers: { accept: 'application/xml, text/xml;q=0.9, */*;q=0.1' },
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: unknown }).cause;
      throw new RelengError(`fetching advisories ${at} failed: ${errorMessage(err)}${cause ? ` (${errorMessage(cause)})` : ''}`);
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || !location) return res;
    await res.body?.cancel();
    at = new URL(location, at).toString();
  }
  throw new RelengError(`fetching advisories ${url} failed: more than 5 redirects`);
}

/**
 * Fetches the advisory XML for one repo × arch. A 404 (http) or a missing file (dir) is a skip, not an
 * error; any other HTTP status, a network error, plain http to a host that is not loopback (also after a
 * redirect) or a document over `maxBytes` is a RelengError naming the URL or path.
 */
export async function fetchAdvisories(source: AdvisorySource, target: AdvisoryTarget): Promise<AdvisoryFetch> {
  const maxBytes = source.maxBytes ?? ERRATA_MAX_BYTES;
  if (source.type === 'dir') {
    const path = join(source.path, target.repo, target.arch, 'updateinfo.xml');
    try {
      const size = (await stat(path)).size;
      if (size > maxBytes) throw tooLarge(path, maxBytes, `${size} bytes`);
      return { kind: 'xml', xml: await readFile(path), origin: path };
    } catch (err) {
      if (err instanceof RelengError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return { kind: 'skip', reason: `no advisories for ${target.repo}/${target.arch} (${path} does not exist)`, origin: path };
      }
      throw new RelengError(`cannot read advisories ${path}: ${errorMessage(err)}`);
    }
  }
  const url = advisoryUrl(source, target);
  const res = await fetchChecked(url, source.timeoutMs ?? 120_000);
  if (res.status === 404) {
    await res.body?.cancel();
    return { kind: 'skip', reason: `no advisories for ${target.repo}/${target.arch} (404 from ${url})`, origin: url };
  }
  if (res.status !== 200) {
    let body = '';
    try {
      body = (await res.text()).trim().slice(0, 200);
    } catch {
      /* ignore */
    }
    throw new RelengError(`fetching advisories ${url} failed: HTTP ${res.status} ${res.statusText}${body ? `: ${body}` : ''}`);
  }
  try {
    return { kind: 'xml', xml: await readCapped(res, url, maxBytes), origin: url };
  } catch (err) {
    if (err instanceof RelengError) throw err;
    throw new RelengError(`fetching advisories ${url} failed while reading the body: ${errorMessage(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------------

export interface AdvisorySummary {
  id: string;
  type: string;
  /** Latest of issued/updated, seconds since the epoch (UTC), when present. */
  date?: number;
  /** Package file names named in pkglist. */
  filenames: string[];
}

export interface ValidatedUpdateinfo {
  advisories: AdvisorySummary[];
  warnings: string[];
}

/** `YYYY-MM-DD[ HH:MM:SS]` (UTC) or epoch seconds → epoch seconds. */
function parseAdvisoryDate(s: string | null | undefined): number | undefined {
  if (!s) return undefined;
  const t = s.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?/.exec(t);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0));
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : undefined;
}

/**
 * Parses advisory XML and checks its shape: root `<updates>`, every `<update>` has an `<id>` and a
 * `type` attribute. Malformed XML or a wrong shape is a RelengError naming `origin`.
 * When `repoFilenames` (package file names in the repo's primary) is given, packages in a pkglist
 * whose file name is not among them are reported as warnings (and kept in the XML).
 */
export function validateUpdateinfo(xml: string | Buffer, origin: string, repoFilenames?: ReadonlySet<string>): ValidatedUpdateinfo {
  const text = (typeof xml === 'string' ? xml : xml.toString('utf8')).replace(/^\uFEFF/, '');
  // updateinfo has no DTD; a DOCTYPE or entity declaration in advisories is an entity-expansion or XXE attempt.
  const declaration = /<!(DOCTYPE|ENTITY)\b/i.exec(text);
  if (declaration) {
    const line = text.slice(0, declaration.index).split('\n').length;
    throw new RelengError(`${origin}: advisory XML carries a <!${declaration[1]}> declaration (line ${line}); updateinfo has none, refusing it`);
  }
  const doc = parseXml(text, origin);
  const root = doc.documentElement;
  if (!root || root.localName !== 'updates') {
    throw new RelengError(`${origin}: advisory XML root element is <${root?.tagName ?? '(none)'}>, expected <updates>`);
  }
  const warnings: string[] = [];
  const advisories: AdvisorySummary[] = [];
  const ids = new Set<string>();
  let index = 0;
  for (const u of childElements(root)) {
    index++;
    if (u.localName !== 'update') {
      throw new RelengError(`${origin}: unexpected <${u.tagName}> in <updates> (element ${index})`);
    }
    const id = childText(u, 'id');
    if (!id) throw new RelengError(`${origin}: <update> number ${index} has no <id>`);
    const type = u.getAttribute('type');
    if (!type) throw new RelengError(`${origin}: advisory ${id} has no type attribute`);
    if (ids.has(id)) warnings.push(`${origin}: advisory ${id} appears more than once`);
    ids.add(id);
    const dates = ['issued', 'updated']
      .map((n) => {
        // Apollo writes <issued date="..."/>; older generators wrote the date as text.
        const el = firstChild(u, n);
        return parseAdvisoryDate(el?.getAttribute('date') || el?.textContent);
      })
      .filter((d): d is number => d !== undefined);
    const filenames: string[] = [];
    const missing: string[] = [];
    const pkglist = firstChild(u, 'pkglist');
    for (const coll of pkglist ? childElements(pkglist).filter((e) => e.localName === 'collection') : []) {
      for (const p of childElements(coll).filter((e) => e.localName === 'package')) {
        const fn =
          childText(p, 'filename') ||
          `${p.getAttribute('name') ?? ''}-${p.getAttribute('version') ?? ''}-${p.getAttribute('release') ?? ''}.${p.getAttribute('arch') ?? ''}.rpm`;
        filenames.push(fn);
        if (repoFilenames && !repoFilenames.has(fn)) missing.push(fn);
      }
    }
    if (missing.length) {
      warnings.push(`advisory ${id} names package(s) not in the repository: ${missing.join(', ')}`);
    }
    const summary: AdvisorySummary = { id, type, filenames };
    if (dates.length) summary.date = Math.max(...dates);
    advisories.push(summary);
  }
  return { advisories, warnings };
}

// ---------------------------------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------------------------------

/** gzip with no name, mtime 0 and level 9: the same input gives the same bytes (for one zlib build). */
export function deterministicGzip(data: Uint8Array): Buffer {
  return gzipSync(data, { level: 9, memLevel: 8, windowBits: 15, strategy: zlibConstants.Z_DEFAULT_STRATEGY });
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface ApplyUpdateinfoOptions {
  /** Named in errors and warnings (URL or path of the advisories). */
  origin?: string;
  /** Timestamp for a new or changed record; default: latest advisory date, else now. */
  timestamp?: number;
}

export interface ApplyUpdateinfoResult {
  /** Whether anything on disk changed. */
  changed: boolean;
  /** `repodata/<sha256>-updateinfo.xml.gz`. */
  location: string;
  advisories: number;
  warnings: string[];
  /** Previous updateinfo file that was deleted, if any. */
  removed?: string;
}

/**
 * Puts advisory XML into the repository at `repoDir` (the directory holding `repodata/`):
 * validates it (nothing is touched when it is malformed), writes `repodata/<sha256(gz)>-updateinfo.xml.gz`,
 * replaces the updateinfo record of repomd.xml, and deletes the previous updateinfo file.
 * The same advisories again change nothing. The signature (repomd.xml.asc) is stale after a change;
 * sign afterwards.
 */
export async function applyUpdateinfo(
  repoDir: string,
  xml: string | Buffer,
  opts: ApplyUpdateinfoOptions = {},
): Promise<ApplyUpdateinfoResult> {
  const origin = opts.origin ?? 'updateinfo.xml';
  const raw = typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml;
  const mdPath = repomdPath(repoDir);
  const repomd = await readRepomd(repoDir);
  // Only the file names, for the warnings about advisories naming packages the repo lacks.
  const filenames = new Set<string>();
  for await (const p of primaryPackages(repoDir, repomd)) filenames.add(p.href.slice(p.href.lastIndexOf('/') + 1));
  const { advisories, warnings } = validateUpdateinfo(raw, origin, filenames);

  const gz = deterministicGzip(raw);
  const gzSum = sha256(gz);
  const location = `repodata/${gzSum}-updateinfo.xml.gz`;
  const gzPath = join(repoDir, location);
  const old = repomd.records.find((r) => r.type === 'updateinfo');

  const sameContent = old?.checksum?.type === 'sha256' && old.checksum.value === gzSum && old.location === location;
  const dates = advisories.map((a) => a.date).filter((d): d is number => d !== undefined);
  const timestamp =
    sameContent && old.timestamp !== undefined
      ? old.timestamp
      : (opts.timestamp ?? (dates.length ? Math.max(...dates) : Math.floor(Date.now() / 1000)));
  const rec: RepomdRecord = {
    type: 'updateinfo',
    checksum: { type: 'sha256', value: gzSum },
    openChecksum: { type: 'sha256', value: sha256(raw) },
    location,
    timestamp,
    size: gz.length,
    openSize: raw.length,
  };

  let changed = false;
  let current: Buffer | undefined;
  try {
    current = await readFile(gzPath);
  } catch {
    current = undefined;
  }
  if (!current || !current.equals(gz)) {
    await writeFileAtomic(gzPath, gz);
    changed = true;
  }
  if (!old || !sameRecord(old, rec)) {
    const text = await readFile(mdPath, 'utf8');
    if (await writeRepomdIfChanged(mdPath, setRepomdRecord(text, rec, mdPath))) changed = true;
  }
  const result: ApplyUpdateinfoResult = { changed, location, advisories: advisories.length, warnings };
  if (old && old.location !== location) {
    const oldPath = resolveInRepo(repoDir, old.location);
    if (oldPath && old.location.startsWith('repodata/') && (await exists(oldPath))) {
      await rm(oldPath, { force: true });
      result.removed = old.location;
      result.changed = true;
    }
  }
  return result;
}

export interface UpdateRepoAdvisoriesResult extends Partial<ApplyUpdateinfoResult> {
  repoDir: string;
  origin: string;
  /** Set when there were no advisories (404 / missing file): nothing was done. */
  skipped?: string;
}

/** Fetch + validate + apply for one repo × arch; a 404 / missing file is returned as `skipped`. */
export async function updateRepoAdvisories(
  repoDir: string,
  source: AdvisorySource,
  target: AdvisoryTarget,
  opts: Omit<ApplyUpdateinfoOptions, 'origin'> = {},
): Promise<UpdateRepoAdvisoriesResult> {
  const got = await fetchAdvisories(source, target);
  if (got.kind === 'skip') return { repoDir, origin: got.origin, skipped: got.reason };
  const res = await applyUpdateinfo(repoDir, got.xml, { ...opts, origin: got.origin });
  return { repoDir, origin: got.origin, ...res };
}
