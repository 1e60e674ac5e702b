import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { describeIssue, type ComposeModel } from '../../config/load';
import { SAFE_NAME } from '../../config/schema';
import { sigName } from '../../layout/paths';
import { RelengError } from '../../errors';

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
  /** Subtrees beyond the repos' variant dirs that the sync wrote (a minor release: isos); verify checks them. */
  extraSubtrees?: string[];
  /** Links the sync made in the revision dir (a minor release's linkRepos: nfv -> NFV); verify checks them. */
  links?: RevisionLink[];
}

export interface RevisionLink {
  name: string;
  target: string;
}

/**
 * The paths of the revision dir that verify vouches for (and digests): the repos, the extra subtrees and the
 * links. The sync record says what there is to verify, the verify record what was verified; both have these
 * fields, so verify, its runtime input, sync-prod and the status page digest the same paths.
 */
export function vettedPaths(rec: { repos: readonly string[]; extraSubtrees?: readonly string[]; links?: readonly RevisionLink[] }): string[] {
  return [...rec.repos, ...(rec.extraSubtrees ?? []), ...(rec.links ?? []).map((l) => l.name)];
}

export function hashConfig(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

async function dirStamp(path: string): Promise<string | undefined> {
  try {
    const st = await lstat(path, { bigint: true });
    return st.isDirectory() ? `${st.ino}:${st.mtimeNs}` : undefined;
  } catch {
    return undefined;
  }
}

/** Stamps every directory under the given subtrees of root, except repodata dirs. */
export async function fingerprintDirs(root: string, subtrees: readonly string[]): Promise<Record<string, string>> {
  const dirs: Record<string, string> = {};
  const walk = async (rel: string): Promise<void> => {
    const stamp = await dirStamp(join(root, rel));
    if (!stamp) return;
    dirs[rel] = stamp;
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      if (entry.isDirectory() && entry.name !== 'repodata') await walk(`${rel}/${entry.name}`);
    }
  };
  for (const subtree of [...subtrees].sort()) await walk(subtree);
  return dirs;
}

/** Whether the destination still looks as the record left it; the reason when it does not. */
export async function destinationDrift(record: SyncRecord): Promise<string | undefined> {
  for (const [rel, stamp] of Object.entries(record.dirs)) {
    if ((await dirStamp(join(record.destination, rel))) !== stamp) return `${rel} changed since the last sync`;
  }
  for (const repo of record.repos) {
    try {
      await lstat(join(record.destination, repo, 'repodata', 'repomd.xml'));
    } catch {
      return `${repo}/repodata/repomd.xml is missing`;
    }
  }
  return undefined;
}

/**
 * The records are the tool's own, but they name the subtrees later runs copy, digest and delete in (rsync
 * --delete): each path must be a plain relative path inside the project's own subtrees. Objects are loose, so a
 * field another version adds is kept.
 */
export function recordPaths(model: ComposeModel) {
  const sig = model.compose.kind === 'sig';
  const outside = (tops: readonly string[], p: string) => {
    const parts = p.split('/');
    if (tops.includes(parts[0] as string) && parts.every((s) => SAFE_NAME.test(s) && !s.includes('..'))) return undefined;
    return `'${p}' is not a path inside the project's own subtrees (${tops.join(', ')})`;
  };
  const inside = (tops: readonly string[]) =>
    z.string().superRefine((p, ctx) => {
      const message = outside(tops, p);
      if (message) ctx.addIssue({ code: 'custom', message });
    });
  const repos = sig ? [sigName(model)] : model.compose.variants;
  const subtrees = sig ? repos : [...repos, 'metadata', 'isos'];
  const linkNames = Object.values(model.release.linkRepos);
  const linkName = z.string().refine((n) => linkNames.includes(n), {
    error: (iss) => `'${String(iss.input)}' is not a link of linkRepos in ${model.files.release} (${linkNames.join(', ')})`,
  });
  const absolute = z.string().refine((p) => p.startsWith('/') && !p.split('/').includes('..'), 'must be an absolute path without ".."');
  return {
    /** A repository (BaseOS/x86_64/os; a SIG's cloud/x86_64/cloud-common). */
    repo: inside(repos),
    /** A subtree the project writes: its variant dirs, and a base compose's metadata and isos. */
    subtree: inside(subtrees),
    /** relative dir -> stamp, each dir inside the project's subtrees (named by its key). */
    dirs: z.record(z.string(), z.string()).superRefine((dirs, ctx) => {
      for (const key of Object.keys(dirs)) {
        const message = outside(subtrees, key);
        if (message) ctx.addIssue({ code: 'custom', path: [key], message });
      }
    }),
    link: z.looseObject({ name: linkName, target: z.string().refine((t) => model.release.linkRepos[t] !== undefined, 'is not a target of linkRepos') }),
    linkName,
    absolute,
  };
}

function syncRecordSchema(model: ComposeModel) {
  const p = recordPaths(model);
  return z.looseObject({
    version: z.literal(1),
    project: z.string(),
    channel: z.string(),
    composeId: z.string(),
    composeDir: p.absolute,
    configHash: z.string(),
    syncedAt: z.string(),
    destination: p.absolute,
    dirs: p.dirs,
    repos: z.array(p.repo),
    minorRelease: z.string().optional(),
    extraSubtrees: z.array(p.subtree).optional(),
    links: z.array(p.link).optional(),
  });
}

/**
 * Reads a record written by writeRecord: undefined when it is missing, not JSON (cut off) or of another version;
 * a record that does not pass its schema is refused, naming the file and each field.
 */
export async function readRecord<S extends z.ZodType>(file: string, schema: S): Promise<z.infer<S> | undefined> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return undefined;
  }
  if ((raw as { version?: unknown } | null)?.version !== 1) return undefined;
  const res = schema.safeParse(raw);
  if (!res.success) {
    throw new RelengError(
      `${res.error.issues.map((i) => `${file}: ${describeIssue(i)}`).join('\n')}\n` +
        'This record is refused (the tool writes only paths inside the project\'s own subtrees); remove it and run the step that writes it again',
    );
  }
  return res.data;
}

/** What sync-prod records of production (lib/production/sync-prod.ts): the subtrees it digests there. */
export function readProdRecord(file: string, model: ComposeModel) {
  const p = recordPaths(model);
  return readRecord(
    file,
    z.looseObject({
      version: z.literal(1),
      project: z.string(),
      composeId: z.string(),
      verifyDigest: z.string(),
      productionDigest: z.string(),
      subtrees: z.array(p.subtree),
      links: z.array(p.linkName).optional(),
      syncedAt: z.string(),
    }),
  );
}

export function readSyncRecord(file: string, model: ComposeModel): Promise<SyncRecord | undefined> {
  return readRecord(file, syncRecordSchema(model));
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
