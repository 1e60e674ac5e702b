import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, constants, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadAllComposeModels, type ComposeModel } from '../../tools/nx-releng/src/config/load';
import { channelRelease, composePaths, mirrorStatePaths, productionPaths, resolveRoots, stagingPaths } from '../../tools/nx-releng/src/layout/paths';
import { readChangeJournals, withChangeJournal } from '../../tools/nx-releng/src/lib/production/change-journal';
import { writerIdentity } from '../../tools/nx-releng/src/lib/core/lock';
import { run } from '../../tools/nx-releng/src/lib/tools/exec';
import { replaceLink } from '../../tools/nx-releng/src/lib/core/links';
import { git as gitIn, insteadOfEnv, makeCheckout } from '../helpers/checkouts';
import { openReleasedWorkspace, type ReleasedWorkspace } from '../helpers/released-workspace';
import { assertSameTree, countFiles, snapshotTree, type CompareOptions, type TreeSnapshot } from '../helpers/tree-snapshot';

/**
 * The bad-input catalogue of issue #8: every case runs the real nx CLI on a workspace in the middle of a release
 * (production holds release A, staging holds a verified release B, the latest links point at a newer compose C;
 * see released-workspace.ts), with one thing wrong in a config layer, the compose, the staging state or a tool.
 * Each must fail with a message naming the file, field or path and what is wrong, and leave the staging tree and
 * the production tree exactly as they were: type, mode, owner, link count, inode, size, mtime and content of
 * every entry. The state the tool keeps beside staging (.releng: records and locks) must keep its files too, except
 * the records a failed sync deliberately drops ("staging is not known to be in sync"), listed per case.
 * The workspace is set up once; each case undoes what it broke, and the trees are checked against the first
 * snapshot after every case, so no case leans on another's leftovers.
 */

let w: ReleasedWorkspace;
let chattr: { works: boolean; why: string } = { works: false, why: 'not probed' };
let baseline: Trees;
const models = new Map<string, ComposeModel>();

interface Trees {
  staging: TreeSnapshot;
  production: TreeSnapshot;
  /** <staging root>/.releng: sync and verify records, production records, locks, work dirs. */
  state: TreeSnapshot;
}

async function snapTrees(): Promise<Trees> {
  return {
    staging: await snapshotTree(w.stagingRoot, { exclude: (rel) => rel === '.releng' }),
    production: await snapshotTree(w.productionRoot),
    state: await snapshotTree(join(w.stagingRoot, '.releng')),
  };
}

/** A lock taken and released, or a work dir made and removed, moves the mtime of the dir that held it. */
const STATE_DIRS: CompareOptions = { ignoreFields: (e) => (e.type === 'dir' ? ['mtimeNs'] : []) };
/** Records a case dropped were written back by the runner: same content, new inode and mtime. */
const STATE_RESTORED: CompareOptions = { ignoreFields: (e) => (e.type === 'dir' ? ['mtimeNs'] : ['ino', 'mtimeNs']) };

function paths(project: string) {
  const m = models.get(project);
  assert.ok(m, `no project ${project}`);
  const roots = resolveRoots(m.common, m.release, w.ws.relengRoot);
  const ch = channelRelease(m.release, 'stable');
  return { sp: stagingPaths(m, ch, roots), pp: productionPaths(m, ch, roots), cp: composePaths(m, ch, roots) };
}

/** Where every production writer journals what it changed. */
const journalDir = () => mirrorStatePaths({ staging: w.stagingRoot }).changeJournalDir;

/** Path relative to <staging root>/.releng, the key of the state snapshot. */
const stateRel = (abs: string) => abs.slice(join(w.stagingRoot, '.releng').length + 1);
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// --- what a case may do to the workspace, each returning its undo -------------------------------------------------

type Undo = () => Promise<void>;
interface Arranged {
  undo?: Undo;
  /** Extra environment for nx (PATH). */
  env?: Record<string, string>;
}

/** Rewrites a workspace config file (parsed JSON through `edit`, or raw text). */
async function editConfig(rel: string, edit: ((v: any) => void) | string): Promise<Undo> {
  const file = join(w.ws.dir, rel);
  const original = await readFile(file);
  if (typeof edit === 'string') {
    await writeFile(file, edit);
  } else {
    const value = JSON.parse(original.toString('utf8'));
    edit(value);
    await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
  }
  return () => writeFile(file, original);
}

/** Several undos as one, run in reverse. */
const undoAll =
  (...undos: Undo[]): Undo =>
  async () => {
    for (const u of undos.reverse()) await u();
  };

/** Moves a file or dir out of the trees (same file system: inode and mtime are kept) and back. */
async function moveAside(path: string): Promise<Undo> {
  const aside = join(w.ws.dir, 'aside', `${Date.now()}-${basename(path)}`);
  await mkdir(dirname(aside), { recursive: true });
  const parentMtime = (await lstat(dirname(path), { bigint: true })).mtimeNs;
  await rename(path, aside);
  return async () => {
    await rename(aside, path);
    await setMtimeNs(dirname(path), parentMtime);
  };
}

/** Replaces a file by other content; the original (inode, mtime) is put back. */
async function replaceFile(path: string, content: string): Promise<Undo> {
  const back = await moveAside(path);
  await writeFile(path, content);
  return async () => {
    await rm(path);
    await back();
  };
}

async function setMtimeNs(path: string, ns: bigint): Promise<void> {
  const s = ns / 1_000_000_000n;
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  await run('touch', ['-h', '-m', '-d', `@${s}.${frac}`, path]);
}

/** The compose the latest link of a project points at (compose C for Extras-8 and Rocky-8). */
async function latestCompose(project: string): Promise<string> {
  const link = paths(project).cp.latestLink;
  return join(dirname(link), await readlink(link));
}

/** A PATH holding every program of the current PATH except `missing` (first one of a name wins, as in a lookup). */
async function pathWithout(missing: string[]): Promise<Arranged> {
  const bin = await mkdtemp(join(tmpdir(), 'releng-badinput-path-'));
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (missing.includes(name)) continue;
      await symlink(join(dir, name), join(bin, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    }
  }
  for (const tool of missing) await assert.rejects(access(join(bin, tool)), `${tool} is still on the PATH`);
  return { env: { PATH: bin }, undo: () => rm(bin, { recursive: true, force: true }) };
}

async function which(tool: string): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    if (await access(join(dir, tool), constants.X_OK).then(() => true, () => false)) return join(dir, tool);
  }
  throw new Error(`${tool} is not installed`);
}

/**
 * The only stand-in here: a wrapper first on PATH that answers --version like the real tool and fails any real
 * work with the message and exit code the real tool gives on a full disk.
 */
async function failingTool(tool: string, stderr: string, exitCode: number): Promise<Arranged> {
  const real = await which(tool);
  const bin = await mkdtemp(join(tmpdir(), 'releng-badinput-tool-'));
  await writeFile(
    join(bin, tool),
    `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${real} "$@"; fi\ncat >&2 <<'EOF'\n${stderr}\nEOF\nexit ${exitCode}\n`,
  );
  await chmod(join(bin, tool), 0o755);
  return { env: { PATH: `${bin}${delimiter}${process.env.PATH}` }, undo: () => rm(bin, { recursive: true, force: true }) };
}

/** chattr +i (root ignores mode bits, not the immutable flag); -R for a whole tree. */
async function immutable(path: string, recursive = false): Promise<Undo> {
  await run('chattr', [...(recursive ? ['-R'] : []), '+i', path]);
  return async () => void (await run('chattr', [...(recursive ? ['-R'] : []), '-i', path]));
}

/** Whether chattr +i makes a dir refuse writes to root here (not on every file system, not in every container). */
async function probeChattr(dir: string): Promise<{ works: boolean; why: string }> {
  const probe = join(dir, 'chattr-probe');
  await mkdir(probe);
  try {
    const set = await run('chattr', ['+i', probe], { allowFailure: true }).catch((err: Error) => ({ exitCode: 1, stderr: err.message }));
    if (set.exitCode !== 0) return { works: false, why: `chattr +i failed: ${set.stderr.trim()}` };
    const write = await writeFile(join(probe, 'x'), 'x').then(() => 'written', (err: NodeJS.ErrnoException) => err.code);
    return write === 'EPERM' ? { works: true, why: '' } : { works: false, why: `a write into an immutable dir gave ${write}` };
  } finally {
    await run('chattr', ['-i', probe], { allowFailure: true }).catch(() => undefined);
    await rm(probe, { recursive: true, force: true });
  }
}

/** A lock file held by a live process of this host (a `sleep` this test started), as another run leaves it. */
async function liveLock(lockFile: string, owner: string): Promise<Undo> {
  const holder: ChildProcess = spawn('sleep', ['600'], { stdio: 'ignore' });
  await new Promise((resolve, reject) => holder.once('spawn', resolve).once('error', reject));
  await mkdir(dirname(lockFile), { recursive: true });
  await writeFile(lockFile, JSON.stringify({ pid: holder.pid, host: hostname(), owner, since: '2024-04-12T10:00:00.000Z' }));
  return async () => {
    await rm(lockFile);
    holder.kill('SIGKILL');
  };
}

const impatientLocks = () => editConfig('releases/common.json', (v) => (v.lockTimeoutSeconds = 0));

/** Puts a link where `path` was, to `target` or else to the original, moved out of the trees (inode and mtime kept). */
async function linkInstead(path: string, target?: string): Promise<Undo> {
  const aside = join(w.ws.dir, 'aside', `link-${Date.now()}-${basename(path)}`);
  await mkdir(dirname(aside), { recursive: true });
  const parentMtime = (await lstat(dirname(path), { bigint: true })).mtimeNs;
  await rename(path, aside);
  await symlink(target ?? aside, path);
  return async () => {
    await rm(path, { recursive: true, force: true }); // the link, or whatever a step put in its place
    await rename(aside, path);
    await setMtimeNs(dirname(path), parentMtime);
  };
}

