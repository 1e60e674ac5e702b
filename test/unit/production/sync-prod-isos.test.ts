import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { rsync, rsyncArgs } from '../../../tools/nx-releng/src/lib/tools/rsync';
import { EXTRA_SUBTREE_PASSES } from '../../../tools/nx-releng/src/lib/production/sync-prod';

const root = mkdtempSync(join(tmpdir(), 'sync-prod-isos-'));
after(() => rmSync(root, { recursive: true, force: true }));

test('isos/ reaches production in passes: ISOs and manifests, then the links, then the CHECKSUM files', async () => {
  const src = join(root, 'staging/isos');
  const dest = join(root, 'production/isos');
  mkdirSync(join(src, 'x86_64'), { recursive: true });
  const files = ['R-dvd1.iso', 'R-dvd1.iso.manifest', 'R-dvd1.iso.CHECKSUM', 'R-latest-dvd.iso.CHECKSUM', 'CHECKSUM', 'CHECKSUM.asc'];
  for (const f of files) writeFileSync(join(src, 'x86_64', f), f);
  symlinkSync('R-dvd1.iso', join(src, 'x86_64/R-latest-dvd.iso'));
  // An old ISO in production: none of the passes deletes (mirror:filelist carries out the pending deletions).
  mkdirSync(join(dest, 'x86_64'), { recursive: true });
  writeFileSync(join(dest, 'x86_64/R-old.iso'), 'old');

  const seen: string[][] = [];
  for (const pass of EXTRA_SUBTREE_PASSES) {
    await rsync({ src, dest, ...pass });
    seen.push(readdirSync(join(dest, 'x86_64')).sort());
  }
  assert.deepEqual(seen, [
    ['R-dvd1.iso', 'R-dvd1.iso.manifest', 'R-old.iso'],
    ['R-dvd1.iso', 'R-dvd1.iso.manifest', 'R-latest-dvd.iso', 'R-old.iso'],
    ['CHECKSUM', 'CHECKSUM.asc', 'R-dvd1.iso', 'R-dvd1.iso.CHECKSUM', 'R-dvd1.iso.manifest', 'R-latest-dvd.iso', 'R-latest-dvd.iso.CHECKSUM', 'R-old.iso'],
  ]);
  assert.equal(readFileSync(join(dest, 'x86_64/R-latest-dvd.iso'), 'utf8'), 'R-dvd1.iso', 'the link, followed');
  assert.ok(rsyncArgs({ src, dest, ...EXTRA_SUBTREE_PASSES[0] }, false).includes('--no-links'));
  assert.ok(rsyncArgs({ src, dest, ...EXTRA_SUBTREE_PASSES[2] }, false).includes('--delay-updates'));
});
