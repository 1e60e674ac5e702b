import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './workspace';

export interface ChildOutcome {
  /** What the snippet passed to `report`, or undefined when it never did (killed, crashed). */
  report?: any;
  /** The child was killed by `killAfterSeconds` (it hung or spun). */
  killed: boolean;
  stderr: string;
}

/**
 * Runs a CommonJS snippet (TypeScript sources load through swc) in a fresh node process, for code whose output
 * would flood the test report or that may never end. The snippet calls `report(value)` once; the value comes
 * back through fd 3. `require` paths are relative to the repository.
 */
export function runInChild(snippet: string, killAfterSeconds = 120): ChildOutcome {
  const script = `
    const { writeSync } = require('node:fs');
    const report = (value) => writeSync(3, JSON.stringify(value === undefined ? null : value));
    const load = (rel) => require(require('node:path').join(${JSON.stringify(REPO_ROOT)}, rel));
    (async () => { ${snippet} })().catch((err) => { console.error(err); process.exitCode = 1; });`;
  const res = spawnSync(process.execPath, ['--require', '@swc-node/register', '-e', script], {
    cwd: REPO_ROOT,
    env: { ...process.env, SWC_NODE_PROJECT: join(REPO_ROOT, 'tsconfig.base.json') },
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    timeout: killAfterSeconds * 1000,
    killSignal: 'SIGKILL',
  });
  const fd3 = res.output[3]?.toString() ?? '';
  return { report: fd3 ? JSON.parse(fd3) : undefined, killed: res.signal === 'SIGKILL', stderr: res.stderr?.toString() ?? '' };
}
