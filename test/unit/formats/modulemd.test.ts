import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { parseModulemd, requireModules } from '../../../tools/nx-releng/src/lib/formats/modulemd';

const STREAM = (name: string, stream: string) => `---
document: modulemd
version: 2
data:
  name: ${name}
  stream: ${stream}
  version: 8100020240101000000
  context: 5b4d1e8d
  arch: x86_64
  summary: s
  description: d
  license:
    module: [MIT]
...
`;
const DEFAULTS = `---
document: modulemd-defaults
version: 1
data:
  module: perl
  stream: "5.26"
...
`;

test('modules.yaml: every modulemd document is a stream name:stream; defaults ride along', () => {
  assert.deepEqual(parseModulemd(`${STREAM('perl', '"5.26"')}${STREAM('nodejs', '20')}${DEFAULTS}`, 'm.yaml'), ['perl:5.26', 'nodejs:20']);
  assert.deepEqual(parseModulemd(DEFAULTS, 'm.yaml'), []);
  assert.deepEqual(requireModules(STREAM('perl', '"5.26"'), 'm.yaml'), ['perl:5.26']);
});

test('modules.yaml that does not parse, is not module metadata, or lists no module is refused naming the file', () => {
  const refused = (text: string, pattern: RegExp) =>
    assert.throws(() => requireModules(text, '/m/x86_64/AppStream-modules.yaml'), (err: unknown) => {
      assert.ok(err instanceof RelengError);
      assert.match(err.message, /^\/m\/x86_64\/AppStream-modules\.yaml: /);
      assert.match(err.message, pattern);
      return true;
    });
  refused('---\ndocument: modulemd\nversion: 2\ndata: {name: perl, stream: [\n', /YAML document 1 does not parse/);
  refused(`${STREAM('perl', '"5.26"')}---\ndocument: modulemd\ndocument: x\n`, /YAML document 2 does not parse/);
  refused('---\nfoo: bar\n', /YAML document 1 is not module metadata: 'document' must be one of modulemd/);
  refused('---\ndocument: modulemd\nversion: "2"\ndata: {}\n', /needs a numeric 'version' and a 'data' mapping/);
  refused('---\ndocument: modulemd\nversion: 2\ndata: {stream: x}\n', /needs data\.name and data\.stream/);
  refused(DEFAULTS, /lists no module/);
  refused('', /lists no module/);
});
