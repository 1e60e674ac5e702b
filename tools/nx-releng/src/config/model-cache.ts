import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { BUILD_DIR } from '../build-stamp';
import { DEFAULT_RELEASES_DIR } from './files';
import type { ComposeModel } from './load';

/**
 * Validated models for the graph (createNodes, on every nx command) and the runtime inputs (one process per
 * task), where loading the schemas (zod) costs more than the rest of the read. A model is kept in the build
 * (dist/.models, gone with every build) beside the parsed JSON of each layer it was made from, and used only
 * while every layer still parses to exactly that; otherwise the loader validates (and names what is wrong).
 * From src/ (the tests' TypeScript loader) nothing is kept. Executors validate with the loader every time.
 */

interface Entry {
  layers: Record<string, unknown>;
  model: ComposeModel;
}

/** The validated models of the given compose files (workspace-relative), sorted by file, as the loader gives them. */
export function loadComposeModelsCached(workspaceRoot: string, composeFiles: readonly string[], dir = DEFAULT_RELEASES_DIR): ComposeModel[] {
  const sorted = [...composeFiles].sort();
  const kept = BUILD_DIR ? sorted.map((f) => readEntry(workspaceRoot, entryFile(BUILD_DIR as string, dirname(f)))) : [];
  if (kept.length && kept.every((m) => m)) return kept as ComposeModel[];
  // A miss: the loader and its schemas, reading each layer once.
  const { readJson, validateComposeModels } = require('./load') as typeof import('./load');
  const layers: Record<string, unknown> = {};
  const models = validateComposeModels((f) => (layers[f] = readJson(workspaceRoot, f)), sorted, dir);
  for (const model of BUILD_DIR ? models : []) {
    const own = Object.fromEntries(Object.values(model.files).map((f) => [f, layers[f]]));
    writeEntry(entryFile(BUILD_DIR as string, model.root), { layers: own, model });
  }
  return models;
}

/** The model of one project from its root (<releases dir>/<major>/<Short>), as loadComposeModel gives it. */
export function loadComposeModelCached(workspaceRoot: string, projectRoot: string): ComposeModel {
  return loadComposeModelsCached(workspaceRoot, [`${projectRoot}/compose.json`], posix.dirname(posix.dirname(projectRoot)))[0] as ComposeModel;
}

function entryFile(buildDir: string, projectRoot: string): string {
  return join(buildDir, '.models', `${projectRoot.replace(/\//g, '_')}.json`);
}

function readEntry(workspaceRoot: string, file: string): ComposeModel | undefined {
  try {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as Entry;
    const same = Object.entries(entry.layers).every(
      ([layer, json]) => JSON.stringify(JSON.parse(readFileSync(join(workspaceRoot, layer), 'utf8'))) === JSON.stringify(json),
    );
    return same ? entry.model : undefined;
  } catch {
    return undefined; // no entry, or a layer gone or unparsable: the loader says what is wrong
  }
}

/** Best effort (a read-only install just validates every time); renamed in, so a reader never sees half. */
function writeEntry(file: string, entry: Entry): void {
  try {
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(`${file}.${process.pid}`, JSON.stringify(entry));
    renameSync(`${file}.${process.pid}`, file);
  } catch {
    /* not kept */
  }
}
