// The plugin's entry (package.json main): the build in dist/ (bin/build.js), or a clear error without one.
'use strict';
try {
  require.resolve('../dist/index.js');
} catch {
  throw new Error('tools/nx-releng/dist is missing: run `node tools/nx-releng/bin/build.js` (tools/setup.sh and npm ci do)');
}
module.exports = require('../dist/index.js');
