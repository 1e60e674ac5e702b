import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { RelengError } from '../../../tools/nx-releng/src/errors';
import { run } from '../../../tools/nx-releng/src/lib/tools/exec';
import {
  fileDigest,
  hashAlgorithm,
  parseRepomd,
  readRepomd,
  repomdFiles,
  repomdPath,
  resolveInRepo,
  setRepomdRecord,
  writeFileAtomic,
  writeRepomdIfChanged,
} from '../../../tools/nx-releng/src/lib/formats/repomd';
import { primaryPackages } from '../../../tools/nx-releng/src/lib/formats/primary';
import { buildFixtureRpms } from '../../helpers/rpms';
import { removeDir, tempDir } from '../../helpers/workspace';

let tmp: string;
let repo: string;
let original: string;

before(async () => {
  tmp = tempDir('repomd');
  repo = join(tmp, 'repo');
  mkdirSync(join(repo, 'Packages'), { recursive: true });
  const { rpms } = await buildFixtureRpms();
  for (const r of rpms.filter((x) => x.category === 'binary' && (x.arch === 'x86_64' || x.arch === 'noarch'))) {
    copyFileSync(r.file, join(repo, 'Packages', basename(r.file)));
  }
  await run('createrepo_c', ['--quiet', repo]);
  original = readFileSync(repomdPath(repo), 'utf8');
});

after(() => removeDir(tmp));

test('parses createrepo_c repomd.xml into records whose files match their checksums and sizes', async () => {
  const md = await readRepomd(repo);
  assert.deepEqual(
    md.records.map((r) => r.type),
    ['primary', 'filelists', 'other', 'primary_db', 'filelists_db', 'other_db'],
  );
  assert.match(md.revision ?? '', /^\d+$/);
  const primary = md.records[0]!;
  assert.equal(primary.checksum?.type, 'sha256');
  assert.match(primary.location, /^repodata\/[0-9a-f]{64}-primary\.xml\.gz$/);
  assert.ok(primary.size && primary.openSize && primary.timestamp);
  assert.equal(md.records[3]?.databaseVersion, 10);
  for (const f of repomdFiles(repo, md)) {
    assert.ok(f.path, f.href);
    assert.equal(statSync(f.path).size, f.size);
    assert.equal(await fileDigest(f.path, hashAlgorithm(f.checksum!.type)!), f.checksum!.value);
  }
  const pkgs = [];
  for await (const p of primaryPackages(repo, md)) pkgs.push(p);
  assert.ok(pkgs.some((p) => p.name === 'releng-hello' && p.arch === 'x86_64' && p.version === '1.0'));
  for (const p of pkgs) {
    assert.match(p.href, /^Packages\/.+\.rpm$/);
    assert.equal(p.checksum?.type, 'sha256');
    assert.equal(statSync(join(repo, p.href)).size, p.size);
  }
});

test('replacing a record with itself gives back the same bytes', () => {
  const md = parseRepomd(original, 'repomd.xml');
  for (const rec of md.records) assert.equal(setRepomdRecord(original, rec), original);
});

