import { parseAllDocuments } from 'yaml';
import { RelengError } from '../../errors';

/**
 * Module metadata (modules.yaml): a stream of modulemd YAML documents, each `document: <type>`, `version: <n>`
 * and a `data` mapping. A `modulemd` document is one module stream (`data.name`, `data.stream`); defaults,
 * translations and obsoletes documents ride along. EL8 clients filter packages by it, so a modular repo
 * published without it, or with a file they cannot read, breaks every client.
 */

/** The document types libmodulemd reads from a repo's modules.yaml. */
const DOCUMENT_TYPES = ['modulemd', 'modulemd-defaults', 'modulemd-translations', 'modulemd-obsoletes'];

/** Parses modules.yaml and returns its module streams as `name:stream`; a RelengError naming `origin` otherwise. */
export function parseModulemd(text: string, origin: string): string[] {
  const streams: string[] = [];
  parseAllDocuments(text, { uniqueKeys: true }).forEach((doc, i) => {
    const where = `${origin}: YAML document ${i + 1}`;
    const err = doc.errors[0];
    if (err) throw new RelengError(`${where} does not parse: ${err.message.split('\n')[0]}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return; // an empty document between separators
    const md = value as { document?: unknown; version?: unknown; data?: { name?: unknown; stream?: unknown } };
    if (typeof value !== 'object' || !DOCUMENT_TYPES.includes(String(md.document))) {
      throw new RelengError(`${where} is not module metadata: 'document' must be one of ${DOCUMENT_TYPES.join(', ')}`);
    }
    if (typeof md.version !== 'number' || typeof md.data !== 'object' || md.data === null) {
      throw new RelengError(`${where} (${String(md.document)}) needs a numeric 'version' and a 'data' mapping`);
    }
    if (md.document !== 'modulemd') return;
    const { name, stream } = md.data;
    if (typeof name !== 'string' || !name || (typeof stream !== 'string' && typeof stream !== 'number')) {
      throw new RelengError(`${where} (modulemd) needs data.name and data.stream`);
    }
    streams.push(`${name}:${stream}`);
  });
  return streams;
}

/** parseModulemd, also requiring at least one module stream (a modular repo's metadata lists its modules). */
export function requireModules(text: string, origin: string): string[] {
  const streams = parseModulemd(text, origin);
  if (!streams.length) throw new RelengError(`${origin}: module metadata lists no module (no 'document: modulemd')`);
  return streams;
}
