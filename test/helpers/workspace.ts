import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The repository this test suite belongs to. */
export const REPO_ROOT = join(__dirname, '..', '..');

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `releng-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export function writeJsonFile(file: string, value: unknown): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

export function readJsonFile<T = unknown>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Copies the repo's releases/ into a temp dir, as a workspace root for config and plugin tests. */
export function copyReleases(into: string): void {
  cpSync(join(REPO_ROOT, 'releases'), join(into, 'releases'), { recursive: true });
}

/** A release model for major 9 that differs from 8 in arches, repos and channels: no code may assume 8. */
export function addRelease9(root: string, composes: Record<string, unknown> = {}): void {
  writeJsonFile(join(root, 'releases/9/release.json'), {
    revision: '9.7',
    arches: ['x86_64', 'aarch64', 'ppc64le', 's390x'],
    channels: {
      stable: { suffix: '-RC2' },
      beta: { suffix: '-BETA', composeSuffix: '-BETA', revision: '9.8' },
    },
    compsRepos: ['BaseOS', 'AppStream', 'CRB', 'SAP'],
    plainRepos: ['extras', 'devel', 'plus'],
    modularRepos: ['AppStream', 'CRB'],
    linkRepos: {},
    isoTypes: ['BaseOS', 'Minimal'],
    moduleMetadataDir: '/mnt/compose/9_metadata',
    errata: { source: { type: 'dir', path: '/mnt/errata/9' }, ignoreRepos: ['extras', 'devel', 'plus'] },
    signing: { type: 'gpg', keyId: 'releng@example.invalid', homedir: '/root/.gnupg', publicKey: '/etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-9' },
    repoclosure: { BaseOS: [], AppStream: ['BaseOS'], CRB: ['BaseOS', 'AppStream'], SAP: ['BaseOS', 'AppStream'], extras: ['BaseOS'], devel: [], plus: [] },
  });
  const all = {
    Rocky: { kind: 'base', variants: ['BaseOS', 'AppStream', 'CRB'], backend: 'local', syncMetadata: true },
    ...composes,
  };
  for (const [short, compose] of Object.entries(all)) writeJsonFile(join(root, `releases/9/${short}/compose.json`), compose);
}
