import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ComposeModel } from '../../config/load';
import { moduleYaml, type RepoDir, type Roots } from '../../layout/paths';
import { RelengError, errorMessage } from '../../errors';
import { requireModules } from '../formats/modulemd';

/** Whether a repo carries module metadata: the os tree of a release.json modularRepos repo. */
export function isModularRepo(model: ComposeModel, repo: RepoDir): boolean {
  return repo.kind === 'os' && model.release.modularRepos.includes(repo.variant);
}

/**
 * The module metadata each modular os repo of a sync gets (repo path -> modules.yaml text): the hand-maintained
 * `<moduleMetadataDir>/<arch>/<Repo>-modules.yaml` (sync-to-staging.sh), read and checked before anything is touched.
 * A file that is missing, does not parse or lists no module is refused: EL8 clients filter packages by it, so a
 * modular repo published without it breaks every client.
 */
export async function moduleMetadataOf(model: ComposeModel, roots: Roots, repos: readonly RepoDir[]): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const repo of repos.filter((r) => isModularRepo(model, r))) {
    const file = moduleYaml(roots, repo.arch, repo.variant);
    const text = await readModuleYaml(model, repo, file);
    requireModules(text, file);
    texts.set(repo.path, text);
  }
  return texts;
}

async function readModuleYaml(model: ComposeModel, repo: RepoDir, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new RelengError(
      `${repo.variant} is a modular repo (modularRepos in ${model.files.release}) but its module metadata ${file} cannot be read ` +
        `(${errorMessage(err)}); refusing to publish ${repo.path} without modules (moduleMetadataDir is the rocky-module-metadata checkout)`,
    );
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
