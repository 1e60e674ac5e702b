import type { PromiseExecutor } from '@nx/devkit';
import { RelengError } from '../../errors';
import { publishFileLists } from '../../lib/mirror/mirror';
import { unpublishedInRun } from '../publication';
import { runMirrorStep } from '../run-step';
import type { FilelistExecutorSchema } from './schema';

const filelistExecutor: PromiseExecutor<FilelistExecutorSchema> = (options, context) =>
  runMirrorStep('filelist', context, async (req) => {
    const results = await publishFileLists(req, { full: options.full, fullWalkEveryHours: options.fullWalkEveryHours });
    const changed = results.filter((r) => r.changed.length).map((r) => r.dir);
    const lists = changed.length
      ? `file lists rewritten at ${changed.join(', ')}`
      : `file lists unchanged at ${results.length} roots (mirrors see nothing new)`;
    // The lists describe production as it is; the run still fails for every project this push did not publish.
    const unpublished = await unpublishedInRun(context);
    if (unpublished.length) {
      throw new RelengError(
        `${lists}, but ${unpublished.length} project(s) were not published:\n  ${unpublished.join('\n  ')}`,
      );
    }
    const madeBy = results[0]?.madeBy;
    return { manifest: results.map(({ dir, entries, changed }) => ({ dir, entries, changed, madeBy })), summary: lists };
  });

export default filelistExecutor;
