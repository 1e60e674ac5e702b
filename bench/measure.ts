/**
 * What the pipeline and graph benchmarks share: timing a child process (wall clock, and its peak RSS through
 * /usr/bin/time when that exists), the real nx CLI in a workspace made by test/helpers/nx-workspace.ts, medians,
 * and the machine's load. Not run by CI.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { NX_BIN, linkNodeModules, nxEnvironment, type NxWorkspace } from '../test/helpers/nx-workspace';
import { removeDir, tempDir, writeJsonFile } from '../test/helpers/workspace';

export interface Timed {
  ms: number;
  status: number;
  output: string;
  /** Peak RSS of the largest single process of the run (ru_maxrss of the children), when /usr/bin/time exists. */
  maxRssMiB?: number;
  /** User + system CPU of the run and the children it waited for (less blurred by other load than wall time). */
  cpuMs?: number;
}

const GNU_TIME = '/usr/bin/time';
const haveTime = existsSync(GNU_TIME);

/** Runs cmd to completion, timing it from this process; output is captured (stdout then stderr). */
export function timed(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Timed {
  const rssFile = join(tmpdir(), `bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const [file, argv] = haveTime ? [GNU_TIME, ['-f', '%M %U %S', '-o', rssFile, cmd, ...args]] : [cmd, args];
  const t = process.hrtime.bigint();
  const r = spawnSync(file, argv, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  let maxRssMiB: number | undefined;
  let cpuMs: number | undefined;
  if (haveTime) {
    try {
      const [kib, user, sys] = (readFileSync(rssFile, 'utf8').trim().split('\n').pop() as string).split(' ').map(Number);
      if (Number.isFinite(kib)) maxRssMiB = (kib as number) / 1024;
      if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = ((user as number) + (sys as number)) * 1000;
    } catch {
      /* no RSS figure */
    }
    rmSync(rssFile, { force: true });
  }
  return { ms, status: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}`, maxRssMiB, cpuMs };
}

/** Fails with the output when the run did not exit 0. */
export function ok(what: string, r: Timed): Timed {
  if (r.status !== 0) throw new Error(`${what} exited with ${r.status}:\n${r.output.slice(-4000)}`);
  return r;
}

/** What timedNx needs of a workspace: where it is and how nx is started there. */
export type NxRunner = Pick<NxWorkspace, 'dir' | 'command'>;

/** The nx CLI of this repository in `ws`, with the environment createNxWorkspace's nx() uses. */
export function timedNx(ws: NxRunner, args: string[], env: Record<string, string> = {}): Timed {
  const { argv, env: nxEnv } = ws.command(args, env);
  return timed(argv[0] as string, argv.slice(1), { cwd: ws.dir, env: nxEnv });
}

/**
 * The floor ours is held against: a bare Nx workspace with the same nx CLI and node_modules (linked), no plugin
 * and Nx's defaults (plugin isolation on, no .env), one project.json per name with one cached target
 * (`nx:run-commands` echo) that has run once, so `nx run-many -t <target>` is all cache hits.
 */
export function createBareWorkspace(names: readonly string[], target: string): NxRunner & { dispose(): void } {
  const dir = tempDir('bench-bare');
  linkNodeModules(dir);
  writeJsonFile(join(dir, 'package.json'), { name: 'bare', version: '0.0.0', private: true });
  writeJsonFile(join(dir, 'nx.json'), { defaultBase: 'main', tui: { enabled: false } });
  for (const name of names) {
    writeJsonFile(join(dir, 'projects', name, 'project.json'), { name, targets: { [target]: { command: `echo ${name}`, cache: true } } });
  }
  const git = (args: string[]) => ok(`git ${args[0]}`, timed('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { cwd: dir }));
  writeFileSync(join(dir, '.gitignore'), 'node_modules/\n.nx/\n');
  git(['init', '-q', '-b', 'main']);
  git(['add', '-A']);
  git(['commit', '-qm', 'bare']);
  const ws = {
    dir,
    command: (args: string[], env: Record<string, string> = {}) => ({ argv: [process.execPath, NX_BIN, ...args], env: nxEnvironment(env) }),
    dispose: () => removeDir(dir),
  };
  ok(`bare nx run-many -t ${target}`, timedNx(ws, ['run-many', '-t', target]));
  return ws;
}

/** Stops the nx daemon of a workspace (started by a run with NX_DAEMON=true). */
export function stopDaemon(ws: NxRunner): void {
  timedNx(ws, ['daemon', '--stop'], { NX_DAEMON: 'true' });
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
