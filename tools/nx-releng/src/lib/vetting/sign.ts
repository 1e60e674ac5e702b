/**
 * Signing repomd.xml: a detached, ASCII-armoured `repomd.xml.asc` next to it, checked right after it
 * is made. Two kinds of signer:
 *
 * - `gpg`: `gpg --homedir <homedir> --batch --no-tty --yes --pinentry-mode loopback
 *   [--passphrase-file <file>] --local-user <keyId> --armor --detach-sign --output <tmp> <repomd.xml>`
 * - `command`: an external program (like Rocky's `/root/bin/sign-repo-8.sh`, which is not public) run as
 *   `command... <path of repomd.xml>`; it must write `<that path>.asc`. It is given a copy of repomd.xml
 *   in a private temporary directory, so a half-written or bad signature never lands in the repository:
 *   the result is verified, then moved into place (temp file + rename).
 *
 * Verification uses, in this order: `publicKey` (an exported key file; checked with gpgv against a
 * temporary keyring, as a client would), else the signer's `homedir` keyring (`gpg --verify`). With a
 * `keyId`, the signature must also come from that key. A signer that cannot work (gpg missing, key not
 * in the keyring, command not found, wrong passphrase) is an error, never a silent skip.
 */
import { constants } from 'node:fs';
import { access, copyFile, readFile, rm, stat } from 'node:fs/promises';
import { scratchDir } from '../core/scratch';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { RelengError, errorMessage } from '../../errors';
import { run } from '../tools/exec';
import { writeFileAtomic } from '../formats/repomd';
import { exists, isFile } from '../core/fs-checks';
import type { SignerConfig } from '../../layout/paths';

export type SignResult = 'unchanged' | 'signed';

/** How to check a detached signature. */
export interface SignatureVerifier {
  /** Exported public key file (armoured or binary). */
  publicKey?: string;
  /** GnuPG home whose keyring to use when there is no publicKey. */
  homedir?: string;
  /** Expected signer: key id, fingerprint or user id (resolved in the key file / keyring). */
  keyId?: string;
}

export type VerifyOutcome = { ok: true; fingerprint: string } | { ok: false; reason: string };

const STATUS_PREFIX = '[GNUPG:] ';

function statusLines(stdout: string): string[][] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith(STATUS_PREFIX))
    .map((l) => l.slice(STATUS_PREFIX.length).trim().split(/\s+/));
}

function shortReason(text: string): string {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith(STATUS_PREFIX));
  return lines.slice(-3).join('; ') || 'no output';
}

/** Fingerprints (primary and subkeys) of the keys matching `keyId` in a colon listing. */
function fingerprintsFromColons(listing: string): string[] {
  return listing
    .split('\n')
    .filter((l) => l.startsWith('fpr:'))
    .map((l) => (l.split(':')[9] ?? '').toUpperCase())
    .filter(Boolean);
}

