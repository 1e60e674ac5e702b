// The incremental file-list update (lib/mirror/filelist-update.ts) against the full walk, byte for byte: random
// change sets (add, delete, replace, chmod, links, hard links, nested roots) are applied to a real tree and
// journaled as the production writers journal them; the update's lists must equal what a full walk writes then.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, test } from 'node:test';
import { seededRandom } from '../../helpers/random';
import { writeFileLists, type FileListResult, type FileListRoot, type WriteFileListsOptions } from '../../../tools/nx-releng/src/lib/mirror/filelist';

const scratch = fs.realpathSync(fs.mkdtempSync(join(tmpdir(), 'filelist-update-test-')));
after(() => fs.rmSync(scratch, { recursive: true, force: true }));
let counter = 0;

/** A production tree with the shipped nested roots: '.', mirror/pub/rocky, mirror/pub/sig. */
function productionTree(): { prod: string; roots: FileListRoot[]; stateDir: string } {
  const base = join(scratch, `${counter++}`);
  const prod = join(base, 'production');
  const stateDir = join(base, 'state');
  for (const d of ['mirror/pub/rocky/8.10/BaseOS/x86_64/os/Packages/a', 'mirror/pub/rocky/8.10/AppStream/x86_64/os/repodata', 'mirror/pub/sig/8/kernel/x86_64', 'mirror/vault/rocky/8.9/BaseOS']) {
    fs.mkdirSync(join(prod, d), { recursive: true });
  }
  fs.writeFileSync(join(prod, 'mirror/pub/rocky/8.10/AppStream/x86_64/os/repodata/repomd.xml'), '<repomd/>');
  fs.writeFileSync(join(prod, 'mirror/pub/rocky/8.10/BaseOS/x86_64/os/Packages/a/a-1.rpm'), 'a1');
  fs.symlinkSync('8.10', join(prod, 'mirror/pub/rocky/8'));
  const roots: FileListRoot[] = [
    { dir: join(prod, 'mirror/pub/rocky'), timelistName: 'fullfiletimelist-rocky', copies: ['fullfiletimelist', 'fullfiletimelist-rocky-linux'] },
    { dir: join(prod, 'mirror/pub/sig'), timelistName: 'fullfiletimelist-sig', copies: ['fullfiletimelist'] },
    { dir: prod, timelistName: 'fullfiletimelist-rocky', copies: ['fullfiletimelist'] },
  ];
  return { prod, roots, stateDir };
}

/** Every file and directory below `dir` (not the lists), relative paths. */
function entries(dir: string, rel = ''): { files: string[]; dirs: string[]; links: string[] } {
  const out = { files: [] as string[], dirs: [] as string[], links: [] as string[] };
  for (const name of fs.readdirSync(join(dir, rel))) {
    if (rel === '' && name.startsWith('full')) continue;
    const r = rel ? `${rel}/${name}` : name;
    const st = fs.lstatSync(join(dir, r));
    if (st.isSymbolicLink()) out.links.push(r);
    else if (st.isDirectory()) {
      if (/^full/.test(name)) continue;
      out.dirs.push(r);
      const sub = entries(dir, r);
      out.files.push(...sub.files);
      out.dirs.push(...sub.dirs);
      out.links.push(...sub.links);
    } else if (!name.startsWith('full')) out.files.push(r);
  }
  return out;
}

/**
 * Applies `n` random changes under prod, returning the absolute paths a production writer journals for them:
 * the path it wrote or removed, both names of a hard link it made (hardlink and rsync -H name both), and the
 * directory it removed (not what was below it).
 */
