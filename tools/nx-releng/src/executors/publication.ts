import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { stepOutputDir } from '../layout/paths';
import { MIRROR_PROJECT } from '../plugin/targets';

/**
 * How one push announces whatever it published. mirror:hardlink and mirror:filelist depend on every sync-prod,
 * and Nx skips the dependents of a failed task; so while mirror:filelist is in the run, a sync-prod that does not
 * publish (refused or failed) records why in its manifest and completes, and mirror:filelist, the last step,
 * writes the lists of production as it is and then fails naming every project not published. sync-prod is never
 * cached (cache: false), so a recorded refusal is never replayed as a success: each run decides again. Run alone
 * (no mirror:filelist in the run), sync-prod fails as any step does.
 */
export const ANNOUNCING_TASK = `${MIRROR_PROJECT}:filelist`;

export function announcedInRun(context: ExecutorContext): boolean {
  return !!context.taskGraph?.tasks[ANNOUNCING_TASK];
}

/** What a sync-prod that did not publish leaves as its manifest. */
export interface NotPublished {
  project: string;
  notPublished: string;
}

function syncProdManifest(context: ExecutorContext, project: string): string {
  return join(stepOutputDir(context.root, project, 'sync-prod'), 'manifest.json');
}

/**
 * Called as a sync-prod starts: its last run's manifest goes, so a task that dies before writing its own is read
 * by mirror:filelist as leaving none (not published), never as the last run's outcome.
 */
export async function forgetLastOutcome(context: ExecutorContext, project: string): Promise<void> {
  await rm(syncProdManifest(context, project), { force: true });
}

/** Every sync-prod of this run that did not publish, as `<project>: <why>` lines. */
export async function unpublishedInRun(context: ExecutorContext): Promise<string[]> {
  const tasks = Object.values(context.taskGraph?.tasks ?? {}).filter((t) => t.target.target === 'sync-prod');
  const lines: string[] = [];
  for (const { project } of tasks.map((t) => t.target).sort((a, b) => a.project.localeCompare(b.project))) {
    const file = syncProdManifest(context, project);
    const manifest = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Partial<NotPublished>, () => undefined);
    if (!manifest) lines.push(`${project}: its sync-prod left no manifest (${file})`);
    else if (manifest.notPublished) lines.push(`${project}: ${manifest.notPublished.replace(`${project}: `, '')}`);
  }
  return lines;
}
