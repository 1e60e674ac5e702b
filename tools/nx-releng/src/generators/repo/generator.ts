import { isDeepStrictEqual } from 'node:util';
import { logger, type Tree } from '@nx/devkit';
import { validateComposeModels } from '../../config/load';
import { RelengError } from '../../errors';
import { formatJson } from '../json-format';
import { checkMajor, treeReader } from '../tree-model';
import type { RepoGeneratorSchema } from './schema';
import { SIG_PREFIX } from '../../config/schema';


/** The compose directory name and kind; the name rules themselves are the loader's (parseComposePath). */
function nameAndKind(options: RepoGeneratorSchema): { short: string; kind: 'base' | 'sig' } {
  let short = String(options.short ?? '').trim();
  if (short === '' || /[/\\]/.test(short)) {
    throw new RelengError(`--short '${short}' must be a plain directory name (letters, digits, . _ + -), no '/'`);
  }
  const kind = options.kind ?? (short.startsWith(SIG_PREFIX) ? 'sig' : 'base');
  if (kind === 'sig' && !short.startsWith(SIG_PREFIX)) short = `${SIG_PREFIX}${short}`;
  if (kind === 'base' && short.startsWith(SIG_PREFIX)) {
    throw new RelengError(`--short '${short}': names starting with ${SIG_PREFIX} are SIG composes; use --kind=sig`);
  }
  if (kind === 'sig' && short === SIG_PREFIX) throw new RelengError(`--short '${short}': a SIG needs a name, e.g. SIG-cloud`);
  return { short, kind };
}

function list(value: string | string[] | undefined): string[] {
  const items = Array.isArray(value) ? value : String(value ?? '').split(',');
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** compose.json as it is written, keys in the order of the shipped files; defaults are left out. */
function composeJson(options: RepoGeneratorSchema, kind: 'base' | 'sig'): Record<string, unknown> {
  const json: Record<string, unknown> = { kind };
  if (options.description) json['description'] = options.description;
  json['variants'] = list(options.variants);
  const backend = options.backend ?? 'pungi';
  json['backend'] = backend;
  // Only the pungi config is asked for; the other pungi settings keep their schema defaults.
  if (backend === 'pungi') {
    if (!options.pungiConfig) {
      throw new RelengError(`backend pungi needs --pungiConfig=<absolute path of the pungi config, e.g. /etc/pungi-prod/r8.conf>`);
    }
    // The koji tag fingerprints the package set, so that an unchanged compose is skipped.
    json['pungi'] = options.kojiTag ? { config: options.pungiConfig, tag: options.kojiTag } : { config: options.pungiConfig };
  } else if (options.pungiConfig !== undefined || options.kojiTag !== undefined) {
    throw new RelengError(`--pungiConfig and --kojiTag are for backend pungi; this compose's backend is ${backend}`);
  }
  if (options.syncMetadata) json['syncMetadata'] = true;
  return json;
}

/**
 * `nx g @nx-releng/plugin:repo`: adds releases/<major>/<Short>/compose.json, validated with the release model it
 * joins exactly as the project graph will validate it. Running it again with the same options changes nothing;
 * an existing compose with other content is refused (edit it by hand).
 */
export async function repoGenerator(tree: Tree, options: RepoGeneratorSchema): Promise<void> {
  const major = checkMajor(tree, options.major);
  const { short, kind } = nameAndKind(options);
  const composeFile = `releases/${major}/${short}/compose.json`;
  const json = composeJson(options, kind);
  const [model] = validateComposeModels(treeReader(tree, { [composeFile]: json }), [composeFile]);
  if (!model) throw new RelengError(`${composeFile}: no model`);

  if (tree.exists(composeFile)) {
    const [existing] = validateComposeModels(treeReader(tree), [composeFile]);
    if (existing && isDeepStrictEqual(existing.compose, model.compose)) {
      logger.info(`${composeFile} already says this; nothing to change (project ${model.project})`);
      return;
    }
    const there = (existing?.compose ?? {}) as Record<string, unknown>;
    const wanted = model.compose as Record<string, unknown>;
    const differences = [...new Set([...Object.keys(there), ...Object.keys(wanted)])]
      .filter((k) => !isDeepStrictEqual(there[k], wanted[k]))
      .map((k) => `${k}: ${JSON.stringify(there[k]) ?? '(absent)'} there, ${JSON.stringify(wanted[k]) ?? '(absent)'} requested`);
    throw new RelengError(
      `${composeFile} already exists with other content; edit it by hand or remove it first\n  ${differences.join('\n  ')}`,
    );
  }

  tree.write(composeFile, formatJson(json));
  logger.info(
    `project ${model.project}: ${kind} compose of ${model.compose.variants.join(', ')} (backend ${model.compose.backend})`,
  );
}

export default repoGenerator;
