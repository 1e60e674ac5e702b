import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import type { SignerConfig } from '../../../tools/nx-releng/src/layout/paths';
import { signRepomd, verifyDetachedSignature } from '../../../tools/nx-releng/src/lib/vetting/sign';
import { removeDir, tempDir } from '../../helpers/workspace';

let tmp: string;
const homes: string[] = [];

/** A throwaway GnuPG home with one signing key; returns its fingerprint and exported public key file. */
async function makeKey(name: string, passphrase?: string): Promise<{ home: string; fpr: string; pub: string }> {
  const home = join(tmp, `gnupg-${name}`);
  mkdirSync(home, { mode: 0o700 });
  homes.push(home);
  await run('gpg', [
    '--homedir',
    home,
    '--batch',
    '--pinentry-mode',
    'loopback',
    '--passphrase',
    passphrase ?? '',
    '--quick-gen-key',
    `Releng ${name} <releng-${name}@example.invalid>`,
    'rsa2048',
    'sign',
    'never',
  ]);
  const list = await run('gpg', ['--homedir', home, '--batch', '--with-colons', '--list-keys']);
  const fpr = list.stdout.split('\n').find((l) => l.startsWith('fpr:'))?.split(':')[9];
  assert.ok(fpr);
  const pub = join(tmp, `${name}.asc`);
  await run('gpg', ['--homedir', home, '--batch', '--yes', '--armor', '--output', pub, '--export', fpr]);
  return { home, fpr, pub };
}

function newRepomd(name: string, content = '<repomd/>\n'): string {
  const dir = join(tmp, name, 'repodata');
  mkdirSync(dir, { recursive: true });
  const p = join(dir, 'repomd.xml');
  writeFileSync(p, content);
  return p;
}

let key: { home: string; fpr: string; pub: string };
let otherKey: { home: string; fpr: string; pub: string };

before(async () => {
  tmp = tempDir('sign');
  key = await makeKey('main');
  otherKey = await makeKey('other');
});

