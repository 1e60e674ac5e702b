/**
 * What changed between two composes of the same short name, from their compose/metadata/rpms.json: binary
 * packages added, removed, upgraded and downgraded per variant and arch (debuginfo/debugsource and SRPMs follow
 * their binaries and are not listed). Versions are compared as rpm does (rpmvercmp.ts). Works for any
 * pungi-shaped compose, so both compose backends report the same way.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RelengError, errorMessage } from '../../errors';
import { readRpmsMetadata, type RpmsMap } from '../formats/productmd';
import { compareEvr, formatEvr, type Evr } from '../formats/rpmvercmp';

export type ChangeKind = 'added' | 'removed' | 'upgraded' | 'downgraded';
const KINDS: readonly ChangeKind[] = ['added', 'removed', 'upgraded', 'downgraded'];

export interface PackageChange {
  kind: ChangeKind;
  variant: string;
  /** The compose arch (rpms.json key): x86_64, aarch64. */
  arch: string;
  name: string;
  /** The package's own arch: x86_64, noarch, i686. */
  rpmArch: string;
  /** EVR before (removed, upgraded, downgraded), as 1.0-1.el8 or 2:1.0-1.el8. */
  from?: string;
  /** EVR after (added, upgraded, downgraded). */
  to?: string;
}

export interface ComposeRefLite {
  id: string;
  dir: string;
}

export interface ChangeReport {
  compose: ComposeRefLite;
  /** The compose the latest link pointed at before this one; null for the first compose. */
  previous: ComposeRefLite | null;
  /** Why the previous compose could not be compared (then everything counts as added). */
  previousProblem?: string;
  counts: Record<ChangeKind, number>;
  /** Binary packages (name.arch per variant and arch) in the new compose. */
  packages: number;
  changes: PackageChange[];
}

export interface Nevra extends Evr {
  name: string;
  epoch: string;
  arch: string;
}

/** Parses productmd's NEVRA keys (name-epoch:version-release.arch; the epoch may be missing). */
export function parseNevra(nevra: string): Nevra {
  const m = /^(.+)-(?:(\d+):)?([^-:]+)-([^-:]+)\.([^.\-:]+)$/.exec(nevra);
  if (!m) throw new RelengError(`not a NEVRA: '${nevra}'`);
  const [, name, epoch, version, release, arch] = m as unknown as [string, string, string | undefined, string, string, string];
  return { name, epoch: epoch ?? '0', version, release, arch };
}

type PackageIndex = Map<string, Nevra[]>;

/** variant/arch -> "name.arch" -> the binary NEVRAs of that name and arch (usually one). */
function indexBinaries(rpms: RpmsMap): Map<string, PackageIndex> {
  const index = new Map<string, PackageIndex>();
  for (const [variant, byArch] of Object.entries(rpms)) {
    for (const [arch, bySrpm] of Object.entries(byArch)) {
      const pkgs: PackageIndex = new Map();
      index.set(`${variant}\0${arch}`, pkgs);
      for (const byRpm of Object.values(bySrpm)) {
        for (const [nevra, entry] of Object.entries(byRpm)) {
          if (entry.category !== 'binary') continue;
          const n = parseNevra(nevra);
          const key = `${n.name}.${n.arch}`;
          const list = pkgs.get(key) ?? [];
          if (!list.some((x) => compareEvr(x, n) === 0)) list.push(n);
          pkgs.set(key, list);
        }
      }
    }
  }
  return index;
}

const newest = (list: Nevra[]): Nevra => list.reduce((a, b) => (compareEvr(a, b) >= 0 ? a : b));

/**
 * The changes from `before` to `after` (before undefined: everything is added). A name.arch present in both
 * is upgraded or downgraded by its newest version; when the newest versions are equal but other versions
 * came or went (modular streams carry several), those versions are listed as added or removed.
 */
