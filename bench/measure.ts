/**
 * What the pipeline and graph benchmarks share: timing a child process (wall clock, and its peak RSS through
 * /usr/bin/time when that exists), the real nx CLI in a workspace made by test/helpers/nx-workspace.ts, medians,
 * and the machine's load. Not run by CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { NxWorkspace } from '../test/helpers/nx-workspace';

export interface Timed {
  ms: number;
  status: number;
  output: string;
  /** Peak RSS of the largest single process of the run (ru_maxrss of the children), when /usr/bin/time exists. */
  maxRssMiB?: number;
}

const GNU_TIME = '/usr/bin/time';
const haveTime = existsSync(GNU_TIME);

/** Runs cmd to completion, timing it from this process; output is captured (stdout then stderr). */
export function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Timed {
  const rssFile = join(tmpdir(), `bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [file, argv] = haveTime ? [GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const t = process.hrtime.bigint();
  const r = spawnSync(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let maxRssMiB: number | undefined;
  if (haveTime) {
    try {
      const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
      if (Number.isFinite(kib)) maxRssMiB = kib / 1024;
    } catch {
      /* no RSS figure */
    }
    rmSync(rssFile, { force: true });
  }
  return { ms, status: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, maxRssMiB };
}

/** Fails with the output when the run did not exit 0. */
export function ok(what: string, r: Timed): Timed {
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status}:\n${r.output.slice(-4000)}`);
  return r;
}

/** The nx CLI of this repository in `ws`, with the environment createNxWorkspace's nx() uses. */
export function timedNx(ws: NxWorkspace, args: string[], env: Record<string, string> = {}): Timed {
  const { argv, env: nxEnv } = ws.command(args, env);
  return timed(argv[0] as string, argv.slice(1), { cwd: ws.dir, env: nxEnv });
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

export const fmtMs = (x: number): string => `${x.toFixed(0).padStart(7)} ms`;

/** "1.23 1.10 0.98" (1, 5, 15 minutes), as uptime prints it. */
export function load(): string {
  return loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
}

/** One line naming the machine: CPUs, memory, load, node. */
export function machine(): string {
  return `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, node ${process.version}, load average ${load()}`;
}

/** Parses "--key value" pairs; every benchmark option has a value. */
export function parseArgs(argv: string[], flags: readonly string[] = []): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i] as string;
    if (!k.startsWith('--')) throw new Error(`bad argument ${k}`);
    if (flags.includes(k.slice(2))) {
      m.set(k.slice(2), 'true');
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`${k} needs a value`);
    m.set(k.slice(2), argv[++i] as string);
  }
  return m;
}
