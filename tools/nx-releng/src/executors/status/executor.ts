import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PromiseExecutor } from '@nx/devkit';
import { renderStatusPage } from '../../lib/mirror/status-page';
import { gatherStatus } from '../../lib/mirror/status-state';
import { runMirrorStep } from '../run-step';
import { stepOutputDir } from '../../layout/paths';
import type { StatusExecutorSchema } from './schema';

/**
 * The release status page: one static HTML file (inline CSS, no scripts, no network assets) in the target's
 * output dir, dist/releng/mirror/status/index.html, beside the step's manifest. Reads records only.
 */
const statusExecutor: PromiseExecutor<StatusExecutorSchema> = (_options, context) =>
  runMirrorStep('status', context, async (req) => {
    const project = context.projectName ?? 'mirror';
    const model = await gatherStatus({
      models: req.models,
      relengRoot: req.relengRoot,
      workspaceRoot: context.root,
      mirrorProject: project,
    });
    const dir = stepOutputDir(context.root, project, 'status');
    const page = join(dir, 'index.html');
    await mkdir(dir, { recursive: true });
    const tmp = `${page}.tmp-${process.pid}`;
    await writeFile(tmp, renderStatusPage(model));
    await rename(tmp, page);
    const count = (state: string) => model.rows.filter((r) => r.verify.state === state).length;
    return {
      manifest: { page, ...model },
      summary: `${page} (${model.rows.length} rows: ${count('verified')} verified, ${count('stale')} stale, ${count('not-verified')} not verified)`,
    };
  });

export default statusExecutor;
