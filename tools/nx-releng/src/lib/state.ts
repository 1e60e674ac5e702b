import { randomUUID } from 'node:crypto';
import { loadComposeModel } from '../config/load';
import { CHANNELS } from '../config/schema';
import { channelRelease, composePaths, resolveRoots, stagingPaths } from '../layout/paths';
import { inspectLatestLink } from './compose-ref';
import { RelengError } from './errors';
import { destinationDrift, readSyncRecord } from './sync-record';

/**
 * The runtime input of the sync targets: one line per channel with the compose its latest link points at and
 * whether the destination still matches the last sync's record. When it does not (or there is no record) the
 * line carries a fresh nonce, so Nx can never answer a changed destination from its cache. A channel without
 * a compose gives a stable line: there is nothing to sync there.
 */
export async function syncStagingState(workspaceRoot: string, project: string, relengRoot?: string): Promise<string> {
  const m = /^(.+)-(\d+)$/.exec(project);
  if (!m) throw new RelengError(`'${project}' is not a compose project name (<Short>-<major>)`);
  const model = loadComposeModel(workspaceRoot, `releases/${m[2]}/${m[1]}`);
  const roots = resolveRoots(model.common, model.release, relengRoot);
  const lines: string[] = [];
  for (const channel of CHANNELS) {
    if (!model.release.channels[channel]) continue;
    const ch = channelRelease(model.release, channel);
    const seen = await inspectLatestLink(composePaths(model, ch, roots).latestLink);
    if (seen.problem) {
      // Nothing to sync on this channel (a run fails, and failures are not cached): a stable line.
      lines.push(`${channel}: ${seen.problem}`);
      continue;
    }
    const record = await readSyncRecord(stagingPaths(model, ch, roots).syncRecord);
    const intact = record && !(await destinationDrift(record));
    const staging = intact ? `ok ${record.composeId}` : `unknown ${randomUUID()}`;
    lines.push(`${channel}: compose=${seen.composeDir} ${seen.composeId ?? '-'} ${seen.status ?? '-'} staging=${staging}`);
  }
  return lines.join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [step, project] = argv;
  if (step !== 'sync-staging' || !project) {
    console.error('usage: releng-state sync-staging <project>');
    return 2;
  }
  console.log(await syncStagingState(process.cwd(), project, process.env.RELENG_ROOT));
  return 0;
}
