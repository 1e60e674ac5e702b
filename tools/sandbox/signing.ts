import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../nx-releng/src/lib/tools/exec';

/**
 * The sandbox's signing and errata, shaped like the compose host's: releases/8 signs with the command
 * /root/bin/sign-repo-8.sh and checks against /etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-8, both re-rooted under
 * RELENG_ROOT; this makes a throwaway key and a script there that signs with it. Errata come from a real HTTP
 * server on 127.0.0.1 shaped like Apollo's API.
 */
export async function setupSandboxSigning(relengRoot: string): Promise<{ homedir: string; publicKey: string }> {
  const homedir = join(relengRoot, 'root/.gnupg');
  const publicKey = join(relengRoot, 'etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-8');
  const script = join(relengRoot, 'root/bin/sign-repo-8.sh');
  await mkdir(homedir, { recursive: true, mode: 0o700 });
  await mkdir(join(relengRoot, 'etc/pki/rpm-gpg'), { recursive: true });
  await mkdir(join(relengRoot, 'root/bin'), { recursive: true });
  const gpg = ['--homedir', homedir, '--batch', '--no-tty'];
  const listed = await run('gpg', [...gpg, '--list-secret-keys', 'sandbox-releng@example.invalid'], { allowFailure: true });
  if (listed.exitCode !== 0) {
    await run('gpg', [...gpg, '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key',
      'Sandbox Release Engineering <sandbox-releng@example.invalid>', 'rsa2048', 'sign', 'never']);
  }
  await run('gpg', [...gpg, '--yes', '--armor', '--output', publicKey, '--export', 'sandbox-releng@example.invalid']);
  await writeFile(
    script,
    `#!/bin/sh
# Sandbox stand-in for the compose host's /root/bin/sign-repo-8.sh: a detached armored signature of repomd.xml.
set -e
exec gpg --homedir '${homedir}' --batch --no-tty --yes --pinentry-mode loopback --passphrase '' \\
  --local-user sandbox-releng@example.invalid --armor --detach-sign --output "$1.asc" "$1"
`,
  );
  await chmod(script, 0o755);
  return { homedir, publicKey };
}

/** Stops the gpg-agent the sandbox key started, so no process outlives a test. */
export async function stopSandboxAgent(relengRoot: string): Promise<void> {
  await run('gpgconf', ['--homedir', join(relengRoot, 'root/.gnupg'), '--kill', 'gpg-agent'], { allowFailure: true });
}

/** One advisory of the sandbox: its id and the BaseOS package (name-version-1.el8) it updates. */
export interface SandboxAdvisory {
  id: string;
  name: string;
  version: string;
}

/** The sandbox's advisory: releng-hello 1.1, newer than the 1.0 the sandbox composes by default. */
export const SANDBOX_ADVISORY: SandboxAdvisory = { id: 'RLSA-2024:0001', name: 'releng-hello', version: '1.1' };

/** Advisories for BaseOS of one arch, in Apollo's updateinfo format. */
export function sandboxAdvisory(arch: string, advisories: readonly SandboxAdvisory[] = [SANDBOX_ADVISORY]): string {
  const updates = advisories.map(
    ({ id, name, version }) => `  <update from="releng@rockylinux.org" status="final" type="security" version="2">
    <id>${id}</id>
    <title>Important: ${name} security update</title>
    <issued date="2024-01-01 00:00:00"/>
    <updated date="2024-01-01 00:00:00"/>
    <rights>Copyright 2024 Rocky Enterprise Software Foundation</rights>
    <release>Rocky Linux 8</release>
    <pushcount>1</pushcount>
    <severity>Important</severity>
    <summary>An update for ${name} is now available.</summary>
    <description>Sandbox advisory.</description>
    <solution/>
    <references>
      <reference href="https://errata.rockylinux.org/${id}" id="${id}" type="self" title="${id}"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-8-${arch}-baseos-rpms">
        <name>rocky-linux-8-${arch}-baseos-rpms</name>
        <package name="${name}" arch="${arch}" epoch="0" version="${version}" release="1.el8" src="${name}-${version}-1.el8.src.rpm">
          <filename>${name}-${version}-1.el8.${arch}.rpm</filename>
        </package>
      </collection>
    </pkglist>
  </update>
`,
  );
  return `<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n${updates.join('')}</updates>\n`;
}

export interface ErrataServer {
  url: string;
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves <dir>/<slug>/<major>/<repo>/<arch>.xml as <url>/<slug>/<major>/<repo>/updateinfo.xml?arch=<arch>, and 404
 * for everything else, as Apollo does for a repo without advisories.
 */
export async function startErrataServer(dir: string): Promise<ErrataServer> {
  const requests: string[] = [];
  const server: Server = createServer(async (req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/([^/]+)\/([^/]+)\/([^/]+)\/updateinfo\.xml$/.exec(url.pathname);
    const arch = url.searchParams.get('arch');
    if (!m || !arch || [m[1], m[2], m[3], arch].some((p) => p?.includes('..'))) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(dir, m[1] as string, m[2] as string, m[3] as string, `${arch}.xml`));
      res.writeHead(200, { 'content-type': 'application/xml' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Publishes advisories (default: the sandbox's) for BaseOS of both arches into an errata dir served by startErrataServer. */
export async function writeSandboxErrata(dir: string, advisories?: readonly SandboxAdvisory[]): Promise<void> {
  for (const arch of ['x86_64', 'aarch64']) {
    const repoDir = join(dir, 'rocky-linux', '8', 'BaseOS');
    await mkdir(repoDir, { recursive: true });
    await writeFile(join(repoDir, `${arch}.xml`), sandboxAdvisory(arch, advisories));
  }
}
