import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { SyncProgress, treeSize } from '../../../tools/nx-releng/src/lib/core/progress';
import { removeDir, tempDir } from '../../helpers/workspace';

test('progress lines say what each unit copied and what is left, in whole lines', async () => {
  const root = tempDir('progress');
  try {
    mkdirSync(join(root, 'BaseOS/x86_64/os/Packages/r'), { recursive: true });
    mkdirSync(join(root, 'BaseOS/source/tree'), { recursive: true });
    writeFileSync(join(root, 'BaseOS/x86_64/os/Packages/r/a.rpm'), 'x'.repeat(1000));
    writeFileSync(join(root, 'BaseOS/x86_64/os/Packages/r/b.rpm'), 'x'.repeat(2048));
    writeFileSync(join(root, 'BaseOS/source/tree/c.src.rpm'), 'x'.repeat(10));
    symlinkSync('a.rpm', join(root, 'BaseOS/x86_64/os/Packages/r/link.rpm'));
    assert.deepEqual(await treeSize(join(root, 'BaseOS/x86_64')), { files: 2, bytes: 3048 });
    assert.deepEqual(await treeSize(join(root, 'missing')), { files: 0, bytes: 0 });
    const lines: string[] = [];
    const log = { info: (l: string) => lines.push(l), warn: (l: string) => lines.push(`WARNING: ${l}`) };
    const progress = await SyncProgress.of(log, root, ['BaseOS/x86_64', 'BaseOS/source']);
    progress.unitDone('BaseOS/source', { files: 1, bytes: 10 }, 1500);
    progress.unitDone('BaseOS/x86_64', { files: 0, bytes: 0 }, 200);
    assert.deepEqual(lines, [
      '  to do: 2 units, 3 files, 3.0 KiB to check',
      '  [1/2] BaseOS/source: 1 files, 10 B copied in 1.5s; left: 1 units, 2 files, 3.0 KiB',
      '  [2/2] BaseOS/x86_64: 0 files, 0 B copied in 0.2s; left: 0 units, 0 files, 0 B',
    ]);
    assert.ok(lines.every((l) => !l.includes('\r')));
  } finally {
    removeDir(root);
  }
});