function randomChanges(prod: string, random: () => number, n: number): string[] {
  const journal: string[] = [];
  const pick = <T>(xs: readonly T[]): T | undefined => xs[Math.floor(random() * xs.length)];
  const places = ['mirror/pub/rocky/8.10/BaseOS/x86_64/os/Packages/a', 'mirror/pub/rocky/8.10/AppStream/x86_64/os', 'mirror/pub/sig/8/kernel/x86_64', 'mirror/vault/rocky/8.9/BaseOS', 'mirror/pub/rocky', 'mirror/pub/sig', 'mirror'];
  for (let k = 0; k < n; k++) {
    const tree = entries(prod);
    const files = tree.files.filter((f) => !f.endsWith('/fullfilelist') && !/\/fullfiletimelist/.test(f));
    const dirs = tree.dirs.filter((d) => !['mirror', 'mirror/pub', 'mirror/pub/rocky', 'mirror/pub/sig'].includes(d));
    const op = Math.floor(random() * 11);
    const parent = pick([...places, ...dirs].filter((d) => fs.existsSync(join(prod, d)))) ?? 'mirror';
    const fresh = `${parent}/n${counter++}-${Math.floor(random() * 1000)}${random() < 0.2 ? '.~tmp~' : ''}`;
    const abs = (r: string) => join(prod, r);
    switch (op) {
      case 0: // add a file (sometimes a repomd.xml, which the timelist checksums)
      case 1: {
        const name = random() < 0.3 ? `${parent}/repomd.xml` : fresh;
        fs.writeFileSync(abs(name), `content ${random()}`);
        if (random() < 0.3) fs.chmodSync(abs(name), pick([0o600, 0o640, 0o604]) as number);
        journal.push(abs(name));
        break;
      }
      case 2: {
        // a new directory with contents (rsync itemizes the dir and each file)
        fs.mkdirSync(abs(fresh));
        journal.push(abs(fresh));
        for (let i = 0; i < 3; i++) {
          fs.writeFileSync(abs(`${fresh}/f${i}`), `x${i}`);
          journal.push(abs(`${fresh}/f${i}`));
        }
        if (random() < 0.4) fs.chmodSync(abs(fresh), pick([0o750, 0o700, 0o711]) as number);
        break;
      }
      case 3: {
        // replace a file in place by rename (new inode), as rsync does
        const f = pick(files);
        if (!f) break;
        fs.writeFileSync(`${abs(f)}.tmp-${k}`, `new ${random()}`);
        fs.renameSync(`${abs(f)}.tmp-${k}`, abs(f));
        journal.push(abs(f));
        break;
      }
      case 4: {
        const f = pick(files);
        if (!f) break;
        fs.rmSync(abs(f));
        journal.push(abs(f));
        break;
      }
      case 5: {
        // remove a directory with everything below it (the pending deletions name the directory)
        const d = pick(dirs);
        if (!d) break;
        fs.rmSync(abs(d), { recursive: true });
        journal.push(abs(d));
        break;
      }
      case 6: {
        const target = pick([...files, ...dirs]);
        if (!target) break;
        fs.chmodSync(abs(target), pick([0o755, 0o750, 0o700, 0o644, 0o640, 0o600, 0o604]) as number);
        journal.push(abs(target));
        break;
      }
      case 7: {
        // a symlink (to a file or directory that later rounds may delete or chmod), or a link pointed elsewhere;
        // a link through the '8' directory link names a target by another path than its real one
        // (the link policy refuses a link leaving a root that lists it: targets stay in the link's innermost root)
        const rootOf = (r: string) => ['mirror/pub/rocky/', 'mirror/pub/sig/'].find((x) => r.startsWith(x)) ?? '';
        const target = (link: string) => {
          const file = pick(files.filter((f) => rootOf(f) === rootOf(link)));
          const r = random();
          if (r < 0.2) return 'missing';
          if (r < 0.35 || !file) return '.';
          const to = r < 0.5 && file.startsWith('mirror/pub/rocky/8.10/') ? file.replace('rocky/8.10/', 'rocky/8/') : file;
          return relative(dirname(abs(link)), abs(to));
        };
        const link = pick(tree.links.filter((l) => l !== 'mirror/pub/rocky/8')) ?? fresh;
        if (link !== fresh && random() < 0.4) fs.rmSync(abs(link));
        const name = link !== fresh && fs.lstatSync(abs(link), { throwIfNoEntry: false }) === undefined ? link : fresh;
        fs.symlinkSync(target(name), abs(name));
        journal.push(abs(name));
        break;
      }
      case 8:
      case 9: {
        // a hard link to an existing file: both names are journaled (hardlink -v and rsync -H itemize both)
        const f = pick(files);
        if (!f || fs.lstatSync(abs(f)).isSymbolicLink()) break;
        fs.linkSync(abs(f), abs(fresh));
        journal.push(abs(fresh), abs(f));
        break;
      }
      case 10: {
        // hardlink(1) replacing a duplicate by a link to another name: both names journaled
        const [a, b] = [pick(files), pick(files)];
        if (!a || !b || a === b) break;
        fs.rmSync(abs(b));
        fs.linkSync(abs(a), abs(b));
        journal.push(abs(a), abs(b));
        break;
      }
    }
  }
  return journal;
}

