import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { removeDir, tempDir } from './workspace';

/**
 * Real git checkouts for the compose's refresh and fingerprint: local bare repositories made by the test stand
 * for the remotes compose.json names (git.rockylinux.org), mapped with git's own url.<base>.insteadOf (given as
 * environment, so every git the tool runs sees it).
 */

export const ROCKY_GIT = 'https://git.rockylinux.org/rocky/';

export function git(cwd: string, args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=releng-test', '-c', 'user.email=releng@test.invalid', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} (in ${cwd}) failed: ${r.stderr}`);
  return r.stdout;
}

/** git configuration (GIT_CONFIG_COUNT...) that sends https://git.rockylinux.org/rocky/<name> to <bareRoot>/<name>. */
export function insteadOfEnv(bareRoot: string): Record<string, string> {
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.${bareRoot}/.insteadOf`, GIT_CONFIG_VALUE_0: ROCKY_GIT };
}

/**
 * Makes dir a clone of <bareRoot>/<repo> on branch: the files already in dir become the branch's first commit
 * (the bare repository is made when missing; the branch must be new in it).
 */
export function makeCheckout(dir: string, bareRoot: string, repo: string, branch: string): void {
  const bare = join(bareRoot, repo);
  if (!existsSync(bare)) {
    mkdirSync(bare, { recursive: true });
    git(bare, ['init', '-q', '--bare']);
  }
  mkdirSync(dir, { recursive: true });
  git(dir, ['init', '-q', '-b', branch]);
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '--allow-empty', '-m', `${branch}: initial`]);
  git(dir, ['remote', 'add', 'origin', `${ROCKY_GIT}${repo}`]);
  git(dir, ['push', '-q', bare, branch]);
}

/** A commit pushed to the remote branch from elsewhere (as a release engineer does), files relative to the repo. */
export function pushUpstream(bareRoot: string, repo: string, branch: string, files: Record<string, string>): void {
  const work = tempDir('upstream');
  try {
    git(work, ['clone', '-q', '-b', branch, join(bareRoot, repo), 'w']);
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(dirname(join(work, 'w', rel)), { recursive: true });
      writeFileSync(join(work, 'w', rel), content);
    }
    git(join(work, 'w'), ['add', '-A']);
    git(join(work, 'w'), ['commit', '-q', '-m', `change ${Object.keys(files).join(', ')}`]);
    git(join(work, 'w'), ['push', '-q', 'origin', branch]);
  } finally {
    removeDir(work);
  }
}

/** The commit a checkout or a bare repository's branch is at. */
export function headOf(dir: string, ref = 'HEAD'): string {
  return git(dir, ['rev-parse', ref]).trim();
}
