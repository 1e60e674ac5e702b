import type { PromiseExecutor } from '@nx/devkit';
import { publishFileLists } from '../../lib/mirror/mirror';
import { runMirrorStep } from '../run-step';
import type { FilelistExecutorSchema } from './schema';

const filelistExecutor: PromiseExecutor<FilelistExecutorSchema> = (_options, context) =>
  runMirrorStep('filelist', context, async (req) => {
    const results = await publishFileLists(req);
    const changed = results.filter((r) => r.changed.length).map((r) => r.dir);
    return {
      manifest: results.map(({ dir, entries, changed }) => ({ dir, entries, changed })),
      summary: changed.length
        ? `file lists rewritten at ${changed.join(', ')}`
        : `file lists unchanged at ${results.length} roots (mirrors see nothing new)`,
    };
  });

export default filelistExecutor;
