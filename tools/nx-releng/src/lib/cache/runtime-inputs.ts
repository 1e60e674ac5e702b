import { createHash, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_RELEASES_DIR } from '../../config/files';
import { loadAllComposeModelsCached, loadComposeModelCached } from '../../config/model-cache';
import { channelRelease, composePaths, projectChannels, projectRepoPath, resolveRoots, stagingPaths } from '../../layout/paths';
import { inspectLatestLink } from '../compose/compose-ref';
import { composeInputState, writeComposeInputNote } from '../compose/compose-state';
import { RelengError } from '../../errors';
import { treeDigest } from '../core/tree-digest';
import { destinationDrift, peekSyncRecord } from '../staging/sync-record';
import { revisionClaims, vettedPaths, vouchedPaths } from '../vetting/vouched-paths';
import { moduleMetadataDigest } from '../staging/modules';

/**
 * The runtime input of the sync targets: one line per channel with the compose its latest link points at and
 * whether the destination still matches the last sync's record. When it does not (or there is no record) the
 * line carries a fresh nonce, so Nx can never answer a changed destination from its cache. A channel without
 * a compose gives a stable line: there is nothing to sync there.
 */
function projectModel(workspaceRoot: string, project: string, releasesDir = DEFAULT_RELEASES_DIR) {
  const m = /^(.+)-(\d+)$/.exec(project);
  if (!m) throw new RelengError(`'${project}' is not a compose project name (<Short>-<major>)`);
  return loadComposeModelCached(workspaceRoot, `${releasesDir}/${m[2]}/${m[1]}`);
}

export async function syncStagingState(workspaceRoot: string, project: string, relengRoot?: string, releasesDir?: string): Promise<string> {
  const model = projectModel(workspaceRoot, project, releasesDir);
  const roots = resolveRoots(model.common, model.release, relengRoot);
  const lines: string[] = [];
  for (const channel of projectChannels(model)) {
    const ch = channelRelease(model.release, channel);
    const seen = await inspectLatestLink(composePaths(model, ch, roots).latestLink);
    if (seen.problem) {
      // Nothing to sync on this channel (a run fails, and failures are not cached): a stable line.
      lines.push(`${channel}: ${seen.problem}`);
      continue;
    }
    // A record naming paths outside the project hashes as unknown: the step runs and refuses it, naming it.
    const record = await peekSyncRecord(stagingPaths(model, ch, roots).syncRecord, model);
    const intact = record && !destinationDrift(record);
    // Whether a minor release was applied too: after a daily sync, a minor-release sync of the same compose has work.
    const staging = intact ? `ok ${record.composeId}${record.minorRelease ? ` minor ${record.minorRelease}` : ''}` : `unknown ${randomUUID()}`;
    lines.push(`${channel}: compose=${seen.composeDir} ${seen.composeId ?? '-'} ${seen.status ?? '-'} staging=${staging}`);
  }
  if (model.compose.kind === 'base') lines.push(`modules: ${await moduleMetadataDigest(model, roots)}`);
  return lines.join('\n');
}

/**
 * The runtime input of verify, a pure check: per channel, the digest of exactly what it would vouch for (the
 * project's subtrees, a minor release's isos/ and links as the sync record lists them, for the revision's owner the
 * content no project claims (lib/vetting/vouched-paths.ts), and the repomd.xml
 * of the repos their dependencies come from). Verify is hashed after sign has run (it also has a dependentTasksOutputFiles input), so this is the state verify will see.
 */
export async function verifyState(workspaceRoot: string, project: string, relengRoot?: string, releasesDir?: string): Promise<string> {
  const model = projectModel(workspaceRoot, project, releasesDir);
  const roots = resolveRoots(model.common, model.release, relengRoot);
  const claims = revisionClaims(loadAllComposeModelsCached(workspaceRoot, releasesDir), model);
  const lines: string[] = [];
  for (const channel of projectChannels(model)) {
    const sp = stagingPaths(model, channelRelease(model.release, channel), roots);
    const record = await peekSyncRecord(sp.syncRecord, model);
    if (!record) {
      lines.push(record === null ? `${channel}: refused record ${randomUUID()}` : `${channel}: not synced`);
      continue;
    }
    const deps = createHash('sha256');
    for (const repo of record.repos.map((p) => projectRepoPath(model, p)).filter((r) => r.kind === 'os')) {
      // A SIG's repos are checked without repoclosure (see lib/sig.ts): they have no dependency repos.
      const depRepos = model.compose.kind === 'sig' ? [] : model.release.repoclosure[repo.variant] ?? [];
      for (const dep of depRepos) {
        const repomd = join(sp.revisionDir, dep, repo.arch, 'os', 'repodata', 'repomd.xml');
        deps.update(repomd).update(await readFile(repomd).catch(() => 'missing'));
      }
    }
    const vouched = await vouchedPaths(model, claims, sp.revisionDir, record);
    lines.push(`${channel}: ${treeDigest(sp.revisionDir, vettedPaths(vouched))} deps ${deps.digest('hex')}`);
  }
  return lines.join('\n');
}

/** The runtime input of compose (see compose-state.ts); its reasons are left for the executor to print. */
export async function composeState(workspaceRoot: string, project: string, relengRoot?: string, releasesDir?: string): Promise<string> {
  const model = projectModel(workspaceRoot, project, releasesDir);
  const state = await composeInputState(model, relengRoot);
  // The note only explains; a workspace it cannot be written to must not change what is hashed.
  await writeComposeInputNote(workspaceRoot, model.project, state).catch(() => undefined);
  return state.lines.join('\n');
}

const STATES: Record<string, typeof syncStagingState> = {
  'sync-staging': syncStagingState,
  verify: verifyState,
  compose: composeState,
};

export async function main(argv: readonly string[]): Promise<number> {
  // The releases dir is given only when the plugin's releasesDir option moves the model (see plugin/targets.ts).
  const [step, project, releasesDir] = argv;
  const state = step ? STATES[step] : undefined;
  if (!state || !project) {
    console.error(`usage: releng-state <${Object.keys(STATES).join('|')}> <project> [<releases dir>]`);
    return 2;
  }
  try {
    console.log(await state(process.cwd(), project, process.env.RELENG_ROOT, releasesDir));
    return 0;
  } catch (err) {
    // Nx hashes stdout and ignores the exit code: without a nonce, a failed look would hash like the last one.
    console.log(`state unknown ${randomUUID()}`);
    throw err;
  }
}
