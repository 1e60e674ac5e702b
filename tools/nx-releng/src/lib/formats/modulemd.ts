import { Document, parseAllDocuments } from 'yaml';
import { RelengError, errorMessage } from '../../errors';
import { readMetadataFile, readRepomd, resolveInRepo } from './repomd';

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

/** One module stream as this project writes it (modulemd v2), with its defaults when it is the default stream. */
export interface ModuleStreamSpec {
  name: string;
  stream: string;
  /** Digits: modulemd versions exceed 2^53 (8100020240101000000), so never a JS number. */
  version: string;
  context: string;
  /** Absent in a module build's source document: the compose sets it per repo. */
  arch?: string;
  summary: string;
  description: string;
  license: string[];
  profiles: Record<string, string[]>;
  /** Source packages the stream is built from (data.components.rpms), as a koji module build names them. */
  components?: string[];
  /** NEVRAs (name-epoch:version-release.arch) of the stream's packages (data.artifacts.rpms). */
  artifacts?: string[];
  /** The profiles a modulemd-defaults document makes default: this stream is then the module's default stream. */
  defaultProfiles?: string[];
}

/**
 * A modules.yaml document stream: one `modulemd` document per stream, then a `modulemd-defaults` document per stream
 * that has defaultProfiles. The one writer of module metadata (the sandbox's hand-maintained yaml, the local compose).
 */
export function modulemdText(specs: readonly ModuleStreamSpec[]): string {
  const docs: unknown[] = specs.map((s) => ({
    document: 'modulemd',
    version: 2,
    data: {
      name: s.name,
      stream: s.stream,
      version: BigInt(s.version),
      context: s.context,
      ...(s.arch ? { arch: s.arch } : {}),
      summary: s.summary,
      description: s.description,
      license: { module: s.license },
      profiles: Object.fromEntries(Object.entries(s.profiles).map(([p, rpms]) => [p, { rpms }])),
      ...(s.components ? { components: { rpms: Object.fromEntries(s.components.map((c) => [c, { rationale: `Part of ${s.name}` }])) } } : {}),
      ...(s.artifacts ? { artifacts: { rpms: s.artifacts } } : {}),
    },
  }));
  for (const s of specs) {
    if (s.defaultProfiles) {
      docs.push({ document: 'modulemd-defaults', version: 1, data: { module: s.name, stream: s.stream, profiles: { [s.stream]: s.defaultProfiles } } });
    }
  }
  return docs.map((d) => `---\n${new Document(d).toString()}...\n`).join('');
}

/** A module stream as a repo's modules.yaml lists it (what productmd's modules.json records of it). */
export interface RepoModuleStream {
  name: string;
  stream: string;
  version: string;
  context: string;
  artifacts: string[];
}

/**
 * The modules.yaml pungi adds to one repo of a modular variant: every `modulemd` document of the variant's module
 * builds (`text`, checked as module metadata) with `data.arch` set and `data.artifacts.rpms` naming the repo's
 * packages built from the stream's components (`data.components.rpms`, looked up by `artifactsOf`); the other
 * documents (defaults) as they are. A modulemd document without components is refused: its packages are unknown.
 */
export function modulemdForRepo(
  text: string,
  origin: string,
  arch: string,
  artifactsOf: (component: string) => string[],
): { text: string; streams: RepoModuleStream[] } {
  requireModules(text, origin);
  const streams: RepoModuleStream[] = [];
  const out: string[] = [];
  parseAllDocuments(text, { uniqueKeys: true, intAsBigInt: true }).forEach((doc, i) => {
    const value = doc.toJS() as { document?: unknown; data?: Record<string, unknown> } | null;
    if (value === null || value === undefined) return;
    if (value.document === 'modulemd') {
      const data = value.data as { name: string; stream: unknown; version?: unknown; context?: unknown; components?: { rpms?: unknown } };
      const rpms = data.components?.rpms;
      if (typeof rpms !== 'object' || rpms === null || !Object.keys(rpms).length) {
        throw new RelengError(`${origin}: YAML document ${i + 1} (modulemd ${data.name}) needs data.components.rpms: the source packages the stream is built from`);
      }
      const artifacts = [...new Set(Object.keys(rpms).flatMap(artifactsOf))].sort();
      doc.setIn(['data', 'arch'], arch);
      doc.setIn(['data', 'artifacts', 'rpms'], artifacts);
      streams.push({ name: data.name, stream: String(data.stream), version: String(data.version ?? 0), context: String(data.context ?? '00000000'), artifacts });
    }
    out.push(`---\n${doc.toString().replace(/^---\n/, '').replace(/\.\.\.\n$/, '')}...\n`);
  });
  return { text: out.join(''), streams };
}

/**
 * The `modules` record of a repo's repomd.xml, decompressed (`file` is its path), or undefined when the repo has
 * none. A record whose file is not in the repo is an error naming it.
 */
export async function readModulesRecord(repoDir: string): Promise<{ file: string; text: string } | undefined> {
  const repomd = await readRepomd(repoDir);
  const record = repomd.records.find((r) => r.type === 'modules');
  if (!record) return undefined;
  const file = record.locationBase ? undefined : resolveInRepo(repoDir, record.location);
  if (!file) throw new RelengError(`${repomd.source}: the modules record points outside the repo: ${record.locationBase ?? ''}${record.location}`);
  try {
    return { file, text: await readMetadataFile(file) };
  } catch (err) {
    throw new RelengError(`${repomd.source} names ${record.location} as its modules record, but it cannot be read: ${errorMessage(err)}`);
  }
}
