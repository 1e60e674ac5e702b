import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stageSandbox } from './sandbox';

/**
 * The main job on the built-in sandbox: stage real RPMs as compose inputs, make the composes with the local
 * backend, and run `nx run-many -t sync-staging` on them, all under one RELENG_ROOT.
 *   node -r @swc-node/register tools/sandbox/run.ts [DIR]   (default: ./sandbox)
 */
const workspace = resolve(__dirname, '..', '..');
const relengRoot = resolve(process.argv[2] ?? join(workspace, 'sandbox'));

function nx(args: string[]): void {
  console.log(`\n$ RELENG_ROOT=${relengRoot} npx nx ${args.join(' ')}`);
  const r = spawnSync(process.execPath, [join(workspace, 'node_modules/nx/dist/bin/nx.js'), ...args], {
    cwd: workspace,
    stdio: 'inherit',
    env: { ...process.env, RELENG_ROOT: relengRoot, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' },
  });
  if (r.status !== 0) {
    console.error(`nx ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
    process.exit(r.status ?? 1);
  }
}

async function main(): Promise<void> {
  console.log(`sandbox root: ${relengRoot}`);
  await stageSandbox(relengRoot);
  nx(['run-many', '-t', 'compose', '--backend=local', '--output-style=static']);
  nx(['run-many', '-t', 'sync-staging', '--output-style=static']);
  const staging = join(relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  const repos = readdirSync(staging).filter((d) => existsSync(join(staging, d, 'x86_64/os/repodata/repomd.xml')));
  console.log(`\nstaging tree: ${staging}`);
  console.log(`repositories: ${repos.sort().join(', ')}`);
  console.log(`try: dnf --repofrompath=baseos,${join(staging, 'BaseOS/x86_64/os')} --repo=baseos repoquery`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
