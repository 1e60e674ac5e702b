import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, copyReleases, removeDir, tempDir } from './workspace';

/**
 * A throwaway Nx workspace that runs the real nx CLI on a copy of the plugin and the release model, with every
 * root redirected by RELENG_ROOT into <dir>/mnt-root. Node modules are the repository's, linked entry by entry
 * so that @nx-releng/plugin resolves to this workspace's own copy of the plugin.
 */
export interface NxWorkspace {
  dir: string;
  relengRoot: string;
  nx(args: string[], env?: Record<string, string>): { status: number; output: string };
  /** The argv and environment nx() runs with, for callers that start nx themselves (to kill it, to time it). */
  command(args: string[], env?: Record<string, string>): { argv: string[]; env: NodeJS.ProcessEnv };
  /** The same without blocking this process (needed when the test itself serves something nx talks to). */
  nxAsync(args: string[], env?: Record<string, string>): Promise<{ status: number; output: string }>;
  git(args: string[]): string;
  dispose(): void;
}

/** The nx CLI of this repository. */
export const NX_BIN = join(REPO_ROOT, 'node_modules/nx/dist/bin/nx.js');

/** The environment nx runs with in a test workspace: no daemon, no cloud, plain output; `env` on top. */
export function nxEnvironment(env: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_TUI: 'false',
    CI: 'true',
    FORCE_COLOR: '0',
    NX_SKIP_NX_CACHE: undefined,
    ...env,
  };
}

/** Links this repository's node_modules into dir entry by entry, all but @nx-releng (each workspace has its own plugin). */
export function linkNodeModules(dir: string): void {
  mkdirSync(join(dir, 'node_modules'), { recursive: true });
  for (const entry of readdirSync(join(REPO_ROOT, 'node_modules'))) {
    if (entry !== '@nx-releng') symlinkSync(join(REPO_ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
}

/**
 * Takes the SIG composes of the shipped model out of a test workspace (committed), for tests about the base
 * distribution's pipeline: the SIGs have their own end-to-end test (sig.test.ts) and run in the sandbox.
 */
export function dropShippedSigs(ws: NxWorkspace): void {
  let dropped = 0;
  for (const major of readdirSync(join(ws.dir, 'releases'), { withFileTypes: true }).filter((e) => e.isDirectory())) {
    for (const dir of readdirSync(join(ws.dir, 'releases', major.name)).filter((d) => d.startsWith('SIG-'))) {
      rmSync(join(ws.dir, 'releases', major.name, dir), { recursive: true });
      dropped++;
    }
  }
  if (dropped) ws.git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'base composes only']);
}

export function createNxWorkspace(prefix = 'nx'): NxWorkspace {
  const dir = tempDir(prefix);
  const relengRoot = join(dir, 'mnt-root');
  copyReleases(dir);
  cpSync(join(REPO_ROOT, 'tools/nx-releng'), join(dir, 'tools/nx-releng'), { recursive: true });
  for (const f of ['nx.json', 'tsconfig.base.json', 'package.json', 'package-lock.json', '.gitignore', '.env']) {
    cpSync(join(REPO_ROOT, f), join(dir, f));
  }
  // The re-rooted /mnt lives inside this workspace; on a compose host it is outside. Keep it out of Nx's file
  // map, or every command would hash every compose, staging and production file.
  appendFileSync(join(dir, '.gitignore'), '/mnt-root/\n');
  linkNodeModules(dir);
  mkdirSync(join(dir, 'node_modules/@nx-releng'), { recursive: true });
  symlinkSync(join(dir, 'tools/nx-releng'), join(dir, 'node_modules/@nx-releng/plugin'));
  mkdirSync(relengRoot, { recursive: true });
  const git = (args: string[]) => {
    const r = spawnSync('git', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr}`);
    return r.stdout;
  };
  git(['init', '-q', '-b', 'main']);
  git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'add', '-A']);
  git(['-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'init']);
  const nxArgv = (args: string[]) => [NX_BIN, ...args];
  const nxEnv = (env: Record<string, string>) => nxEnvironment({ RELENG_ROOT: relengRoot, ...env });
  return {
    dir,
    relengRoot,
    git,
    command: (args, env = {}) => ({ argv: [process.execPath, ...nxArgv(args)], env: nxEnv(env) }),
    nx(args, env = {}) {
      const r = spawnSync(process.execPath, nxArgv(args), {
        cwd: dir,
        encoding: 'utf8',
        env: nxEnv(env),
        maxBuffer: 64 * 1024 * 1024,
      });
      return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}` };
    },
    nxAsync(args, env = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, nxArgv(args), { cwd: dir, env: nxEnv(env) });
        let output = '';
        child.stdout.on('data', (d) => (output += d));
        child.stderr.on('data', (d) => (output += d));
        child.on('error', reject);
        child.on('close', (code) => resolve({ status: code ?? 1, output }));
      });
    },
    dispose: () => removeDir(dir),
  };
}

/**
 * What each task of a run did, from nx's static output: 'cache' (answered by the Nx cache), or the
 * executor's own summary word ('synced', 'up-to-date', 'dry-run'), or 'failed'.
 */
export function taskOutcomes(output: string, target: string): Record<string, string> {
  const outcomes: Record<string, string> = {};
  for (const chunk of output.split(/^> nx run /m).slice(1)) {
    const m = new RegExp(`^(\\S+):${target}`).exec(chunk);
    if (!m) continue;
    const project = m[1] as string;
    const header = chunk.split('\n')[0] as string;
    if (/\[(local cache|remote cache|existing outputs match the cache, left as is)\]/.test(header)) outcomes[project] = 'cache';
    else if (new RegExp(`${project}:${target} FAILED`).test(chunk)) outcomes[project] = 'failed';
    else if (/up to date, nothing synced/.test(chunk)) outcomes[project] = 'up-to-date';
    else if (new RegExp(`${project}:${target} \\d+ repos passed`).test(chunk)) outcomes[project] = 'passed';
    else if (new RegExp(`${project}:${target} synced:`).test(chunk)) outcomes[project] = 'synced';
    else if (new RegExp(`^${project}:${target} `, 'm').test(chunk)) outcomes[project] = 'ran';
    else outcomes[project] = 'unknown';
  }
  return outcomes;
}