function listBytes(results: readonly FileListResult[]): Map<string, Buffer> {
  return new Map(results.flatMap((r) => r.files.map((f) => [f.path, fs.readFileSync(f.path)] as const)));
}

/** The first differing line of two lists, for the failure message. */
function firstDifference(a: Buffer, b: Buffer): string {
  const x = a.toString().split('\n');
  const y = b.toString().split('\n');
  for (let i = 0; i < Math.max(x.length, y.length); i++) if (x[i] !== y[i]) return `line ${i + 1}: update ${JSON.stringify(x[i])} vs walk ${JSON.stringify(y[i])}`;
  return 'equal';
}

const quiet: WriteFileListsOptions = { onWarning: () => undefined, workers: 0 };

async function updateThenWalk(roots: FileListRoot[], stateDir: string, changed: string[], label: string, unlisted?: ReadonlySet<string>): Promise<FileListResult[]> {
  const updated = await writeFileLists(roots, { ...quiet, stagingDir: scratch, unlisted, incremental: { stateDir, changed } });
  assert.equal(updated[0]?.madeBy.kind, 'update', `${label}: the lists were walked (${updated[0]?.madeBy.why})`);
  const mine = listBytes(updated);
  // A full walk of the same tree must find every list already equal (and so rewrite none).
  const walked = await writeFileLists(roots, { ...quiet, stagingDir: scratch, unlisted });
  for (const r of walked) {
    for (const f of r.files) {
      const a = mine.get(f.path) as Buffer;
      assert.ok(!f.changed, `${label}: ${f.path} differs from a full walk: ${firstDifference(a, fs.readFileSync(f.path))}`);
    }
  }
  return updated;
}

test('random change sets: the update writes the bytes of a full walk (8 seeds x 10 rounds)', async () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    const { prod, roots, stateDir } = productionTree();
    const first = await writeFileLists(roots, { ...quiet, stagingDir: scratch, incremental: { stateDir, changed: [] } });
    assert.equal(first[0]?.madeBy.kind, 'full walk');
    const random = seededRandom(seed);
    for (let round = 0; round < 10; round++) {
      const changed = randomChanges(prod, random, 1 + Math.floor(random() * 6));
      await updateThenWalk(roots, stateDir, changed, `seed ${seed} round ${round}`);
      if (random() < 0.4) {
        // Pending deletions, as mirror:filelist carries them out: lists without them, delete, lists again.
        const tree = entries(prod);
        const pending = [...tree.files, ...tree.dirs.filter((d) => d.split('/').length > 4)].filter(() => random() < 0.15).slice(0, 3);
        const unlisted = new Set(pending.map((r) => join(prod, r)));
        await updateThenWalk(roots, stateDir, [], `seed ${seed} round ${round}, unlisted`, unlisted);
        for (const p of unlisted) fs.rmSync(p, { recursive: true, force: true });
        await updateThenWalk(roots, stateDir, [...unlisted], `seed ${seed} round ${round}, deleted`);
      }
    }
  }
});

