import { join } from 'node:path';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import type { NxWorkspace } from './nx-workspace';
import { openPipelineWorkspace, type PipelineWorkspace } from './pipeline';
import { stageLocalSource } from './rpms';
import { readJsonFile, writeJsonFile } from './workspace';

/**
 * A pipeline workspace in the middle of a release, so that a step run on bad input has something to damage in
 * both trees and real work to do:
 * - production holds release A of every compose (with the mirror file lists);
 * - staging holds release B of every compose, verified (B adds releng-hello 1.1 to Rocky and releng-tools to
 *   extras), so sync-prod has work to do;
 * - the latest links of Extras-8 and Rocky-8 point at a newer compose C (C adds releng-base to plus), so
 *   sync-staging has work to do. Rocky-devel-8's link still points at B.
 * Rocky-8 is kept to three of its repos (devel's repoclosure needs PowerTools), to keep the set-up short.
 */
export interface ReleasedWorkspace extends PipelineWorkspace {
  /** <RELENG_ROOT>/mnt/repos-staging and <RELENG_ROOT>/mnt/repos-production. */
  stagingRoot: string;
  productionRoot: string;
  /** The staging and production revision dirs of release 8. */
  stagingDir: string;
  productionDir: string;
  composeRoot: string;
}

async function smallRocky8(ws: NxWorkspace): Promise<void> {
  const file = join(ws.dir, 'releases/8/Rocky/compose.json');
  writeJsonFile(file, { ...readJsonFile<object>(file), variants: ['BaseOS', 'AppStream', 'PowerTools'] });
  ws.git(['add', '-A']);
  ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'small Rocky-8']);
}

export async function openReleasedWorkspace(prefix: string): Promise<ReleasedWorkspace> {
  const pipeline = await openPipelineWorkspace(prefix, smallRocky8);
  try {
    const { ws, runOk } = pipeline;
    const koji = join(ws.relengRoot, 'mnt/koji');
    // A: composed by openPipelineWorkspace; through staging into production.
    await runOk(['run-many', '-t', 'verify']);
    await runOk(['run-many', '-t', 'sync-prod', 'filelist']);
    // B: composed, synced to staging and verified; not in production yet.
    await stageSandbox(ws.relengRoot, { version: '1.1', shorts: ['Rocky'] });
    await stageLocalSource(koji, '8', 'Extras', { extras: ['releng-tools'] }, { comps: {} });
    await runOk(['run-many', '-t', 'compose', '--backend=local']);
    await runOk(['run-many', '-t', 'verify']);
    // C: composed only.
    await stageLocalSource(koji, '8', 'Extras', { plus: ['releng-base'] }, { comps: {} });
    await runOk(['run-many', '-t', 'compose', '-p', 'Extras-8', 'Rocky-8', '--backend=local']);
    const stagingRoot = join(ws.relengRoot, 'mnt/repos-staging');
    const productionRoot = join(ws.relengRoot, 'mnt/repos-production');
    return {
      ...pipeline,
      stagingRoot,
      productionRoot,
      stagingDir: join(stagingRoot, 'mirror/pub/rocky/8.10-RC2'),
      productionDir: join(productionRoot, 'mirror/pub/rocky/8.10'),
      composeRoot: join(ws.relengRoot, 'mnt/compose/8'),
    };
  } catch (err) {
    await pipeline.close();
    throw err;
  }
}
