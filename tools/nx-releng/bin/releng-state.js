#!/usr/bin/env node
// Nx runtime input of compose, sync-staging and verify (see src/lib/cache/runtime-inputs.ts), run from the
// workspace root once per task when Nx hashes it: plain JavaScript from dist/ (bin/build.js), no TypeScript loader.
'use strict';
require('../dist/lib/cache/runtime-inputs')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code), (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
