import assert from 'node:assert/strict';
import { copyFileSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import { parseRepomd, readRepomd, repomdPath } from '../../../tools/nx-releng/src/lib/formats/repomd';
import type { AdvisorySource } from '../../../tools/nx-releng/src/layout/paths';
import {
  applyUpdateinfo,
  deterministicGzip,
  fetchAdvisories,
  updateRepoAdvisories,
  validateUpdateinfo,
} from '../../../tools/nx-releng/src/lib/vetting/updateinfo';
import { type FixtureRpm, buildFixtureRpms } from '../../helpers/rpms';
import { removeDir, tempDir } from '../../helpers/workspace';

function advisory(id: string, pkg: { name: string; version: string; arch: string }, date = '2024-01-01 00:00:00'): string {
  const file = `${pkg.name}-${pkg.version}-1.el8.${pkg.arch}.rpm`;
  return `  <update from="releng@rockylinux.org" status="final" type="security" version="2">
    <id>${id}</id>
    <title>Important: ${pkg.name} security update</title>
    <issued date="${date}"/>
    <updated date="${date}"/>
    <rights>Copyright 2024 Rocky Enterprise Software Foundation</rights>
    <release>Rocky Linux 8</release>
    <pushcount>1</pushcount>
    <severity>Important</severity>
    <summary>An update for ${pkg.name} is now available.</summary>
    <description>Fixes CVE-2024-0001.</description>
    <solution/>
    <references>
      <reference href="https://errata.rockylinux.org/${id}" id="${id}" type="self" title="${id}"/>
    </references>
    <pkglist>
      <collection short="rocky-linux-8-x86-64-baseos-rpms">
        <name>rocky-linux-8-x86-64-baseos-rpms</name>
        <package name="${pkg.name}" arch="${pkg.arch}" epoch="0" version="${pkg.version}" release="1.el8" src="${pkg.name}-${pkg.version}-1.el8.src.rpm">
          <filename>${file}</filename>
        </package>
      </collection>
    </pkglist>
  </update>
`;
}

function updates(...items: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<updates>\n${items.join('')}</updates>\n`;
}

const HELLO_11 = { name: 'releng-hello', version: '1.1', arch: 'x86_64' };
const ONE = updates(advisory('RLSA-2024:0001', HELLO_11));

let tmp: string;
let rpms: FixtureRpm[];
let server: Server;
let baseUrl: string;
const requests: string[] = [];
let reposMade = 0;

/** A fresh repo with releng-base and releng-hello 1.1 for x86_64. */
async function makeRepo(): Promise<string> {
  const repo = join(tmp, `repo-${reposMade++}`);
  mkdirSync(join(repo, 'Packages'), { recursive: true });
  for (const r of rpms.filter((x) => x.category === 'binary' && ['releng-base', 'releng-hello'].includes(x.name) && ['x86_64', 'noarch'].includes(x.arch))) {
    copyFileSync(r.file, join(repo, 'Packages', basename(r.file)));
  }
  await run('createrepo_c', ['--quiet', repo]);
  return repo;
}

/** Names, bytes, mtimes and inodes of everything under repodata/. */
function snapshot(repo: string): Record<string, { data: string; mtimeMs: number; ino: number }> {
  const out: Record<string, { data: string; mtimeMs: number; ino: number }> = {};
  for (const f of readdirSync(join(repo, 'repodata')).sort()) {
    const p = join(repo, 'repodata', f);
    const st = lstatSync(p);
    out[f] = { data: readFileSync(p).toString('base64'), mtimeMs: st.mtimeMs, ino: st.ino };
  }
  return out;
}

/** `dnf updateinfo list` as a client that has releng-hello 1.0 installed (empty rpmdb otherwise). */
async function dnfUpdateinfoList(repo: string): Promise<string> {
  const work = mkdtempSync(join(tmpdir(), 'releng-ui-dnf-'));
  try {
    const root = join(work, 'root');
    mkdirSync(root);
    mkdirSync(join(work, 'repos.d'));
    writeFileSync(join(work, 'dnf.conf'), '[main]\n');
    const old = rpms.find((r) => r.name === 'releng-hello' && r.arch === 'x86_64' && r.category === 'binary');
    const { rpms: v10 } = await buildFixtureRpms({ version: '1.0' });
    const installed = v10.find((r) => r.name === 'releng-hello' && r.arch === 'x86_64' && r.category === 'binary');
    assert.ok(old && installed && installed.version === '1.0');
    await run('rpm', ['--root', root, '-i', '--justdb', '--nodeps', '--noscripts', '--ignorearch', installed.file]);
    const { stdout } = await run(
      'dnf',
      [
        '-q',
        '-y',
        `--config=${join(work, 'dnf.conf')}`,
        `--installroot=${root}`,
        '--disableplugin=*',
        `--setopt=reposdir=${join(work, 'repos.d')}`,
        '--releasever=8',
        '--forcearch=x86_64',
        `--repofrompath=baseos,${repo}`,
        '--repo=baseos',
        'updateinfo',
        'list',
      ],
      { env: { LC_ALL: 'C' } },
    );
    return stdout;
  } finally {
    removeDir(work);
  }
}

before(async () => {
  tmp = tempDir('updateinfo');
  ({ rpms } = await buildFixtureRpms({ version: '1.1' }));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/api\/v3\/updateinfo\/rocky-linux\/8\/([^/]+)\/updateinfo\.xml$/.exec(url.pathname);
    const repo = m ? decodeURIComponent(m[1]!) : '';
    if (repo === 'BaseOS' && url.searchParams.get('arch') === 'x86_64') {
      res.writeHead(200, { 'content-type': 'application/xml' }).end(ONE);
    } else if (repo === 'Broken') {
      res.writeHead(200, { 'content-type': 'application/xml' }).end('<updates><update type="security"><id>RLSA-1</id></updates>');
    } else if (repo === 'Chunked') {
      // No Content-Length: the cap must hold while the body streams in.
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.write(ONE);
      res.end(ONE);
    } else if (repo === 'Moved') {
      res.writeHead(302, { location: 'http://192.0.2.1/updateinfo.xml' }).end();
    } else if (repo === 'MovedHome') {
      res.writeHead(301, { location: `/api/v3/updateinfo/rocky-linux/8/BaseOS/updateinfo.xml?arch=x86_64` }).end();
    } else if (repo === 'HighAvailability') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('database is down');
    } else {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v3/updateinfo`;
});

