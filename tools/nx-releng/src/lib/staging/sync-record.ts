import { createHash } from 'node:crypto';
import { lstatSync, readdirSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { SAFE_NAME } from '../../config/constants';
import { sigName } from '../../layout/paths';

/**
 * What a successful sync leaves beside the tree it wrote (outside the published tree): which compose, which
 * configuration, and a fingerprint of the destination's directories. Checking it stats only the recorded
 * directories, never the files, so a no-op run costs the same however many packages there are. Adding or
 * removing a file changes its directory's mtime, so that is seen; rewriting a file in place is verify's job.
 */
export interface SyncRecord {
  version: 1;
  project: string;
  channel: string;
  composeId: string;
  composeDir: string;
  configHash: string;
  syncedAt: string;
  /** The tree the directories below are relative to. */
  destination: string;
  /** relative dir -> "ino:mtimeNs"; repodata dirs are left out (updateinfo and sign rewrite them later). */
  dirs: Record<string, string>;
  /** Repositories (relative) whose repodata/repomd.xml must exist. */
  repos: string[];
  /** Set by a minor-release sync: the hash of the minor release settings it applied (lib/minor-release). */
  minorRelease?: string;
  /**
   * Subtrees beyond the repos' variant dirs that a minor release wrote (isos); verify checks them. A later daily
   * sync keeps them, and the links below, while staging holds them (minor-release.ts keptReleaseState).
   */
  extraSubtrees?: string[];
  /** Links the minor release made in the revision dir (linkRepos: nfv -> NFV); verify checks them. */
  links?: RevisionLink[];
}

export interface RevisionLink {
  name: string;
  target: string;
}

export function hashConfig(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

// The stamps are taken with synchronous calls: one lstat each, thousands in a row, where an awaited call costs a
// trip through the thread pool (the runtime input of a no-op run is mostly these).
function dirStamp(path: string): string | undefined {
  try {
    const st = lstatSync(path, { bigint: true });
    return st.isDirectory() ? `${st.ino}:${st.mtimeNs}` : undefined;
  } catch {
    return undefined; // gone, or unreadable: either way not as recorded
  }
}

/** Stamps every directory under the given subtrees of root, except repodata dirs. */
export function fingerprintDirs(root: string, subtrees: readonly string[]): Record<string, string> {
  const dirs: Record<string, string> = {};
  const walk = (rel: string): void => {
    const stamp = dirStamp(join(root, rel));
    if (!stamp) return;
    dirs[rel] = stamp;
    for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'repodata') walk(`${rel}/${entry.name}`);
    }
  };
  for (const subtree of [...subtrees].sort()) walk(subtree);
  return dirs;
}

/** Whether the destination still looks as the record left it; the reason when it does not. */
export function destinationDrift(record: SyncRecord): string | undefined {
  for (const [rel, stamp] of Object.entries(record.dirs)) {
    if (dirStamp(join(record.destination, rel)) !== stamp) return `${rel} changed since the last sync`;
  }
  for (const repo of record.repos) {
    try {
      lstatSync(join(record.destination, repo, 'repodata', 'repomd.xml'));
    } catch {
      return `${repo}/repodata/repomd.xml is missing`;
    }
  }
  return undefined;
}

/** The first path segments a record of this project may name: its variants (a SIG: its own dir), and for subtrees metadata and isos. */
export function projectTops(model: ComposeModel, what: 'repo' | 'subtree'): string[] {
  if (model.compose.kind === 'sig') return [sigName(model)];
  return what === 'repo' ? model.compose.variants : [...model.compose.variants, 'metadata', 'isos'];
}

/** Why a path a record names is not a plain relative path inside `tops`; undefined when it is. */
export function pathOutside(tops: readonly string[], p: string): string | undefined {
  const parts = p.split('/');
  if (tops.includes(parts[0] as string) && parts.every((s) => SAFE_NAME.test(s) && !s.includes('..'))) return undefined;
  return `'${p}' is not a path inside the project's own subtrees (${tops.join(', ')})`;
}

/** A record's JSON: undefined when it is missing, not JSON (cut off) or of another version. Not validated. */
export async function readRecordJson(file: string): Promise<unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  return (raw as { version?: unknown } | null)?.version === 1 ? raw : undefined;
}

/**
 * The sync record as the runtime inputs read it, without the schema library (record-schemas.ts validates it in
 * the steps): null when a path it names is outside the project, so that nothing outside is ever stat'ed.
 */
export async function peekSyncRecord(file: string, model: ComposeModel): Promise<SyncRecord | undefined | null> {
  const rec = (await readRecordJson(file)) as SyncRecord | undefined;
  if (!rec) return undefined;
  try {
    const tops = projectTops(model, 'subtree');
    const paths = [...rec.repos, ...(rec.extraSubtrees ?? []), ...Object.keys(rec.dirs)];
    const names = (rec.links ?? []).map((l) => l.name);
    const ok = paths.every((p) => !pathOutside(tops, p)) && names.every((n) => SAFE_NAME.test(n) && !n.includes('..'));
    return ok && typeof rec.destination === 'string' ? rec : null;
  } catch {
    return null; // not even the shape
  }
}

/** Writes a record (any JSON) by temp file and rename, so a reader never sees half of it. */
export async function writeRecord(file: string, record: object): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(record, null, 2)}\n`);
  await rename(tmp, file);
}

export async function removeRecord(file: string): Promise<void> {
  await rm(file, { force: true });
}
