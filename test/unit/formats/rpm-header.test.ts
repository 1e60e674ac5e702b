import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import {
  nevra,
  parseSigkey,
  readRpmHeaders,
  rpmCategory,
  srpmNevra,
  type RpmHeader,
} from '../../../tools/nx-releng/src/lib/formats/rpm-header';
import { buildFixtureRpms, type FixtureRpm } from '../../helpers/rpms';

describe('readRpmHeaders', () => {
  let rpms: FixtureRpm[];
  let headers: RpmHeader[];
  let dir: string;
  const byFile = (name: string) => {
    const h = headers.find((x) => basename(x.file) === name);
    assert.ok(h, `no header for ${name}`);
    return h;
  };

  before(async () => {
    rpms = (await buildFixtureRpms()).rpms;
    headers = await readRpmHeaders(rpms.map((r) => r.file));
    dir = await mkdtemp(join(tmpdir(), 'releng-rpmhdr-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('one header per file, in input order', () => {
    assert.equal(headers.length, rpms.length);
    assert.deepEqual(
      headers.map((h) => h.file),
      rpms.map((r) => r.file),
    );
  });

  test('binary RPM fields', () => {
    assert.deepEqual(byFile('releng-hello-1.0-1.el8.x86_64.rpm'), {
      file: rpms.find((r) => basename(r.file) === 'releng-hello-1.0-1.el8.x86_64.rpm')!.file,
      name: 'releng-hello',
      epoch: 0,
      version: '1.0',
      release: '1.el8',
      arch: 'x86_64',
      sourcerpm: 'releng-hello-1.0-1.el8.src.rpm',
      sigkey: null,
      category: 'binary',
    });
    assert.equal(byFile('releng-base-1.0-1.el8.noarch.rpm').arch, 'noarch');
  });

  test('source RPMs report arch src (rpm itself says the build arch) and no sourcerpm', () => {
    for (const h of headers.filter((x) => x.file.endsWith('.src.rpm'))) {
      assert.equal(h.arch, 'src', h.file);
      assert.equal(h.sourcerpm, '', h.file);
      assert.equal(h.category, 'source', h.file);
    }
    assert.ok(headers.filter((h) => h.category === 'source').length >= 7);
  });

  test('debuginfo and debugsource are category debug', () => {
    assert.equal(byFile('releng-hello-debuginfo-1.0-1.el8.aarch64.rpm').category, 'debug');
    assert.equal(byFile('releng-hello-debugsource-1.0-1.el8.x86_64.rpm').category, 'debug');
    assert.equal(byFile('releng-hello-debugsource-1.0-1.el8.x86_64.rpm').arch, 'x86_64');
    assert.deepEqual(rpmCategory('foo-debuginfo-common', false), 'binary');
    assert.deepEqual(rpmCategory('foo-debuginfo', true), 'source');
  });

  test('NEVRA helpers use productmd form with explicit epoch', () => {
    const h = byFile('releng-hello-debuginfo-1.0-1.el8.aarch64.rpm');
    assert.equal(nevra(h), 'releng-hello-debuginfo-0:1.0-1.el8.aarch64');
    assert.equal(srpmNevra(h), 'releng-hello-0:1.0-1.el8.src');
    assert.equal(srpmNevra(byFile('releng-hello-1.0-1.el8.src.rpm')), 'releng-hello-0:1.0-1.el8.src');
  });

  test('batches of more than 500 files keep the order', async () => {
    const files = Array.from({ length: 1100 }, (_, i) => rpms[i % rpms.length]!.file);
    const many = await readRpmHeaders(files);
    assert.equal(many.length, 1100);
    assert.deepEqual(
      many.map((h) => h.file),
      files,
    );
    assert.equal(many[1099]!.name, headers[1099 % rpms.length]!.name);
  });

  test('an unreadable file fails with a RelengError naming rpm and the file', async () => {
    const bad = join(dir, 'not-an-rpm.rpm');
    await writeFile(bad, 'hello');
    await assert.rejects(readRpmHeaders([rpms[0]!.file, bad]), (err: Error) => {
      assert.equal(err.name, 'RelengError');
      assert.match(err.message, /rpm/);
      assert.match(err.message, /not-an-rpm\.rpm/);
      return true;
    });
    assert.deepEqual(await readRpmHeaders([]), []);
  });

  test('parseSigkey', () => {
    assert.equal(parseSigkey('RSA/SHA256, Fri 12 Apr 2024 10:00:00 AM UTC, Key ID 15AF5DAC6D745A60'), '6d745a60');
    assert.equal(parseSigkey('garbage'), null);
  });

  test('a really signed RPM reports its short key id', async () => {
    const home = join(dir, 'gnupg');
    const env = { GNUPGHOME: home };
    await run('mkdir', ['-m', '700', home]);
    try {
      await run(
        'gpg',
        ['--batch', '--pinentry-mode', 'loopback', '--passphrase', '', '--quick-gen-key', 'Releng Test <releng@example.invalid>', 'rsa2048', 'sign', 'never'],
        { env },
      );
      const { stdout } = await run('gpg', ['--batch', '--with-colons', '--list-keys'], { env });
      const keyid = /^pub:[^:]*:[^:]*:[^:]*:([0-9A-F]{16}):/m.exec(stdout)?.[1];
      assert.ok(keyid, stdout);
      const signed = join(dir, 'releng-base-1.0-1.el8.noarch.rpm');
      await copyFile(byFile('releng-base-1.0-1.el8.noarch.rpm').file, signed);
      await run(
        'rpmsign',
        ['--addsign', '--define', '_gpg_name Releng Test', '--define', `_gpg_path ${home}`, '--define', '__gpg /usr/bin/gpg', signed],
        { env, input: '' },
      );
      const [h] = await readRpmHeaders([signed]);
      assert.equal(h!.sigkey, keyid.slice(-8).toLowerCase());
    } finally {
      await run('gpgconf', ['--kill', 'gpg-agent'], { env, allowFailure: true });
    }
  });
});