/** A private GnuPG home in the temp dir (gpg wants 0700); removed by the callback's end. */
async function withTempGnupgHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = await scratchDir(tmpdir(), 'releng-gpg-');
  try {
    return await fn(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** Key file → binary keyring usable by gpgv (dearmoured when armoured). */
async function keyringFromKeyFile(keyFile: string, home: string): Promise<string> {
  if (!(await isFile(keyFile))) throw new RelengError(`public key file ${keyFile} does not exist`);
  const keyring = join(home, 'key.gpg');
  const head = (await readFile(keyFile)).subarray(0, 64).toString('latin1');
  if (head.includes('-----BEGIN PGP')) {
    await run('gpg', ['--homedir', home, '--batch', '--no-tty', '--yes', '--dearmor', '--output', keyring, keyFile]);
  } else {
    await copyFile(keyFile, keyring);
  }
  return keyring;
}

/**
 * Checks that `sigPath` is an armoured detached signature of `dataPath` made by a key of `verifier`.
 * A missing key file, keyring or tool is a RelengError; a bad or absent signature is `{ ok: false }`.
 */
export async function verifyDetachedSignature(sigPath: string, dataPath: string, verifier: SignatureVerifier): Promise<VerifyOutcome> {
  let sig: Buffer;
  try {
    sig = await readFile(sigPath);
  } catch {
    return { ok: false, reason: `${sigPath} does not exist` };
  }
  if (!sig.subarray(0, 64).toString('latin1').startsWith('-----BEGIN PGP SIGNATURE-----')) {
    return { ok: false, reason: `${sigPath} is not an ASCII-armoured PGP signature` };
  }
  let stdout: string;
  let stderr: string;
  let expected: string[] | undefined;
  if (verifier.publicKey) {
    const res = await withTempGnupgHome(async (home) => {
      const keyring = await keyringFromKeyFile(verifier.publicKey as string, home);
      if (verifier.keyId) {
        const list = await run(
          'gpg',
          ['--homedir', home, '--batch', '--no-tty', '--no-default-keyring', '--keyring', keyring, '--with-colons', '--list-keys', '--', verifier.keyId],
          { allowFailure: true },
        );
        if (list.exitCode !== 0) throw new RelengError(`key ${verifier.keyId} is not in public key file ${verifier.publicKey}`);
        expected = fingerprintsFromColons(list.stdout);
      }
      return run('gpgv', ['--homedir', home, '--keyring', keyring, '--status-fd', '1', '--', sigPath, dataPath], {
        allowFailure: true,
      });
    });
    ({ stdout, stderr } = res);
  } else if (verifier.homedir) {
    const home = resolve(verifier.homedir);
    if (!(await exists(home))) throw new RelengError(`gpg homedir ${home} does not exist`);
    if (verifier.keyId) {
      const list = await run('gpg', ['--homedir', home, '--batch', '--no-tty', '--with-colons', '--list-keys', '--', verifier.keyId], {
        allowFailure: true,
      });
      if (list.exitCode !== 0) throw new RelengError(`key ${verifier.keyId} is not in the keyring of ${home}`);
      expected = fingerprintsFromColons(list.stdout);
    }
    ({ stdout, stderr } = await run('gpg', ['--homedir', home, '--batch', '--no-tty', '--status-fd', '1', '--verify', '--', sigPath, dataPath], {
      allowFailure: true,
    }));
  } else {
    throw new RelengError('no public key or keyring configured to verify repomd.xml.asc with');
  }
  const status = statusLines(stdout);
  const valid = status.find((s) => s[0] === 'VALIDSIG');
  const bad = status.find((s) => s[0] === 'BADSIG' || s[0] === 'ERRSIG' || s[0] === 'EXPKEYSIG' || s[0] === 'REVKEYSIG');
  if (!valid || bad) {
    const why = bad ? `${bad[0]}${bad[0] === 'ERRSIG' && bad[6] === '9' ? ' (no public key for the signature)' : ''}` : shortReason(stderr);
    return { ok: false, reason: `${sigPath} does not verify: ${why}` };
  }
  const signing = (valid[1] ?? '').toUpperCase();
  const primary = (valid[10] ?? signing).toUpperCase();
  if (expected && !expected.includes(primary) && !expected.includes(signing)) {
    return { ok: false, reason: `${sigPath} is signed by ${primary}, not by the configured key ${verifier.keyId}` };
  }
  return { ok: true, fingerprint: primary };
}

/** Whether `cmd` resolves to an executable (absolute/relative path or on PATH). */
async function executableExists(cmd: string): Promise<boolean> {
  const candidates = cmd.includes('/') ? [cmd] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      if (await isFile(c)) return true;
    } catch {
      /* next */
    }
  }
  return false;
}

function verifierFor(signer: SignerConfig): SignatureVerifier {
  if (signer.type === 'gpg') {
    return { keyId: signer.keyId, ...(signer.publicKey ? { publicKey: signer.publicKey } : { homedir: signer.homedir }) };
  }
  if (!signer.publicKey && !signer.homedir) {
    throw new RelengError(`signing command ${signer.command[0] ?? '(empty)'} has neither publicKey nor homedir to verify its signature with`);
  }
  return {
    ...(signer.publicKey ? { publicKey: signer.publicKey } : { homedir: signer.homedir as string }),
    ...(signer.keyId ? { keyId: signer.keyId } : {}),
  };
}

