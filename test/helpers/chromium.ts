import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

/** Headless Debian chromium as this machine runs it: no sandbox (root), no GPU, no background networking. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function chromium(): string {
  for (const name of ['chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
  }
  throw new Error('chromium is not installed (tools/setup.sh installs it: apt-get install chromium, or chromium from EPEL)');
}

/** Runs chromium with a fresh profile under `workDir`; returns what it printed on stdout. */
export function runChromium(workDir: string, args: string[], timeoutMs = 120_000): string {
  const profile = join(workDir, `chromium-profile-${Date.now()}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(profile, { recursive: true });
  const r = spawnSync(chromium(), [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, ...args], {
    cwd: workDir,
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(r.status, 0, `chromium ${args.join(' ')} failed (${r.signal ?? r.status}):\n${r.stderr}`);
  return r.stdout;
}
