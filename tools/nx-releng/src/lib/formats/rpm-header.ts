import { run } from '../tools/exec';
import { RelengError } from '../../errors';

export type RpmCategory = 'binary' | 'debug' | 'source';

export interface RpmHeader {
  file: string;
  name: string;
  /** 0 when the package has no Epoch tag. */
  epoch: number;
  version: string;
  release: string;
  /** 'src' for source RPMs (rpm itself reports the arch they were built on). */
  arch: string;
  /** File name of the source RPM; '' for source RPMs. */
  sourcerpm: string;
  /** Lower-case short key id (last 8 hex digits) of the signature, null when unsigned. */
  sigkey: string | null;
  category: RpmCategory;
}

/** Files per rpm call: keeps argv well under ARG_MAX while still avoiding one process per file. */
const BATCH = 500;
const SEP = '\x1f';
const FIELDS = [
  '%{NAME}',
  '%{EPOCH}',
  '%{VERSION}',
  '%{RELEASE}',
  '%{ARCH}',
  '%{SOURCERPM}',
  // Whichever signature the package carries; "(none)" when unsigned.
  '%|RSAHEADER?{%{RSAHEADER:pgpsig}}:{%|DSAHEADER?{%{DSAHEADER:pgpsig}}:{%|SIGPGP?{%{SIGPGP:pgpsig}}:{%|SIGGPG?{%{SIGGPG:pgpsig}}:{(none)}|}|}|}|',
];
const QUERY_FORMAT = FIELDS.join(SEP) + '\n';

/** "RSA/SHA256, Mon 01 Jan 2024, Key ID 15af5dac6d745a60" -> "6d745a60" (pungi's sigkey form). */
export function parseSigkey(pgpsig: string): string | null {
  const m = /Key ID ([0-9a-fA-F]+)/.exec(pgpsig);
  return m?.[1] ? m[1].slice(-8).toLowerCase() : null;
}

/** debuginfo/debugsource subpackages go to the debug repo, like pungi's gather does. */
export function rpmCategory(name: string, isSource: boolean): RpmCategory {
  if (isSource) return 'source';
  return /-debug(info|source)$/.test(name) ? 'debug' : 'binary';
}

function parseLine(file: string, line: string): RpmHeader {
  const f = line.split(SEP);
  if (f.length !== FIELDS.length) throw new RelengError(`rpm -qp returned an unexpected header line for ${file}: ${line}`);
  const [name, epoch, version, release, arch, sourcerpm, sig] = f as [string, string, string, string, string, string, string];
  // Source RPMs have no SOURCERPM tag; their ARCH tag is the build host's arch, not "src".
  const isSource = sourcerpm === '(none)';
  return {
    file,
    name,
    epoch: epoch === '(none)' ? 0 : Number(epoch),
    version,
    release,
    arch: isSource ? 'src' : arch,
    sourcerpm: isSource ? '' : sourcerpm,
    sigkey: sig === '(none)' ? null : parseSigkey(sig),
    category: rpmCategory(name, isSource),
  };
}

/**
 * Reads the headers of many RPM files with one `rpm -qp` per batch (not one per file).
 * Results are in the order of `files`; an unreadable file fails the whole call naming rpm's error.
 */
export async function readRpmHeaders(files: string[]): Promise<RpmHeader[]> {
  const out: RpmHeader[] = [];
  for (let i = 0; i < files.length; i += BATCH) {
    const batch = files.slice(i, i + BATCH);
    const { stdout } = await run('rpm', ['-qp', '--nosignature', '--nodigest', '--qf', QUERY_FORMAT, '--', ...batch]);
    const lines = stdout.split('\n').filter((l) => l !== '');
    // rpm prints exactly one line per package read; a mismatch means it skipped something silently.
    if (lines.length !== batch.length) {
      throw new RelengError(`rpm -qp returned ${lines.length} headers for ${batch.length} files (first: ${batch[0]})`);
    }
    batch.forEach((file, j) => out.push(parseLine(file, lines[j]!)));
  }
  return out;
}

/** productmd NEVRA with explicit epoch, e.g. "bash-0:4.4.20-4.el8_9.x86_64". */
export function nevra(h: Pick<RpmHeader, 'name' | 'epoch' | 'version' | 'release' | 'arch'>): string {
  return `${h.name}-${h.epoch}:${h.version}-${h.release}.${h.arch}`;
}

/** NEVRA of the source RPM a binary was built from (binaries share the SRPM's epoch). */
export function srpmNevra(h: RpmHeader): string {
  if (h.category === 'source') return nevra(h);
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:no)?src\.rpm$/.exec(h.sourcerpm);
  if (!m) throw new RelengError(`${h.file}: cannot parse SOURCERPM '${h.sourcerpm}'`);
  return `${m[1]}-${h.epoch}:${m[2]}-${m[3]}.src`;
}