after(async () => {
  for (const home of homes) await run('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { allowFailure: true });
  removeDir(tmp);
});

test('gpg signer makes an armoured detached signature that verifies, and leaves a good one alone', async () => {
  const md = newRepomd('gpg');
  const signer: SignerConfig = { type: 'gpg', keyId: key.fpr, homedir: key.home };
  assert.equal(await signRepomd(md, signer), 'signed');
  const asc = `${md}.asc`;
  const sig = readFileSync(asc, 'utf8');
  assert.match(sig, /^-----BEGIN PGP SIGNATURE-----\n/);
  // gpg itself agrees, with the signer's keyring and with the exported key.
  await run('gpg', ['--homedir', key.home, '--batch', '--verify', asc, md]);
  const v = await verifyDetachedSignature(asc, md, { publicKey: key.pub });
  assert.deepEqual(v, { ok: true, fingerprint: key.fpr });

  const before = statSync(asc);
  assert.equal(await signRepomd(md, signer), 'unchanged');
  assert.equal(readFileSync(asc, 'utf8'), sig);
  assert.equal(statSync(asc).mtimeMs, before.mtimeMs);

  // repomd.xml changes: the old signature no longer verifies, so it is replaced.
  writeFileSync(md, '<repomd><revision>2</revision></repomd>\n');
  assert.equal((await verifyDetachedSignature(asc, md, { publicKey: key.pub })).ok, false);
  assert.equal(await signRepomd(md, signer), 'signed');
  assert.equal((await verifyDetachedSignature(asc, md, { publicKey: key.pub })).ok, true);
  assert.deepEqual(readdirSync(join(tmp, 'gpg', 'repodata')).sort(), ['repomd.xml', 'repomd.xml.asc']);
});

test('a valid signature by another key is replaced by one from the configured key', async () => {
  const md = newRepomd('foreign');
  assert.equal(await signRepomd(md, { type: 'gpg', keyId: otherKey.fpr, homedir: otherKey.home }), 'signed');
  const signer: SignerConfig = { type: 'gpg', keyId: key.fpr, homedir: key.home, publicKey: key.pub };
  assert.equal(await signRepomd(md, signer), 'signed');
  assert.deepEqual(await verifyDetachedSignature(`${md}.asc`, md, { publicKey: key.pub, keyId: key.fpr }), {
    ok: true,
    fingerprint: key.fpr,
  });
  const wrong = await verifyDetachedSignature(`${md}.asc`, md, { publicKey: otherKey.pub });
  assert.equal(wrong.ok, false);
});

test('a missing key, homedir or gpg is an error, never a silent skip', async () => {
  const md = newRepomd('missing');
  await assert.rejects(
    signRepomd(md, { type: 'gpg', keyId: 'nobody@example.invalid', homedir: key.home }),
    (err: unknown) => err instanceof RelengError && /secret key nobody@example\.invalid is not in the keyring/.test(err.message),
  );
  await assert.rejects(
    signRepomd(md, { type: 'gpg', keyId: key.fpr, homedir: join(tmp, 'no-such-home') }),
    /homedir .*no-such-home does not exist/,
  );
  const path = process.env.PATH;
  process.env.PATH = join(tmp, 'empty-path');
  try {
    await assert.rejects(signRepomd(md, { type: 'gpg', keyId: key.fpr, homedir: key.home }), /required tool 'gpg' was not found on PATH/);
  } finally {
    process.env.PATH = path;
  }
  assert.equal(existsSync(`${md}.asc`), false);
});

test('wrong or missing passphrase is a clear error; the right one signs', async () => {
  const prot = await makeKey('protected', 'correct horse');
  // gpg-agent caches a passphrase once it was right: try the wrong ones first.
  const wrong = join(tmp, 'wrong-pass');
  writeFileSync(wrong, 'battery staple\n');
  const right = join(tmp, 'right-pass');
  writeFileSync(right, 'correct horse\n');
  const md = newRepomd('protected');
  await assert.rejects(
    signRepomd(md, { type: 'gpg', keyId: prot.fpr, homedir: prot.home, passphraseFile: wrong }),
    (err: unknown) => err instanceof RelengError && /wrong passphrase for key .* \(passphrase file .*wrong-pass\)/.test(err.message),
  );
  await assert.rejects(
    signRepomd(md, { type: 'gpg', keyId: prot.fpr, homedir: prot.home }),
    /passphrase-protected and no passphraseFile is configured|needs a passphrase/,
  );
  await assert.rejects(
    signRepomd(md, { type: 'gpg', keyId: prot.fpr, homedir: prot.home, passphraseFile: join(tmp, 'nope') }),
    /passphrase file .*nope does not exist/,
  );
  assert.equal(existsSync(`${md}.asc`), false);
  assert.equal(await signRepomd(md, { type: 'gpg', keyId: prot.fpr, homedir: prot.home, passphraseFile: right }), 'signed');
  assert.equal((await verifyDetachedSignature(`${md}.asc`, md, { publicKey: prot.pub })).ok, true);
});

test('a command signer gets the repomd path as last argument and must produce a verifying repomd.xml.asc', async () => {
  const script = join(tmp, 'sign-repo-8.sh');
  const log = join(tmp, 'sign-args.log');
  writeFileSync(
    script,
    `#!/bin/sh\nset -e\necho "$@" >> '${log}'\nexec gpg --homedir '${key.home}' --batch --yes --armor --detach-sign "$1"\n`,
  );
  chmodSync(script, 0o755);
  const md = newRepomd('command');
  const signer: SignerConfig = { type: 'command', command: [script], publicKey: key.pub };
  assert.equal(await signRepomd(md, signer), 'signed');
  assert.match(readFileSync(log, 'utf8'), /\/repomd\.xml\n$/);
  assert.equal((await verifyDetachedSignature(`${md}.asc`, md, { publicKey: key.pub })).ok, true);
  assert.equal(await signRepomd(md, signer), 'unchanged');
  assert.equal(readFileSync(log, 'utf8').split('\n').filter(Boolean).length, 1);
});

test('a command signer that is missing, signs the wrong thing or cannot be verified is an error', async () => {
  const md = newRepomd('command-bad');
  await assert.rejects(
    signRepomd(md, { type: 'command', command: [join(tmp, 'no-such-script.sh')], publicKey: key.pub }),
    (err: unknown) => err instanceof RelengError && /signing command .*no-such-script\.sh was not found/.test(err.message),
  );
  await assert.rejects(signRepomd(md, { type: 'command', command: ['true'] }), /neither publicKey nor homedir/);
  await assert.rejects(signRepomd(md, { type: 'command', command: ['true'], publicKey: key.pub }), /did not write repomd\.xml\.asc/);

  // Signs another file: the result does not verify and nothing lands in the repo.
  const bad = join(tmp, 'bad-sign.sh');
  writeFileSync(
    bad,
    `#!/bin/sh\necho other > "$1.other"\nexec gpg --homedir '${key.home}' --batch --yes --armor --detach-sign --output "$1.asc" "$1.other"\n`,
  );
  chmodSync(bad, 0o755);
  await assert.rejects(signRepomd(md, { type: 'command', command: [bad], publicKey: key.pub }), /new signature .* does not verify/);
  assert.equal(existsSync(`${md}.asc`), false);

  // Signed with a key other than the configured one.
  const other = join(tmp, 'other-key.sh');
  writeFileSync(other, `#!/bin/sh\nexec gpg --homedir '${otherKey.home}' --batch --yes --armor --detach-sign "$1"\n`);
  chmodSync(other, 0o755);
  await assert.rejects(signRepomd(md, { type: 'command', command: [other], publicKey: key.pub }), /does not verify/);
  assert.equal(existsSync(`${md}.asc`), false);
  // A failing command names itself and its output.
  await assert.rejects(signRepomd(md, { type: 'command', command: ['false'], publicKey: key.pub }), /signing command failed .*false/s);
});