export function diffRpms(before: RpmsMap | undefined, after: RpmsMap): PackageChange[] {
  const old = indexBinaries(before ?? {});
  const cur = indexBinaries(after);
  const changes: PackageChange[] = [];
  for (const where of new Set([...old.keys(), ...cur.keys()])) {
    const [variant, arch] = where.split('\0') as [string, string];
    const o = old.get(where) ?? new Map<string, Nevra[]>();
    const c = cur.get(where) ?? new Map<string, Nevra[]>();
    for (const key of new Set([...o.keys(), ...c.keys()])) {
      const was = o.get(key) ?? [];
      const now = c.get(key) ?? [];
      const sample = (now[0] ?? was[0]) as Nevra;
      const base = { variant, arch, name: sample.name, rpmArch: sample.arch };
      const only = (xs: Nevra[], ys: Nevra[]) => xs.filter((x) => !ys.some((y) => compareEvr(x, y) === 0));
      if (was.length === 0) {
        for (const n of now) changes.push({ kind: 'added', ...base, to: formatEvr(n) });
        continue;
      }
      if (now.length === 0) {
        for (const n of was) changes.push({ kind: 'removed', ...base, from: formatEvr(n) });
        continue;
      }
      const a = newest(was);
      const b = newest(now);
      const cmp = compareEvr(b, a);
      if (cmp !== 0) {
        changes.push({ kind: cmp > 0 ? 'upgraded' : 'downgraded', ...base, from: formatEvr(a), to: formatEvr(b) });
        continue;
      }
      for (const n of only(now, was)) changes.push({ kind: 'added', ...base, to: formatEvr(n) });
      for (const n of only(was, now)) changes.push({ kind: 'removed', ...base, from: formatEvr(n) });
    }
  }
  return changes.sort(
    (x, y) =>
      x.variant.localeCompare(y.variant) ||
      x.arch.localeCompare(y.arch) ||
      KINDS.indexOf(x.kind) - KINDS.indexOf(y.kind) ||
      x.name.localeCompare(y.name) ||
      x.rpmArch.localeCompare(y.rpmArch) ||
      (x.to ?? x.from ?? '').localeCompare(y.to ?? y.from ?? ''),
  );
}

function countPackages(rpms: RpmsMap): number {
  let n = 0;
  for (const pkgs of indexBinaries(rpms).values()) for (const list of pkgs.values()) n += list.length;
  return n;
}

export function buildReport(
  compose: ComposeRefLite,
  after: RpmsMap,
  previous: ComposeRefLite | null,
  before: RpmsMap | undefined,
  previousProblem?: string,
): ChangeReport {
  const changes = diffRpms(before, after);
  const counts = { added: 0, removed: 0, upgraded: 0, downgraded: 0 };
  for (const c of changes) counts[c.kind]++;
  return { compose, previous, ...(previousProblem ? { previousProblem } : {}), counts, packages: countPackages(after), changes };
}

/**
 * Compares the compose in `compose.dir` with `previous` (the compose the latest link pointed at before the run).
 * A previous compose whose rpms.json cannot be read is reported, not fatal: the new compose is already made.
 */
export async function compareComposes(compose: ComposeRefLite, previous: ComposeRefLite | null): Promise<ChangeReport> {
  const after = (await readRpmsMetadata(join(compose.dir, 'compose/metadata/rpms.json'))).payload.rpms;
  if (!previous) return buildReport(compose, after, null, undefined);
  try {
    const before = (await readRpmsMetadata(join(previous.dir, 'compose/metadata/rpms.json'))).payload.rpms;
    return buildReport(compose, after, previous, before);
  } catch (err) {
    return buildReport(compose, after, previous, undefined, errorMessage(err));
  }
}

interface Group {
  kind: ChangeKind;
  name: string;
  from?: string;
  to?: string;
  /** variant -> arches */
  where: Map<string, Set<string>>;
}

/** The same change of a package in several variants/arches, once (noarch packages are in every arch). */
function groupChanges(changes: PackageChange[]): Group[] {
  const groups = new Map<string, Group>();
  for (const c of changes) {
    const key = [c.kind, c.name, c.from ?? '', c.to ?? ''].join('\0');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind: c.kind, name: c.name, from: c.from, to: c.to, where: new Map() }));
    let arches = g.where.get(c.variant);
    if (!arches) g.where.set(c.variant, (arches = new Set()));
    arches.add(c.arch);
  }
  const order: ChangeKind[] = ['downgraded', 'upgraded', 'added', 'removed'];
  return [...groups.values()].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind) || a.name.localeCompare(b.name));
}

/** "upgraded releng-hello 1.0-1.el8 -> 1.1-1.el8", "added foo 1.0-1", "removed bar 2.0-3". */
export function describeChange(c: { kind: ChangeKind; name: string; from?: string; to?: string }): string {
  if (c.kind === 'added') return `added ${c.name} ${c.to}`;
  if (c.kind === 'removed') return `removed ${c.name} ${c.from}`;
  return `${c.kind} ${c.name} ${c.from} -> ${c.to}`;
}

