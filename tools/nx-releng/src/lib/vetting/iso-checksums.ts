/**
 * verify's check of a minor release's isos/<arch>/ dirs before they may reach production: every CHECKSUM entry
 * (`# <name>: <size> bytes` + `SHA256 (<name>) = <hex>`, as lib/minor-release checksumEntry writes them and
 * `sha256sum -c` reads them) holds for the file it names, following the latest links; each `<name>.CHECKSUM`
 * says the same as CHECKSUM; every latest link points at an ISO in the same dir; every ISO a user can download
 * has its entry. Problems are collected per file, as verify reports repos.
 */
import { lstat, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileDigest } from '../formats/repomd';
import type { RepoReport } from './verify';

export interface ChecksumEntry {
  name: string;
  size: number;
  sha256: string;
  /** 1-based line of the SHA256 line. */
  line: number;
}

export interface ParsedChecksums {
  entries: ChecksumEntry[];
  problems: string[];
}

const COMMENT = /^# (.+): (\d+) bytes$/;
const SHA256 = /^SHA256 \((.+)\) = ([0-9a-f]{64})$/;

/** Parses a CHECKSUM file strictly: each entry is a size comment followed by its sha256sum --tag line. */
export function parseChecksumFile(text: string): ParsedChecksums {
  const entries: ChecksumEntry[] = [];
  const problems: string[] = [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else if (text !== '') problems.push(`line ${lines.length}: no newline at the end of the file`);
  let pending: { name: string; size: number; line: number } | undefined;
  const seen = new Map<string, number>();
  for (const [i, line] of lines.entries()) {
    const n = i + 1;
    const comment = COMMENT.exec(line);
    const sum = SHA256.exec(line);
    if (comment) {
      if (pending) problems.push(`line ${pending.line}: the size comment of ${pending.name} is not followed by its SHA256 line`);
      pending = { name: comment[1] as string, size: Number(comment[2]), line: n };
    } else if (sum) {
      const name = sum[1] as string;
      if (!pending) {
        problems.push(`line ${n}: SHA256 line of ${name} has no '# ${name}: <size> bytes' line before it`);
      } else if (pending.name !== name) {
        problems.push(`line ${n}: SHA256 line of ${name} follows the size comment of ${pending.name}`);
      } else if (seen.has(name)) {
        problems.push(`line ${n}: ${name} is listed again (first on line ${seen.get(name)})`);
      } else {
        seen.set(name, n);
        entries.push({ name, size: pending.size, sha256: sum[2] as string, line: n });
      }
      pending = undefined;
    } else {
      problems.push(`line ${n}: '${line}' is neither '# <name>: <size> bytes' nor 'SHA256 (<name>) = <64 hex digits>'`);
    }
  }
  if (pending) problems.push(`line ${pending.line}: the size comment of ${pending.name} is not followed by its SHA256 line`);
  return { entries, problems };
}

/** How a `<name>.CHECKSUM` file disagrees with CHECKSUM's entry for name: problems, none when it agrees. */
export function compareChecksumFile(name: string, own: ParsedChecksums, combined: ChecksumEntry | undefined): string[] {
  const file = `${name}.CHECKSUM`;
  if (own.problems.length) return own.problems.map((p) => `${file}: ${p}`);
  if (own.entries.length !== 1 || own.entries[0]?.name !== name) {
    return [`${file} must hold exactly the entry of ${name}; it lists ${own.entries.map((e) => e.name).join(', ') || 'nothing'}`];
  }
  if (!combined) return [`${file} exists but CHECKSUM has no entry for ${name}`];
  const e = own.entries[0];
  if (e.size !== combined.size || e.sha256 !== combined.sha256) {
    return [`${file} says ${e.size} bytes sha256 ${e.sha256}, CHECKSUM says ${combined.size} bytes sha256 ${combined.sha256}`];
  }
  return [];
}

/**
 * Checks one isos/<arch> dir (rel: relative to root, e.g. isos/x86_64). One report per ISO or link name, plus
 * one for CHECKSUM itself and one per stray .CHECKSUM; a report's repo is the file's path relative to root.
 */
export async function checkIsoDir(root: string, rel: string): Promise<RepoReport[]> {
  const dir = join(root, rel);
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return [{ repo: rel, ok: false, problems: [`${dir} is missing or not a directory`] }];
  const problems = new Map<string, string[]>();
  const problem = (name: string, text: string) => problems.set(name, [...(problems.get(name) ?? []), text]);

  const isos = entries.filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.endsWith('.iso')).map((e) => e.name).sort();
  for (const name of isos) problems.set(name, []);
  const names = new Set(entries.map((e) => e.name));

  let combined: ParsedChecksums = { entries: [], problems: [] };
  const checksumText = await readFile(join(dir, 'CHECKSUM'), 'utf8').catch(() => undefined);
  problems.set('CHECKSUM', []);
  if (checksumText === undefined) problem('CHECKSUM', `${join(dir, 'CHECKSUM')} is missing`);
  else {
    combined = parseChecksumFile(checksumText);
    for (const p of combined.problems) problem('CHECKSUM', p);
  }
  const byName = new Map(combined.entries.map((e) => [e.name, e] as const));

  // Latest links: a plain name of a regular ISO file beside it (a download by the latest name is that ISO).
  for (const e of entries.filter((x) => x.isSymbolicLink())) {
    const target = await readlink(join(dir, e.name));
    const t = entries.find((x) => x.name === target);
    if (target.includes('/') || !t || !t.isFile() || !target.endsWith('.iso')) {
      problem(e.name, `link to '${target}', which is not an ISO file in ${rel}`);
    }
  }

  // Every entry holds for the file it names; links share their target's hash (each ISO is read once).
  const hashes = new Map<string, Promise<string>>();
  for (const entry of combined.entries) {
    const path = join(dir, entry.name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) {
      problem(entry.name, `CHECKSUM line ${entry.line} names ${entry.name}, which is ${st ? 'not a regular file' : 'missing'} in ${rel}`);
      continue;
    }
    if (st.size !== entry.size) {
      problem(entry.name, `CHECKSUM says ${entry.size} bytes, the file has ${st.size}`);
      continue;
    }
    const key = `${st.dev}:${st.ino}`;
    if (!hashes.has(key)) hashes.set(key, fileDigest(path, 'sha256'));
    const got = await (hashes.get(key) as Promise<string>);
    if (got !== entry.sha256) problem(entry.name, `CHECKSUM line ${entry.line} says sha256 ${entry.sha256}, the file has ${got}`);
  }

  // Every downloadable name has its entry, its own .CHECKSUM, and an ISO file its manifest.
  for (const name of isos) {
    if (!byName.has(name)) problem(name, `not listed in CHECKSUM`);
    const own = await readFile(join(dir, `${name}.CHECKSUM`), 'utf8').catch(() => undefined);
    if (own === undefined) problem(name, `${name}.CHECKSUM is missing`);
    else for (const p of compareChecksumFile(name, parseChecksumFile(own), byName.get(name))) problem(name, p);
    if (entries.find((x) => x.name === name)?.isFile() && !names.has(`${name}.manifest`)) problem(name, `${name}.manifest is missing`);
  }
  for (const e of entries) {
    const base = e.name.endsWith('.CHECKSUM') ? e.name.slice(0, -'.CHECKSUM'.length) : undefined;
    if (base && !isos.includes(base)) problem(e.name, `checksum file of ${base}, which is not an ISO in ${rel}`);
  }
  return [...problems].map(([name, list]) => ({ repo: `${rel}/${name}`, ok: list.length === 0, problems: list }));
}

/**
 * Checks an isos/ subtree: every arch dir in it, and each configured arch must have one. Anything else at the
 * top of isos/ is a problem too (it would be published unchecked).
 */
export async function checkIsos(root: string, subtree: string, arches: readonly string[]): Promise<RepoReport[]> {
  const top = await readdir(join(root, subtree), { withFileTypes: true }).catch(() => undefined);
  if (!top) return [{ repo: subtree, ok: false, problems: [`${join(root, subtree)} is missing or not a directory`] }];
  const reports: RepoReport[] = [];
  const dirs = new Set(arches);
  for (const e of top) {
    if (e.isDirectory()) dirs.add(e.name);
    else reports.push({ repo: `${subtree}/${e.name}`, ok: false, problems: [`not an arch directory (isos/<arch>/ holds the ISOs)`] });
  }
  for (const arch of [...dirs].sort()) {
    const st = await lstat(join(root, subtree, arch)).catch(() => undefined);
    if (!st) reports.push({ repo: `${subtree}/${arch}`, ok: false, problems: [`missing: ${arch} is an arch of the release`] });
    else reports.push(...(await checkIsoDir(root, `${subtree}/${arch}`)));
  }
  return reports;
}
