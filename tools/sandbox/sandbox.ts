import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { COMPS_DIR, stageLocalSource } from '../../test/helpers/rpms';

/**
 * The built-in sandbox: a compose host in a directory. Real RPMs (built from test/fixtures/rpm-specs) are laid
 * out as the local compose backend's input under <relengRoot>/mnt/koji/local/8, with comps for every comps
 * repo and a modules.yaml for AppStream, so `nx run-many -t compose --backend=local` makes real composes.
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

/** The modularRepos of releases/8/release.json: sync-staging re-adds <Repo>-modules.yaml to each. */
const SANDBOX_MODULAR_REPOS = ['AppStream', 'PowerTools'];

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
 * A modulemd v2 document re-added by sync-staging with modifyrepo_c. Its artifact is not one of the fixtures:
 * naming releng-app would make it a modular package that dnf hides from non-modular dependency resolution.
 */
function modulesYaml(repo: string, arch: string): string {
  // AppStream keeps the name it always had; other modular repos get one of their own.
  const name = repo === 'AppStream' ? 'releng-app' : `releng-${repo.toLowerCase()}`;
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
  artifacts:
    rpms:
    - ${repo === 'AppStream' ? 'releng-modular' : `${name}-modular`}-0:1.0-1.el8.${arch}
...
`;
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
  for (const arch of ['x86_64', 'aarch64']) {
    const dir = join(relengRoot, 'mnt/compose/8_metadata', arch);
    await mkdir(dir, { recursive: true });
    // Every modular repo of releases/8 (modularRepos) that the sandbox composes, or sync-staging warns.
    for (const repo of SANDBOX_MODULAR_REPOS) await writeFile(join(dir, `${repo}-modules.yaml`), modulesYaml(repo, arch));
  }
  const composeRoot = join(relengRoot, 'mnt/compose/8');
  await mkdir(composeRoot, { recursive: true });
  return composeRoot;
}
