import { z } from 'zod';
import { describeIssue, type ComposeModel } from '../../config/load';
import { RelengError } from '../../errors';
import { pathOutside, projectTops, readRecordJson, type SyncRecord } from './sync-record';

/**
 * The records are the tool's own, but they name the subtrees later runs copy, digest and delete in (rsync
 * --delete): each path must be a plain relative path inside the project's own subtrees (sync-record.ts
 * pathOutside). The steps read them through these schemas; the runtime inputs, which load no schema library,
 * through peekSyncRecord. Objects are loose, so a field another version adds is kept.
 */
function isPlainName(n: string): boolean {
  return n !== '' && n !== '.' && n !== '..' && !n.includes('/');
}

export function recordPaths(model: ComposeModel) {
  const inside = (tops: readonly string[]) =>
    z.string().superRefine((p, ctx) => {
      const message = pathOutside(tops, p);
      if (message) ctx.addIssue({ code: 'custom', message });
    });
  const subtrees = projectTops(model, 'subtree');
  const linkNames = Object.values(model.release.linkRepos);
  const linkName = z.string().refine((n) => linkNames.includes(n), {
    error: (iss) => `'${String(iss.input)}' is not a link of linkRepos in ${model.files.release} (${linkNames.join(', ')})`,
  });
  return {
    /** A repository (BaseOS/x86_64/os; a SIG's cloud/x86_64/cloud-common). */
    repo: inside(projectTops(model, 'repo')),
    /** A subtree the project writes: its variant dirs, and a base compose's metadata and isos. */
    subtree: inside(subtrees),
    /** relative dir -> stamp, each dir inside the project's subtrees (named by its key). */
    dirs: z.record(z.string(), z.string()).superRefine((dirs, ctx) => {
      for (const key of Object.keys(dirs)) {
        const message = pathOutside(subtrees, key);
        if (message) ctx.addIssue({ code: 'custom', path: [key], message });
      }
    }),
    link: z.looseObject({ name: linkName, target: z.string().refine((t) => model.release.linkRepos[t] !== undefined, 'is not a target of linkRepos') }),
    linkName,
    /** A subtree of the project, or one plain top-level name (the unclaimed entries the revision's owner digests). */
    subtreeOrTopLevelName: z.string().superRefine((n, ctx) => {
      if (isPlainName(n)) return;
      const message = pathOutside(subtrees, n);
      if (message) ctx.addIssue({ code: 'custom', message });
    }),
    /** A top-level entry of the revision dir that no project claims (images, live, a file): one plain name. */
    topLevelName: z.string().refine(isPlainName, 'must be one plain name of the revision dir'),
    absolute: z.string().refine((p) => p.startsWith('/') && !p.split('/').includes('..'), 'must be an absolute path without ".."'),
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
  const raw = await readRecordJson(file);
  if (raw === undefined) return undefined;
  const res = schema.safeParse(raw);
  if (!res.success) {
    throw new RelengError(
      `${res.error.issues.map((i) => `${file}: ${describeIssue(i)}`).join('\n')}\n` +
        "This record is refused (the tool writes only paths inside the project's own subtrees); remove it and run the step that writes it again",
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
      // The revision's owner also digests the top-level entries no project claims (images, live, files): plain
      // names, only ever read here (production's digest), never a --delete subtree.
      subtrees: z.array(p.subtreeOrTopLevelName),
      links: z.array(p.linkName).optional(),
      syncedAt: z.string(),
    }),
  );
}

export function readSyncRecord(file: string, model: ComposeModel): Promise<SyncRecord | undefined> {
  return readRecord(file, syncRecordSchema(model));
}

/**
 * What a push left to delete in production (lib/production/pending-deletions.ts): relative paths of the revision
 * dir, each under one of the project's own subtrees, or, for the revision's owner, under a top-level name no
 * project claims. Names are as rsync found them in production (a package may carry '^' or '~'), so each segment
 * is only required to be a plain name.
 */
export function readPendingDeletionsRecord(file: string, model: ComposeModel, unclaimedTop: (name: string) => boolean) {
  const tops = projectTops(model, 'subtree');
  const path = z.string().superRefine((p, ctx) => {
    const parts = p.split('/');
    const plain = parts.every((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\0'));
    const top = parts[0] as string;
    if (!plain || !(tops.includes(top) || unclaimedTop(top))) {
      ctx.addIssue({ code: 'custom', message: `'${p}' is not a plain relative path inside the project's own subtrees (${tops.join(', ')})` });
    }
  });
  return readRecord(
    file,
    z.looseObject({ version: z.literal(1), project: z.literal(model.project), revisionDir: z.string(), paths: z.array(path), recordedAt: z.string() }),
  );
}