/** Adds a link at `path` (its dir's mtime restored on undo). */
async function addLink(path: string, target: string): Promise<Undo> {
  const mtime = (await lstat(dirname(path), { bigint: true })).mtimeNs;
  await symlink(target, path);
  return async () => {
    await rm(path);
    await setMtimeNs(dirname(path), mtime);
  };
}

/** Rewrites a record of .releng (parsed JSON through `edit`); the original (inode, mtime) is put back. */
async function editRecord(file: string, edit: (v: any) => void): Promise<Undo> {
  const value = JSON.parse(await readFile(file, 'utf8'));
  edit(value);
  return replaceFile(file, `${JSON.stringify(value, null, 2)}\n`);
}

/** The latest compose of a project as a regexp (its id is only known once composed). */
const composeDir = (project: string) => `${re(w.composeRoot)}/${re(project.replace(/-8$/, ''))}-8\\.10-updates-[^/\\s]+`;

/** A link-policy refusal by `target`: the problem (a regexp) and the policy's sentence. */
function policy(target: string, problem: string): RegExp {
  return new RegExp(`${target} FAILED: [^\\n]*${problem}[\\s\\S]*${re(LINK_POLICY)}`);
}

/** A directory of the layout that is a link; `path` plain text (the compose part a regexp). */
function layoutLink(target: string, path: string, what?: string): RegExp {
  const p = path.startsWith(re(w.composeRoot)) ? path : re(path);
  return policy(target, `${what ? `${re(what)}: ` : ''}${p} is a symbolic link \\(to [^)]+\\) where the layout has a directory`);
}

/** A record refused by the schema: the file, the field and the bad value. */
function badRecord(target: string, file: string, field: string, value: string): RegExp {
  return new RegExp(`${target} FAILED: ${re(file)}: field ${field}: ${value} is not `);
}

const LINK_POLICY = 'Refused by the link policy: a link must be relative and stay inside its tree';

/** A link added inside the latest compose: sync-staging refuses it; `why` gets the compose dir (a regexp). */
function composeLink(name: string, project: string, rel: string, target: string, why: (compose: string) => string): Case {
  return {
    name: `compose: ${name}`,
    nx: ['run', `${project}:sync-staging`],
    arrange: async () => addLink(join(await latestCompose(project), rel), target),
    error: () => policy(`${project}:sync-staging`, `${composeDir(project)}/${rel} is a symbolic link to ${why(composeDir(project))}`),
  };
}

/** A dir of the latest compose replaced by a link (to `target`, else to the original moved outside): sync-staging refuses it. */
function composeLayoutLink(name: string, project: string, rel: string, target?: string): Case {
  return {
    name: `compose: ${name}`,
    nx: ['run', `${project}:sync-staging`],
    arrange: async () => linkInstead(join(await latestCompose(project), rel), target),
    error: () => layoutLink(`${project}:sync-staging`, `${composeDir(project)}/${rel}`),
  };
}

// --- the catalogue ----------------------------------------------------------------------------------------------

interface Case {
  name: string;
  /** nx arguments; --output-style=static is added. */
  nx: string[];
  arrange?: () => Promise<Arranged | Undo | void>;
  /** What the output must say (the file, field or path, and what is wrong or allowed). */
  error: () => RegExp;
  /** Absolute paths of .releng records this failure removes by design; the runner puts them back afterwards. */
  drops?: () => string[];
  /**
   * The failure comes after the first change to production began: the writer leaves its change journal without
   * the end line (so the next file lists walk the tree). The runner checks it is there, then removes it.
   */
  incompleteJournal?: boolean;
  chattr?: boolean;
}

// FINISHED_INCOMPLETE is accepted by default (pungi-koji exits 0 for it), so the message offers no --allowIncomplete.
const SYNC_STAGING_DENY = 'only FINISHED or FINISHED_INCOMPLETE composes are synced';

// --- hostile: a minor release's ISO dirs and kickstart trees, SIG composes, errata (issue #14) ---------------------

/** A small real ISO (xorriso, as the local backend makes them) named `name` in `dir`. */
async function makeIso(dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const content = await mkdtemp(join(tmpdir(), 'releng-badinput-iso-'));
  try {
    await writeFile(join(content, 'README'), `${name}\n`);
    await run('xorriso', ['-no_rc', '-outdev', join(dir, name), '-volid', 'RELENG', '-joliet', 'on', '-map', content, '/']);
  } finally {
    await rm(content, { recursive: true, force: true });
  }
}

/**
 * Gives Rocky-8's latest compose (an update compose) the ISOs of a produce compose, so that a minor-release sync gets
 * as far as its ISO dirs: compose/{BaseOS,Minimal}/<arch>/iso with one real ISO each. The iso dirs named in `outside`
 * are made outside the compose and linked in. The undo removes all of it and puts the compose dirs' mtimes back.
 */
async function minorReleaseIsos(outside: string[] = []): Promise<Undo> {
  const compose = await latestCompose('Rocky-8');
  const touched = [join(compose, 'compose'), ...['x86_64', 'aarch64'].map((a) => join(compose, 'compose/BaseOS', a))];
  const mtimes = await Promise.all(touched.map(async (d) => (await lstat(d, { bigint: true })).mtimeNs));
  const made: string[] = [join(compose, 'compose/Minimal'), ...['x86_64', 'aarch64'].map((a) => join(compose, 'compose/BaseOS', a, 'iso'))];
  for (const arch of ['x86_64', 'aarch64']) {
    for (const [type, kind] of [['BaseOS', 'dvd1'], ['Minimal', 'minimal']] as const) {
      const rel = `compose/${type}/${arch}/iso`;
      const name = `Rocky-8.10-${arch}-${kind}.iso`;
      if (!outside.includes(rel)) {
        await makeIso(join(compose, rel), name);
        continue;
      }
      const dir = join(w.ws.dir, 'aside', `iso-${Date.now()}-${type}-${arch}`);
      await makeIso(dir, name);
      await mkdir(dirname(join(compose, rel)), { recursive: true });
      await symlink(dir, join(compose, rel));
      made.push(dir);
    }
  }
  return async () => {
    for (const p of made) await rm(p, { recursive: true, force: true });
    for (const [i, d] of touched.entries()) await setMtimeNs(d, mtimes[i] as bigint);
  };
}

/** The compose a project's latest link points at, kept by the arrange for the expected message. */
const arrangedCompose = new Map<string, string>();

/** A SIG compose dir (relative to the compose) replaced by a link to the original, moved outside the compose. */
function sigComposeLink(name: string, project: string, rel: string): Case {
  return {
    name: `SIG compose: ${name}`,
    nx: ['run', `${project}:sync-staging`],
    arrange: async () => {
      const compose = await latestCompose(project);
      arrangedCompose.set(project, compose);
      assert.ok((await lstat(join(compose, rel))).isDirectory(), `${join(compose, rel)} is a directory of the SIG compose`);
      return linkInstead(join(compose, rel));
    },
    error: () => policy(`${project}:sync-staging`, `${re(join(arrangedCompose.get(project) as string, rel))} is a symbolic link \\(to [^)]+\\) where the layout has a directory`),
  };
}

/** The advisories the errata server gives Rocky-8's BaseOS (both arches), rewritten; the originals put back. */
async function editAdvisories(edit: (xml: string) => string): Promise<Undo> {
  const undos: Undo[] = [];
  for (const arch of ['x86_64', 'aarch64']) {
    const file = join(w.ws.relengRoot, 'errata/rocky-linux/8/BaseOS', `${arch}.xml`);
    undos.push(await replaceFile(file, edit(await readFile(file, 'utf8'))));
  }
  return undoAll(...undos);
}

const advisoryUrl = () => `${re(w.errata.url)}/rocky-linux/8/BaseOS/updateinfo\\.xml\\?arch=(x86_64|aarch64)`;