test('hard links: removing or relinking one name re-lists every other name of the inode (their ctime moved)', async () => {
  const { prod, roots, stateDir } = productionTree();
  const pkgs = join(prod, 'mirror/pub/rocky/8.10/BaseOS/x86_64/os/Packages/a');
  fs.writeFileSync(join(pkgs, 'x.rpm'), 'x');
  fs.linkSync(join(pkgs, 'x.rpm'), join(prod, 'mirror/vault/rocky/8.9/BaseOS/x.rpm'));
  fs.linkSync(join(pkgs, 'x.rpm'), join(prod, 'mirror/pub/sig/8/kernel/x86_64/x.rpm'));
  await writeFileLists(roots, { ...quiet, stagingDir: scratch, incremental: { stateDir, changed: [] } });
  // ctime has a resolution of the clock tick: wait until a new second so that the listed times move.
  await new Promise((r) => setTimeout(r, 1100));
  fs.rmSync(join(pkgs, 'x.rpm'));
  const up = await updateThenWalk(roots, stateDir, [join(pkgs, 'x.rpm')], 'unlink');
  assert.ok((up[0]?.madeBy.examined ?? 0) >= 4, 'the other names were looked at again');
  await new Promise((r) => setTimeout(r, 1100));
  fs.linkSync(join(prod, 'mirror/vault/rocky/8.9/BaseOS/x.rpm'), join(pkgs, 'x.rpm'));
  await updateThenWalk(roots, stateDir, [join(pkgs, 'x.rpm'), join(prod, 'mirror/vault/rocky/8.9/BaseOS/x.rpm')], 'relink');
  // A pending deletion: first unlisted (still on disk, still linked), then deleted, as mirror:filelist does it.
  await new Promise((r) => setTimeout(r, 1100));
  const pending = new Set([join(pkgs, 'x.rpm')]);
  await updateThenWalk(roots, stateDir, [], 'unlisted', pending);
  fs.rmSync(join(pkgs, 'x.rpm'));
  await updateThenWalk(roots, stateDir, [...pending], 'deleted after unlisting');
});

test('an update with unchanged stretches larger than the write buffer keeps the lines in order', async () => {
  // 6,000 names of ~70 bytes: ~400 KiB of unchanged lines between two changes, written past the 1 MiB gather buffer
  // in pieces of over a quarter of it (a large piece once overtook the small ones gathered before it).
  const { prod, roots, stateDir } = productionTree();
  const big = join(prod, 'mirror/pub/rocky/8.10/BaseOS/x86_64/os/Packages/a');
  for (let i = 0; i < 6000; i++) fs.writeFileSync(join(big, `a-package-with-a-rather-long-name-${String(i).padStart(5, '0')}.rpm`), '');
  await writeFileLists(roots, { ...quiet, stagingDir: scratch, incremental: { stateDir, changed: [] } });
  const first = join(big, 'a-package-with-a-rather-long-name-00000.rpm');
  const last = join(big, 'a-package-with-a-rather-long-name-05999.rpm');
  fs.rmSync(first);
  fs.writeFileSync(join(big, 'zz-new.rpm'), 'new');
  fs.rmSync(last);
  await updateThenWalk(roots, stateDir, [first, last, join(big, 'zz-new.rpm')], 'large stretches');
});

test('the update falls back to a full walk when it cannot promise the same bytes, and says why', async () => {
  const { prod, roots, stateDir } = productionTree();
  const run = (changed: string[] | undefined, extra: Partial<NonNullable<WriteFileListsOptions['incremental']>> = {}) =>
    writeFileLists(roots, { ...quiet, stagingDir: scratch, incremental: { stateDir, changed, ...extra } });
  assert.match((await run([]))[0]?.madeBy.why ?? '', /no file-list state/);
  assert.equal((await run([]))[0]?.madeBy.kind, 'update');
  // A list rewritten by someone else.
  fs.appendFileSync(join(prod, 'mirror/pub/sig/fullfilelist'), './extra\n');
  assert.match((await run([]))[0]?.madeBy.why ?? '', /mirror\/pub\/sig\/fullfilelist changed since the last run wrote it/);
  // A root that changed its mode changes how the enclosing list shows everything below it.
  fs.chmodSync(join(prod, 'mirror/pub/sig'), 0o750);
  assert.match((await run([join(prod, 'mirror/pub/sig')]))[0]?.madeBy.why ?? '', /file-list root .*mirror\/pub\/sig changed its mode/);
  // A directory gone while no journal named it or its parent.
  fs.rmSync(join(prod, 'mirror/vault/rocky/8.9'), { recursive: true });
  const gone = await run([join(prod, 'mirror/vault/rocky/8.9/BaseOS/x')]);
  assert.equal(gone[0]?.madeBy.kind, 'full walk');
  assert.match(gone[0]?.madeBy.why ?? '', /rocky\/8\.9 is no longer a directory, but no journal named it/);
  // A journal naming more than a tenth of the tree (and over 10,000 paths): walking is cheaper.
  const many = Array.from({ length: 10_001 }, (_, i) => join(prod, `mirror/pub/rocky/new-${i}`));
  assert.match((await run(many))[0]?.madeBy.why ?? '', /the change journal names 10001 paths, more than a tenth of the \d+ entries/);
  // Asked for, and on schedule.
  assert.equal((await run(undefined, { fullWhy: '--full' }))[0]?.madeBy.why, '--full');
  assert.match((await run([], { fullWalkEveryMs: 0 }))[0]?.madeBy.why ?? '', /is older than 0 h/);
  assert.equal((await run([], { fullWalkEveryMs: 3600_000 }))[0]?.madeBy.kind, 'update');
});

