#!/usr/bin/env node
// Runs every test file (or those whose path contains one of the arguments) with node's test runner.
// Node 20's `node --test` takes no globs, so the files are listed here; TypeScript loads through swc-node.
import { spawnSync } from 'node:child_process';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import fg from 'fast-glob';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = fg
  .sync(['test/**/*.test.ts'], { cwd: root, absolute: true })
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// The nx CLI of the e2e tests loads the plugin from tools/nx-releng/dist: build it when src/ changed.
const build = spawnSync(process.execPath, [join(root, 'tools/nx-releng/bin/build.js')], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
const res = spawnSync(
  process.execPath,
  ['--require', '@swc-node/register', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, SWC_NODE_PROJECT: join(root, 'tsconfig.base.json') } },
);
process.exit(res.status ?? 1);
