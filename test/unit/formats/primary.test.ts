import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, truncateSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import { metadataChunks, readMetadataFile, readRepomd } from '../../../tools/nx-releng/src/lib/formats/repomd';
import {
  COMMON_NS,
  MAX_TOKEN_CHARS,
  type PrimaryPackage,
  primaryFilePackages,
  primaryPackages,
  primaryPath,
} from '../../../tools/nx-releng/src/lib/formats/primary';
import { buildFixtureRpms } from '../../helpers/rpms';
import { removeDir, tempDir } from '../../helpers/workspace';

let tmp: string;
let repo: string;
/** primary.xml of a createrepo_c repository, decompressed. */
let primaryXml: string;

before(async () => {
  tmp = tempDir('primary');
  repo = join(tmp, 'repo');
  mkdirSync(join(repo, 'Packages'), { recursive: true });
  const { rpms } = await buildFixtureRpms();
  for (const r of rpms.filter((x) => x.category === 'binary' && x.arch !== 'aarch64')) copyFileSync(r.file, join(repo, 'Packages', basename(r.file)));
  await run('createrepo_c', ['--quiet', '--no-database', repo]);
  primaryXml = await readMetadataFile(primaryPath(repo, await readRepomd(repo)));
});

after(() => removeDir(tmp));

async function collect(it: AsyncIterable<PrimaryPackage>): Promise<PrimaryPackage[]> {
  const out: PrimaryPackage[] = [];
  for await (const p of it) out.push(p);
  return out;
}

/** Runs the parser over a file; returns the packages it delivered before it failed, and the error. */
async function untilError(path: string, opts = {}): Promise<{ delivered: number; err: RelengError }> {
  let delivered = 0;
  try {
    for await (const _ of primaryFilePackages(path, opts)) delivered++;
  } catch (err) {
    assert.ok(err instanceof RelengError, `not a RelengError: ${String(err)}`);
    return { delivered, err };
  }
  assert.fail(`${path} was read without an error (${delivered} packages)`);
}