test('the tree index: a walk moves its inode parts in, the old state\'s parts go, and a missing part walks', async () => {
  const { prod, roots, stateDir } = productionTree();
  const pkgs = join(prod, 'mirror/pub/rocky/8.10/BaseOS/x86_64/os/Packages/a');
  fs.writeFileSync(join(pkgs, 'x.rpm'), 'x');
  fs.linkSync(join(pkgs, 'x.rpm'), join(prod, 'mirror/vault/rocky/8.9/BaseOS/x.rpm'));
  const run = (changed: string[] | undefined, workers = 0) =>
    writeFileLists(roots, { ...quiet, workers, stagingDir: scratch, incremental: { stateDir, changed, fullWhy: '--full' } });
  const state = () => JSON.parse(fs.readFileSync(join(stateDir, 'state.json'), 'utf8')) as { token: string; inodeParts: number[] };
  const parts = () => fs.readdirSync(stateDir).filter((n) => n.startsWith('inodes')).sort();
  const partsOf = (s: { token: string; inodeParts: number[] }) => s.inodeParts.map((_, k) => `inodes-${s.token}-${k}.txt`).sort();
  const inodeLines = () => parts().flatMap((n) => fs.readFileSync(join(stateDir, n), 'utf8').split('\n').filter(Boolean)).sort();

  // A walk with a worker thread stages a part per thread that met a hard link; both names are in them.
  await run(undefined, 1);
  const first = state();
  assert.deepEqual(parts(), partsOf(first));
  assert.deepEqual(inodeLines().map((l) => l.split('\t')[1]).sort(), [join(pkgs, 'x.rpm'), join(prod, 'mirror/vault/rocky/8.9/BaseOS/x.rpm')].sort());
  // What an older state left (another token's part, the single file of earlier versions) goes with the next save.
  fs.writeFileSync(join(stateDir, 'inodes-0123abcd-0.txt'), '1:2\t/stale\n');
  fs.writeFileSync(join(stateDir, 'inodes.txt'), 'old\n');
  await run(undefined);
  const second = state();
  assert.notEqual(second.token, first.token);
  assert.deepEqual(parts(), partsOf(second));
  // An update that changes the index writes one part under a new token; the walk's parts go.
  fs.linkSync(join(pkgs, 'x.rpm'), join(prod, 'mirror/pub/sig/8/kernel/x86_64/x.rpm'));
  const up = await updateThenWalk(roots, stateDir, [join(prod, 'mirror/pub/sig/8/kernel/x86_64/x.rpm'), join(pkgs, 'x.rpm')], 'a new hard link');
  assert.equal(up[0]?.madeBy.kind, 'update');
  assert.equal(parts().length, state().inodeParts.length);
  assert.equal(inodeLines().length, 3);
  // A part cut short (a crash before it reached the disk): the next update walks, saying which file.
  const cut = join(stateDir, partsOf(state())[0] as string);
  fs.truncateSync(cut, fs.statSync(cut).size - 3);
  const short = await run([join(pkgs, 'x.rpm')]);
  assert.equal(short[0]?.madeBy.kind, 'full walk');
  assert.match(short[0]?.madeBy.why ?? '', /the tree index .*inodes-[0-9a-f]+-0\.txt is \d+ bytes, not the \d+ its state recorded/);
  // A part gone: the same, naming it.
  const gone = join(stateDir, partsOf(state())[0] as string);
  fs.rmSync(gone);
  const walked = await run([join(pkgs, 'x.rpm')]);
  assert.equal(walked[0]?.madeBy.kind, 'full walk');
  assert.match(walked[0]?.madeBy.why ?? '', new RegExp(`cannot read the tree index ${gone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
});
