#!/usr/bin/env node
// Compiles src/ into dist/ (CommonJS; tsconfig.build.json), which Nx loads: the plugin, its executors and the
// runtime inputs start without a TypeScript loader. Builds only when src/ changed since the last build
// (dist/.source-digest), unless --force. The new build is made beside and renamed in, so a failed build leaves
// the previous one in place. Type checking is `tsc -p tsconfig.base.json --noEmit`, not this.
// executors.json and generators.json name the built files with their .js extension: without one, Nx 24 looks
// for a local plugin's source first (src/executors/<name>/executor.ts) and loads it through a TypeScript loader.
'use strict';
const { spawnSync } = require('node:child_process');
const { renameSync, rmSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const pkg = join(__dirname, '..');
const dist = join(pkg, 'dist');

function current() {
  try {
    return require(join(dist, 'build-stamp.js')).buildIsCurrent(dist, pkg);
  } catch {
    return false;
  }
}

if (process.argv.includes('--force') || !current()) {
  const next = join(pkg, `dist.${process.pid}`);
  const old = join(pkg, `dist.old.${process.pid}`);
  try {
    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(pkg, 'tsconfig.build.json'), '--outDir', next], {
      stdio: 'inherit',
    });
    if (tsc.status !== 0) throw new Error(`tsc -p tools/nx-releng/tsconfig.build.json failed (exit ${tsc.status ?? tsc.signal})`);
    const { sourceDigest, stampFile } = require(join(next, 'build-stamp.js'));
    writeFileSync(stampFile(next), `${sourceDigest(pkg)}\n`);
    rmSync(old, { recursive: true, force: true });
    try {
      renameSync(dist, old);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
    renameSync(next, dist);
    rmSync(old, { recursive: true, force: true });
    console.error('built tools/nx-releng/dist');
  } catch (err) {
    rmSync(next, { recursive: true, force: true });
    console.error(err.message);
    process.exit(1);
  }
}