function describeWhere(where: Map<string, Set<string>>): string {
  return [...where.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, arches]) => `${v}: ${[...arches].sort().join(', ')}`)
    .join('; ');
}

function countsLine(counts: Record<ChangeKind, number>): string {
  return KINDS.map((k) => `${counts[k]} ${k}`).join(', ');
}

/**
 * The short summary printed after a compose: one headline, downgrades always (as warnings), the other changes
 * up to `maxLines` (grouped across arches), then where the full report is.
 */
export function summarizeReport(report: ChangeReport, maxLines = 20): { lines: string[]; warnings: string[] } {
  const lines: string[] = [];
  const warnings: string[] = [];
  if (!report.previous) {
    lines.push(`no previous compose to compare with: ${report.packages} binary packages, all new`);
    return { lines, warnings };
  }
  if (report.previousProblem) {
    warnings.push(`cannot compare with the previous compose ${report.previous.id}: ${report.previousProblem}`);
    return { lines, warnings };
  }
  lines.push(`changes since ${report.previous.id}: ${countsLine(report.counts)}`);
  const groups = groupChanges(report.changes);
  for (const g of groups.filter((x) => x.kind === 'downgraded')) {
    warnings.push(`DOWNGRADED ${g.name} ${g.from} -> ${g.to} (${describeWhere(g.where)})`);
  }
  const rest = groups.filter((x) => x.kind !== 'downgraded');
  for (const g of rest.slice(0, maxLines)) lines.push(`  ${describeChange(g)} (${describeWhere(g.where)})`);
  if (rest.length > maxLines) lines.push(`  ... and ${rest.length - maxLines} more`);
  return { lines, warnings };
}

/** The Markdown report: headline, downgrade warning, a table per variant and arch, then every change. */
export function renderMarkdown(report: ChangeReport): string {
  const out: string[] = [`# What changed in ${report.compose.id}`, ''];
  if (!report.previous) {
    out.push(`No previous compose to compare with: all ${report.packages} binary packages are new.`, '');
  } else if (report.previousProblem) {
    out.push(`**Could not compare with ${report.previous.id}**: ${report.previousProblem}`);
    return `${out.join('\n')}\n`;
  } else {
    out.push(`Compared with ${report.previous.id} (binary packages; debug and source packages follow them).`, '');
    out.push(`${countsLine(report.counts)}.`, '');
  }
  if (report.counts.downgraded) {
    out.push(`> **WARNING: ${report.counts.downgraded} package(s) DOWNGRADED.** Check that this is intended before syncing.`, '');
  }
  if (report.changes.length === 0) {
    out.push('No package changed.');
    return `${out.join('\n')}\n`;
  }
  const byPlace = new Map<string, PackageChange[]>();
  for (const c of report.changes) {
    const key = `${c.variant} ${c.arch}`;
    byPlace.set(key, [...(byPlace.get(key) ?? []), c]);
  }
  out.push('| variant | arch | added | removed | upgraded | downgraded |', '| --- | --- | ---: | ---: | ---: | ---: |');
  for (const [place, list] of byPlace) {
    const [variant, arch] = place.split(' ');
    out.push(`| ${variant} | ${arch} | ${KINDS.map((k) => list.filter((c) => c.kind === k).length).join(' | ')} |`);
  }
  out.push('');
  for (const [place, list] of byPlace) {
    out.push(`## ${place}`, '');
    for (const c of list) {
      const archNote = c.rpmArch !== c.arch ? ` (${c.rpmArch})` : '';
      const line = `${describeChange(c)}${archNote}`;
      out.push(c.kind === 'downgraded' ? `- **WARNING: ${line}**` : `- ${line}`);
    }
    out.push('');
  }
  return `${out.join('\n')}\n`.replace(/\n+$/, '\n');
}

/** Writes changes.json and changes.md into `dir` (the compose target's output dir, beside manifest.json). */
export async function writeChangeReport(dir: string, report: ChangeReport): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const json = join(dir, 'changes.json');
  const markdown = join(dir, 'changes.md');
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(markdown, renderMarkdown(report));
  return { json, markdown };
}