after(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  removeDir(tmp);
});

test('http source: 200 gives the XML, 404 is a skip, 500 and network errors are errors naming the URL', async () => {
  const src: AdvisorySource = { type: 'http', baseUrl, productSlug: 'rocky-linux' };
  const ok = await fetchAdvisories(src, { repo: 'BaseOS', arch: 'x86_64', major: 8 });
  assert.equal(ok.kind, 'xml');
  assert.equal(ok.kind === 'xml' && ok.xml.toString('utf8'), ONE);
  assert.equal(ok.origin, `${baseUrl}/rocky-linux/8/BaseOS/updateinfo.xml?arch=x86_64`);
  assert.ok(requests.includes('/api/v3/updateinfo/rocky-linux/8/BaseOS/updateinfo.xml?arch=x86_64'));

  const skip = await fetchAdvisories(src, { repo: 'AppStream', arch: 'aarch64', major: 8 });
  assert.equal(skip.kind, 'skip');
  assert.match(skip.kind === 'skip' ? skip.reason : '', /^no advisories for AppStream\/aarch64 \(404 from http:\/\/127\.0\.0\.1:\d+\/.*AppStream\/updateinfo\.xml\?arch=aarch64\)$/);

  await assert.rejects(fetchAdvisories(src, { repo: 'HighAvailability', arch: 'x86_64', major: 8 }), (err: unknown) => {
    assert.ok(err instanceof RelengError);
    assert.match(err.message, /HighAvailability\/updateinfo\.xml\?arch=x86_64 failed: HTTP 500 Internal Server Error: database is down/);
    return true;
  });

  // A port nobody listens on.
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  await assert.rejects(
    fetchAdvisories({ type: 'http', baseUrl: `http://127.0.0.1:${port}/x`, productSlug: 'rocky-linux' }, { repo: 'BaseOS', arch: 'x86_64', major: 8 }),
    (err: unknown) => err instanceof RelengError && err.message.includes(`http://127.0.0.1:${port}/x/rocky-linux/8/BaseOS/updateinfo.xml?arch=x86_64`) && /ECONNREFUSED/.test(err.message),
  );
});

