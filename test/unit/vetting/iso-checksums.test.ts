import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkIsoDir, checkIsos, compareChecksumFile, parseChecksumFile } from '../../../tools/nx-releng/src/lib/vetting/iso-checksums';
import { checksumEntry } from '../../../tools/nx-releng/src/lib/staging/minor-release';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const entry = (name: string, content: string) => checksumEntry(name, { size: Buffer.byteLength(content), sha256: sha(content) });

describe('parseChecksumFile', () => {
  test('reads the entries minor-release writes: size comment, then the sha256sum --tag line', () => {
    const text = entry('a.iso', 'AAA') + entry('b.iso', 'BB');
    assert.deepEqual(parseChecksumFile(text), {
      entries: [
        { name: 'a.iso', size: 3, sha256: sha('AAA'), line: 2 },
        { name: 'b.iso', size: 2, sha256: sha('BB'), line: 4 },
      ],
      problems: [],
    });
    assert.deepEqual(parseChecksumFile(''), { entries: [], problems: [] });
  });

  test('names the line of every malformed, orphaned, mismatched or repeated entry', () => {
    const good = entry('a.iso', 'AAA');
    const text = [
      good.trimEnd(),
      `SHA256 (b.iso) = ${sha('x')}`, // no size comment before it
      '# c.iso: 5 bytes', // comment, then another comment
      '# d.iso: 5 bytes',
      `SHA256 (e.iso) = ${sha('x')}`, // follows d's comment
      'MD5 (f.iso) = 0123', // another format
      `# a.iso: 3 bytes`,
      `SHA256 (a.iso) = ${sha('AAA')}`, // again
      `# g.iso: 1 bytes`,
      `SHA256 (g.iso) = ${sha('x').toUpperCase()}`, // sha256sum writes lower case
      '# h.iso: 1 bytes', // dangling at the end
    ].join('\n');
    const { entries, problems } = parseChecksumFile(text);
    assert.deepEqual(entries.map((e) => e.name), ['a.iso']);
    assert.deepEqual(problems, [
      'line 12: no newline at the end of the file',
      `line 3: SHA256 line of b.iso has no '# b.iso: <size> bytes' line before it`,
      'line 4: the size comment of c.iso is not followed by its SHA256 line',
      'line 6: SHA256 line of e.iso follows the size comment of d.iso',
      `line 7: 'MD5 (f.iso) = 0123' is neither '# <name>: <size> bytes' nor 'SHA256 (<name>) = <64 hex digits>'`,
      'line 9: a.iso is listed again (first on line 2)',
      `line 11: 'SHA256 (g.iso) = ${sha('x').toUpperCase()}' is neither '# <name>: <size> bytes' nor 'SHA256 (<name>) = <64 hex digits>'`,
      'line 10: the size comment of g.iso is not followed by its SHA256 line',
      'line 12: the size comment of h.iso is not followed by its SHA256 line',
    ]);
  });
});

describe('compareChecksumFile', () => {
  const combined = parseChecksumFile(entry('a.iso', 'AAA')).entries[0];
  test('agrees when the .CHECKSUM holds exactly the same entry', () => {
    assert.deepEqual(compareChecksumFile('a.iso', parseChecksumFile(entry('a.iso', 'AAA')), combined), []);
  });
  test('says how it disagrees', () => {
    assert.deepEqual(compareChecksumFile('a.iso', parseChecksumFile(entry('a.iso', 'AAB')), combined), [
      `a.iso.CHECKSUM says 3 bytes sha256 ${sha('AAB')}, CHECKSUM says 3 bytes sha256 ${sha('AAA')}`,
    ]);
    assert.deepEqual(compareChecksumFile('a.iso', parseChecksumFile(entry('a.iso', 'AAA') + entry('b.iso', 'B')), combined), [
      'a.iso.CHECKSUM must hold exactly the entry of a.iso; it lists a.iso, b.iso',
    ]);
    assert.deepEqual(compareChecksumFile('a.iso', parseChecksumFile(''), combined), ['a.iso.CHECKSUM must hold exactly the entry of a.iso; it lists nothing']);
    assert.deepEqual(compareChecksumFile('a.iso', parseChecksumFile(entry('a.iso', 'AAA')), undefined), ['a.iso.CHECKSUM exists but CHECKSUM has no entry for a.iso']);
    assert.deepEqual(compareChecksumFile('a.iso', parseChecksumFile('junk\n'), combined), [
      `a.iso.CHECKSUM: line 1: 'junk' is neither '# <name>: <size> bytes' nor 'SHA256 (<name>) = <64 hex digits>'`,
    ]);
  });
});

