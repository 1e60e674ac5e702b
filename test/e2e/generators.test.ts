import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { type NxWorkspace, createNxWorkspace } from '../helpers/nx-workspace';
import { readJsonFile } from '../helpers/workspace';

/**
 * The generators through the real nx CLI: what they write is read by the plugin at once (no daemon, no cache
 * to clear), and a refused run writes nothing.
 */
let ws: NxWorkspace;
before(() => {
  ws = createNxWorkspace('generators');
});
after(() => ws?.dispose());

const projects = (): string[] => {
  const r = ws.nx(['show', 'projects', '--json']);
  assert.equal(r.status, 0, r.output);
  return (JSON.parse(r.output.slice(r.output.indexOf('['))) as string[]).sort();
};

test('nx g repo adds a SIG compose that nx show projects lists at once, tagged kind:sig', () => {
  // A SIG's repositories are its own (compose/<major>/<sig>/<arch>/<repo>): release.json is not touched.
  const args = ['g', '@nx-releng/plugin:repo', '--major=8', '--short=cloud', '--kind=sig', '--variants=cloud-common',
    '--backend=local', '--description=Cloud SIG', '--no-interactive'];
  const r = ws.nx(args);
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /CREATE releases\/8\/SIG-cloud\/compose\.json/);
  assert.deepEqual(projects(), ['Extras-8', 'Rocky-8', 'Rocky-devel-8', 'SIG-cloud-8', 'SIG-kernel-8', 'SIG-kmod-8', 'mirror']);

  const show = ws.nx(['show', 'project', 'SIG-cloud-8', '--json']);
  assert.equal(show.status, 0, show.output);
  const project = JSON.parse(show.output.slice(show.output.indexOf('{')));
  assert.equal(project.root, 'releases/8/SIG-cloud');
  assert.ok(project.tags.includes('kind:sig'), JSON.stringify(project.tags));
  assert.ok(project.targets['sync-staging']);
  assert.equal(ws.git(['status', '--porcelain', '--', 'releases/8/release.json']), '');

  const again = ws.nx(args);
  assert.equal(again.status, 0, again.output);
  assert.match(again.output, /already says this; nothing to change/);
  assert.doesNotMatch(again.output, /CREATE|UPDATE/);
});

test('nx g repo refuses an unknown repository and writes nothing', () => {
  const r = ws.nx(['g', '@nx-releng/plugin:repo', '--major=8', '--short=Nope', '--variants=nope', '--backend=local', '--no-interactive']);
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /unknown repository 'nope'; allowed/);
  assert.equal(ws.git(['status', '--porcelain', '--', 'releases/8/Nope']), '');
});

test('nx g release: -RC2 -> -RC3, --to=8.10 read as text (not 8.1), --to=minor, lower refused', () => {
  const release = () => readJsonFile<any>(join(ws.dir, 'releases/8/release.json'));
  const g = (to: string) => ws.nx(['g', '@nx-releng/plugin:release', '--major=8', `--to=${to}`, '--no-interactive']);
  let r = g('rc');
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /releases\/8\/release\.json: 8\.10-RC2 -> 8\.10-RC3/);
  assert.match(r.output, /UPDATE releases\/8\/release\.json/);
  r = g('8.10');
  assert.equal(r.status, 0, r.output);
  assert.match(r.output, /already at 8\.10-RC3; nothing to change/);
  assert.doesNotMatch(r.output, /UPDATE/);
  r = g('minor');
  assert.equal(r.status, 0, r.output);
  assert.deepEqual([release().revision, release().previousRevision, release().channels.stable.suffix], ['8.11', '8.10', '-RC1']);
  r = g('8.9');
  assert.notEqual(r.status, 0, r.output);
  assert.match(r.output, /8\.9 is lower than the current revision 8\.11/);
  assert.equal(release().revision, '8.11');
});
