import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stageSandbox } from './sandbox';
import { setupSandboxSigning, startErrataServer, stopSandboxAgent, writeSandboxErrata } from './signing';

/**
 * The main job on the built-in sandbox, all under one RELENG_ROOT: stage real RPMs as compose inputs, make the
 * composes with the local backend, `nx run-many -t sync-staging`, then the vetting chain (`-t verify`: errata
 * from a local Apollo-shaped server, signatures with a throwaway key), then the push (`-t sync-prod filelist`)
 * and the status page; it ends with the commands to look at the result.
 *   node -r @swc-node/register tools/sandbox/run.ts [--minor-release] [DIR]   (default: ./sandbox)
 * --minor-release makes produce composes (with small ISOs) and syncs them with `-c minor-release` (the GA sync:
 * isos/, kickstart trees, .treeinfo, links) instead of the daily update composes and sync.
 */
const workspace = resolve(__dirname, '..', '..');
/** Where mirror:status writes the page, in the workspace. */
const STATUS_PAGE = 'dist/releng/mirror/status/index.html';
const args = process.argv.slice(2);
const minorRelease = args.includes('--minor-release');
const unknown = args.filter((a) => a.startsWith('-') && a !== '--minor-release');
if (unknown.length) {
  console.error(`unknown option ${unknown.join(' ')}; usage: run.ts [--minor-release] [DIR]`);
  process.exit(2);
}
const relengRoot = resolve(args.find((a) => !a.startsWith('-')) ?? join(workspace, 'sandbox'));

function nx(args: string[], env: Record<string, string> = {}): Promise<void> {
  console.log(`\n$ RELENG_ROOT=${relengRoot} npx nx ${args.join(' ')}`);
  const child = spawn(process.execPath, [join(workspace, 'node_modules/nx/dist/bin/nx.js'), ...args], {
    cwd: workspace,
    stdio: 'inherit',
    env: { ...process.env, RELENG_ROOT: relengRoot, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', ...env },
  });
  // Asynchronous, so this process can serve the errata while nx runs.
  return new Promise((resolve, reject) =>
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`nx ${args.join(' ')} failed (exit ${code})`)))),
  );
}

async function main(): Promise<void> {
  console.log(`sandbox root: ${relengRoot}`);
  // releng-hello 1.1: the build the sandbox advisory (RLSA-2024:0001) ships, so updateinfo finds its packages.
  await stageSandbox(relengRoot, { version: '1.1' });
  await setupSandboxSigning(relengRoot);
  await writeSandboxErrata(join(relengRoot, 'errata'));
  const errata = await startErrataServer(join(relengRoot, 'errata'));
  try {
    // --skip-nx-cache: running the sandbox again makes new composes, even of unchanged RPMs.
    if (minorRelease) {
      // SIGs have no produce compose: the base composes are produce composes, the SIGs' their usual update ones.
      await nx(['run-many', '-t', 'compose', '--backend=local', '--kind=produce', '--projects=tag:kind:base', '--skip-nx-cache', '--output-style=static']);
      await nx(['run-many', '-t', 'compose', '--backend=local', '--projects=tag:kind:sig', '--skip-nx-cache', '--output-style=static']);
      await nx(['run-many', '-t', 'sync-staging', '-c', 'minor-release', '--output-style=static']);
    } else {
      await nx(['run-many', '-t', 'compose', '--backend=local', '--skip-nx-cache', '--output-style=static']);
      await nx(['run-many', '-t', 'sync-staging', '--output-style=static']);
    }
    await nx(['run-many', '-t', 'verify', '--output-style=static'], { RELENG_ERRATA_URL: errata.url });
    await nx(['run-many', '-t', 'sync-prod', 'filelist', '--output-style=static']);
    await nx(['run', 'mirror:status', '--output-style=static']);
    // gen-torrents runs after the minor release sync, from the staging isos/ dir.
    if (minorRelease) await nx(['run', 'Rocky-8:torrents', '--output-style=static']);
  } finally {
    await errata.close();
    await stopSandboxAgent(relengRoot);
  }
  const staging = join(relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  const production = join(relengRoot, 'mnt/repos-production/mirror/pub/rocky');
  // Repository dirs only: not the linkRepos links (nfv -> NFV) a minor release adds.
  const repos = readdirSync(staging, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(staging, d.name, 'x86_64/os/repodata/repomd.xml')))
    .map((d) => d.name);
  console.log(`\nstaging tree:    ${staging}`);
  console.log(`production tree: ${join(production, '8.10')}`);
  console.log(`repositories:    ${repos.sort().join(', ')}`);
  console.log(`SIG trees:       ${join(relengRoot, 'mnt/repos-staging/mirror/pub/sig/8')} (kernel, kmod; and in production)`);
  if (minorRelease) console.log(`torrents:        ${join(relengRoot, 'opt/rtorrent/watch/start')}`);
  console.log('\nLook at the result (docs/runbook.md says what a good run prints and how to check it):');
  const look = [
    `dnf -q --releasever=8 --repofrompath=baseos,${join(production, '8.10/BaseOS/x86_64/os')} --repo=baseos repoquery`,
    `head -n 12 ${join(production, 'fullfiletimelist-rocky')}`,
    ...(minorRelease ? [`cd ${join(staging, 'isos/x86_64')} && sha256sum -c CHECKSUM`] : []),
    `xdg-open ${join(workspace, STATUS_PAGE)}    # the status page, written by mirror:status`,
    'npx nx graph --file=dist/graph/index.html    # the projects and targets as a static page (npx nx graph serves it)',
  ];
  for (const line of look) console.log(`  ${line}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
