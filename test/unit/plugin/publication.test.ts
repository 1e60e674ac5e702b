import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { ExecutorContext } from '@nx/devkit';
import { announcedInRun, unpublishedInRun } from '../../../tools/nx-releng/src/executors/publication';

const root = mkdtempSync(join(tmpdir(), 'publication-'));
after(() => rmSync(root, { recursive: true, force: true }));

const task = (project: string, target: string) => ({ id: `${project}:${target}`, target: { project, target }, overrides: {}, outputs: [], parallelism: true });
const contextOf = (ids: Array<[string, string]>) =>
  ({ root, taskGraph: { roots: [], dependencies: {}, tasks: Object.fromEntries(ids.map(([p, t]) => [`${p}:${t}`, task(p, t)])) } }) as unknown as ExecutorContext;

test('a sync-prod in a run that ends with mirror:filelist is announced; alone it is not', () => {
  assert.equal(announcedInRun(contextOf([['Rocky-8', 'sync-prod'], ['mirror', 'hardlink'], ['mirror', 'filelist']])), true);
  assert.equal(announcedInRun(contextOf([['Rocky-8', 'sync-prod']])), false);
  assert.equal(announcedInRun(contextOf([['Rocky-8', 'sync-prod'], ['mirror', 'hardlink']])), false);
});

test('filelist names every sync-prod of the run that did not publish, and one that left no manifest', async () => {
  const manifest = (project: string, value: object) => {
    mkdirSync(join(root, 'dist/releng', project, 'sync-prod'), { recursive: true });
    writeFileSync(join(root, 'dist/releng', project, 'sync-prod/manifest.json'), JSON.stringify(value));
  };
  manifest('Extras-8', { project: 'Extras-8', composeId: 'E' });
  manifest('Rocky-8', { project: 'Rocky-8', notPublished: 'Rocky-8: /s/8.10-RC2 changed since it passed verify' });
  manifest('Rocky-9', { project: 'Rocky-9', notPublished: 'Rocky-9: /s/9.7-RC2 has no passing verify' });
  const ctx = contextOf([['Rocky-9', 'sync-prod'], ['Extras-8', 'sync-prod'], ['Rocky-8', 'sync-prod'], ['Rocky-devel-8', 'sync-prod'], ['mirror', 'filelist']]);
  assert.deepEqual(await unpublishedInRun(ctx), [
    'Rocky-8: /s/8.10-RC2 changed since it passed verify',
    'Rocky-9: /s/9.7-RC2 has no passing verify',
    `Rocky-devel-8: its sync-prod left no manifest (${join(root, 'dist/releng/Rocky-devel-8/sync-prod/manifest.json')})`,
  ]);
});
