import { execa } from 'execa';
import { RelengError } from '../../errors';

/** Where each external tool comes from, so a missing tool names the package to install. */
export const TOOL_PACKAGES: Record<string, { debian: string; el: string }> = {
  rsync: { debian: 'rsync', el: 'rsync' },
  createrepo_c: { debian: 'createrepo-c', el: 'createrepo_c' },
  modifyrepo_c: { debian: 'createrepo-c', el: 'createrepo_c' },
  hardlink: { debian: 'util-linux', el: 'hardlink (EL8) or util-linux (EL9+)' },
  gpg: { debian: 'gnupg', el: 'gnupg2' },
  gpgv: { debian: 'gpgv', el: 'gnupg2' },
  dnf: { debian: 'dnf', el: 'dnf' },
  rpm: { debian: 'rpm', el: 'rpm' },
  rpmbuild: { debian: 'rpm', el: 'rpm-build' },
  xorriso: { debian: 'xorriso', el: 'xorriso' },
  mktorrent: { debian: 'mktorrent', el: 'mktorrent' },
  'pungi-koji': { debian: '(not packaged)', el: 'pungi' },
  koji: { debian: 'koji', el: 'koji' },
};

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Stream the tool's output to ours as it runs (still captured for errors). */
  stream?: boolean;
  input?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

function missingToolMessage(cmd: string): string {
  const pkg = TOOL_PACKAGES[cmd];
  const hint = pkg ? `: install it (Debian: apt-get install ${pkg.debian}; EL: dnf install ${pkg.el})` : '';
  return `required tool '${cmd}' was not found on PATH${hint}`;
}

/** Last lines of a tool's output, enough to see why it failed without flooding the log. */
function tail(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/**
 * Runs one external program with an explicit argv (never a shell string).
 * Throws RelengError naming the tool and its exit code; a missing tool names its package.
 */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const child = execa(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    input: opts.input,
    reject: false,
    all: false,
    stripFinalNewline: false,
    stdout: opts.stream ? ['pipe', 'inherit'] : 'pipe',
    stderr: opts.stream ? ['pipe', 'inherit'] : 'pipe',
  });
  const res = await child;
  const stdout = String(res.stdout ?? '');
  const stderr = String(res.stderr ?? '');
  if (res.failed && res.exitCode === undefined) {
    const code = (res.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') throw new RelengError(missingToolMessage(cmd));
    throw new RelengError(`${cmd} could not be started: ${res.shortMessage}`);
  }
  const exitCode = res.exitCode ?? (res.signal ? 128 : 1);
  if (exitCode !== 0 && !opts.allowFailure) {
    const detail = tail(stderr || stdout);
    throw new RelengError(
      `${cmd} ${args.join(' ')} failed with exit code ${exitCode}${res.signal ? ` (signal ${res.signal})` : ''}` +
        (detail ? `:\n${detail}` : ''),
    );
  }
  return { stdout, stderr, exitCode };
}

/** Fails with the package to install when a tool is not on PATH, before any work starts. */
export async function requireTools(tools: readonly string[]): Promise<void> {
  const { delimiter, join } = await import('node:path');
  const { access, constants } = await import('node:fs/promises');
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const missing: string[] = [];
  for (const tool of tools) {
    let found = false;
    for (const dir of dirs) {
      try {
        await access(join(dir, tool), constants.X_OK);
        found = true;
        break;
      } catch {
        /* not in this dir */
      }
    }
    if (!found) missing.push(tool);
  }
  if (missing.length) throw new RelengError(missing.map(missingToolMessage).join('\n'));
}
