/**
 * The runtime input of `compose`: what a compose is made from that lives outside the workspace, so that Nx skips
 * a compose whose inputs did not change. Nx runs it once per compose task when it hashes the task, after the
 * refresh step (never while it builds the project graph); its stdout is the value hashed. Per channel that has a
 * compose root on this host:
 *
 * - the pungi config compose.json names (its content), and each checkout the channel reads (the pungi config
 *   checkout with every file the config imports, the module metadata): HEAD plus a digest of the working tree's
 *   differences from it;
 * - the package set: the latest builds of every koji tag of the channel (`koji list-tagged --latest --quiet`);
 * - whether the latest link still points at a finished compose (FINISHED, or FINISHED_INCOMPLETE where accepted).
 *   It does not name that compose: every compose moves the link, so naming it would never hit. A link that is
 *   missing, dangling or at an unfinished compose gives a nonce: a hit is only right while the last compose is
 *   still there.
 *
 * And the files of the local backend's input dir (names, sizes, mtimes). Whatever cannot be known (koji fails,
 * no tag configured, a checkout git cannot read) also gives a nonce, so the compose runs. Nx ignores a runtime
 * input's exit code and stderr, so the reasons are also written to a note beside the manifests that the compose
 * executor prints (loudly for what cannot be fingerprinted) and then removes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { lstatSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type ComposeModel } from '../../config/load';
import { acceptsIncomplete, channelPungi, pungiField } from '../../config/pungi-settings';
import { CHANNELS } from '../../config/constants';
import { channelRelease, composePaths, reRoot, resolveRoots, composeInputNotePath } from '../../layout/paths';
import { inspectLatestLink } from './compose-ref';
import { channelCheckouts, checkoutFingerprint, checkoutProblem } from './checkouts';
import { errorMessage } from '../../errors';
import { run } from '../tools/exec';

export interface ComposeInputState {
  /** The value Nx hashes, one line per input. */
  lines: string[];
  /** Why this compose is never skipped because something could not be read (printed as WARNING). */
  warnings: string[];
  /** Why this compose cannot be a cache hit this time for an ordinary reason (no finished compose yet). */
  notes: string[];
}

/** Output of `koji list-tagged --latest --quiet <tag>`, or why it could not be had. */
export type KojiLister = (tag: string) => Promise<{ ok: true; stdout: string } | { ok: false; error: string }>;

/** The koji CLI on PATH (its default profile). */
export const kojiListTagged: KojiLister = async (tag) => {
  try {
    const r = await run('koji', ['list-tagged', '--latest', '--quiet', tag], { allowFailure: true });
    if (r.exitCode === 0) return { ok: true, stdout: r.stdout };
    const detail = r.stderr.trim().split('\n').filter(Boolean).slice(-3).join(' | ');
    return { ok: false, error: `exit code ${r.exitCode}${detail ? `: ${detail}` : ''}` };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  }
};

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Every file under dir as "<relative path> <size> <mtime ms>", sorted; undefined when dir does not exist.
 * Synchronous calls, one at a time as before: an awaited stat per package was a thread-pool trip each.
 */
function listFiles(dir: string): string[] | undefined {
  try {
    if (!statSync(dir).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path);
      else {
        const abs = join(dir, path);
        let s;
        try {
          s = statSync(abs);
        } catch {
          s = lstatSync(abs); // a dangling or looping link: listed as the link
        }
        out.push(`${path} ${s.size} ${Math.trunc(s.mtimeMs)}`);
      }
    }
  };
  walk('');
  return out.sort();
}