/** The primary file of a staging repo replaced by `xml` (gzipped), kept for the expected message. */
let replacedPrimary = '';
async function replacePrimary(repo: string, xml: string): Promise<Undo> {
  const { gzipSync } = await import('node:zlib');
  const md = await readFile(join(repo, 'repodata/repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(md)?.[1];
  assert.ok(href, `no primary record in ${repo}`);
  replacedPrimary = join(repo, href);
  const back = await moveAside(replacedPrimary);
  await writeFile(replacedPrimary, gzipSync(xml));
  return async () => {
    await rm(replacedPrimary);
    await back();
  };
}

const MINOR_SIG_ERRATA_CASES: Case[] = [
  {
    name: 'compose: a Minimal ISO dir of a minor release that is a link to a directory outside the compose',
    nx: ['run', 'Rocky-8:sync-staging', '-c', 'minor-release'],
    arrange: () => minorReleaseIsos(['compose/Minimal/x86_64/iso']),
    error: () => layoutLink('Rocky-8:sync-staging', `${composeDir('Rocky-8')}/compose/Minimal/x86_64/iso`),
  },
  {
    name: 'compose: a link leaving the compose inside a Minimal ISO dir of a minor release',
    nx: ['run', 'Rocky-8:sync-staging', '-c', 'minor-release'],
    arrange: async () => {
      const undo = await minorReleaseIsos();
      const dir = join(await latestCompose('Rocky-8'), 'compose/Minimal/aarch64/iso');
      await symlink('../../../../../../../../etc/passwd', join(dir, 'Rocky-8-latest-aarch64-minimal.iso'));
      return undo; // removes compose/Minimal with the link
    },
    error: () =>
      policy(
        'Rocky-8:sync-staging',
        `${composeDir('Rocky-8')}/compose/Minimal/aarch64/iso/Rocky-8-latest-aarch64-minimal\\.iso is a symbolic link to ` +
          `${re('../../../../../../../../etc/passwd')}, which leaves ${composeDir('Rocky-8')}/compose`,
      ),
  },
  {
    name: 'staging: a kickstart tree that is a link outside at a minor release (the freeze never writes through it)',
    nx: ['run', 'Rocky-8:sync-staging', '-c', 'minor-release'],
    arrange: async () => {
      const isos = await minorReleaseIsos();
      const outside = await mkdtemp(join(tmpdir(), 'releng-badinput-kickstart-'));
      const link = await addLink(join(w.stagingDir, 'BaseOS/x86_64/kickstart'), outside);
      return undoAll(isos, async () => rm(outside, { recursive: true, force: true }), link);
    },
    error: () => layoutLink('Rocky-8:sync-staging', `${w.stagingDir}/BaseOS/x86_64/kickstart`, `staging ${w.stagingDir}`),
  },
  {
    name: 'staging: a primary.xml carrying a DOCTYPE with entities at verify (never expanded, never passed)',
    nx: ['run', 'Rocky-devel-8:verify', '--excludeTaskDependencies'],
    arrange: () =>
      replacePrimary(
        join(w.stagingDir, 'devel/x86_64/os'),
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE metadata [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n' +
          '<metadata xmlns="http://linux.duke.edu/metadata/common" packages="1"><package type="rpm"><name>&b;</name></package></metadata>\n',
      ),
    error: () =>
      new RegExp(
        `Rocky-devel-8:verify FAILED: 1 of 5 repos failed verification:\\n\\s+devel/x86_64/os:[\\s\\S]*` +
          `${re(replacedPrimary)}: carries a <!DOCTYPE> declaration; primary metadata has none, refusing it \\(entities are never expanded\\) \\(at line 2, column \\d+\\)`,
      ),
    drops: () => [paths('Rocky-devel-8').sp.verifyRecord],
  },
  sigComposeLink('a repo (variant) dir that is a link to a directory outside the compose', 'SIG-kernel-8', 'compose/8/kernel/x86_64/kernel'),
  sigComposeLink('the SIG dir that is a link to a directory outside the compose', 'SIG-kmod-8', 'compose/8/kmod'),
  {
    name: 'errata: advisories carrying a DOCTYPE with entity declarations (never signed or published)',
    nx: ['run', 'Rocky-8:updateinfo', '--excludeTaskDependencies', '--skip-nx-cache'],
    arrange: () =>
      editAdvisories((xml) => xml.replace(/^(<\?xml[^>]*\?>\n)/, '$1<!DOCTYPE updates [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>\n')),
    error: () =>
      new RegExp(`Rocky-8:updateinfo FAILED: ${advisoryUrl()}: advisory XML carries a <!DOCTYPE> declaration \\(line 2\\); updateinfo has none, refusing it`),
  },
  {
    name: 'errata: advisories larger than errata.maxBytes',
    nx: ['run', 'Rocky-8:updateinfo', '--excludeTaskDependencies'],
    arrange: async () =>
      undoAll(
        await editConfig('releases/8/release.json', (v) => (v.errata.maxBytes = 16384)),
        await editAdvisories((xml) => xml.replace('<updates>', `<updates>\n<!-- ${'x'.repeat(20_000)} -->`)),
      ),
    error: () =>
      new RegExp(
        // The errata server sends no Content-Length: the body is cut off as it streams in, past the limit.
        `Rocky-8:updateinfo FAILED: ${advisoryUrl()}: the advisories are larger than 16384 bytes \\(more than 16384 bytes received\\); ` +
          'release\\.json errata\\.maxBytes sets the limit',
      ),
  },
];

const CASES: Case[] = [
  // common.json
  {
    name: 'common.json: a relative staging root',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => editConfig('releases/common.json', (v) => (v.roots.staging = 'mnt/repos-staging')),
    error: () => /releases\/common\.json: invalid configuration\n\s+field roots\.staging: must be an absolute path/,
  },
  {
    name: 'common.json: cut off in the middle (not JSON)',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => editConfig('releases/common.json', '{ "roots": { "compose": "/mnt/compose",'),
    error: () => /releases\/common\.json: is not valid JSON \(/,
  },
  {
    name: 'common.json: the lock timeout given as text',
    nx: ['run-many', '-t', 'sync-prod'],
    arrange: () => editConfig('releases/common.json', (v) => (v.lockTimeoutSeconds = '1h')),
    error: () => /releases\/common\.json: invalid configuration\n\s+field lockTimeoutSeconds: Invalid input: expected number, received string/,
  },
  {
    name: 'common.json: a file-list root that climbs out of production',
    nx: ['run', 'mirror:filelist'],
    arrange: () => editConfig('releases/common.json', (v) => (v.fileLists[0].root = '../elsewhere')),
    error: () => /releases\/common\.json: invalid configuration\n\s+field fileLists\.0\.root: must not contain "\.\." segments/,
  },
  // release.json
  {
    name: 'release.json: an arch that is not allowed',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: () => editConfig('releases/8/release.json', (v) => (v.arches = ['x86_64', 'ppc64'])),
    error: () => /releases\/8\/release\.json: invalid configuration\n\s+field arches\.1: Invalid option: expected one of "x86_64"\|"aarch64"/,
  },
  {
    name: 'release.json: a revision of another major',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: () => editConfig('releases/8/release.json', (v) => (v.revision = '9.7')),
    error: () => /releases\/8\/release\.json: field revision: '9\.7' does not belong to major 8/,
  },
  {
    name: 'release.json: a compose repo without a repoclosure entry',
    nx: ['run', 'Extras-8:verify'],
    arrange: () => editConfig('releases/8/release.json', (v) => delete v.repoclosure.plus),
    error: () => /releases\/8\/release\.json: field repoclosure: no entry for 'plus' \(variants\.1 of releases\/8\/Extras\/compose\.json\)/,
  },
  {
    name: 'release.json: a public key that does not exist (verify)',
    nx: ['run', 'Rocky-devel-8:verify', '--excludeTaskDependencies'],
    arrange: () =>
      editConfig('releases/8/release.json', (v) => (v.signing.publicKey = '/etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-8-missing')),
    error: () =>
      new RegExp(
        `Rocky-devel-8:verify FAILED: releases/8/release\\.json: field signing\\.publicKey: ` +
          `${re(w.ws.relengRoot)}/etc/pki/rpm-gpg/RPM-GPG-KEY-Rocky-8-missing does not exist`,
      ),
  },
  {
    name: 'release.json: a sign command that does not exist (sign)',
    nx: ['run', 'Rocky-devel-8:sign', '--excludeTaskDependencies'],
    arrange: () => editConfig('releases/8/release.json', (v) => (v.signing.command = ['/root/bin/sign-repo-8-missing.sh'])),
    error: () =>
      new RegExp(
        `Rocky-devel-8:sign FAILED: releases/8/release\\.json: field signing: signing command ` +
          `${re(w.ws.relengRoot)}/root/bin/sign-repo-8-missing\\.sh was not found \\(or is not executable\\)`,
      ),
  },
  // compose.json
  {
    name: 'compose.json: a variant release.json does not list',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => editConfig('releases/8/Extras/compose.json', (v) => (v.variants = ['extras', 'Plus'])),
    error: () =>
      /releases\/8\/Extras\/compose\.json: field variants\.1: unknown repository 'Plus'; allowed \(compsRepos and plainRepos of releases\/8\/release\.json\): .*\bplus\b/,
  },
  {
    name: 'compose.json: a misspelt key',
    nx: ['run', 'Rocky-devel-8:sync-prod'],
    arrange: () =>
      editConfig('releases/8/Rocky-devel/compose.json', (v) => {
        v.variant = v.variants;
        delete v.variants;
      }),
    error: () =>
      /releases\/8\/Rocky-devel\/compose\.json: invalid configuration\n\s+field variants: Invalid input: expected array, received undefined\n\s+field \(top level\): Unrecognized key: "variant"/,
  },
  {
    name: 'compose.json: a compose of a major without release.json',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => {
      const dir = join(w.ws.dir, 'releases/7');
      await mkdir(join(dir, 'Rocky'), { recursive: true });
      await writeFile(join(dir, 'Rocky/compose.json'), '{ "kind": "base", "variants": ["BaseOS"], "backend": "local" }\n');
      return () => rm(dir, { recursive: true });
    },
    error: () => /releases\/7\/release\.json: cannot be read \(ENOENT\)/,
  },
  // compose states
  {
    name: 'compose: no latest link',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => moveAside(paths('Extras-8').cp.latestLink),
    error: () => new RegExp(`Extras-8:sync-staging FAILED: compose link ${re(paths('Extras-8').cp.latestLink)} does not exist`),
  },
  {
    name: 'compose: a dangling latest link',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => {
      const link = paths('Extras-8').cp.latestLink;
      const target = await readlink(link);
      await replaceLink(dirname(link), basename(link), 'Extras-8.10-updates-20990101.0');
      return async () => void (await replaceLink(dirname(link), basename(link), target));
    },
    error: () =>
      new RegExp(
        `compose link ${re(paths('Extras-8').cp.latestLink)} is dangling: it points at 'Extras-8\\.10-updates-20990101\\.0', which does not exist`,
      ),
  },
  {
    name: 'compose: STATUS DOOMED',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => replaceFile(join(await latestCompose('Extras-8'), 'STATUS'), 'DOOMED\n'),
    error: () => new RegExp(`compose ${re(w.composeRoot)}/Extras-8\\.10-updates-\\S+ has STATUS DOOMED; ${SYNC_STAGING_DENY}`),
  },
  {
    name: 'compose: STATUS STARTED (pungi still running)',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: async () => replaceFile(join(await latestCompose('Rocky-8'), 'STATUS'), 'STARTED\n'),
    error: () => new RegExp(`compose ${re(w.composeRoot)}/Rocky-8\\.10-updates-\\S+ has STATUS STARTED; ${SYNC_STAGING_DENY}`),
  },
  {
    name: 'compose: a variant dir missing',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => moveAside(join(await latestCompose('Extras-8'), 'compose/plus')),
    error: () =>
      /Extras-8:sync-staging FAILED: compose Extras-8\.10-updates-\S+ has no compose\/plus directory, but releases\/8\/Extras\/compose\.json lists variant 'plus'/,
  },
  {
    name: 'compose: a truncated rpms.json (the metadata Rocky-8 publishes)',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: async () =>
      replaceFile(join(await latestCompose('Rocky-8'), 'compose/metadata/rpms.json'), '{ "header": { "type": "productmd.rpms", "vers'),
    error: () =>
      /Rocky-8:sync-staging FAILED: compose Rocky-8\.10-updates-\S+ has unusable metadata, and releases\/8\/Rocky\/compose\.json publishes it \(syncMetadata\): \S+\/compose\/metadata\/rpms\.json: not valid JSON/,
  },
  {
    name: 'compose: a composeinfo.json that is not one',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: async () =>
      replaceFile(
        join(await latestCompose('Rocky-8'), 'compose/metadata/composeinfo.json'),
        '{ "header": { "type": "productmd.images", "version": "1.2" }, "payload": {} }\n',
      ),
    error: () =>
      /compose Rocky-8\.10-updates-\S+ has unusable metadata, .*: \S+\/compose\/metadata\/composeinfo\.json: header\.type is "productmd\.images", expected "productmd\.composeinfo"/,
  },
  {
    name: 'compose: a comps repo without its comps file',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: async () => moveAside(join(await latestCompose('Rocky-8'), 'work/aarch64/comps/comps-AppStream.aarch64.xml')),
    error: () =>
      /AppStream is a comps repo \(compsRepos in releases\/8\/release\.json\) but compose Rocky-8\.10-updates-\S+ has no \S+\/comps-AppStream\.aarch64\.xml; refusing to publish AppStream\/aarch64\/os without its groups/,
  },
  // staging states
  {
    name: 'staging: a package touched behind the tool\'s back before sync-prod',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: async () => {
      const dir = join(w.stagingDir, 'extras/x86_64/os/Packages/r');
      const rpm = join(dir, (await readdir(dir)).find((f) => f.endsWith('.rpm')) as string);
      const mtime = (await lstat(rpm, { bigint: true })).mtimeNs;
      await run('touch', ['-m', '-d', '@1700000000', rpm]);
      return () => setMtimeNs(rpm, mtime);
    },
    error: () =>
      new RegExp(
        `Extras-8:sync-prod FAILED: Extras-8: ${re(w.stagingDir)} changed since it passed verify at \\S+; ` +
          'run nx run Extras-8:verify again before syncing to production',
      ),
  },
  {
    name: 'staging: a package removed behind the tool\'s back before verify',
    nx: ['run', 'Rocky-devel-8:verify', '--excludeTaskDependencies'],
    arrange: () => moveAside(join(w.stagingDir, 'devel/x86_64/os/Packages/r/releng-devel-lib-1.0-1.el8.x86_64.rpm')),
    error: () =>
      new RegExp(
        `Rocky-devel-8:verify FAILED: 1 of 5 repos failed verification:\\n\\s+devel/x86_64/os:\\n\\s+` +
          `package releng-devel-lib-1\\.0-1\\.el8\\.x86_64: ${re(w.stagingDir)}/devel/x86_64/os/Packages/r/releng-devel-lib-1\\.0-1\\.el8\\.x86_64\\.rpm is missing`,
      ),
    // A failed verify withdraws the project's verify record: staging is no longer known to be good.
    drops: () => [paths('Rocky-devel-8').sp.verifyRecord],
  },
  {
    name: 'staging: no verify record',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => moveAside(paths('Rocky-8').sp.verifyRecord),
    error: () =>
      new RegExp(
        `Rocky-8:sync-prod FAILED: Rocky-8: ${re(w.stagingDir)} has no passing verify \\(${re(paths('Rocky-8').sp.verifyRecord)}\\); ` +
          'run nx run Rocky-8:verify first',
      ),
  },
  {
    name: 'staging: a corrupt verify record',
    nx: ['run', 'Rocky-devel-8:sync-prod'],
    arrange: () => replaceFile(paths('Rocky-devel-8').sp.verifyRecord, '{ "version": 1, "project": "Rocky-dev'),
    error: () => new RegExp(`Rocky-devel-8: ${re(w.stagingDir)} has no passing verify \\(${re(paths('Rocky-devel-8').sp.verifyRecord)}\\)`),
  },
  {
    name: 'staging: the category path is a file',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => {
      const category = dirname(w.stagingDir);
      const back = await moveAside(category);
      await writeFile(category, 'not a directory\n');
      return async () => {
        await rm(category);
        await back();
      };
    },
    error: () =>
      new RegExp(`staging directory ${re(w.stagingDir)} cannot be created: ${re(dirname(w.stagingDir))} is not a directory`),
  },
  {
    name: 'staging: a stale lock held by a live process',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => undoAll(await impatientLocks(), await liveLock(paths('Extras-8').sp.lockFile, 'Rocky-8:sync-staging')),
    error: () =>
      new RegExp(
        `Extras-8:sync-staging FAILED: ${re(paths('Extras-8').sp.lockFile)} is held by Rocky-8:sync-staging ` +
          `\\(pid \\d+ on ${re(hostname())} since 2024-04-12T10:00:00\\.000Z\\); gave up after 0s \\(lockTimeoutSeconds in releases/common\\.json\\)`,
      ),
  },
  {
    name: 'production: a stale lock held by a live process',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: async () => undoAll(await impatientLocks(), await liveLock(paths('Rocky-8').pp.lockFile, 'Extras-8:sync-prod')),
    error: () =>
      new RegExp(
        `Rocky-8:sync-prod FAILED: ${re(paths('Rocky-8').pp.lockFile)} is held by Extras-8:sync-prod \\(pid \\d+ .*\\); ` +
          'gave up after 0s \\(lockTimeoutSeconds in releases/common\\.json\\)',
      ),
  },
  // tools
  {
    name: 'tool: createrepo_c missing from PATH',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => pathWithout(['createrepo_c']),
    error: () =>
      /Extras-8:sync-staging FAILED: required tool 'createrepo_c' was not found on PATH: install it \(Debian: apt-get install createrepo-c; EL: dnf install createrepo_c\)/,
  },
  {
    name: 'tool: rsync missing from PATH',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => pathWithout(['rsync']),
    error: () => /Rocky-8:sync-prod FAILED: required tool 'rsync' was not found on PATH: install it \(Debian: apt-get install rsync; EL: dnf install rsync\)/,
  },
  {
    name: 'tool: hardlink missing from PATH',
    // Alone: with its dependencies it would first run every sync-prod, which do not need hardlink.
    nx: ['run', 'mirror:hardlink', '--excludeTaskDependencies'],
    arrange: () => pathWithout(['hardlink']),
    error: () => /mirror:hardlink FAILED: required tool 'hardlink' was not found on PATH: install it \(Debian: apt-get install util-linux;/,
  },
  {
    name: 'tool: hardlink missing from PATH stops a push before any production sync',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => pathWithout(['hardlink']),
    error: () => /Rocky-8:sync-prod FAILED: required tool 'hardlink' was not found on PATH: install it \(Debian: apt-get install util-linux;/,
  },
  {
    name: 'tool: createrepo_c fails, disk full',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => failingTool('createrepo_c', 'C_CREATEREPOLIB: Critical: Cannot write primary.xml.gz: No space left on device', 1),
    error: () =>
      /Extras-8:sync-staging FAILED: createrepo_c --update \S+\/(extras|plus)\/\S+ .*failed with exit code 1:\nC_CREATEREPOLIB: Critical: Cannot write primary\.xml\.gz: No space left on device/,
    drops: () => [paths('Extras-8').sp.syncRecord],
  },
  {
    name: 'tool: rsync into the staging work copy fails, disk full',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: () =>
      failingTool(
        'rsync',
        'rsync: [receiver] write failed on "Packages/r/releng-hello-1.1-1.el8.x86_64.rpm": No space left on device (28)\n' +
          'rsync error: error in file IO (code 11) at receiver.c(380) [receiver=3.2.7]',
        11,
      ),
    error: () =>
      /Rocky-8:sync-staging FAILED: rsync .* failed with exit code 11:\nrsync: \[receiver\] write failed on "\S+": No space left on device \(28\)/,
    drops: () => [paths('Rocky-8').sp.syncRecord],
  },
  {
    name: 'tool: rsync into production fails, disk full',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: () =>
      failingTool(
        'rsync',
        'rsync: [receiver] write failed on "x86_64/os/Packages/r/releng-tools-1.0-1.el8.noarch.rpm": No space left on device (28)\n' +
          'rsync error: error in file IO (code 11) at receiver.c(380) [receiver=3.2.7]',
        11,
      ),
    error: () =>
      new RegExp(
        `Extras-8:sync-prod FAILED: rsync .* ${re(w.stagingDir)}/(extras|plus)/ ${re(w.productionDir)}/(extras|plus)/ failed with exit code 11:\\n` +
          'rsync: \\[receiver\\] write failed on "\\S+": No space left on device \\(28\\)',
      ),
    // The production record goes before the first copy: production is not known to hold a release until a sync ends.
    drops: () => [paths('Extras-8').pp.syncRecord],
    incompleteJournal: true,
  },
  {
    name: 'production: the change journal dir cannot be made (a file where it should be)',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: async () => {
      const dir = journalDir();
      const back = (await lstat(dir).then(() => true, () => false)) ? await moveAside(dir) : undefined;
      const undoFile = await addFile(dir, 'not a dir');
      return undoAll(...(back ? [back] : []), undoFile);
    },
    error: () =>
      new RegExp(`Extras-8:sync-prod FAILED: cannot start the change journal in ${re(journalDir())}: [^\n]*; nothing in production was changed`),
  },
  {
    name: 'permission: the staging revision dir is immutable',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => immutable(w.stagingDir),
    error: () => new RegExp(`Extras-8:sync-staging FAILED: staging directory ${re(w.stagingDir)} is not writable \\(EPERM\\); nothing was changed`),
    chattr: true,
  },
  {
    name: 'permission: the production tree is immutable',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: () => immutable(w.productionDir, true),
    error: () => new RegExp(`Extras-8:sync-prod FAILED: production directory ${re(w.productionDir)} is not writable \\(EPERM\\); nothing was changed`),
    chattr: true,
  },
  // --- faults: the tool's own machinery (locks, captured output, torrents) ---
  {
    name: 'staging: the disk holding the locks is full (ENOSPC), no empty lock is left',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => {
      // A tiny tmpfs over the locks dir, filled up: a file can be created there, but nothing written into it.
      const locks = dirname(paths('Extras-8').sp.lockFile);
      const made = await mkdir(locks, { recursive: true });
      await run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', locks]);
      await run('sh', ['-c', `cat /dev/zero > ${locks}/filler`], { allowFailure: true });
      return async () => {
        await run('umount', [locks]);
        if (made) await rm(made, { recursive: true });
      };
    },
    error: () =>
      new RegExp(`Extras-8:sync-staging FAILED: cannot create lock ${re(paths('Extras-8').sp.lockFile)}: ENOSPC: no space left on device`),
  },
  {
    name: 'tool: rsync output over the capture limit is an error, not a cut output taken for success',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: async () => {
      const real = await which('rsync');
      const bin = await mkdtemp(join(tmpdir(), 'releng-badinput-tool-'));
      // Exit 0 after 100 MB and a bit on stdout: before, run() returned the first 100 MB as a success.
      await writeFile(
        join(bin, 'rsync'),
        `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${real} "$@"; fi\nyes '>f+++++++++ Packages/r/releng-hello.rpm' | head -c 100000100\nexit 0\n`,
      );
      await chmod(join(bin, 'rsync'), 0o755);
      return { env: { PATH: `${bin}${delimiter}${process.env.PATH}` }, undo: () => rm(bin, { recursive: true, force: true }) };
    },
    error: () => /Extras-8:sync-staging FAILED: rsync .* wrote more than 100000000 bytes to stdout; refusing to use a truncated capture/,
    drops: () => [paths('Extras-8').sp.syncRecord],
  },
  {
    name: 'staging: torrents of a staging revision without a verify record',
    nx: ['run', 'Rocky-8:torrents'],
    arrange: () => moveAside(paths('Rocky-8').sp.verifyRecord),
    error: () =>
      new RegExp(
        `Rocky-8:torrents FAILED: Rocky-8: ${re(w.stagingDir)}/isos has no passing verify \\(${re(paths('Rocky-8').sp.verifyRecord)} is missing\\); ` +
          'run nx run Rocky-8:verify first, nothing was made',
      ),
  },
  {
    name: 'staging: torrents of a staging revision whose verify did not cover isos/',
    nx: ['run', 'Rocky-8:torrents'],
    error: () =>
      new RegExp(`Rocky-8:torrents FAILED: Rocky-8: ${re(w.stagingDir)}/isos has no passing verify \\(${re(paths('Rocky-8').sp.verifyRecord)} does not cover isos/\\)`),
  },
  // --- prod: verify vouches for every byte sync-prod publishes ---
  {
    name: 'staging: compose metadata changed after verify',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => replaceFile(join(w.stagingDir, 'metadata/composeinfo.json'), '{}'),
    error: () =>
      new RegExp(
        `Rocky-8:sync-prod FAILED: Rocky-8: ${re(w.stagingDir)} changed since it passed verify at \\S+; ` +
          `run nx run Rocky-8:verify again before syncing to production \\(changed: ${re(w.stagingDir)}/metadata\\)`,
      ),
  },
  {
    name: 'staging: a file outside the repo dirs of a variant appeared after verify',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: () => addFile(join(w.stagingDir, 'extras/x86_64/README'), 'not vetted'),
    error: () => new RegExp(`Extras-8: ${re(w.stagingDir)} changed since it passed verify at \\S+; .*\\(changed: ${re(w.stagingDir)}/extras\\)`),
  },
  {
    name: 'staging: a top-level entry no project claims appeared after verify',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => addFile(join(w.stagingDir, 'images/Rocky-8-GenericCloud.qcow2'), 'qcow2'),
    error: () =>
      new RegExp(
        `Rocky-8:sync-prod FAILED: Rocky-8: ${re(w.stagingDir)}/images appeared in staging after verify at \\S+, ` +
          'which vouched for every path sync-prod publishes; run nx run Rocky-8:verify again',
      ),
  },
  // --- hostile: untrusted compose content, links and records ---
  composeLayoutLink('a variant dir that is a link to a directory outside the compose', 'Extras-8', 'compose/plus'),
  composeLayoutLink('a <Variant>/<arch> dir that is a link, even one inside the compose', 'Extras-8', 'compose/extras/x86_64', '../plus/x86_64'),
  composeLayoutLink('metadata/ that is a link to a directory outside the compose', 'Rocky-8', 'compose/metadata'),
  composeLayoutLink("a repodata dir that is a link to another repo's", 'Extras-8', 'compose/extras/aarch64/os/repodata', '../../../plus/aarch64/os/repodata'),
  composeLink('a link to /etc/shadow inside a repo', 'Extras-8', 'compose/extras/x86_64/os/Packages/shadow', '/etc/shadow', (c) => `the absolute path /etc/shadow, outside ${c}/compose`),
  composeLink('a relative link that climbs out of the compose', 'Rocky-8', 'compose/AppStream/x86_64/os/escape', '../../../../../../../../etc/passwd', (c) =>
    `${re('../../../../../../../../etc/passwd')}, which leaves ${c}/compose`,
  ),
  composeLink('a link that climbs back with .. after a name', 'Extras-8', 'compose/plus/x86_64/os/sneaky', 'Packages/../../../../../..', () =>
    `${re('Packages/../../../../../..')}, which climbs back with '\\.\\.' after a name`,
  ),
  {
    name: 'staging: a repodata dir that is a link outside (old repodata is never cleared through it)',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => linkInstead(join(w.stagingDir, 'extras/x86_64/os/repodata')),
    error: () => layoutLink('Extras-8:sync-staging', `${w.stagingDir}/extras/x86_64/os/repodata`, `staging ${w.stagingDir}`),
  },
  {
    name: 'staging: a variant dir that is a link outside (the sync never writes through it)',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => linkInstead(join(w.stagingDir, 'plus')),
    error: () => layoutLink('Extras-8:sync-staging', `${w.stagingDir}/plus`, `staging ${w.stagingDir}`),
  },
  {
    name: 'staging: a package that is a symlink at verify (production would get only the link)',
    nx: ['run', 'Rocky-devel-8:verify', '--excludeTaskDependencies'],
    arrange: () =>
      linkInstead(join(w.stagingDir, 'devel/x86_64/os/Packages/r/releng-devel-lib-1.0-1.el8.x86_64.rpm'), 'releng-devel-lib-1.0-1.el8.x86_64.rpm.real').then(
        async (undo) => {
          // The link stays inside the repo and names a real copy: only checking what production will hold (lstat) sees it.
          const dir = join(w.stagingDir, 'devel/x86_64/os/Packages/r');
          const aside = (await readdir(join(w.ws.dir, 'aside'))).filter((n) => n.endsWith('releng-devel-lib-1.0-1.el8.x86_64.rpm')).sort().pop() as string;
          await run('cp', ['-p', join(w.ws.dir, 'aside', aside), join(dir, 'releng-devel-lib-1.0-1.el8.x86_64.rpm.real')]);
          return async () => {
            await rm(join(dir, 'releng-devel-lib-1.0-1.el8.x86_64.rpm.real'));
            await undo();
          };
        },
      ),
    error: () =>
      new RegExp(
        `Rocky-devel-8:verify FAILED: 1 of 5 repos failed verification:\\n\\s+devel/x86_64/os:\\n\\s+` +
          `package releng-devel-lib-1\\.0-1\\.el8\\.x86_64: ${re(w.stagingDir)}/devel/x86_64/os/Packages/r/releng-devel-lib-1\\.0-1\\.el8\\.x86_64\\.rpm ` +
          'is a symbolic link; production would receive the link, not the file',
      ),
    drops: () => [paths('Rocky-devel-8').sp.verifyRecord],
  },
  {
    name: 'staging: a link to /etc/shadow in a repo at verify',
    nx: ['run', 'Rocky-devel-8:verify', '--excludeTaskDependencies'],
    arrange: () => addLink(join(w.stagingDir, 'devel/aarch64/os/Packages/shadow'), '/etc/shadow'),
    error: () =>
      new RegExp(
        `Rocky-devel-8:verify FAILED: 1 of 5 repos failed verification:\\n\\s+devel/aarch64/os:\\n\\s+` +
          `${re(w.stagingDir)}/devel/aarch64/os/Packages/shadow is a symbolic link to the absolute path /etc/shadow, outside ${re(w.stagingDir)}`,
      ),
    drops: () => [paths('Rocky-devel-8').sp.verifyRecord],
  },
  {
    name: 'staging: a repodata dir that is a link outside at verify',
    nx: ['run', 'Rocky-devel-8:verify', '--excludeTaskDependencies'],
    arrange: () => linkInstead(join(w.stagingDir, 'devel/x86_64/debug/tree/repodata')),
    error: () =>
      new RegExp(
        `Rocky-devel-8:verify FAILED: 1 of 5 repos failed verification:\\n\\s+devel/x86_64/debug/tree:\\n\\s+` +
          `${re(w.stagingDir)}/devel/x86_64/debug/tree/repodata is a symbolic link \\(to [^)]+\\) where the layout has a directory`,
      ),
    drops: () => [paths('Rocky-devel-8').sp.verifyRecord],
  },
  {
    name: 'staging: a repodata dir that is a link outside at updateinfo (errata never written through it)',
    // --skip-nx-cache: nothing updateinfo is cached on changed (a link is not part of sync-staging's output).
    nx: ['run', 'Rocky-8:updateinfo', '--excludeTaskDependencies', '--skip-nx-cache'],
    arrange: () => linkInstead(join(w.stagingDir, 'BaseOS/x86_64/os/repodata')),
    error: () => layoutLink('Rocky-8:updateinfo', `${w.stagingDir}/BaseOS/x86_64/os/repodata`, `Rocky-8: staging ${w.stagingDir}`),
  },
  {
    name: 'staging: an arch dir that is a link at sign (repomd.xml.asc never written through it)',
    nx: ['run', 'Rocky-devel-8:sign', '--excludeTaskDependencies', '--skip-nx-cache'],
    arrange: () => linkInstead(join(w.stagingDir, 'devel/aarch64')),
    error: () => layoutLink('Rocky-devel-8:sign', `${w.stagingDir}/devel/aarch64`, `Rocky-devel-8: staging ${w.stagingDir}`),
  },
  {
    name: 'staging: metadata/ that is a link outside at sync-prod (its files are never published)',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => linkInstead(join(w.stagingDir, 'metadata')),
    error: () => layoutLink('Rocky-8:sync-prod', `${w.stagingDir}/metadata`, `Rocky-8: staging ${w.stagingDir}`),
  },
  {
    name: 'production: a repodata dir that is a link outside (sync-prod never writes through it)',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: () => linkInstead(join(w.productionDir, 'extras/x86_64/os/repodata')),
    error: () => layoutLink('Extras-8:sync-prod', `${w.productionDir}/extras/x86_64/os/repodata`, `Extras-8: production ${w.productionDir}`),
  },
  {
    name: 'production: a repomd.xml that is a link, for the file list',
    nx: ['run', 'mirror:filelist', '--excludeTaskDependencies', '--skip-nx-cache'],
    // Inside production, so only the checksum rule refuses it: the list would checksum extras' repomd.xml for plus.
    // Journaled as the push that made it would have, so the update from the change journal looks at it.
    arrange: async () => {
      const repomd = join(w.productionDir, 'plus/x86_64/os/repodata/repomd.xml');
      return undoAll(await linkInstead(repomd, '../../../../extras/x86_64/os/repodata/repomd.xml'), await journaled([repomd]));
    },
    error: () =>
      new RegExp(`mirror:filelist FAILED: ${re(w.productionDir)}/plus/x86_64/os/repodata/repomd\\.xml is a symbolic link; the file lists checksum repomd\\.xml itself, never through a link`),
    // A failed run forgets the file-list state (filelist.ts): the next lists walk the tree.
    drops: () => [fileListStateJson()],
  },
  {
    name: 'production: a link to /etc/shadow, for the file list',
    nx: ['run', 'mirror:filelist', '--excludeTaskDependencies', '--skip-nx-cache'],
    arrange: async () => {
      const link = join(w.productionDir, 'extras/x86_64/os/Packages/shadow');
      return undoAll(await addLink(link, '/etc/shadow'), await journaled([link]));
    },
    error: () =>
      new RegExp(`mirror:filelist FAILED: [^\\n]*${re(w.productionDir)}/extras/x86_64/os/Packages/shadow is a symbolic link to the absolute path /etc/shadow, outside ${re(w.productionRoot)}`),
    drops: () => [fileListStateJson()],
  },
  {
    name: 'record: a sync record naming ../.. as a repo',
    nx: ['run', 'Extras-8:verify', '--excludeTaskDependencies'],
    arrange: () => editRecord(paths('Extras-8').sp.syncRecord, (v) => (v.repos[1] = '../..')),
    error: () => badRecord('Extras-8:verify', paths('Extras-8').sp.syncRecord, 'repos\\.1', "'\\.\\./\\.\\.'"),
  },
  {
    name: 'record: a sync record naming a link outside the revision dir',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: () => editRecord(paths('Rocky-8').sp.syncRecord, (v) => (v.links = [{ name: '../../../etc', target: 'NFV' }])),
    error: () => badRecord('Rocky-8:sync-staging', paths('Rocky-8').sp.syncRecord, 'links\\.0\\.name', "'\\.\\./\\.\\./\\.\\./etc'"),
  },
  {
    name: 'record: a sync record stamping a dir outside the project (never stat\'ed or trusted)',
    nx: ['run', 'Extras-8:sync-staging'],
    arrange: () => editRecord(paths('Extras-8').sp.syncRecord, (v) => (v.dirs['extras/../../../..'] = '1:2')),
    error: () => badRecord('Extras-8:sync-staging', paths('Extras-8').sp.syncRecord, 'dirs\\.extras/\\.\\./\\.\\./\\.\\./\\.\\.', "'extras/\\.\\./\\.\\./\\.\\./\\.\\.'"),
  },
  {
    name: 'record: a verify record naming ../.. as a repo (never an rsync --delete subtree)',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: () => editRecord(paths('Extras-8').sp.verifyRecord, (v) => v.repos.push('../..')),
    error: () => badRecord('Extras-8:sync-prod', paths('Extras-8').sp.verifyRecord, 'repos\\.\\d+', "'\\.\\./\\.\\.'"),
  },
  {
    name: 'record: a verify record naming another project\'s repo',
    nx: ['run', 'Rocky-devel-8:sync-prod'],
    arrange: () => editRecord(paths('Rocky-devel-8').sp.verifyRecord, (v) => (v.repos[0] = 'BaseOS/x86_64/os')),
    error: () => badRecord('Rocky-devel-8:sync-prod', paths('Rocky-devel-8').sp.verifyRecord, 'repos\\.0', "'BaseOS/x86_64/os'"),
  },
  {
    name: 'record: a verify record whose extra subtree is absolute',
    nx: ['run', 'Rocky-8:sync-prod'],
    arrange: () => editRecord(paths('Rocky-8').sp.verifyRecord, (v) => (v.extraSubtrees = ['/etc'])),
    error: () => badRecord('Rocky-8:sync-prod', paths('Rocky-8').sp.verifyRecord, 'extraSubtrees\\.0', "'/etc'"),
  },
  {
    name: 'record: a production record naming ../.. as a subtree',
    nx: ['run', 'Extras-8:sync-prod'],
    arrange: async () => {
      const digest = JSON.parse(await readFile(paths('Extras-8').sp.verifyRecord, 'utf8')).digest;
      return editRecord(paths('Extras-8').pp.syncRecord, (v) => {
        v.subtrees = ['../..'];
        v.verifyDigest = digest;
      });
    },
    error: () => badRecord('Extras-8:sync-prod', paths('Extras-8').pp.syncRecord, 'subtrees\\.0', "'\\.\\./\\.\\.'"),
  },
  {
    name: 'record: a pending-deletions record naming ../.. (mirror:filelist deletes nothing through it)',
    nx: ['run', 'mirror:filelist', '--excludeTaskDependencies', '--skip-nx-cache'],
    arrange: () =>
      addFile(
        paths('Extras-8').pp.pendingDeletions,
        JSON.stringify({ version: 1, project: 'Extras-8', revisionDir: w.productionDir, paths: ['extras/x86_64/os/Packages', '../..'], recordedAt: '2026-12-05T00:00:00Z' }),
      ),
    error: () => new RegExp(`mirror:filelist FAILED: ${re(paths('Extras-8').pp.pendingDeletions)}: field paths\\.1: '\\.\\./\\.\\.' is not a plain relative path inside the project's own subtrees`),
  },
  {
    name: 'production: a pending deletion below a dir that became a link (nothing is deleted through it)',
    nx: ['run', 'mirror:filelist', '--excludeTaskDependencies', '--skip-nx-cache'],
    arrange: async () => {
      // plus/x86_64/os/Packages moved aside and linked back (a link inside the tree, which the lists allow).
      const packages = join(w.productionDir, 'plus/x86_64/os/Packages');
      const parentMtime = (await lstat(dirname(packages), { bigint: true })).mtimeNs;
      const victim = (await readdir(packages, { recursive: true })).find((n) => n.endsWith('.rpm')) as string;
      await rename(packages, `${packages}.real`);
      await symlink('Packages.real', packages);
      const undoRecord = await addFile(
        paths('Extras-8').pp.pendingDeletions,
        JSON.stringify({ version: 1, project: 'Extras-8', revisionDir: w.productionDir, paths: [`plus/x86_64/os/Packages/${victim}`], recordedAt: '2026-12-05T00:00:00Z' }),
      );
      return async () => {
        await undoRecord();
        await rm(packages);
        await rename(`${packages}.real`, packages);
        await setMtimeNs(dirname(packages), parentMtime);
      };
    },
    error: () =>
      new RegExp(`mirror:filelist FAILED: Extras-8: ${re(w.productionDir)}/plus/x86_64/os/Packages is a symbolic link; the pending deletion of ${re(w.productionDir)}/plus/x86_64/os/Packages/\\S+ never goes through it \\(nothing was changed\\)`),
  },
  // --- compose: checkouts ---
  {
    name: 'compose: the pungi config checkout is missing',
    nx: ['run', 'Rocky-8:compose'],
    error: () =>
      new RegExp(
        `Rocky-8:refresh FAILED: releases/8/Rocky/compose\\.json: field pungi\\.checkout: checkout ${re(w.ws.relengRoot)}/etc/pungi-prod ` +
          `does not exist or is not a directory; make it with: git clone -b r8 https://git\\.rockylinux\\.org/rocky/pungi-rocky\\.git `,
      ),
  },
  {
    name: 'compose: the module metadata dir is not a git checkout',
    nx: ['run', 'Rocky-8:compose'],
    arrange: async () => ({ undo: pungiCheckout('r8'), env: insteadOfEnv(join(w.ws.relengRoot, 'git')) }),
    error: () =>
      new RegExp(
        `Rocky-8:refresh FAILED: releases/8/Rocky/compose\\.json: field pungi\\.moduleMetadata: checkout ${re(w.ws.relengRoot)}/mnt/compose/8_metadata ` +
          'is not a git checkout \\(not the top of a git work tree\\)',
      ),
  },
  {
    name: 'compose: the pungi config checkout is on the wrong branch (--offline)',
    nx: ['run', 'Rocky-8:compose', '--offline'],
    arrange: async () => {
      const undo = pungiCheckout('r8');
      gitIn(join(w.ws.relengRoot, 'etc/pungi-prod'), ['checkout', '-q', '-b', 'hotfix']);
      return undo;
    },
    error: () =>
      new RegExp(
        `Rocky-8:refresh FAILED: releases/8/Rocky/compose\\.json: field pungi\\.checkout: checkout ${re(w.ws.relengRoot)}/etc/pungi-prod ` +
          'is on branch hotfix, not on r8; a refresh \\(without --offline\\) switches it',
      ),
  },
  // --- errata: module metadata ---
  {
    name: 'compose: a modular repo without its module yaml',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: () => moveAside(moduleYamlOf('aarch64', 'PowerTools')),
    error: () =>
      new RegExp(
        `Rocky-8:sync-staging FAILED: PowerTools is a modular repo \\(modularRepos in releases/8/release\\.json\\) but its module metadata ` +
          `${re(moduleYamlOf('aarch64', 'PowerTools'))} cannot be read \\(.*ENOENT.*\\); refusing to publish PowerTools/aarch64/os without modules`,
      ),
  },
  {
    name: 'compose: a module yaml that does not parse',
    nx: ['run', 'Rocky-8:sync-staging'],
    arrange: () => replaceFile(moduleYamlOf('x86_64', 'AppStream'), '---\ndocument: modulemd\nversion: 2\ndata: {name: releng-app, stream: [\n'),
    error: () => new RegExp(`Rocky-8:sync-staging FAILED: ${re(moduleYamlOf('x86_64', 'AppStream'))}: YAML document 1 does not parse: `),
  },
  {
    name: 'compose: a module yaml that does not parse, at a --dryRun (it fails as the sync would)',
    nx: ['run', 'Rocky-8:sync-staging', '--dryRun'],
    arrange: () => replaceFile(moduleYamlOf('x86_64', 'AppStream'), '---\ndocument: modulemd\nversion: 2\ndata: {name: releng-app, stream: [\n'),
    error: () => new RegExp(`Rocky-8:sync-staging FAILED: ${re(moduleYamlOf('x86_64', 'AppStream'))}: YAML document 1 does not parse: `),
  },  ...MINOR_SIG_ERRATA_CASES,
];

/** Creates a file (and the dirs it needs); the undo removes them and puts the parent's mtime back. */
async function addFile(path: string, content: string): Promise<Undo> {
  let top = path;
  while (!(await lstat(dirname(top)).then(() => true, () => false))) top = dirname(top);
  const parent = dirname(top);
  const mtime = (await lstat(parent, { bigint: true })).mtimeNs;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
  return async () => {
    await rm(top, { recursive: true });
    await setMtimeNs(parent, mtime);
  };
}

/** A real pungi-rocky checkout at <RELENG_ROOT>/etc/pungi-prod on branch (a clone of a local bare repository). */
function pungiCheckout(branch: string): Undo {
  const dir = join(w.ws.relengRoot, 'etc/pungi-prod');
  makeCheckout(dir, join(w.ws.relengRoot, 'git'), 'pungi-rocky.git', branch);
  return async () => {
    // Only the checkout: etc/ also holds the release's public key (etc/pki) that later verify cases need.
    await rm(dir, { recursive: true, force: true });
    await rm(join(w.ws.relengRoot, 'git'), { recursive: true, force: true });
  };
}

/** The hand-maintained module metadata of a modular repo (release.json moduleMetadataDir, re-rooted). */
function moduleYamlOf(arch: string, repo: string): string {
  return join(w.ws.relengRoot, 'mnt/compose/8_metadata', arch, `${repo}-modules.yaml`);
}

before(async () => {
  w = await openReleasedWorkspace('bad-input');
  for (const m of loadAllComposeModels(w.ws.dir)) models.set(m.project, m);
  chattr = await probeChattr(w.ws.dir);
  baseline = await snapTrees();
  // Both trees hold a release of every project, so every case has something to damage.
  for (const sub of ['extras', 'plus', 'devel', 'BaseOS', 'AppStream', 'PowerTools']) {
    assert.ok(countFiles(baseline.staging, `mirror/pub/rocky/8.10-RC2/${sub}/`) > 5, `staging ${sub}`);
    assert.ok(countFiles(baseline.production, `mirror/pub/rocky/8.10/${sub}/`) > 5, `production ${sub}`);
  }
  assert.equal(baseline.production?.get('mirror/pub/rocky/fullfiletimelist-rocky')?.type, 'file', 'production has its file list');
});

after(async () => {
  if (chattr.works && w) await run('chattr', ['-R', '-i', w.ws.relengRoot], { allowFailure: true }).catch(() => undefined);
  await w?.close();
});

test('the catalogue covers every layer with at least 50 cases', () => {
  assert.ok(CASES.length >= 50, `${CASES.length} cases`);
  assert.equal(new Set(CASES.map((c) => c.name)).size, CASES.length, 'case names are unique');
  const layers = new Set(CASES.map((c) => c.name.split(':')[0]));
  for (const layer of ['common.json', 'release.json', 'compose.json', 'compose', 'staging', 'production', 'tool', 'permission']) {
    assert.ok(layers.has(layer), `no case for ${layer}`);
  }
});

for (const c of CASES) {
  test(`bad input: ${c.name}`, async (t) => {
    if (c.chattr && !chattr.works) {
      t.skip(`chattr +i cannot make a dir read-only for root here (${chattr.why})`);
      return;
    }
    const arranged = await c.arrange?.();
    const { undo, env } = typeof arranged === 'function' ? { undo: arranged, env: undefined } : { ...arranged };
    const saved = new Map<string, Buffer>();
    try {
      const before = await snapTrees();
      for (const record of c.drops?.() ?? []) saved.set(record, await readFile(record));
      const r = await w.ws.nxAsync([...c.nx, '--output-style=static'], { RELENG_ERRATA_URL: w.errata.url, ...env });
      assert.notEqual(r.status, 0, `nx ${c.nx.join(' ')} succeeded:\n${r.output}`);
      assert.match(r.output, c.error(), r.output);
      assert.doesNotMatch(r.output, /^\s+at \S.*:\d+:\d+\)?$/m, 'a stack trace instead of a message');
      if (c.incompleteJournal) {
        const left = (await readChangeJournals(journalDir(), w.productionRoot)).incomplete.filter((j) => !before.state?.has(stateRel(j.file)));
        assert.equal(left.length, 1, `one incomplete change journal: ${JSON.stringify(left)}`);
        assert.match(left[0]?.why ?? '', /no end line/);
        assert.ok(left[0]?.writerGone, 'its writer (the nx run) is gone');
        await rm(left[0]?.file as string);
      }
      const after = await snapTrees();
      assertSameTree(after.staging, before.staging, `staging changed by a failed nx ${c.nx.join(' ')}`);
      assertSameTree(after.production, before.production, `production changed by a failed nx ${c.nx.join(' ')}`);
      const expectedState = new Map(before.state);
      for (const record of saved.keys()) {
        assert.ok(before.state?.has(stateRel(record)), `${record} existed before the run`);
        assert.equal(after.state?.has(stateRel(record)), false, `${record} was not dropped`);
        expectedState.delete(stateRel(record));
      }
      assertSameTree(after.state, expectedState, `.releng state changed by a failed nx ${c.nx.join(' ')}`, STATE_DIRS);
    } finally {
      for (const [record, bytes] of saved) await writeFile(record, bytes);
      await undo?.();
    }
    // Undone: the next case starts from the release state the catalogue began with.
    const now = await snapTrees();
    assertSameTree(now.staging, baseline.staging, 'staging after the undo');
    assertSameTree(now.production, baseline.production, 'production after the undo');
    assertSameTree(now.state, baseline.state, '.releng state after the undo', STATE_RESTORED);
  });
}

// --- the file lists: any doubt about the change journal or the file-list state gives a full walk -----------------
//
// mirror:filelist updates the lists from the change journal (production/change-journal.ts) and the state of the last
// lists (mirror/filelist-state.ts). When either is broken, the safe outcome is a full walk with the reason logged:
// correct lists, never wrong ones, never a cryptic crash. These cases run after the ones above (which leave
// production as they found it, but with ctimes the lists may not show yet) and share their workspace: the first one
// settles the lists with a --full run, and every case ends with one that must rewrite nothing, so the next starts
// from lists that describe the tree and a fresh state. Each case first pushes two new files into production (the
// lists do not show them yet) and then breaks the journal or the state: where the broken part is what names the
// push, lists made by trusting what is left of it would miss a file, and the closing --full would rewrite them.

interface FileListCase {
  name: string;
  /** Breaks the journal or the state; `pushed`: the two new files in production, which no list names yet. */
  arrange: (pushed: string[]) => Promise<Planted>;
  /** The reason the run walks the whole tree (a regexp); undefined: the lists are updated from the journal. */
  why?: (p: Planted) => string;
  /** The run fails with this message (after publishing correct lists); `nextWhy`: why the next run walks. */
  error?: (p: Planted) => RegExp;
  nextWhy?: () => string;
  /** What becomes of the planted journal: a dead writer's is removed after the walk, a live writer's kept. */
  journalAfter?: 'removed' | 'kept';
  chattr?: boolean;
}

interface Planted {
  /** The journal the case wrote, if any. */
  journal?: string;
  undo?: Undo;
}

const FILELIST_RUN = ['run', 'mirror:filelist', '--excludeTaskDependencies', '--skip-nx-cache', '--output-style=static'];
const fileListStateDir = () => mirrorStatePaths({ staging: w.stagingRoot }).fileListStateDir;
const prodRel = (abs: string) => abs.slice(w.productionRoot.length + 1);
let journalSeq = 0;
const fileListStateJson = () => join(fileListStateDir(), 'state.json');

/** A complete change journal naming `changed`, as the push that changed them leaves it; the undo removes it. */
async function journaled(changed: string[]): Promise<Undo> {
  const file = await completeJournal(changed);
  return () => rm(file);
}

/** A journal as a production writer leaves it: `lines` as given (JSON text, or not), one per line. */
async function plantJournal(lines: string[]): Promise<string> {
  await mkdir(journalDir(), { recursive: true });
  const file = join(journalDir(), `${new Date().toISOString().replace(/[:.]/g, '')}-${process.pid}-cat${String(++journalSeq).padStart(3, '0')}.jsonl`);
  await writeFile(file, lines.map((l) => `${l}\n`).join(''));
  return file;
}

const beginLine = (writer: unknown) => JSON.stringify({ begin: new Date().toISOString(), writer, production: w.productionRoot });
const pathsLine = (abs: string[]) => JSON.stringify({ paths: abs.map(prodRel) });
const endLine = () => JSON.stringify({ end: new Date().toISOString() });

/** The identity of a writer that is certainly gone: a process of this host that has exited. */
async function deadWriter(owner: string): Promise<unknown> {
  const child = spawn('true', { stdio: 'ignore' });
  const pid = await new Promise<number>((resolve, reject) => child.once('error', reject).once('exit', () => resolve(child.pid as number)));
  return { ...writerIdentity(owner), pid, startTime: undefined };
}

/** A complete journal naming the push, written by the real journal code (this process as its writer). */
async function completeJournal(pushed: string[]): Promise<string> {
  return withChangeJournal(journalDir(), w.productionRoot, 'catalogue:sync-prod', async (j) => {
    await j.record(pushed);
    return j.file;
  });
}

/** Rewrites a file of the file-list state in place (the state no longer trusts it). */
async function editState(name: 'state.json' | 'index.json', edit: (text: string) => string): Promise<void> {
  const file = join(fileListStateDir(), name);
  await writeFile(file, edit(await readFile(file, 'utf8')));
}

const FILELIST_CASES: FileListCase[] = [
  {
    name: 'file lists: a complete change journal (control: the lists are updated, not walked)',
    arrange: async (pushed) => ({ journal: await completeJournal(pushed) }),
    journalAfter: 'removed',
  },
  {
    name: 'file lists: a change journal with a line that is not JSON (the one naming a pushed file)',
    arrange: async (pushed) => ({
      journal: await plantJournal([beginLine(await deadWriter('catalogue:sync-prod')), pathsLine(pushed.slice(0, 1)), pathsLine(pushed.slice(1)).slice(0, -2), endLine()]),
    }),
    why: (p) => `the change journal ${re(p.journal as string)} cannot be used \\(line 3 is not JSON\\)`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: a change journal left by a killed writer (no end line, its pid gone)',
    // The writer pushed both files and was killed before it recorded the second.
    arrange: async (pushed) => ({ journal: await plantJournal([beginLine(await deadWriter('catalogue:sync-prod')), pathsLine(pushed.slice(0, 1))]) }),
    why: (p) => `the change journal ${re(p.journal as string)} cannot be used \\(no end line: its writer failed, was killed or still runs\\)`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: a change journal of a writer still running (no end line, its pid alive)',
    arrange: async (pushed) => ({ journal: await plantJournal([beginLine(writerIdentity('catalogue:sync-prod')), pathsLine(pushed.slice(0, 1))]) }),
    why: (p) => `the change journal ${re(p.journal as string)} cannot be used \\(no end line: its writer failed, was killed or still runs\\)`,
    journalAfter: 'kept',
  },
  {
    name: 'file lists: a change journal asking for a full walk',
    // Its writer changed the second file without being able to name it.
    arrange: async (pushed) => ({
      journal: await plantJournal([beginLine(writerIdentity('catalogue:hardlink')), pathsLine(pushed.slice(0, 1)), JSON.stringify({ full: 'hardlink could not tell which files it relinked' }), endLine()]),
    }),
    why: (p) => `${re(p.journal as string)}: hardlink could not tell which files it relinked`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: the file-list state.json is not JSON',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await editState('state.json', (t) => t.slice(0, t.length / 2));
      return { journal };
    },
    why: () => `the file-list state ${re(fileListStateDir())}/state\\.json is not JSON \\([^)\\n]+\\)`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: the file-list state.json is of another version',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await editState('state.json', (t) => JSON.stringify({ ...JSON.parse(t), version: 2 }));
      return { journal };
    },
    why: () => `the file-list state ${re(fileListStateDir())}/state\\.json is version 2, not 1`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: the file-list state.json without its roots (malformed)',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await editState('state.json', (t) => JSON.stringify({ ...JSON.parse(t), roots: undefined }));
      return { journal };
    },
    why: () => `the file-list state ${re(fileListStateDir())}/state\\.json is malformed: roots is not a list`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: the file-list index.json is not JSON',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await editState('index.json', (t) => t.slice(0, t.indexOf('\n') + 1 + 5));
      return { journal };
    },
    why: () => `the tree index ${re(fileListStateDir())}/index\\.json is not JSON \\([^)\\n]+\\)`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: an inode part of the tree index is missing (state.json names one more than there are)',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await editState('state.json', (t) => JSON.stringify({ ...JSON.parse(t), inodeParts: [...(JSON.parse(t) as { inodeParts: number[] }).inodeParts, 10] }));
      return { journal };
    },
    why: () => `cannot read the tree index ${re(fileListStateDir())}/inodes-[0-9a-f]+-\\d+\\.txt: ENOENT: no such file or directory, open '[^'\\n]+'`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: the file-list index.json belongs to another state (token mismatch)',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await editState('index.json', (t) => `0123456789abcdef${t.slice(t.indexOf('\n'))}`);
      return { journal };
    },
    why: () => `the tree index ${re(fileListStateDir())}/index\\.json belongs to another file-list state`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: a published list edited by hand',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await writeFile(join(w.productionRoot, 'mirror/pub/rocky/fullfilelist'), './edited-by-hand\n', { flag: 'a' });
      return { journal };
    },
    why: () => `${re(w.productionRoot)}/mirror/pub/rocky/fullfilelist changed since the last run wrote it`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: a file where the file-list state dir should be (the state cannot be saved)',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      await rm(fileListStateDir(), { recursive: true });
      await writeFile(fileListStateDir(), 'not a dir\n');
      return { journal, undo: () => rm(fileListStateDir()) };
    },
    error: () =>
      new RegExp(
        `mirror:filelist FAILED: the file lists were published, but their state cannot be saved in ${re(fileListStateDir())}: [^\\n]*(?:ENOTDIR|EEXIST)[^\\n]*; ` +
          'the next mirror:filelist walks the whole tree',
      ),
    nextWhy: () => `no file-list state in ${re(fileListStateDir())} \\(first run, or it was removed\\)`,
    journalAfter: 'removed',
  },
  {
    name: 'file lists: the file-list state dir is not writable (the state cannot be saved)',
    arrange: async (pushed) => {
      const journal = await completeJournal(pushed);
      return { journal, undo: await immutable(fileListStateDir()) };
    },
    // The old state cannot be removed either; it no longer matches the lists this run published.
    error: () =>
      new RegExp(
        `mirror:filelist FAILED: the file lists were published, but their state cannot be saved in ${re(fileListStateDir())}: [^\\n]*EPERM[^\\n]*; ` +
          'nor can the state there be removed \\([^\\n]*EPERM[^\\n]*\\): the next mirror:filelist uses it only if it still describes the published lists',
      ),
    nextWhy: () => `${re(w.productionRoot)}/mirror/pub/rocky/\\S+ changed since the last run wrote it`,
    journalAfter: 'removed',
    chattr: true,
  },
];

