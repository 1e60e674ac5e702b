import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TorrentMeta } from '../../tools/nx-releng/src/lib/formats/torrent-file';

/**
 * A torrent's files are the files in `dir` (sizes), and every piece hash is the SHA-1 of that piece of the files
 * concatenated in torrent order: what a BitTorrent client checks before it seeds or after it downloads.
 * Returns the number of pieces.
 */
export function assertPiecesMatch(meta: TorrentMeta, dir: string): number {
  assert.deepEqual(
    meta.files.map((f) => f.length),
    meta.files.map((f) => statSync(join(dir, f.path)).size),
    `${meta.name}: file sizes`,
  );
  const data = Buffer.concat(meta.files.map((f) => readFileSync(join(dir, f.path))));
  const count = Math.ceil(data.length / meta.pieceLength);
  assert.equal(meta.pieces.length, count, `${meta.name}: piece count`);
  for (let i = 0; i < count; i++) {
    const piece = data.subarray(i * meta.pieceLength, (i + 1) * meta.pieceLength);
    assert.equal(meta.pieces[i]?.toString('hex'), createHash('sha1').update(piece).digest('hex'), `${meta.name}: piece ${i}`);
  }
  return count;
}