test('the advisory document is capped at maxBytes (Content-Length, a streamed body, a file), naming the limit', async () => {
  const target = { arch: 'x86_64', major: 8 };
  const size = Buffer.byteLength(ONE);
  const fits = await fetchAdvisories({ type: 'http', baseUrl, productSlug: 'rocky-linux', maxBytes: size }, { ...target, repo: 'BaseOS' });
  assert.equal(fits.kind, 'xml');
  const tooLarge = (origin: string) => (err: unknown) =>
    err instanceof RelengError && err.message.includes(origin) && /larger than \d+ bytes .*errata\.maxBytes/.test(err.message);
  await assert.rejects(
    fetchAdvisories({ type: 'http', baseUrl, productSlug: 'rocky-linux', maxBytes: size - 1 }, { ...target, repo: 'BaseOS' }),
    tooLarge('BaseOS/updateinfo.xml?arch=x86_64'),
  );
  const chunked = { type: 'http', baseUrl, productSlug: 'rocky-linux', maxBytes: size + 10 } as const;
  await assert.rejects(fetchAdvisories(chunked, { ...target, repo: 'Chunked' }), tooLarge('Chunked/updateinfo.xml?arch=x86_64'));
  const dir = join(tmp, 'errata-cap');
  mkdirSync(join(dir, 'BaseOS', 'x86_64'), { recursive: true });
  writeFileSync(join(dir, 'BaseOS', 'x86_64', 'updateinfo.xml'), ONE);
  await assert.rejects(fetchAdvisories({ type: 'dir', path: dir, maxBytes: 100 }, { ...target, repo: 'BaseOS' }), tooLarge(join(dir, 'BaseOS/x86_64/updateinfo.xml')));
});

test('advisories travel over https; plain http only from a loopback host, also after a redirect', async () => {
  const target = { repo: 'BaseOS', arch: 'x86_64', major: 8 };
  const refused = (url: string) => (err: unknown) =>
    err instanceof RelengError && err.message.includes(url) && /must be fetched over https .*loopback/.test(err.message);
  // Refused before any connection is tried (192.0.2.0/24 is TEST-NET-1: nothing answers there).
  await assert.rejects(
    fetchAdvisories({ type: 'http', baseUrl: 'http://192.0.2.1/api', productSlug: 'rocky-linux' }, target),
    refused('http://192.0.2.1/api/rocky-linux/8/BaseOS/updateinfo.xml?arch=x86_64'),
  );
  await assert.rejects(fetchAdvisories({ type: 'http', baseUrl: 'ftp://127.0.0.1/api', productSlug: 'rocky-linux' }, target), refused('ftp://127.0.0.1/api'));
  await assert.rejects(
    fetchAdvisories({ type: 'http', baseUrl, productSlug: 'rocky-linux' }, { ...target, repo: 'Moved' }),
    refused('redirects to http://192.0.2.1/updateinfo.xml'),
  );
  const home = await fetchAdvisories({ type: 'http', baseUrl, productSlug: 'rocky-linux' }, { ...target, repo: 'MovedHome' });
  assert.equal(home.kind === 'xml' && home.xml.toString('utf8'), ONE, 'a redirect on the loopback host is followed');
  const local = await fetchAdvisories({ type: 'http', baseUrl: baseUrl.replace('127.0.0.1', 'localhost'), productSlug: 'rocky-linux' }, target);
  assert.equal(local.kind, 'xml');
});

test('a DOCTYPE or entity declaration in advisories is refused, naming the source and line', () => {
  const withDoctype = `<?xml version="1.0"?>\n<!DOCTYPE updates [\n  <!ENTITY a "aaaaaaaaaa">\n]>\n<updates/>\n`;
  assert.throws(() => validateUpdateinfo(withDoctype, 'https://apollo.example/x'), (err: unknown) =>
    err instanceof RelengError && /^https:\/\/apollo\.example\/x: advisory XML carries a <!DOCTYPE> declaration \(line 2\)/.test(err.message));
  assert.throws(() => validateUpdateinfo('<updates>\n<!ENTITY x SYSTEM "file:///etc/passwd">\n</updates>', 'src.xml'), /src\.xml: .*<!ENTITY> declaration \(line 2\)/);
  assert.equal(validateUpdateinfo(ONE, 'ok.xml').advisories.length, 1);
});

test('dir source: <path>/<repo>/<arch>/updateinfo.xml, missing is a skip', async () => {
  const dir = join(tmp, 'errata');
  mkdirSync(join(dir, 'BaseOS', 'x86_64'), { recursive: true });
  writeFileSync(join(dir, 'BaseOS', 'x86_64', 'updateinfo.xml'), ONE);
  const got = await fetchAdvisories({ type: 'dir', path: dir }, { repo: 'BaseOS', arch: 'x86_64', major: 8 });
  assert.equal(got.kind === 'xml' && got.xml.toString('utf8'), ONE);
  const skip = await fetchAdvisories({ type: 'dir', path: dir }, { repo: 'BaseOS', arch: 'aarch64', major: 8 });
  assert.equal(skip.kind, 'skip');
  assert.match(skip.kind === 'skip' ? skip.reason : '', /^no advisories for BaseOS\/aarch64/);
});

