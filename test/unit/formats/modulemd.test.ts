import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { modulemdForRepo, modulemdText, parseModulemd, requireModules } from '../../../tools/nx-releng/src/lib/formats/modulemd';

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

test('modulemdText writes streams and defaults that parse back; versions past 2^53 stay exact', () => {
  const text = modulemdText([
    { name: 'perl', stream: '5.26', version: '8100020240101000001', context: 'c0ffee00', summary: 's', description: 'd', license: ['GPL'], profiles: { common: ['perl'] }, artifacts: ['perl-4:5.26.3-1.el8.x86_64'], defaultProfiles: ['common'] },
  ]);
  assert.deepEqual(parseModulemd(text, 'm.yaml'), ['perl:5.26']);
  assert.match(text, /^  stream: "5\.26"$/m);
  assert.match(text, /^  version: 8100020240101000001$/m);
  assert.match(text, /^document: modulemd-defaults\nversion: 1\ndata:\n  module: perl\n  stream: "5\.26"\n/m);
});

test("modulemdForRepo: a module build's streams for one repo, artifacts from its components; no components is refused", () => {
  const spec = { name: 'app', stream: '1', version: '8100020240101000000', context: '5b4d1e8d', summary: 's', description: 'd', license: ['MIT'], profiles: { common: ['app'] } };
  const built = modulemdForRepo(modulemdText([{ ...spec, components: ['app', 'app-libs'] }]), 'b.yaml', 'aarch64', (c) => (c === 'app' ? [`app-0:1-1.el8.aarch64`] : []));
  assert.deepEqual(built.streams, [{ name: 'app', stream: '1', version: '8100020240101000000', context: '5b4d1e8d', artifacts: ['app-0:1-1.el8.aarch64'] }]);
  assert.match(built.text, /^  arch: aarch64\n  artifacts:\n    rpms:\n      - app-0:1-1\.el8\.aarch64\n\.\.\.\n$/m);
  assert.deepEqual(parseModulemd(built.text, 'out'), ['app:1']);
  assert.throws(
    () => modulemdForRepo(modulemdText([spec]), 'b.yaml', 'x86_64', () => []),
    /^RelengError: b\.yaml: YAML document 1 \(modulemd app\) needs data\.components\.rpms/,
  );
});