/** Fails early, with what to fix, when the signer cannot work. */
export async function checkSigner(signer: SignerConfig): Promise<void> {
  if (signer.type === 'gpg') {
    const home = resolve(signer.homedir);
    if (!(await exists(home))) throw new RelengError(`gpg signer: homedir ${home} does not exist`);
    if (signer.passphraseFile && !(await isFile(signer.passphraseFile))) {
      throw new RelengError(`gpg signer: passphrase file ${signer.passphraseFile} does not exist`);
    }
    const list = await run('gpg', ['--homedir', home, '--batch', '--no-tty', '--with-colons', '--list-secret-keys', '--', signer.keyId], {
      allowFailure: true,
    });
    if (list.exitCode !== 0 || !list.stdout.split('\n').some((l) => l.startsWith('sec:'))) {
      throw new RelengError(`gpg signer: secret key ${signer.keyId} is not in the keyring of ${home}`);
    }
  } else {
    const cmd = signer.command[0];
    if (!cmd) throw new RelengError('signing command is empty');
    if (!(await executableExists(cmd))) throw new RelengError(`signing command ${cmd} was not found (or is not executable)`);
  }
  verifierFor(signer);
}

async function mtimeMs(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

/**
 * Makes `<repomdPath>.asc`, a detached armoured signature of repomd.xml, and verifies it. An existing
 * signature that verifies against the current repomd.xml with the configured key, and is not older
 * than it, is left alone ('unchanged'). Returns 'signed' when a new signature was written.
 */
export async function signRepomd(repomdPath: string, signer: SignerConfig): Promise<SignResult> {
  if (!(await isFile(repomdPath))) throw new RelengError(`cannot sign ${repomdPath}: it does not exist`);
  await checkSigner(signer);
  const verifier = verifierFor(signer);
  const ascPath = `${repomdPath}.asc`;

  if (await isFile(ascPath)) {
    const existing = await verifyDetachedSignature(ascPath, repomdPath, verifier);
    const ascTime = await mtimeMs(ascPath);
    const mdTime = await mtimeMs(repomdPath);
    if (existing.ok && ascTime !== undefined && mdTime !== undefined && ascTime >= mdTime) return 'unchanged';
  }

  const work = await scratchDir(tmpdir(), 'releng-sign-');
  try {
    const copy = join(work, 'repomd.xml');
    await copyFile(repomdPath, copy);
    const out = `${copy}.asc`;
    if (signer.type === 'gpg') {
      const args = ['--homedir', resolve(signer.homedir), '--batch', '--no-tty', '--yes', '--pinentry-mode', 'loopback'];
      if (signer.passphraseFile) args.push('--passphrase-file', resolve(signer.passphraseFile));
      args.push('--local-user', signer.keyId, '--armor', '--detach-sign', '--output', out, '--', copy);
      const res = await run('gpg', args, { allowFailure: true });
      if (res.exitCode !== 0) {
        const err = res.stderr;
        if (/Bad passphrase/i.test(err)) {
          throw new RelengError(
            signer.passphraseFile
              ? `gpg signer: wrong passphrase for key ${signer.keyId} (passphrase file ${signer.passphraseFile})`
              : `gpg signer: key ${signer.keyId} is passphrase-protected and no passphraseFile is configured`,
          );
        }
        if (/No passphrase given|can't get input|No pinentry/i.test(err)) {
          throw new RelengError(`gpg signer: key ${signer.keyId} needs a passphrase: configure passphraseFile`);
        }
        if (/No secret key|skipped/i.test(err)) {
          throw new RelengError(`gpg signer: secret key ${signer.keyId} is not usable in ${signer.homedir}: ${shortReason(err)}`);
        }
        throw new RelengError(`gpg signer: signing ${repomdPath} failed (exit ${res.exitCode}): ${shortReason(err)}`);
      }
    } else {
      const [cmd, ...rest] = signer.command as [string, ...string[]];
      try {
        await run(cmd, [...rest, copy], { cwd: work });
      } catch (err) {
        throw new RelengError(`signing command failed for ${repomdPath}: ${errorMessage(err)}`);
      }
      if (!(await isFile(out))) {
        throw new RelengError(`signing command ${cmd} exited 0 but did not write ${'repomd.xml.asc'} next to the repomd.xml it was given`);
      }
    }
    const check = await verifyDetachedSignature(out, copy, verifier);
    if (!check.ok) throw new RelengError(`the new signature of ${repomdPath} does not verify: ${check.reason}`);
    // repomd.xml must not have changed while we were signing a copy of it.
    const [a, b] = await Promise.all([readFile(copy), readFile(repomdPath)]);
    if (!a.equals(b)) throw new RelengError(`${repomdPath} changed while it was being signed; sign again`);
    await writeFileAtomic(ascPath, await readFile(out));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return 'signed';
}
