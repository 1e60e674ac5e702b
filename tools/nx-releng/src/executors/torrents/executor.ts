import type { PromiseExecutor } from '@nx/devkit';
import { makeTorrents } from '../../lib/mirror/torrents';
import { runStep } from '../run-step';
import type { TorrentsExecutorSchema } from './schema';
import { DEFAULT_CHANNEL } from '../../config/schema';

const torrentsExecutor: PromiseExecutor<TorrentsExecutorSchema> = (options, context) =>
  runStep('torrents', context, async ({ model, roots, log, relengRoot }) => {
    const r = await makeTorrents({ model, roots, log, relengRoot, channel: options.channel ?? DEFAULT_CHANNEL });
    const made = r.torrents.filter((t) => t.outcome === 'made').length;
    const remade = r.torrents.filter((t) => t.outcome === 'remade').length;
    const n = (count: number) => `${count} torrent${count === 1 ? '' : 's'}`;
    const { seconds, ...manifest } = r;
    return {
      manifest,
      summary:
        `made ${n(made)}, ${remade ? `remade ${remade} whose files changed, ` : ''}` +
        `${r.torrents.length - made - remade} already there and left alone (${r.watchDir}, ${seconds.toFixed(1)}s)`,
    };
  });

export default torrentsExecutor;