test('inserting a record gives exactly what modifyrepo_c writes, other records untouched', async () => {
  const copy = join(tmp, 'modifyrepo');
  mkdirSync(join(copy, 'repodata'), { recursive: true });
  for (const f of readdirSync(join(repo, 'repodata'))) copyFileSync(join(repo, 'repodata', f), join(copy, 'repodata', f));
  const ui = join(tmp, 'updateinfo.xml');
  writeFileSync(ui, '<?xml version="1.0" encoding="UTF-8"?>\n<updates/>\n');
  await run('modifyrepo_c', ['--mdtype=updateinfo', ui, join(copy, 'repodata')]);
  const modified = readFileSync(repomdPath(copy), 'utf8');
  const rec = parseRepomd(modified, 'm').records.find((r) => r.type === 'updateinfo');
  assert.ok(rec);
  const ours = setRepomdRecord(original, rec);
  assert.equal(ours, modified);
  assert.ok(ours.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<repomd xmlns="http://linux.duke.edu/metadata/repo" xmlns:rpm="http://linux.duke.edu/metadata/rpm">'));
});

test('replacing one record keeps its position and leaves every other record as it was', () => {
  const md = parseRepomd(original, 'repomd.xml');
  const other = md.records.find((r) => r.type === 'other')!;
  const changed = { ...other, checksum: { type: 'sha256', value: 'f'.repeat(64) }, timestamp: 42, size: 7 };
  const out = setRepomdRecord(original, changed);
  const again = parseRepomd(out, 'out');
  assert.deepEqual(
    again.records.map((r) => r.type),
    md.records.map((r) => r.type),
  );
  assert.deepEqual(again.records.find((r) => r.type === 'other'), changed);
  for (const r of md.records.filter((x) => x.type !== 'other')) {
    assert.deepEqual(again.records.find((x) => x.type === r.type), r);
  }
  // Text outside the replaced element is byte-identical.
  const start = original.indexOf('<data type="other">');
  const end = original.indexOf('</data>', start) + '</data>'.length;
  const startOut = out.indexOf('<data type="other">');
  const endOut = out.indexOf('</data>', startOut) + '</data>'.length;
  assert.equal(out.slice(0, startOut), original.slice(0, start));
  assert.equal(out.slice(endOut), original.slice(end));
});

test('an empty <open-size></open-size> reads as absent, and a bad repomd is a RelengError naming the file', () => {
  const xml = original.replace(/<open-size>\d+<\/open-size>/, '<open-size></open-size>');
  assert.equal(parseRepomd(xml, 'x').records[0]?.openSize, undefined);
  assert.throws(() => parseRepomd('<repomd><data type="primary">', '/srv/r/repodata/repomd.xml'), (err: unknown) => {
    assert.ok(err instanceof RelengError);
    assert.match(err.message, /^\/srv\/r\/repodata\/repomd\.xml: malformed XML: /);
    return true;
  });
  assert.throws(() => parseRepomd('<updates/>', 'f.xml'), /f\.xml: root element is <updates>, expected <repomd>/);
  assert.throws(
    () => parseRepomd('<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="x"><size>1</size></data></repomd>', 'f.xml'),
    /f\.xml: <data type="x"> has no <location href>/,
  );
});

test('atomic writes leave no temp files, keep the mode, and an unchanged repomd is not rewritten', async () => {
  const dir = join(tmp, 'atomic');
  mkdirSync(dir);
  const file = join(dir, 'repomd.xml');
  writeFileSync(file, original);
  chmodSync(file, 0o640);
  const before = statSync(file);
  assert.equal(await writeRepomdIfChanged(file, original), false);
  assert.equal(statSync(file).mtimeMs, before.mtimeMs);
  assert.equal(statSync(file).ino, before.ino);
  const md = parseRepomd(original, 'x');
  const changed = setRepomdRecord(original, { ...md.records[0]!, timestamp: 1 });
  assert.equal(await writeRepomdIfChanged(file, changed), true);
  assert.equal(readFileSync(file, 'utf8'), changed);
  assert.equal(statSync(file).mode & 0o777, 0o640);
  assert.notEqual(statSync(file).ino, before.ino);
  await writeFileAtomic(join(dir, 'other'), 'x');
  assert.deepEqual(readdirSync(dir).sort(), ['other', 'repomd.xml']);
  await assert.rejects(writeRepomdIfChanged(file, '<repomd><data/></repomd>'), RelengError);
  assert.equal(readFileSync(file, 'utf8'), changed);
});

test('locations outside the repository are refused', () => {
  assert.equal(resolveInRepo('/srv/repo', '../etc/passwd'), undefined);
  assert.equal(resolveInRepo('/srv/repo', '/etc/passwd'), undefined);
  assert.equal(resolveInRepo('/srv/repo', 'repodata/../../x'), undefined);
  assert.equal(resolveInRepo('/srv/repo', 'repodata/a.xml.gz'), '/srv/repo/repodata/a.xml.gz');
  const files = repomdFiles('/srv/repo', {
    source: 'x',
    records: [{ type: 'evil', location: '../../x' }],
  });
  assert.match(files[0]?.problem ?? '', /outside the repository/);
});
