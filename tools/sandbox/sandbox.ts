import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseRelease, readJson, releaseFileOf } from '../nx-releng/src/config/load';
import { modulemdText, type ModuleStreamSpec } from '../nx-releng/src/lib/formats/modulemd';
import { COMPS_DIR, stageLocalSource } from '../../test/helpers/rpms';

/**
 * The built-in sandbox: a compose host in a directory. Real RPMs (built from test/fixtures/rpm-specs) are laid
 * out as the local compose backend's input under <relengRoot>/mnt/koji/local/8, with comps for every comps
 * repo, module builds for AppStream and PowerTools (which the compose's repodata then carries) and their
 * hand-maintained modules.yaml, so `nx run-many -t compose --backend=local` makes real composes.
 */

/** Which fixture packages go into which repository of the Rocky 8 model (releases/8), SIGs included. */
export const SANDBOX_LAYOUT: Record<string, Record<string, string[]>> = {
  Rocky: {
    BaseOS: ['releng-base', 'releng-hello'],
    AppStream: ['releng-app'],
    PowerTools: ['releng-tools'],
    HighAvailability: [],
    ResilientStorage: [],
    RT: [],
    NFV: [],
  },
  Extras: { extras: ['releng-extras'], plus: ['releng-plus'] },
  'Rocky-devel': { devel: ['releng-devel-lib'] },
  // The kernel SIG of releases/8 (common_8 SIG_COMPOSE): its repos are its own, laid out by the local SIG backend.
  'SIG-kernel': { kernel: ['releng-hello'] },
  'SIG-kmod': { kmod: ['releng-base'] },
};

/** The modular repos of releases/8, as its release.json names them (the sandbox composes that release). */
function modularRepos(): string[] {
  const repoRoot = join(__dirname, '../..');
  return parseRelease('8', readJson(repoRoot, releaseFileOf('8'))).modularRepos;
}

/** A comps file with one (empty) group, for repos the fixtures have no groups for. */
function placeholderComps(repo: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE comps PUBLIC "-//Red Hat, Inc.//DTD Comps info//EN" "comps.dtd">
<comps>
  <group>
    <id>${repo.toLowerCase()}-sandbox</id>
    <name>${repo} sandbox</name>
    <description>Placeholder group of the ${repo} sandbox repository.</description>
    <default>false</default>
    <uservisible>true</uservisible>
    <packagelist/>
  </group>
</comps>
`;
}

/**
 * The module stream of each modular repo (one per repo, default stream "1", profile common). Koji's module build
 * (the local compose's <Variant>/modules.yaml) names the repo's fixture package as its component, so the compose's
 * modules record lists that package as the stream's artifact, as pungi's does. The hand-maintained yaml that the
 * daily sync re-adds (rocky-module-metadata) names an artifact that is not shipped instead: which of the two a
 * staging repo carries shows which one a sync published.
 */
export const SANDBOX_MODULES: Record<string, { name: string; component: string; artifact: string }> = {
  AppStream: { name: 'releng-app', component: 'releng-app', artifact: 'releng-modular' },
  PowerTools: { name: 'releng-tools', component: 'releng-tools', artifact: 'releng-tools-modular' },
};

/** The stream of a modular repo; its profile installs `pkg` (the package the stream ships). */
function moduleStream(repo: string, pkg: string): ModuleStreamSpec {
  return {
    name: sandboxModule(repo).name,
    stream: '1',
    version: '8100020240101000000',
    context: '5b4d1e8d',
    summary: 'Sandbox module stream',
    description: `The ${repo} sandbox module stream.`,
    license: ['MIT'],
    profiles: { common: [pkg] },
    defaultProfiles: ['common'],
  };
}

function sandboxModule(repo: string) {
  const lower = repo.toLowerCase();
  return SANDBOX_MODULES[repo] ?? { name: `${lower}-sandbox`, component: lower, artifact: `${lower}-modular` };
}

/** The hand-maintained module metadata (rocky-module-metadata) of the modular repos: <dir>/<arch>/<Repo>-modules.yaml. */
export async function writeModuleMetadata(relengRoot: string, major: string, repos: readonly string[], arches = ['x86_64', 'aarch64']): Promise<void> {
  for (const arch of arches) {
    const dir = join(relengRoot, `mnt/compose/${major}_metadata`, arch);
    await mkdir(dir, { recursive: true });
    for (const repo of repos) {
      const { artifact } = sandboxModule(repo);
      const text = modulemdText([{ ...moduleStream(repo, artifact), arch, artifacts: [`${artifact}-0:1.0-1.el8.${arch}`] }]);
      await writeFile(join(dir, `${repo}-modules.yaml`), text);
    }
  }
}

/** The module builds of the modular variants, as the local compose backend reads them: <srcDir>/<Variant>/modules.yaml. */
export async function writeModuleBuilds(srcDir: string, repos: readonly string[]): Promise<void> {
  for (const repo of repos) {
    const { component } = sandboxModule(repo);
    await writeFile(join(srcDir, repo, 'modules.yaml'), modulemdText([{ ...moduleStream(repo, component), components: [component] }]));
  }
}

export interface SandboxOptions {
  /** Version of releng-hello to stage (1.1 makes a "new compose"). */
  version?: '1.0' | '1.1';
  /** Composes to stage (default all of SANDBOX_LAYOUT). */
  shorts?: string[];
}

/** Stages the sandbox's compose inputs and the dirs pungi expects to exist; returns the compose root of 8. */
export async function stageSandbox(relengRoot: string, opts: SandboxOptions = {}): Promise<string> {
  const kojiRoot = join(relengRoot, 'mnt/koji');
  const extraComps = join(relengRoot, 'mnt/koji/sandbox-comps');
  const modular = modularRepos();
  await mkdir(extraComps, { recursive: true });
  for (const short of opts.shorts ?? Object.keys(SANDBOX_LAYOUT)) {
    const layout = SANDBOX_LAYOUT[short];
    if (!layout) throw new Error(`the sandbox has no compose named ${short}`);
    const comps: Record<string, string> = {};
    for (const repo of Object.keys(layout)) {
      if (repo === 'BaseOS' || repo === 'AppStream') comps[repo] = join(COMPS_DIR, `comps-${repo}.xml`);
      else if (short === 'Rocky') {
        comps[repo] = join(extraComps, `comps-${repo}.xml`);
        await writeFile(comps[repo] as string, placeholderComps(repo));
      }
    }
    const srcDir = await stageLocalSource(kojiRoot, '8', short, layout, { version: opts.version, comps });
    if (short === 'Rocky') await writeModuleBuilds(srcDir, modular);
  }
  await writeModuleMetadata(relengRoot, '8', modular);
  const composeRoot = join(relengRoot, 'mnt/compose/8');
  await mkdir(composeRoot, { recursive: true });
  return composeRoot;
}