const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="${COMMON_NS}" xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="N">\n`;
/** A package element as createrepo_c writes it (a shortened format section). */
function pkgXml(i: number, description = 'a package'): string {
  return (
    `<package type="rpm">\n  <name>p${i}</name>\n  <arch>x86_64</arch>\n  <version epoch="0" ver="1.${i}" rel="1.el8"/>\n` +
    `  <checksum type="sha256" pkgid="YES">${String(i).padStart(64, '0')}</checksum>\n  <summary>p</summary>\n` +
    `  <description>${description}</description>\n  <size package="${1000 + i}" installed="1" archive="1"/>\n` +
    `  <location href="Packages/p${i}.rpm"/>\n  <format>\n    <rpm:license>MIT</rpm:license>\n  </format>\n</package>\n`
  );
}
const many = (n: number) => Array.from({ length: n }, (_, i) => pkgXml(i)).join('');

test('reads createrepo_c primary metadata one package at a time, the same through gzip, xz, zstd, bzip2 and plain', async () => {
  const fromRepo = await collect(primaryPackages(repo));
  assert.ok(fromRepo.length >= 3, `${fromRepo.length} packages`);
  const hello = fromRepo.find((p) => p.name === 'releng-hello');
  assert.ok(hello, 'releng-hello is listed');
  assert.equal(hello.epoch, '0');
  assert.equal(hello.version, '1.0');
  assert.match(hello.release, /\.el8$/);
  assert.match(hello.href, /^Packages\/releng-hello-1\.0-.*\.rpm$/);
  assert.equal(hello.checksum?.type, 'sha256');
  assert.match(hello.checksum?.value ?? '', /^[0-9a-f]{64}$/);
  assert.equal(hello.size, statSync(join(repo, hello.href)).size);
  for (const p of fromRepo) assert.equal(p.locationBase, undefined);

  const plain = join(tmp, 'primary.xml');
  writeFileSync(plain, primaryXml);
  assert.deepEqual(await collect(primaryFilePackages(plain)), fromRepo);
  for (const [tool, ext] of [['xz', 'xz'], ['zstd', 'zst'], ['bzip2', 'bz2']] as const) {
    await run(tool, ['-k', '-f', '-q', plain]);
    assert.deepEqual(await collect(primaryFilePackages(`${plain}.${ext}`)), fromRepo, `.${ext}`);
  }
});

test('packages come out as the file is read, not after: a break late in a large file fails after earlier packages were delivered', async () => {
  const file = join(tmp, 'broken-late.xml.gz');
  // ~9 MB of XML: a few hundred chunks; the break is in the last package's element.
  writeFileSync(file, gzipSync(`${HEAD}${many(20_000)}<package type="rpm"><name>late</nam></package>\n</metadata>\n`));
  const { delivered, err } = await untilError(file);
  // Handed over chunk by chunk: all but those parsed from the chunk that holds the break.
  assert.ok(delivered >= 19_000 && delivered < 20_000, `${delivered} packages delivered before the error`);
  const line = HEAD.split('\n').length - 1 + many(20_000).split('\n').length;
  assert.match(err.message, new RegExp(`^${file.replace(/[.]/g, '\\.')}: malformed XML at line ${line}, column \\d+: unexpected close tag`));
});

test('a truncated gzip, xz or zstd file fails naming the file; so does a file cut inside the XML', async () => {
  const gz = join(tmp, 'cut.xml.gz');
  const whole = gzipSync(`${HEAD}${many(2000)}</metadata>\n`);
  writeFileSync(gz, whole.subarray(0, Math.floor(whole.length / 2)));
  const g = await untilError(gz);
  assert.match(g.err.message, new RegExp(`^cannot read ${gz.replace(/[.]/g, '\\.')}: unexpected end of file`));

  for (const [tool, ext, says] of [['xz', 'xz', 'Unexpected end of input'], ['zstd', 'zst', 'premature end']] as const) {
    const plain = join(tmp, `cut-${tool}.xml`);
    writeFileSync(plain, `${HEAD}${many(2000)}</metadata>\n`);
    await run(tool, ['-f', '-q', plain]);
    truncateSync(`${plain}.${ext}`, Math.floor(statSync(`${plain}.${ext}`).size / 2));
    const t = await untilError(`${plain}.${ext}`);
    const file = `${plain}.${ext}`.replace(/[.]/g, '\\.');
    assert.match(t.err.message, new RegExp(`^cannot read ${file}: ${tool} -dc -- ${file} failed with exit code \\d+:\\n[\\s\\S]*${says}`), tool);
  }

  const xml = join(tmp, 'cut.xml');
  writeFileSync(xml, `${HEAD}${many(3)}<package type="rpm"><name>p`);
  const x = await untilError(xml);
  assert.equal(x.delivered, 3);
  assert.match(x.err.message, new RegExp(`^${xml.replace(/[.]/g, '\\.')}: malformed XML at line \\d+, column \\d+: unclosed tag: name`));
});

test('a DOCTYPE (with or without entities) and an undeclared entity are refused, naming the file and line', async () => {
  const dtd = join(tmp, 'doctype.xml');
  writeFileSync(
    dtd,
    `<?xml version="1.0"?>\n<!DOCTYPE metadata [\n<!ENTITY a "aaaaaaaaaa">\n<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">\n]>\n` +
      `<metadata xmlns="${COMMON_NS}" packages="1">\n${pkgXml(1, '&b;&b;&b;')}</metadata>\n`,
  );
  const d = await untilError(dtd);
  assert.equal(d.delivered, 0);
  assert.match(d.err.message, new RegExp(`^${dtd.replace(/[.]/g, '\\.')}: carries a <!DOCTYPE> declaration; primary metadata has none, refusing it .*\\(at line 5, column \\d+\\)$`));

  const bare = join(tmp, 'doctype-bare.xml.gz');
  writeFileSync(bare, gzipSync(`<?xml version="1.0"?>\n<!DOCTYPE metadata SYSTEM "http://example.invalid/primary.dtd">\n${HEAD.split('\n')[1]}\n</metadata>\n`));
  assert.match((await untilError(bare)).err.message, /carries a <!DOCTYPE> declaration/);

  const entity = join(tmp, 'entity.xml');
  writeFileSync(entity, `${HEAD}${pkgXml(1, 'see &xxe;')}</metadata>\n`);
  assert.match((await untilError(entity)).err.message, new RegExp(`^${entity.replace(/[.]/g, '\\.')}: malformed XML at line 9, column \\d+: undefined entity`));
});

test('a root other than <metadata> in the common namespace is refused', async () => {
  const cases: [string, RegExp][] = [
    [`<?xml version="1.0"?>\n<metadata packages="0"></metadata>\n`, /root element is <metadata> in namespace '', expected <metadata> in http:\/\/linux\.duke\.edu\/metadata\/common/],
    [`<?xml version="1.0"?>\n<repomd xmlns="${COMMON_NS}"></repomd>\n`, /root element is <repomd> in namespace 'http:\/\/linux\.duke\.edu\/metadata\/common', expected <metadata>/],
    [`<?xml version="1.0"?>\n<x:metadata xmlns:x="urn:other"></x:metadata>\n`, /root element is <x:metadata> in namespace 'urn:other'/],
    [`<?xml version="1.0"?>\n<metadata xmlns="${COMMON_NS}"><rpm:x/></metadata>\n`, /malformed XML at line 2, column \d+: unbound namespace prefix: "rpm"/],
    ['', /malformed XML at line 1, column 0: document must contain a root element/],
    [`${HEAD}</metadata>\n<metadata xmlns="${COMMON_NS}"/>\n`, /malformed XML at line 4, column \d+: text data outside of root node|more than one root|document/],
  ];
  for (const [i, [xml, expected]] of cases.entries()) {
    const file = join(tmp, `root-${i}.xml`);
    writeFileSync(file, xml);
    const { err } = await untilError(file);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.match(err.message, expected);
  }
});

