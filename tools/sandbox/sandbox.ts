import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COMPS_DIR, stageLocalSource } from '../../test/helpers/rpms';

/**
 * The built-in sandbox: a compose host in a directory. Real RPMs (built from test/fixtures/rpm-specs) are laid
 * out as the local compose backend's input under <relengRoot>/mnt/koji/local/8, with comps for every comps
 * repo and a modules.yaml for AppStream and PowerTools, so `nx run-many -t compose --backend=local` makes real composes.
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
 * The module streams of each modular repo, in modulemd v2 documents re-added by sync-staging with modifyrepo_c.
 * Their artifacts are not among the fixtures: naming releng-app would make it a modular package that dnf hides
 * from non-modular dependency resolution.
 */
export const SANDBOX_MODULES: Record<string, { name: string; artifact: string }> = {
  AppStream: { name: 'releng-app', artifact: 'releng-modular' },
  PowerTools: { name: 'releng-tools', artifact: 'releng-tools-modular' },
};

function modulesYaml(repo: string, arch: string): string {
  const { name, artifact } = SANDBOX_MODULES[repo] ?? { name: `${repo.toLowerCase()}-sandbox`, artifact: `${repo.toLowerCase()}-modular` };
  return `---
document: modulemd
version: 2
data:
  name: ${name}
  stream: "1"
  version: 8100020240101000000
  context: 5b4d1e8d
  arch: ${arch}
  summary: Sandbox module stream
  description: >-
    A module stream whose artifact is not shipped in the sandbox.
  license:
    module:
    - MIT
  profiles:
    common:
      rpms:
      - ${artifact}
  artifacts:
    rpms:
    - ${artifact}-0:1.0-1.el8.${arch}
...
---
document: modulemd-defaults
version: 1
data:
  module: ${name}
  stream: "1"
  profiles:
    "1": [common]
...
`;
}

/** The hand-maintained module metadata (rocky-module-metadata) of the modular repos: <dir>/<arch>/<Repo>-modules.yaml. */
export async function writeModuleMetadata(relengRoot: string, major: string, repos: readonly string[], arches = ['x86_64', 'aarch64']): Promise<void> {
  for (const arch of arches) {
    const dir = join(relengRoot, `mnt/compose/${major}_metadata`, arch);
    await mkdir(dir, { recursive: true });
    for (const repo of repos) await writeFile(join(dir, `${repo}-modules.yaml`), modulesYaml(repo, arch));
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
    await stageLocalSource(kojiRoot, '8', short, layout, { version: opts.version, comps });
  }
  await writeModuleMetadata(relengRoot, '8', ['AppStream', 'PowerTools']);
  const composeRoot = join(relengRoot, 'mnt/compose/8');
  await mkdir(composeRoot, { recursive: true });
  return composeRoot;
}