test('gzip is deterministic: mtime 0, no file name, same bytes every time', () => {
  const a = deterministicGzip(Buffer.from(ONE));
  const b = deterministicGzip(Buffer.from(ONE));
  assert.deepEqual(a, b);
  assert.equal(a.readUInt32LE(4), 0); // MTIME
  assert.equal(a[3]! & 0x08, 0); // no FNAME
  assert.equal(gunzipSync(a).toString('utf8'), ONE);
});

test('apply: writes <sha256>-updateinfo.xml.gz and the record; dnf shows the advisory; a re-run changes nothing', async () => {
  const repo = await makeRepo();
  const before = await readRepomd(repo);
  const res = await updateRepoAdvisories(repo, { type: 'http', baseUrl, productSlug: 'rocky-linux' }, { repo: 'BaseOS', arch: 'x86_64', major: 8 });
  assert.equal(res.skipped, undefined);
  assert.equal(res.changed, true);
  assert.deepEqual(res.warnings, []);
  assert.equal(res.advisories, 1);

  const after = await readRepomd(repo);
  const rec = after.records.find((r) => r.type === 'updateinfo');
  assert.ok(rec);
  assert.equal(rec.location, res.location);
  const gz = readFileSync(join(repo, rec.location));
  const { createHash } = await import('node:crypto');
  assert.equal(rec.checksum?.value, createHash('sha256').update(gz).digest('hex'));
  assert.equal(rec.location, `repodata/${rec.checksum?.value}-updateinfo.xml.gz`);
  assert.equal(rec.openChecksum?.value, createHash('sha256').update(ONE).digest('hex'));
  assert.equal(rec.size, gz.length);
  assert.equal(rec.openSize, Buffer.byteLength(ONE));
  assert.equal(rec.timestamp, Date.UTC(2024, 0, 1) / 1000); // latest issued/updated date
  assert.equal(gunzipSync(gz).toString('utf8'), ONE);
  // Every other record is exactly as createrepo_c wrote it.
  assert.deepEqual(after.records.filter((r) => r.type !== 'updateinfo'), before.records);

  const listed = await dnfUpdateinfoList(repo);
  assert.match(listed, /^RLSA-2024:0001\s+Important\/Sec\.\s+releng-hello-1\.1-1\.el8\.x86_64$/m);

  const snap = snapshot(repo);
  const again = await applyUpdateinfo(repo, ONE);
  assert.equal(again.changed, false);
  assert.deepEqual(snapshot(repo), snap);
  const viaHttp = await updateRepoAdvisories(repo, { type: 'http', baseUrl, productSlug: 'rocky-linux' }, { repo: 'BaseOS', arch: 'x86_64', major: 8 });
  assert.equal(viaHttp.changed, false);
  assert.deepEqual(snapshot(repo), snap);
});

test('new advisories replace the record and delete the previous file; the same set on another repo gives the same bytes', async () => {
  const repo = await makeRepo();
  const first = await applyUpdateinfo(repo, ONE);
  const two = updates(advisory('RLSA-2024:0001', HELLO_11), advisory('RLBA-2024:0002', { name: 'releng-base', version: '1.0', arch: 'noarch' }, '2024-02-03 04:05:06'));
  const second = await applyUpdateinfo(repo, two);
  assert.equal(second.changed, true);
  assert.equal(second.removed, first.location);
  const files = readdirSync(join(repo, 'repodata')).filter((f) => f.includes('updateinfo'));
  assert.deepEqual(files, [basename(second.location)]);
  const md = await readRepomd(repo);
  assert.equal(md.records.filter((r) => r.type === 'updateinfo').length, 1);
  assert.equal(md.records.find((r) => r.type === 'updateinfo')?.timestamp, Date.UTC(2024, 1, 3, 4, 5, 6) / 1000);
  assert.equal(md.records.at(-1)?.type, 'updateinfo');

  const other = await makeRepo();
  // Same packages, built into a new repo: createrepo_c's own records differ only in timestamps/revision.
  await applyUpdateinfo(other, two);
  const a = (await readRepomd(repo)).records.find((r) => r.type === 'updateinfo');
  const b = (await readRepomd(other)).records.find((r) => r.type === 'updateinfo');
  assert.deepEqual(a, b);
  assert.deepEqual(readFileSync(join(repo, a!.location)), readFileSync(join(other, b!.location)));
  // The record sits where createrepo_c-style indentation expects it.
  assert.match(readFileSync(repomdPath(repo), 'utf8'), /\n {2}<data type="updateinfo">\n {4}<checksum type="sha256">[0-9a-f]{64}<\/checksum>\n/);
});

