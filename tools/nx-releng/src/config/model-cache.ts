import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUILD_DIR } from '../build-stamp';
import type { ComposeModel } from './load';

/**
 * The validated model of one project for the runtime inputs. Nx runs one per task, and loading the schemas
 * (zod) costs such a process more than its whole read, while the graph has validated the model already. A
 * model is kept in the build (dist/.models, gone with every build) beside the parsed JSON of each layer it was
 * made from, and used only while every layer still parses to exactly that. From src/ (the tests) nothing is kept.
 */

interface Entry {
  layers: Record<string, unknown>;
  model: ComposeModel;
}

export function loadComposeModelCached(workspaceRoot: string, projectRoot: string): ComposeModel {
  const file = BUILD_DIR && join(BUILD_DIR, '.models', `${projectRoot.replace(/\//g, '_')}.json`);
  const kept = file && readEntry(workspaceRoot, file);
  if (kept) return kept;
  // A miss: the loader and its schemas, reading each layer once.
  const { readJson, validateComposeModels } = require('./load') as typeof import('./load');
  const layers: Record<string, unknown> = {};
  const [model] = validateComposeModels((f) => (layers[f] = readJson(workspaceRoot, f)), [`${projectRoot}/compose.json`]);
  if (file) writeEntry(file, { layers, model: model as ComposeModel });
  return model as ComposeModel;
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
