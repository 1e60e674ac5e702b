/**
 * Serializes the release model the way its files are written by hand, so a generator's diff shows only the
 * values it changed (the shipped release.json and compose.json files are exactly in this form):
 * - 2-space indent, the top level one member per line;
 * - an array or object of scalars on one line: `["x86_64", "aarch64"]`, `{ "suffix": "-RC2" }`;
 * - an array or object of scalars and such one-line members on one line too if that line stays within
 *   MAX_WIDTH columns: `"skipPhases": { "produce": [], "update": ["buildinstall", "createiso"] }`;
 * - anything deeper one member per line.
 */
export function formatJson(value: unknown): string {
  return `${format(value, 0, 0, true)}\n`;
}

const MAX_WIDTH = 100;

function isScalar(v: unknown): boolean {
  return v === null || typeof v !== 'object';
}

function members(value: object): Array<[string | null, unknown]> {
  if (Array.isArray(value)) return value.map((v) => [null, v]);
  return Object.entries(value).filter(([, v]) => v !== undefined);
}

/** One-line form, or null when the value is deeper than containers of scalars. */
function inline(value: unknown, depth = 0): string | null {
  if (isScalar(value)) return JSON.stringify(value) ?? 'null';
  if (depth > 1) return null;
  const parts: string[] = [];
  for (const [key, v] of members(value as object)) {
    const text = inline(v, depth + 1);
    if (text === null) return null;
    parts.push(key === null ? text : `${JSON.stringify(key)}: ${text}`);
  }
  if (Array.isArray(value)) return `[${parts.join(', ')}]`;
  return parts.length === 0 ? '{}' : `{ ${parts.join(', ')} }`;
}

/** `column` is where the value starts on its line (indent and key), for the width rule. */
function format(value: unknown, depth: number, column: number, topLevel = false): string {
  if (!topLevel) {
    const one = inline(value);
    const flat = members(Object(value)).every(([, v]) => isScalar(v));
    // +1 for a trailing comma
    if (one !== null && (isScalar(value) || flat || column + one.length + 1 <= MAX_WIDTH)) return one;
  }
  const list = members(value as object);
  const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
  if (list.length === 0) return `${open}${close}`;
  const pad = '  '.repeat(depth + 1);
  const lines = list.map(([key, v]) => {
    const head = key === null ? pad : `${pad}${JSON.stringify(key)}: `;
    return head + format(v, depth + 1, head.length);
  });
  return `${open}\n${lines.join(',\n')}\n${'  '.repeat(depth)}${close}`;
}