describe('checkIsoDir / checkIsos on real files', () => {
  const root = mkdtempSync(join(tmpdir(), 'iso-checksums-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  /** An isos/<arch> dir as minor-release builds it: two ISOs, a latest link, manifests, .CHECKSUMs, CHECKSUM. */
  function build(arch: string): string {
    const dir = join(root, 'isos', arch);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = { [`R-${arch}-boot.iso`]: 'boot image', [`R-${arch}-dvd1.iso`]: 'dvd image, longer' };
    for (const [name, content] of Object.entries(files)) {
      writeFileSync(join(dir, name), content);
      writeFileSync(join(dir, `${name}.manifest`), '.treeinfo\n');
    }
    symlinkSync(`R-${arch}-dvd1.iso`, join(dir, `R-latest-${arch}-dvd.iso`));
    const all = { ...files, [`R-latest-${arch}-dvd.iso`]: files[`R-${arch}-dvd1.iso`] as string };
    const names = Object.keys(all).sort();
    for (const n of names) writeFileSync(join(dir, `${n}.CHECKSUM`), entry(n, all[n] as string));
    writeFileSync(join(dir, 'CHECKSUM'), names.map((n) => entry(n, all[n] as string)).join(''));
    return dir;
  }
  const failures = (reports: Array<{ repo: string; ok: boolean; problems: string[] }>) =>
    Object.fromEntries(reports.filter((r) => !r.ok).map((r) => [r.repo, r.problems]));

  test('a dir as the minor release makes it passes: one report per ISO and link, and CHECKSUM', async () => {
    build('x86_64');
    const reports = await checkIsoDir(root, 'isos/x86_64');
    assert.deepEqual(
      reports.map((r) => [r.repo, r.ok]),
      [
        ['isos/x86_64/R-latest-x86_64-dvd.iso', true],
        ['isos/x86_64/R-x86_64-boot.iso', true],
        ['isos/x86_64/R-x86_64-dvd1.iso', true],
        ['isos/x86_64/CHECKSUM', true],
      ],
    );
  });

  test('an ISO changed after its CHECKSUM was written fails under its own name and its latest link', async () => {
    const dir = build('x86_64');
    writeFileSync(join(dir, 'R-x86_64-dvd1.iso'), 'dvd image, LONGER'); // same size, other bytes
    const got = failures(await checkIsoDir(root, 'isos/x86_64'));
    const now = sha('dvd image, LONGER');
    assert.deepEqual(got, {
      'isos/x86_64/R-latest-x86_64-dvd.iso': [`CHECKSUM line 2 says sha256 ${sha('dvd image, longer')}, the file has ${now}`],
      'isos/x86_64/R-x86_64-dvd1.iso': [`CHECKSUM line 6 says sha256 ${sha('dvd image, longer')}, the file has ${now}`],
    });
    writeFileSync(join(dir, 'R-x86_64-boot.iso'), 'boot image!');
    assert.deepEqual(failures(await checkIsoDir(root, 'isos/x86_64'))['isos/x86_64/R-x86_64-boot.iso'], ['CHECKSUM says 10 bytes, the file has 11']);
  });

  test('links, missing entries and files, stray and disagreeing .CHECKSUM files are each named', async () => {
    const dir = build('x86_64');
    symlinkSync('../elsewhere.iso', join(dir, 'R-latest-x86_64-boot.iso'));
    symlinkSync('R-x86_64-dvd1.iso.manifest', join(dir, 'R-latest-x86_64-minimal.iso'));
    writeFileSync(join(dir, 'R-x86_64-extra.iso'), 'not listed');
    unlinkSync(join(dir, 'R-x86_64-boot.iso.manifest'));
    writeFileSync(join(dir, 'R-x86_64-dvd1.iso.CHECKSUM'), entry('R-x86_64-dvd1.iso', 'something else'));
    writeFileSync(join(dir, 'gone.iso.CHECKSUM'), entry('gone.iso', 'x'));
    writeFileSync(join(dir, 'CHECKSUM'), entry('gone.iso', 'x') + readFileSync(join(dir, 'CHECKSUM'), 'utf8'));
    const got = failures(await checkIsoDir(root, 'isos/x86_64'));
    const x = (n: string) => `isos/x86_64/${n}`;
    assert.deepEqual(Object.keys(got).sort(), [
      x('R-latest-x86_64-boot.iso'),
      x('R-latest-x86_64-minimal.iso'),
      x('R-x86_64-boot.iso'),
      x('R-x86_64-dvd1.iso'),
      x('R-x86_64-extra.iso'),
      x('gone.iso'),
      x('gone.iso.CHECKSUM'),
    ]);
    assert.deepEqual(got[x('R-latest-x86_64-boot.iso')], [
      `link to '../elsewhere.iso', which is not an ISO file in isos/x86_64`,
      'not listed in CHECKSUM',
      'R-latest-x86_64-boot.iso.CHECKSUM is missing',
    ]);
    assert.equal(got[x('R-latest-x86_64-minimal.iso')]?.[0], `link to 'R-x86_64-dvd1.iso.manifest', which is not an ISO file in isos/x86_64`);
    assert.deepEqual(got[x('R-x86_64-boot.iso')], ['R-x86_64-boot.iso.manifest is missing']);
    assert.deepEqual(got[x('R-x86_64-dvd1.iso')], [
      `R-x86_64-dvd1.iso.CHECKSUM says 14 bytes sha256 ${sha('something else')}, CHECKSUM says 17 bytes sha256 ${sha('dvd image, longer')}`,
    ]);
    assert.deepEqual(got[x('R-x86_64-extra.iso')], ['not listed in CHECKSUM', 'R-x86_64-extra.iso.CHECKSUM is missing', 'R-x86_64-extra.iso.manifest is missing']);
    assert.deepEqual(got[x('gone.iso')], ['CHECKSUM line 2 names gone.iso, which is missing in isos/x86_64']);
    assert.deepEqual(got[x('gone.iso.CHECKSUM')], ['checksum file of gone.iso, which is not an ISO in isos/x86_64']);

    rmSync(join(dir, 'CHECKSUM'));
    assert.deepEqual(failures(await checkIsoDir(root, 'isos/x86_64'))[x('CHECKSUM')], [`${join(dir, 'CHECKSUM')} is missing`]);
  });

  test('checkIsos: every configured arch must have its dir, and isos/ holds nothing but arch dirs', async () => {
    rmSync(join(root, 'isos'), { recursive: true, force: true });
    build('x86_64');
    build('s390x');
    writeFileSync(join(root, 'isos', 'README'), 'hi');
    const reports = await checkIsos(root, 'isos', ['x86_64', 'aarch64']);
    assert.deepEqual(failures(reports), {
      'isos/README': ['not an arch directory (isos/<arch>/ holds the ISOs)'],
      'isos/aarch64': ['missing: aarch64 is an arch of the release'],
    });
    // An extra arch dir is checked like the others, not skipped.
    assert.ok(reports.some((r) => r.repo === 'isos/s390x/R-s390x-dvd1.iso' && r.ok));
    assert.deepEqual(failures(await checkIsos(join(root, 'nowhere'), 'isos', ['x86_64'])), {
      isos: [`${join(root, 'nowhere', 'isos')} is missing or not a directory`],
    });
  });
});
