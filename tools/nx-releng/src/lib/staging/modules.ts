import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import { moduleYaml, type RepoDir, type Roots } from '../../layout/paths';
import { RelengError, errorMessage } from '../../errors';

/** The module yaml and repomd parsers, loaded by a sync only: the runtime input (moduleMetadataDigest) reads bytes. */
function modulemd(): typeof import('../formats/modulemd') {
  return require('../formats/modulemd') as typeof import('../formats/modulemd');
}

/**
 * Whether a repo carries module metadata: the os tree of a release.json modularRepos repo, and the kickstart tree
 * a minor release freezes from it (an installer reading it filters packages by its modules as a client does).
 */
export function isModularRepo(model: ComposeModel, repo: RepoDir): boolean {
  return (repo.kind === 'os' || repo.kind === 'kickstart') && model.release.modularRepos.includes(repo.variant);
}

/** The module metadata a sync adds to one modular repo, and the file it was read from. */
export interface RepoModules {
  text: string;
  origin: string;
}

export interface SyncModules {
  /** repo path -> the modules.yaml a sync adds to it with modifyrepo_c. */
  modules: Map<string, RepoModules>;
  /**
   * repo path -> text of its hand-maintained yaml, for the sync record: every kind of sync records the same, so a
   * daily sync after a minor release of the same compose finds staging up to date (and keeps pungi's modules).
   */
  yamls: Map<string, string>;
}

/**
 * The module metadata each modular os repo of a sync gets, read and checked before anything is touched. Two
 * sources, one per repo, never merged:
 * - the hand-maintained `<moduleMetadataDir>/<arch>/<Repo>-modules.yaml` (rocky-module-metadata), which a daily
 *   (update) sync always re-adds, as sync-to-staging.sh does; it is required there: the stable tree keeps every
 *   update's packages, and the compose's record names only the module builds of that compose;
 * - the `modules` record pungi wrote into the compose's repodata (`compose` given: a minor release, beta or
 *   lookahead sync, whose tree is that compose); it wins over the yaml, since it is what those scripts publish
 *   (they copy pungi's repodata and add no yaml) and it names exactly the packages the compose holds. The yaml is
 *   the fallback for a compose without one.
 * A source that exists must parse and list a module. A modular repo left with neither is refused: EL8 clients
 * filter packages by it, so a modular repo published without it breaks every client.
 */
export async function moduleMetadataOf(
  model: ComposeModel,
  roots: Roots,
  repos: readonly RepoDir[],
  compose?: { composeId: string; composeDir: string },
): Promise<SyncModules> {
  const { readModulesRecord, requireModules } = modulemd();
  const modules = new Map<string, RepoModules>();
  const yamls = new Map<string, string>();
  for (const repo of repos.filter((r) => isModularRepo(model, r))) {
    const file = moduleYaml(roots, repo.arch, repo.variant);
    const yaml = await readModuleYaml(file);
    if (yaml.text !== undefined) {
      requireModules(yaml.text, file);
      yamls.set(repo.path, yaml.text);
    }
    if (!compose) {
      if (yaml.text === undefined) {
        throw new RelengError(
          `${repo.variant} is a modular repo (modularRepos in ${model.files.release}) but its module metadata ${file} cannot be read ` +
            `(${yaml.error}); refusing to publish ${repo.path} without modules (moduleMetadataDir is the rocky-module-metadata checkout)`,
        );
      }
      modules.set(repo.path, { text: yaml.text, origin: file });
      continue;
    }
    const composeRepo = join(compose.composeDir, 'compose', repo.path);
    const composed = await readModulesRecord(composeRepo);
    if (composed) {
      requireModules(composed.text, composed.file);
      modules.set(repo.path, { text: composed.text, origin: composed.file });
    } else if (yaml.text !== undefined) {
      modules.set(repo.path, { text: yaml.text, origin: file });
    } else {
      throw new RelengError(
        `${repo.variant} is a modular repo (modularRepos in ${model.files.release}) but compose ${compose.composeId} has no modules record in ` +
          `${join(composeRepo, 'repodata/repomd.xml')} and its module metadata ${file} cannot be read (${yaml.error}); ` +
          `refusing to publish ${repo.path} without modules (moduleMetadataDir is the rocky-module-metadata checkout)`,
      );
    }
  }
  return { modules, yamls };
}

async function readModuleYaml(file: string): Promise<{ text?: string; error?: string }> {
  try {
    return { text: await readFile(file, 'utf8') };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

/**
 * A digest of the module metadata files a sync of this project reads (Nx's runtime input of sync-staging): an edited
 * rocky-module-metadata checkout re-syncs, as sync-to-staging.sh re-adds the yaml on every run.
 */
export async function moduleMetadataDigest(model: ComposeModel, roots: Roots): Promise<string> {
  const h = createHash('sha256');
  for (const variant of model.compose.variants.filter((v) => model.release.modularRepos.includes(v))) {
    for (const arch of model.release.arches) {
      const file = moduleYaml(roots, arch, variant);
      h.update(`${file}\0`).update(await readFile(file).catch(() => 'missing')).update('\0');
    }
  }
  return h.digest('hex');
}
