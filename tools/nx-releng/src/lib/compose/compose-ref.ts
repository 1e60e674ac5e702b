import { lstat, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { RelengError } from '../../errors';

/** The compose a latest-<Short>-<major> link points at, read the way pungi leaves it. */
export interface ComposeRef {
  latestLink: string;
  /** The real compose directory (the link resolved). */
  composeDir: string;
  composeId: string;
  status: string;
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** How a STATUS is shown in summaries and on the status page: FINISHED_INCOMPLETE (some deliverables failed) as INCOMPLETE. */
export function statusWord(status: string | undefined): string {
  return status === 'FINISHED_INCOMPLETE' ? 'INCOMPLETE' : (status ?? 'no STATUS');
}

/** Reads the link and the compose's COMPOSE_ID and STATUS; undefined fields where they are missing. */
export async function inspectLatestLink(latestLink: string): Promise<Partial<ComposeRef> & { problem?: string }> {
  let target: string;
  try {
    if (!(await lstat(latestLink)).isSymbolicLink()) return { problem: `${latestLink} is not a symbolic link` };
    target = await readlink(latestLink);
  } catch {
    return { problem: `compose link ${latestLink} does not exist` };
  }
  let composeDir: string;
  try {
    composeDir = await realpath(latestLink);
  } catch {
    return { problem: `compose link ${latestLink} is dangling: it points at '${target}', which does not exist` };
  }
  return {
    latestLink,
    composeDir,
    composeId: await readTrimmed(join(composeDir, 'COMPOSE_ID')),
    status: await readTrimmed(join(composeDir, 'STATUS')),
  };
}

/**
 * Resolves a latest link for syncing: refuses a missing or dangling link and any compose that did not finish.
 * pungi moves the link even for FINISHED_INCOMPLETE, so that one is accepted only when asked for.
 */
export async function resolveLatestCompose(latestLink: string, allowIncomplete = false): Promise<ComposeRef> {
  const seen = await inspectLatestLink(latestLink);
  if (seen.problem) throw new RelengError(seen.problem);
  const { composeDir, composeId, status } = seen as ComposeRef;
  const accepted = allowIncomplete ? ['FINISHED', 'FINISHED_INCOMPLETE'] : ['FINISHED'];
  if (!status) throw new RelengError(`compose ${composeDir} has no STATUS file; it is not a finished pungi compose`);
  if (!accepted.includes(status)) {
    throw new RelengError(
      `compose ${composeDir} has STATUS ${status}; only ${accepted.join(' or ')} composes are synced` +
        (allowIncomplete ? '' : ' (FINISHED_INCOMPLETE is accepted with --allowIncomplete)'),
    );
  }
  if (!composeId) throw new RelengError(`compose ${composeDir} has no COMPOSE_ID file`);
  try {
    if (!(await stat(join(composeDir, 'compose'))).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new RelengError(`compose ${composeDir} has no compose/ directory`);
  }
  return { latestLink, composeDir, composeId, status };
}