test('one huge text node, attribute or comment is refused once it passes the cap, whatever element holds it', async () => {
  const huge = 'x'.repeat(MAX_TOKEN_CHARS + 100_000);
  const cases: [string, string, RegExp][] = [
    ['description', `${HEAD}${pkgXml(1)}${pkgXml(2, huge)}</metadata>\n`, new RegExp(`a single text node, attribute, comment or tag is longer than ${MAX_TOKEN_CHARS} characters \\(at line 22, column \\d+\\)$`)],
    ['name', `${HEAD}${pkgXml(1).replace('<name>p1</name>', `<name>${huge}</name>`)}</metadata>\n`, /longer than 1048576 characters \(at line 4, column \d+\)$/],
    ['attribute', `${HEAD}${pkgXml(1).replace('href="Packages/p1.rpm"', `href="${huge}"`)}</metadata>\n`, /longer than 1048576 characters \(at line 11, column \d+\)$/],
    ['comment', `${HEAD}<!-- ${huge} -->\n${pkgXml(1)}</metadata>\n`, /longer than 1048576 characters \(at line 3, column \d+\)$/],
  ];
  for (const [what, xml, expected] of cases) {
    const file = join(tmp, `huge-${what}.xml.gz`);
    writeFileSync(file, gzipSync(xml));
    const { delivered, err } = await untilError(file);
    assert.ok(err.message.startsWith(`${file}: `), err.message);
    assert.match(err.message, expected, what);
    assert.ok(delivered <= 1, what);
  }
  // Under the cap it is only text.
  const long = join(tmp, 'long-description.xml.gz');
  writeFileSync(long, gzipSync(`${HEAD}${pkgXml(1, 'y'.repeat(MAX_TOKEN_CHARS - 10))}</metadata>\n`));
  assert.equal((await collect(primaryFilePackages(long))).length, 1);
  // The cap is an option. A field the reader keeps is held to it exactly; any other token once it spans more than the
  // cap between two reads (a read is at most 64 KiB).
  const small = join(tmp, 'small-cap.xml');
  writeFileSync(small, `${HEAD}${pkgXml(1).replace('<name>p1</name>', `<name>${'z'.repeat(101)}</name>`)}</metadata>\n`);
  assert.match((await untilError(small, { maxTokenChars: 100 })).err.message, /<name> is longer than 100 characters \(at line 4, column \d+\)$/);
  const big = join(tmp, 'small-cap-description.xml');
  writeFileSync(big, `${HEAD}${pkgXml(1, 'z'.repeat(300_000))}</metadata>\n`);
  assert.match((await untilError(big, { maxTokenChars: 100_000 })).err.message, /a single text node, attribute, comment or tag is longer than 100000 characters/);
});

test('a reader that stops early stops the decompressor, and a missing file is an error naming it', async () => {
  const plain = join(tmp, 'early.xml');
  writeFileSync(plain, `${HEAD}${many(20_000)}</metadata>\n`);
  await run('xz', ['-k', '-f', '-q', '-0', plain]);
  let seen = 0;
  for await (const _ of primaryFilePackages(`${plain}.xz`)) if (++seen === 2) break;
  assert.equal(seen, 2);
  const children = await run('pgrep', ['-f', `xz -dc -- ${plain}.xz`], { allowFailure: true });
  assert.equal(children.stdout.trim(), '', 'no xz left running');

  // A decompressor that is not installed names itself, its package and the file.
  const noPath = process.env.PATH;
  process.env.PATH = join(tmp, 'no-tools');
  try {
    const { err } = await untilError(`${plain}.xz`);
    assert.match(err.message, new RegExp(`^cannot read ${plain.replace(/[.]/g, '\\.')}\\.xz: required tool 'xz' was not found on PATH: install it \\(Debian: apt-get install xz-utils; EL: dnf install xz\\)$`));
  } finally {
    process.env.PATH = noPath;
  }

  const missing = join(tmp, 'nope-primary.xml.gz');
  await assert.rejects(collect(primaryFilePackages(missing)), (err: unknown) => {
    assert.ok(err instanceof RelengError);
    assert.match(err.message, new RegExp(`^cannot read ${missing.replace(/[.]/g, '\\.')}: ENOENT`));
    return true;
  });
  assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('nope')), []);
  // metadataChunks hands out text in pieces, never the whole file at once.
  let pieces = 0;
  for await (const _ of metadataChunks(`${plain}.xz`)) pieces++;
  assert.ok(pieces > 10, `${pieces} pieces`);
  assert.equal(readFileSync(plain, 'utf8').length > 1_000_000, true);
});