test('malformed advisories are an error naming the source and the parse error; the repo is left unchanged', async () => {
  const repo = await makeRepo();
  await applyUpdateinfo(repo, ONE);
  const snap = snapshot(repo);
  await assert.rejects(
    updateRepoAdvisories(repo, { type: 'http', baseUrl, productSlug: 'rocky-linux' }, { repo: 'Broken', arch: 'x86_64', major: 8 }),
    (err: unknown) => {
      assert.ok(err instanceof RelengError);
      assert.match(err.message, /^http:\/\/127\.0\.0\.1:\d+\/api\/v3\/updateinfo\/rocky-linux\/8\/Broken\/updateinfo\.xml\?arch=x86_64: malformed XML: Opening and ending tag mismatch: "update" != "updates" at line 1, column \d+$/);
      return true;
    },
  );
  await assert.rejects(applyUpdateinfo(repo, '<wrong/>', { origin: '/errata/BaseOS/x86_64/updateinfo.xml' }), /\/errata\/BaseOS\/x86_64\/updateinfo\.xml: advisory XML root element is <wrong>, expected <updates>/);
  await assert.rejects(applyUpdateinfo(repo, '<updates><update><id>X-1</id></update></updates>'), /advisory X-1 has no type attribute/);
  await assert.rejects(applyUpdateinfo(repo, '<updates><update type="bugfix"/></updates>'), /<update> number 1 has no <id>/);
  assert.deepEqual(snapshot(repo), snap);
  // A 404 skips without touching anything.
  const skipped = await updateRepoAdvisories(repo, { type: 'http', baseUrl, productSlug: 'rocky-linux' }, { repo: 'PowerTools', arch: 'x86_64', major: 8 });
  assert.match(skipped.skipped ?? '', /^no advisories for PowerTools\/x86_64/);
  assert.deepEqual(snapshot(repo), snap);
});

test('an advisory naming a package that is not in the repository warns, and is kept', async () => {
  const repo = await makeRepo();
  const xml = updates(advisory('RLSA-2024:0001', HELLO_11), advisory('RLSA-2024:0009', { name: 'not-here', version: '2.0', arch: 'x86_64' }));
  const res = await applyUpdateinfo(repo, xml);
  assert.equal(res.changed, true);
  assert.deepEqual(res.warnings, ['advisory RLSA-2024:0009 names package(s) not in the repository: not-here-2.0-1.el8.x86_64.rpm']);
  const stored = gunzipSync(readFileSync(join(repo, res.location))).toString('utf8');
  assert.ok(stored.includes('<id>RLSA-2024:0009</id>'));
  assert.equal(parseRepomd(readFileSync(repomdPath(repo), 'utf8'), 'r').records.filter((r) => r.type === 'updateinfo').length, 1);
  // validateUpdateinfo alone reports the same without a repository.
  const v = validateUpdateinfo(xml, 'x', new Set(['releng-hello-1.1-1.el8.x86_64.rpm']));
  assert.deepEqual(
    v.advisories.map((a) => [a.id, a.type]),
    [
      ['RLSA-2024:0001', 'security'],
      ['RLSA-2024:0009', 'security'],
    ],
  );
  assert.equal(v.warnings.length, 1);
});

test('a primary.xml with a DOCTYPE or cut short is an error naming it; the errata are not applied', async () => {
  for (const [name, xml, expected] of [
    ['doctype', '<?xml version="1.0"?>\n<!DOCTYPE metadata [<!ENTITY x "x">]>\n<metadata xmlns="http://linux.duke.edu/metadata/common"/>\n', /: carries a <!DOCTYPE> declaration/],
    ['cut', '<?xml version="1.0"?>\n<metadata xmlns="http://linux.duke.edu/metadata/common"><package type="rpm"><name>releng-hel', /: malformed XML at line 2, column \d+: unclosed tag: name/],
  ] as const) {
    const repo = await makeRepo();
    const primary = join(repo, (await readRepomd(repo)).records.find((r) => r.type === 'primary')!.location);
    writeFileSync(primary, gzipSync(xml));
    const snap = snapshot(repo);
    await assert.rejects(applyUpdateinfo(repo, ONE), (err: unknown) => {
      assert.ok(err instanceof RelengError, String(err));
      assert.ok(err.message.startsWith(`${primary}: `), err.message);
      assert.match(err.message, expected, name);
      return true;
    });
    assert.deepEqual(snapshot(repo), snap, `${name}: repodata unchanged`);
  }
});
