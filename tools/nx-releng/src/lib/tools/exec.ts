import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { finished } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { RelengError } from '../../errors';

/**
 * execa, loaded on the first tool run rather than with this module: it is ESM, ~60 ms of CPU to load, and the
 * runtime inputs (one process per task on every nx run) import modules that may run a tool but mostly run none.
 */
function execa(): typeof import('execa').execa {
  return (require('execa') as typeof import('execa')).execa;
}

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
  xz: { debian: 'xz-utils', el: 'xz' },
  bzip2: { debian: 'bzip2', el: 'bzip2' },
  zstd: { debian: 'zstd', el: 'zstd' },
  xorriso: { debian: 'xorriso', el: 'xorriso' },
  mktorrent: { debian: 'mktorrent', el: 'mktorrent' },
  'pungi-koji': { debian: '(not packaged)', el: 'pungi' },
  koji: { debian: 'koji', el: 'koji' },
};

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /**
   * For long outputs (pungi): stdout and stderr go to this log file and to ours as the tool runs, not to
   * memory; the result holds only the last TAIL_BYTES of each, and errors name the log.
   */
  stream?: { log: string };
  input?: string;
  /** Return a non-zero exit instead of throwing (a timeout or an oversize capture still throws). */
  allowFailure?: boolean;
  /** Kill the tool (SIGTERM, then SIGKILL 5 s later) when it runs longer than this. */
  timeoutSeconds?: number;
  /** Most bytes captured from stdout or stderr; more is an error, never a silently cut output. */
  maxBytes?: number;
}

/** execa's own default: enough for rpm -qp over a batch, dnf repoquery, rsync --itemize-changes of a release. */
export const DEFAULT_MAX_BYTES = 100_000_000;
/** What a streamed run keeps of each output for the result and for errors. */
export const TAIL_BYTES = 64 * 1024;

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
 * What run() keeps of one output: all of it up to `limit` bytes (more sets `over`), or for a streamed tool the
 * last `limit` bytes (the first line may start cut).
 */
class Kept {
  private chunks: Buffer[] = [];
  private size = 0;
  over = false;
  constructor(
    private readonly limit: number,
    private readonly tailOnly: boolean,
  ) {}
  push(chunk: Buffer): void {
    if (this.over) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size <= this.limit) return;
    if (!this.tailOnly) {
      this.over = true;
      this.chunks = [];
      return;
    }
    while (this.size - (this.chunks[0] as Buffer).length >= this.limit) this.size -= (this.chunks.shift() as Buffer).length;
  }
  toString(): string {
    const all = Buffer.concat(this.chunks);
    return all.subarray(Math.max(0, all.length - this.limit)).toString('utf8');
  }
}

/** Why a tool never ran (not on PATH: names its package), or undefined when it started. */
function startFailure(cmd: string, res: { failed: boolean; exitCode?: number; signal?: string; cause?: unknown; shortMessage?: string }): RelengError | undefined {
  if (!res.failed || res.exitCode !== undefined || res.signal) return undefined;
  const code = (res.cause as NodeJS.ErrnoException | undefined)?.code;
  return new RelengError(code === 'ENOENT' ? missingToolMessage(cmd) : `${cmd} could not be started: ${res.shortMessage}`);
}

/**
 * Runs one external program with an explicit argv (never a shell string).
 * Throws RelengError naming the tool and its exit code; a missing tool names its package.
 */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.stream?.log;
  if (log) await mkdir(dirname(log), { recursive: true });
  const file = log ? createWriteStream(log, { flags: 'a' }) : undefined;
  file?.on('error', () => undefined); // reported by finished(file) once the tool is done
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const child = execa()(cmd, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    input: opts.input,
    reject: false,
    buffer: false, // kept below, by bytes, so nothing is ever silently cut
    timeout: opts.timeoutSeconds === undefined ? undefined : opts.timeoutSeconds * 1000,
  });
  const read = async (from: Readable | null, echo: NodeJS.WriteStream): Promise<Kept> => {
    const kept = log ? new Kept(TAIL_BYTES, true) : new Kept(maxBytes, false);
    from?.on('data', (chunk: Buffer) => {
      kept.push(chunk);
      if (kept.over && !child.killed) child.kill(); // the capture is already unusable
      file?.write(chunk);
      if (log) echo.write(chunk);
    });
    if (from) await finished(from).catch(() => undefined); // a killed tool's pipe may end in an error
    return kept;
  };
  const [res, out, err] = await Promise.all([child, read(child.stdout, process.stdout), read(child.stderr, process.stderr)]);
  if (file) {
    file.end();
    await finished(file).catch((e: Error) => {
      throw new RelengError(`${cmd}: cannot write its log ${log}: ${e.message}`);
    });
  }
  const [stdout, stderr] = [String(out), String(err)];
  const inLog = log ? ` (full output in ${log})` : '';
  if (res.timedOut) {
    throw new RelengError(`${cmd} ${args.join(' ')} was killed after running longer than its timeout of ${opts.timeoutSeconds}s${inLog}`);
  }
  if (out.over || err.over) {
    throw new RelengError(
      `${cmd} ${args.join(' ')} wrote more than ${maxBytes} bytes to ${out.over ? 'stdout' : 'stderr'}; refusing to use a truncated capture`,
    );
  }
  const notStarted = startFailure(cmd, res);
  if (notStarted) throw notStarted;
  const exitCode = res.exitCode ?? (res.signal ? 128 : 1);
  if (exitCode !== 0 && !opts.allowFailure) {
    const detail = tail(stderr || stdout);
    throw new RelengError(
      `${cmd} ${args.join(' ')} failed with exit code ${exitCode}${res.signal ? ` (signal ${res.signal})` : ''}${inLog}` +
        (detail ? `:\n${detail}` : ''),
    );
  }
  return { stdout, stderr, exitCode };
}

/** A tool whose stdout is read as a stream (a decompressor feeding a parser): its output is never kept. */
export interface ToolStream {
  stdout: Readable;
  /**
   * Settles once the tool has exited: a RelengError for a non-zero exit (with the tail of its stderr) or a missing
   * tool. Already handled, so a reader that gives up early need not await it.
   */
  done: Promise<void>;
  /** Stops the tool (a reader that gave up early); nothing once it has exited. */
  kill(): void;
}

/** Runs one external program (explicit argv) whose stdout the caller reads as a stream. */
export function streamStdout(cmd: string, args: readonly string[]): ToolStream {
  const child = execa()(cmd, args, { stdin: 'ignore', reject: false, buffer: false });
  const stderr = new Kept(TAIL_BYTES, true);
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const done = child.then((res) => {
    const notStarted = startFailure(cmd, res);
    if (notStarted) throw notStarted;
    if (res.exitCode !== 0) {
      const detail = tail(String(stderr));
      const how = res.signal ? `was killed by ${res.signal}` : `failed with exit code ${res.exitCode}`;
      throw new RelengError(`${cmd} ${args.join(' ')} ${how}${detail ? `:\n${detail}` : ''}`);
    }
  });
  done.catch(() => undefined);
  if (!child.stdout) throw new RelengError(`${cmd}: no stdout to read`);
  return { stdout: child.stdout, done, kill: () => void (child.exitCode === null && child.kill()) };
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
