import type { PromiseExecutor } from '@nx/devkit';
import { channelRelease, composePaths } from '../../layout/paths';
import { RelengError } from '../../lib/errors';
import { createLocalCompose } from '../../lib/local-compose';
import { runStep } from '../run-step';
import type { ComposeExecutorSchema } from './schema';

const composeExecutor: PromiseExecutor<ComposeExecutorSchema> = (options, context) =>
  runStep('compose', context, async ({ model, roots, log }) => {
    const backend = options.backend ?? model.compose.backend;
    const ch = channelRelease(model.release, options.channel ?? 'stable', model.files.release);
    const paths = composePaths(model, ch, roots);
    if (backend !== 'local') {
      throw new RelengError(
        `${model.files.compose}: backend '${backend}' is not available in this version of nx-releng; ` +
          `run with --backend=local to compose from ${paths.localSource}`,
      );
    }
    log.info(`${model.project}: local compose from ${paths.localSource} into ${paths.composeRoot}`);
    const result = await createLocalCompose({
      targetDir: paths.composeRoot,
      srcDir: paths.localSource,
      releaseName: model.common.distro.name,
      short: model.short,
      version: ch.revision,
      variants: model.compose.variants,
      arches: model.release.arches,
      date: options.date,
      latestLinkName: paths.latestLink.split('/').pop() as string,
    });
    return {
      manifest: { project: model.project, channel: ch.channel, backend, ...result },
      summary: `${result.composeId} ${result.status}, ${result.rpmCount} RPMs, ${paths.latestLink} -> ${result.composeId}`,
    };
  });

export default composeExecutor;
