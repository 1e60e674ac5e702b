import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { compareEvr, formatEvr, rpmvercmp } from '../../../tools/nx-releng/src/lib/formats/rpmvercmp';

/** rpm's own table (tests/rpmvercmp.at), including the documented oddities. */
const RPM_TABLE: Array<[string, string, -1 | 0 | 1]> = [
  ['1.0', '1.0', 0],
  ['1.0', '2.0', -1],
  ['2.0', '1.0', 1],
  ['2.0.1', '2.0.1', 0],
  ['2.0', '2.0.1', -1],
  ['2.0.1', '2.0', 1],
  ['2.0.1a', '2.0.1a', 0],
  ['2.0.1a', '2.0.1', 1],
  ['2.0.1', '2.0.1a', -1],
  ['5.5p1', '5.5p1', 0],
  ['5.5p1', '5.5p2', -1],
  ['5.5p2', '5.5p1', 1],
  ['5.5p10', '5.5p10', 0],
  ['5.5p1', '5.5p10', -1],
  ['5.5p10', '5.5p1', 1],
  ['10xyz', '10.1xyz', -1],
  ['10.1xyz', '10xyz', 1],
  ['xyz10', 'xyz10', 0],
  ['xyz10', 'xyz10.1', -1],
  ['xyz10.1', 'xyz10', 1],
  ['xyz.4', 'xyz.4', 0],
  ['xyz.4', '8', -1],
  ['8', 'xyz.4', 1],
  ['xyz.4', '2', -1],
  ['2', 'xyz.4', 1],
  ['5.5p2', '5.6p1', -1],
  ['5.6p1', '5.5p2', 1],
  ['5.6p1', '6.5p1', -1],
  ['6.5p1', '5.6p1', 1],
  ['6.0.rc1', '6.0', 1],
  ['6.0', '6.0.rc1', -1],
  ['10b2', '10a1', 1],
  ['10a2', '10b2', -1],
  ['1.0aa', '1.0aa', 0],
  ['1.0a', '1.0aa', -1],
  ['1.0aa', '1.0a', 1],
  ['10.0001', '10.0001', 0],
  ['10.0001', '10.1', 0],
  ['10.1', '10.0001', 0],
  ['10.0001', '10.0039', -1],
  ['10.0039', '10.0001', 1],
  ['4.999.9', '5.0', -1],
  ['5.0', '4.999.9', 1],
  ['20101121', '20101121', 0],
  ['20101121', '20101122', -1],
  ['20101122', '20101121', 1],
  ['2_0', '2_0', 0],
  ['2.0', '2_0', 0],
  ['2_0', '2.0', 0],
  // RhBug:178798: separators only
  ['a', 'a', 0],
  ['a+', 'a+', 0],
  ['a+', 'a_', 0],
  ['a_', 'a+', 0],
  ['+a', '+a', 0],
  ['+a', '_a', 0],
  ['_a', '+a', 0],
  ['+_', '+_', 0],
  ['_+', '+_', 0],
  ['_+', '_+', 0],
  ['+', '_', 0],
  ['_', '+', 0],
  // tilde
  ['1.0~rc1', '1.0~rc1', 0],
  ['1.0~rc1', '1.0', -1],
  ['1.0', '1.0~rc1', 1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~rc2', '1.0~rc1', 1],
  ['1.0~rc1~git123', '1.0~rc1~git123', 0],
  ['1.0~rc1~git123', '1.0~rc1', -1],
  ['1.0~rc1', '1.0~rc1~git123', 1],
  // caret
  ['1.0^', '1.0^', 0],
  ['1.0^', '1.0', 1],
  ['1.0', '1.0^', -1],
  ['1.0^git1', '1.0^git1', 0],
  ['1.0^git1', '1.0', 1],
  ['1.0', '1.0^git1', -1],
  ['1.0^git1', '1.0^git2', -1],
  ['1.0^git2', '1.0^git1', 1],
  ['1.0^git1', '1.01', -1],
  ['1.01', '1.0^git1', 1],
  ['1.0^20160101', '1.0^20160101', 0],
  ['1.0^20160101', '1.0.1', -1],
  ['1.0.1', '1.0^20160101', 1],
  ['1.0^20160101^git1', '1.0^20160101^git1', 0],
  ['1.0^20160102', '1.0^20160101^git1', 1],
  ['1.0^20160101^git1', '1.0^20160102', -1],
  // tilde and caret
  ['1.0~rc1^git1', '1.0~rc1^git1', 0],
  ['1.0~rc1^git1', '1.0~rc1', 1],
  ['1.0~rc1', '1.0~rc1^git1', -1],
  ['1.0^git1~pre', '1.0^git1~pre', 0],
  ['1.0^git1', '1.0^git1~pre', 1],
  ['1.0^git1~pre', '1.0^git1', -1],
  // oddities rpm documents: RhBug:811992, and non-ASCII characters are separators
  ['1b.fc17', '1b.fc17', 0],
  ['1b.fc17', '1.fc17', -1],
  ['1.fc17', '1b.fc17', 1],
  ['1g.fc17', '1g.fc17', 0],
  ['1g.fc17', '1.fc17', 1],
  ['1.fc17', '1g.fc17', -1],
  ['1.1.α', '1.1.α', 0],
  ['1.1.α', '1.1.β', 0],
  ['1.1.β', '1.1.α', 0],
  ['1.1.αα', '1.1.α', 0],
  ['1.1.α', '1.1.ββ', 0],
  ['1.1.ββ', '1.1.αα', 0],
];

/** Cases a release engineer meets in EL packages. */
const EL_TABLE: Array<[string, string, -1 | 0 | 1]> = [
  ['1.0-1.el8', '1.1-1.el8', -1],
  ['1.el8', '1.el8_9', -1],
  ['1.el8_9', '1.el8_10', -1],
  ['4.18.0-553.el8_10', '4.18.0-513.24.1.el8_9', 1],
  ['2.28', '2.28.0', -1],
  ['1.0.0', '1.0', 1],
  ['00010', '9', 1],
  ['123456789012345678901234567890', '123456789012345678901234567891', -1],
  ['1.0', '1..0', 0],
  ['', '', 0],
  ['', '1', -1],
  ['~', '', -1],
  ['^', '', 1],
  ['a', '1', -1],
  ['Z', 'a', -1],
];

describe('rpmvercmp', () => {
  for (const [a, b, want] of [...RPM_TABLE, ...EL_TABLE]) {
    test(`rpmvercmp(${JSON.stringify(a)}, ${JSON.stringify(b)}) = ${want}`, () => {
      assert.equal(rpmvercmp(a, b), want);
      assert.equal(rpmvercmp(b, a), want === 0 ? 0 : -want, 'antisymmetric');
    });
  }
});

test('compareEvr: epoch first (missing is 0), then version, then release', () => {
  assert.equal(compareEvr({ epoch: '1', version: '1.0', release: '1' }, { epoch: '0', version: '9.9', release: '9' }), 1);
  assert.equal(compareEvr({ version: '1.0', release: '1' }, { epoch: '0', version: '1.0', release: '1' }), 0);
  assert.equal(compareEvr({ epoch: '', version: '1.0', release: '1' }, { epoch: 0, version: '1.0', release: '1' }), 0);
  assert.equal(compareEvr({ epoch: '2', version: '1.0', release: '1' }, { epoch: '10', version: '1.0', release: '1' }), -1);
  assert.equal(compareEvr({ version: '1.0', release: '2.el8' }, { version: '1.0', release: '10.el8' }), -1);
  assert.equal(compareEvr({ version: '1.0~rc1', release: '9' }, { version: '1.0', release: '1' }), -1);
  assert.equal(compareEvr({ version: '1.0^post1', release: '1' }, { version: '1.0', release: '9' }), 1);
});

test('formatEvr shows the epoch only when it is not 0', () => {
  assert.equal(formatEvr({ epoch: '0', version: '1.0', release: '1.el8' }), '1.0-1.el8');
  assert.equal(formatEvr({ version: '1.0', release: '1.el8' }), '1.0-1.el8');
  assert.equal(formatEvr({ epoch: '2', version: '1.0', release: '1.el8' }), '2:1.0-1.el8');
});

/** Random versions from a small alphabet that exercises every branch, checked against rpm itself when present. */
test('agrees with the installed rpm on random versions', (t) => {
  const probe = spawnSync('rpm', ['--eval', '%{lua: print(rpm.vercmp("1.0^", "1.0"))}'], { encoding: 'utf8' });
  if (probe.status !== 0 || probe.stdout.trim() !== '1') {
    t.skip('rpm with caret support (>= 4.15) is not installed');
    return;
  }
  let seed = 42;
  const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2147483648), seed % n);
  // No '-' or ':': rpm.vercmp parses its arguments as [epoch:]version[-release].
  const alphabet = ['0', '1', '2', '9', '00', '10', 'a', 'b', 'z', 'A', '.', '.', '_', '+', '~', '^'];
  const gen = () => Array.from({ length: 1 + rand(6) }, () => alphabet[rand(alphabet.length)]).join('');
  const pairs = Array.from({ length: 2000 }, () => [gen(), gen()] as const);
  const lua = pairs.map(([a, b]) => `print(rpm.vercmp("${a}", "${b}") .. "\\n")`).join(" ");
  const r = spawnSync('rpm', ['--eval', `%{lua: ${lua}}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const want = r.stdout.trim().split('\n').map(Number);
  assert.equal(want.length, pairs.length);
  const mismatches = pairs
    .map(([a, b], i) => ({ a, b, rpm: want[i], ours: rpmvercmp(a, b) }))
    .filter((x) => x.rpm !== x.ours);
  assert.deepEqual(mismatches, []);
});