let fileListsSettled = false;
let pushSeq = 0;

for (const c of FILELIST_CASES) {
  test(`bad input: ${c.name}`, async (t) => {
    if (c.chattr && !chattr.works) {
      t.skip(`chattr +i cannot make a dir read-only for root here (${chattr.why})`);
      return;
    }
    const manifestFile = join(w.ws.dir, 'dist/releng/mirror/filelist/manifest.json');
    const madeBy = async () => (JSON.parse(await readFile(manifestFile, 'utf8')) as Array<{ madeBy?: { kind: string; why?: string } }>)[0]?.madeBy;
    if (!fileListsSettled) {
      const settle = await w.ws.nxAsync([...FILELIST_RUN, '--full']);
      assert.equal(settle.status, 0, settle.output);
      fileListsSettled = true;
    }
    const n = ++pushSeq;
    const pushed = ['a', 'b'].map((x) => join(w.productionDir, `extras/x86_64/os/catalogue-push-${n}-${x}.txt`));
    for (const p of pushed) await writeFile(p, `pushed by catalogue case ${n}\n`);
    const planted = await c.arrange(pushed);
    let r: { status: number; output: string };
    try {
      r = await w.ws.nxAsync(FILELIST_RUN);
    } finally {
      await planted.undo?.();
    }
    assert.doesNotMatch(r.output, /^\s+at \S.*:\d+:\d+\)?$/m, 'a stack trace instead of a message');
    if (c.error) {
      assert.notEqual(r.status, 0, `mirror:filelist succeeded:\n${r.output}`);
      assert.match(r.output, c.error(planted), r.output);
      // The next run walks, and finds the lists the failed run published already right.
      const next = await w.ws.nxAsync(FILELIST_RUN);
      assert.equal(next.status, 0, next.output);
      assert.match(next.output, new RegExp(`walked the whole tree: ${c.nextWhy?.()}$`, 'm'), next.output);
      assert.match(next.output, /mirror:filelist file lists unchanged/, next.output);
    } else {
      assert.equal(r.status, 0, r.output);
      if (c.why) {
        const why = c.why(planted);
        assert.match(r.output, new RegExp(`walked the whole tree: ${why}$`, 'm'), r.output);
        assert.equal((await madeBy())?.kind, 'full walk');
        assert.match((await madeBy())?.why ?? '', new RegExp(`^${why}$`));
      } else {
        assert.match(r.output, /updated from the change journal \(\d+ paths looked at again\)/, r.output);
        assert.equal((await madeBy())?.kind, 'update');
      }
      assert.match(r.output, /mirror:filelist file lists rewritten at /, r.output);
    }
    if (planted.journal) {
      const left = await access(planted.journal).then(() => true, () => false);
      assert.equal(left, c.journalAfter === 'kept', `the journal ${planted.journal} is ${left ? 'still there' : 'gone'}`);
      await rm(planted.journal, { force: true });
    }
    // The lists equal what a full walk of the tree writes.
    const full = await w.ws.nxAsync([...FILELIST_RUN, '--full']);
    assert.equal(full.status, 0, full.output);
    assert.match(full.output, /walked the whole tree: asked for \(--full\)/, full.output);
    assert.match(full.output, /mirror:filelist file lists unchanged/, full.output);
    for (const p of pushed) assert.match(await readFile(join(w.productionRoot, 'mirror/pub/rocky/fullfilelist'), 'utf8'), new RegExp(`^\\./${re(prodRel(p).slice('mirror/pub/rocky/'.length))}$`, 'm'));
  });
}
