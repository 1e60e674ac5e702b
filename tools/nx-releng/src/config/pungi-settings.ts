/**
 * Which pungi settings a channel composes with: pure reads of a validated model, apart from the loader so that
 * the runtime inputs (compose-state.ts) load no schema library.
 */
import { DEFAULT_CHANNEL, type Channel } from './constants';
import type { ComposeModel } from './load';
import type { PungiConfig } from './schema';

/** The compose.json field of a channel's pungi block: pungi for stable, channels.<channel>.pungi for the others. */
export function pungiField(channel: Channel): string {
  return channel === DEFAULT_CHANNEL ? 'pungi' : `channels.${channel}.pungi`;
}

/** The pungi settings a channel composes with (undefined: none configured; never the stable ones for another channel). */
export function channelPungi(model: ComposeModel, channel: Channel): PungiConfig | undefined {
  return channel === DEFAULT_CHANNEL ? model.compose.pungi : model.compose.channels?.[channel as Exclude<Channel, 'stable'>]?.pungi;
}

/** Whether a FINISHED_INCOMPLETE compose of this channel is used (pungi-koji exits 0 for it): the default, as the cron. */
export function acceptsIncomplete(model: ComposeModel, channel: Channel): boolean {
  return (channelPungi(model, channel) ?? model.compose.pungi)?.finishedIncomplete !== 'refuse';
}
