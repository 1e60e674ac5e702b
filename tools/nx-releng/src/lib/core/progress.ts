import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes, formatSeconds, type Log } from './log';

/**
 * Progress of a sync as whole lines: one per finished rsync, saying what it copied and how many units, files and
 * bytes are still to be checked. Lines, not rsync's carriage-return meter, so they read the same in Nx's
 * terminal UI, in static CI logs and in replayed cache output.
 */
export interface Size {
  files: number;
  bytes: number;
}

/** Files and bytes below a directory (one lstat per entry; symlinks are not followed). */
export async function treeSize(dir: string): Promise<Size> {
  const size: Size = { files: 0, bytes: 0 };
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, { withFileTypes: true }).catch(() => [])) {
      const child = join(path, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) {
        size.files++;
        size.bytes += (await lstat(child)).size;
      }
    }
  };
  await walk(dir);
  return size;
}

export class SyncProgress {
  private left: Size;
  private unitsDone = 0;

  private constructor(
    private readonly log: Log,
    private readonly sizes: ReadonlyMap<string, Size>,
  ) {
    this.left = [...sizes.values()].reduce((t, s) => ({ files: t.files + s.files, bytes: t.bytes + s.bytes }), {
      files: 0,
      bytes: 0,
    });
  }

  /** Sizes each unit (relative to root) up front, so every line can say what is still to do. */
  static async of(log: Log, root: string, units: readonly string[]): Promise<SyncProgress> {
    const sizes = new Map<string, Size>();
    for (const unit of units) sizes.set(unit, await treeSize(join(root, unit)));
    const progress = new SyncProgress(log, sizes);
    log.info(`  to do: ${units.length} units, ${progress.left.files} files, ${formatBytes(progress.left.bytes)} to check`);
    return progress;
  }

  unitDone(unit: string, copied: Size, ms: number): void {
    const size = this.sizes.get(unit) ?? { files: 0, bytes: 0 };
    this.unitsDone++;
    this.left = { files: this.left.files - size.files, bytes: this.left.bytes - size.bytes };
    this.log.info(
      `  [${this.unitsDone}/${this.sizes.size}] ${unit}: ${copied.files} files, ${formatBytes(copied.bytes)} copied ` +
        `in ${formatSeconds(ms)}; left: ${this.sizes.size - this.unitsDone} units, ${this.left.files} files, ` +
        `${formatBytes(this.left.bytes)}`,
    );
  }
}
