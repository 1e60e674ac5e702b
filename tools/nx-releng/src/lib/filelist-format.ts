/**
 * Byte-level pieces of the mirror file lists (see docs in filelist.ts):
 * the create-filelist "version 2" timelist (fullfiletimelist-*) and the `find .`-style fullfilelist.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, lstatSync, openSync, readSync, type Stats } from 'node:fs';

export const S_IRGRP = 0o040;
export const S_IROTH = 0o004;

/** Everything up to the first [Files] line. */
export const TIMELIST_HEADER = '[Version]\n2\n\n[Files]\n';
export const TIMELIST_END = '\n[End]\n';

export type ChecksumAlgorithm = 'sha1' | 'md5' | 'sha256' | 'sha512';
/** create-filelist as deployed by Fedora since 2024 (pagure quick-fedora-mirror PR 86): four sections in this order. */
export const ALL_CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['sha1', 'md5', 'sha256', 'sha512'];
const SECTION_NAMES: Record<ChecksumAlgorithm, string> = { sha1: 'SHA1', md5: 'MD5', sha256: 'SHA256', sha512: 'SHA512' };

export function checksumSectionHeader(alg: ChecksumAlgorithm): string {
  return `\n[Checksums ${SECTION_NAMES[alg]}]\n`;
}

/** Names create-filelist never lists, at any depth: rsync --delay-updates dirs and NFS silly-rename files. */
export function alwaysSkipped(name: string): boolean {
  return name === '.~tmp~' || name.startsWith('.nfs');
}

/**
 * Unicode code-point order of two strings (= byte order of their UTF-8), which is Python's `sorted()` on str
 * and strcmp on the raw names. Plain `<` on JS strings is UTF-16 code-unit order, which differs only when the
 * first difference is between two code units >= 0xD800 (a surrogate vs. U+E000..U+FFFF).
 */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Returns names in code-point order (in place). libuv's scandir already returns strcmp order: O(n) check. */
export function sortNames(names: string[]): string[] {
  for (let i = 1; i < names.length; i++) {
    if (compareNames(names[i - 1] as string, names[i] as string) > 0) return names.sort(compareNames);
  }
  return names;
}

/**
 * The listed time: create-filelist's `int(max(st_mtime, st_ctime))` of the lstat result.
 * CPython builds each float as `sec + nsec * 1e-9` (so nsec > ~999,999,880 rounds up to sec+1) and int()
 * truncates. Node's number stats only keep `sec*1e3 + nsec/1e6` in milliseconds; that floors to the same
 * second unless nsec >= 999,990,000 (computed fraction >= 999.99 ms or rounded to the next second), where
 * we redo the lstat with bigint fields and repeat CPython's double arithmetic exactly. One exception is
 * indistinguishable without that second lstat: a fraction that rounded to exactly the next whole second
 * (true nsec within ~120 ns of 1e9) -- CPython also rounds up there except in a ~3 ns window, so this may
 * differ from CPython once per ~3e8 entries; accepted to keep one lstat per entry on second-granularity
 * filesystems, where every time is a whole second.
 */
export function listTime(st: Stats, absPath: string): number {
  const ms = st.mtimeMs > st.ctimeMs ? st.mtimeMs : st.ctimeMs;
  const sec = Math.floor(ms / 1000);
  const frac = ms - sec * 1000;
  if (frac >= 0 && frac < 999.99 && ms >= 0) return sec;
  return exactListTime(absPath) ?? Math.trunc(ms / 1000);
}

function exactListTime(absPath: string): number | undefined {
  const b = lstatSync(absPath, { bigint: true, throwIfNoEntry: false });
  if (!b) return undefined;
  return Math.trunc(Math.max(pyTime(b.mtimeNs), pyTime(b.ctimeNs)));
}

/** CPython's st_*time float from a total-nanoseconds value: double(sec) + double(nsec) * 1e-9. */
export function pyTime(totalNs: bigint): number {
  let sec = totalNs / 1_000_000_000n;
  let nsec = totalNs % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return Number(sec) + Number(nsec) * 1e-9;
}

/** `l`, `d` or `f` (anything else), then `-` if not world-readable, else `*` inside a restricted dir. */
export function entryType(st: Stats, restricted: boolean): string {
  const base = st.isSymbolicLink() ? 'l' : st.isDirectory() ? 'd' : 'f';
  if ((st.mode & S_IROTH) === 0) return `${base}-`;
  return restricted ? `${base}*` : base;
}

/** Digests of one file (following symlinks), read in 64 KiB blocks as create-filelist does. */
export function hashFile(absPath: string, algs: readonly ChecksumAlgorithm[]): Map<ChecksumAlgorithm, string> {
  const hashes = algs.map((a) => createHash(a));
  const fd = openSync(absPath, 'r');
  try {
    if (!fstatSync(fd).isFile()) throw new Error(`${absPath} is not a regular file`);
    const buf = Buffer.allocUnsafe(65536);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      for (const h of hashes) h.update(chunk);
    }
  } finally {
    closeSync(fd);
  }
  const out = new Map<ChecksumAlgorithm, string>();
  algs.forEach((a, i) => out.set(a, (hashes[i] as ReturnType<typeof createHash>).digest('hex')));
  return out;
}