export async function composeInputState(
  model: ComposeModel,
  relengRoot: string | undefined,
  listTagged: KojiLister = kojiListTagged,
): Promise<ComposeInputState> {
  const roots = resolveRoots(model.common, model.release, relengRoot);
  const lines: string[] = [];
  const warnings: string[] = [];
  const notes: string[] = [];
  const nonce = () => `nonce ${randomUUID()}`;
  // Channels share tags: each is asked once per run.
  const tagged = new Map<string, string>();
  const tagLine = async (tag: string): Promise<string> => {
    const known = tagged.get(tag);
    if (known) return known;
    const r = await listTagged(tag);
    let line: string;
    if (r.ok) {
      const builds = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort();
      line = `koji-tag ${tag} sha256:${sha256(builds.join('\n'))} ${builds.length} builds`;
    } else {
      line = `koji-tag ${tag} failed ${nonce()}`;
      warnings.push(
        `koji list-tagged --latest --quiet ${tag} failed (${r.error}): the package set cannot be ` +
          `fingerprinted, so this compose is not skipped (it never is until koji answers)`,
      );
    }
    tagged.set(tag, line);
    return line;
  };

  for (const channel of CHANNELS) {
    if (!model.release.channels[channel]) continue;
    const paths = composePaths(model, channelRelease(model.release, channel), roots);
    // Without its compose root a channel is not composed on this host: both backends refuse a missing target dir.
    if (!(await stat(paths.composeRoot).then((s) => s.isDirectory(), () => false))) {
      lines.push(`${channel}: no compose root ${paths.composeRoot}`);
      continue;
    }
    const pungi = channelPungi(model, channel);
    if (pungi) {
      const conf = reRoot(pungi.config, relengRoot);
      // A missing config fails the pungi backend (failures are not cached), so a stable line is right.
      const content = await readFile(conf).catch(() => undefined);
      lines.push(`${channel}: pungi-config ${conf} ${content ? `sha256:${sha256(content)}` : 'missing'}`);
      // The checkouts as refresh left them: every file the config imports, and the module metadata.
      for (const c of channelCheckouts(model, channel, relengRoot)) {
        // Missing or not a git checkout: the refresh fails the pungi backend (failures are not cached), so a stable
        // line is right, and lets --backend=local composes (which read no checkout) be skipped.
        const problem = await checkoutProblem(c);
        if (problem) {
          lines.push(`${channel}: ${c.field} unusable: ${problem}`);
          continue;
        }
        try {
          lines.push(`${channel}: ${c.field} ${await checkoutFingerprint(c)}`);
        } catch (err) {
          lines.push(`${channel}: ${c.field} ${nonce()}`);
          warnings.push(`${errorMessage(err)}: it cannot be fingerprinted, so this compose is not skipped`);
        }
      }
    }
    if (model.compose.backend === 'pungi') {
      if (!pungi?.tag) {
        lines.push(`${channel}: koji-tag none ${nonce()}`);
        warnings.push(
          `${model.files.compose} has no ${pungiField(channel)}.tag, so the package set cannot be fingerprinted and this compose is never skipped`,
        );
      }
      for (const tag of [...(pungi?.tag ? [pungi.tag] : []), ...(pungi?.extraTags ?? [])]) lines.push(`${channel}: ${await tagLine(tag)}`);
    }
    const seen = await inspectLatestLink(paths.latestLink);
    const finished = seen.status === 'FINISHED' || (seen.status === 'FINISHED_INCOMPLETE' && acceptsIncomplete(model, channel));
    const why = seen.problem ?? (finished ? undefined : `${paths.latestLink} points at a compose with STATUS ${seen.status ?? '(none)'}`);
    if (!why) {
      lines.push(`${channel}: latest compose ${seen.status}`);
    } else {
      lines.push(`${channel}: ${nonce()}`);
      notes.push(`${channel}: ${why}, so there is no finished compose a cache hit could stand for`);
    }
  }

  // Always, so that --backend=local (an option the runtime input cannot see) is skipped only on the same RPMs.
  const source = composePaths(model, channelRelease(model.release, 'stable'), roots).localSource;
  const files = listFiles(source);
  lines.push(`local ${source} ${files ? `sha256:${sha256(files.join('\n'))} ${files.length} files` : 'missing'}`);
  return { lines, warnings, notes };
}

export async function writeComposeInputNote(workspaceRoot: string, project: string, state: ComposeInputState): Promise<void> {
  const file = composeInputNotePath(workspaceRoot, project);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${JSON.stringify(state, null, 2)}\n`);
}

/** The note of this run's hashing, read once: removed so that a later run never prints a stale one. */
export async function takeComposeInputNote(workspaceRoot: string, project: string): Promise<ComposeInputState | undefined> {
  const file = composeInputNotePath(workspaceRoot, project);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  await rm(file, { force: true });
  try {
    return JSON.parse(text) as ComposeInputState;
  } catch {
    return undefined;
  }
}
