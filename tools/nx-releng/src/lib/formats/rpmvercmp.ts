/**
 * RPM version comparison, as rpm's lib/rpmvercmp.c (rpm >= 4.15: tilde and caret) and rpmVersionCompare:
 * pure functions, no rpm library needed. Characters are compared as ASCII like the C code (risalnum etc. are
 * locale-independent ASCII tests); anything else, including non-ASCII, is a separator.
 */

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isAlnum = (c: string) => isDigit(c) || isAlpha(c);

/** strcmp's sign on ASCII segments. */
function strcmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * rpmvercmp(a, b): 1 when a is newer, 0 when equal, -1 when b is newer. Segment by segment: numeric segments
 * compare as numbers (leading zeros ignored, longer wins), alpha segments with strcmp, a numeric segment is
 * newer than an alpha one; `~` sorts before anything (even the end), `^` after the end but before anything else.
 */
export function rpmvercmp(a: string, b: string): -1 | 0 | 1 {
  if (a === b) return 0;
  // "at(i)" returns '' at the end of the string, like the C code's '\0'.
  const at = (s: string, i: number) => (i < s.length ? (s[i] as string) : '');
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(at(a, i)) && at(a, i) !== '~' && at(a, i) !== '^') i++;
    while (j < b.length && !isAlnum(at(b, j)) && at(b, j) !== '~' && at(b, j) !== '^') j++;

    // Tilde sorts before everything else, including the end of the string.
    if (at(a, i) === '~' || at(b, j) === '~') {
      if (at(a, i) !== '~') return 1;
      if (at(b, j) !== '~') return -1;
      i++;
      j++;
      continue;
    }

    // Caret: like tilde, except that the end of the string (the base version) sorts before it.
    if (at(a, i) === '^' || at(b, j) === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (at(a, i) !== '^') return 1;
      if (at(b, j) !== '^') return -1;
      i++;
      j++;
      continue;
    }

    if (!(i < a.length && j < b.length)) break;

    // Take the next all-numeric or all-alpha segment of each, typed by a's segment.
    let ei = i;
    let ej = j;
    const isNum = isDigit(at(a, i));
    const inSegment = isNum ? isDigit : isAlpha;
    while (ei < a.length && inSegment(at(a, ei))) ei++;
    while (ej < b.length && inSegment(at(b, ej))) ej++;
    let one = a.slice(i, ei);
    let two = b.slice(j, ej);

    // b's segment is of the other type (empty here): numeric segments are newer than alpha ones.
    if (two.length === 0) return isNum ? 1 : -1;

    if (isNum) {
      one = one.replace(/^0+/, '');
      two = two.replace(/^0+/, '');
      if (one.length > two.length) return 1;
      if (two.length > one.length) return -1;
    }
    const rc = strcmp(one, two);
    if (rc) return rc < 0 ? -1 : 1;
    i = ei;
    j = ej;
  }
  // All segments equal; only the separators differed.
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

export interface Evr {
  /** undefined or '' counts as 0, as rpm does. */
  epoch?: string | number | null;
  version: string;
  release: string;
}

/** rpmVersionCompare: epoch numerically (missing = 0), then version, then release with rpmvercmp. */
export function compareEvr(a: Evr, b: Evr): -1 | 0 | 1 {
  const ea = Number(a.epoch ?? 0) || 0;
  const eb = Number(b.epoch ?? 0) || 0;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return rpmvercmp(a.version, b.version) || rpmvercmp(a.release, b.release);
}

/** How a release engineer reads an EVR: the epoch only when it is not 0 (1.0-1.el8, 2:1.0-1.el8). */
export function formatEvr(e: Evr): string {
  const epoch = Number(e.epoch ?? 0) || 0;
  return `${epoch ? `${epoch}:` : ''}${e.version}-${e.release}`;
}
