#!/usr/bin/env node
// Nx runtime input of compose, sync-staging and verify (see src/lib/state.ts). Nx runs it from the workspace root.
'use strict';
const { join } = require('node:path');
process.env.SWC_NODE_PROJECT = process.env.SWC_NODE_PROJECT || join(__dirname, '..', '..', '..', 'tsconfig.base.json');
require('@swc-node/register');
require('../src/lib/cache/runtime-inputs')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code), (err) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
