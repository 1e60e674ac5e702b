'use strict';
/**
 * The walk behind writeFileLists (filelist.ts; the formats and decisions are described there): one lstat per
 * entry (plus one stat per symlink), byte-sorted siblings, nested roots fed from the same walk, output streamed
 * to staged files, and subtrees walked in parallel by worker threads.
 *
 * Plain JavaScript (CommonJS) on purpose: worker threads run this file as it is. Loading it through the
 * TypeScript loader (@swc-node/register, which loads `typescript`) took 0.2-0.4 s per worker; plain, a worker
 * starts in ~20 ms. Types for the TypeScript side: filelist-walk.d.ts.
 */
const fs = require('node:fs');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const S_IRGRP = 0o040;
const S_IROTH = 0o004;
const TIMELIST_HEADER = '[Version]\n2\n\n[Files]\n';
const BAD_NAME = /[\t\n\uFFFD]/;

/** A failure to report as is (writeFileLists turns it into a RelengError). */
class WalkError extends Error {}

/**
 * Unicode code-point order of two strings (= byte order of their UTF-8), which is Python's `sorted()` on str
 * and strcmp on the raw names. Plain `<` on JS strings is UTF-16 code-unit order, which differs only when the
 * first difference is between two code units >= 0xD800 (a surrogate vs. U+E000..U+FFFF).
 */
function compareNames(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Sorts names in code-point order, in place. libuv's scandir already returns strcmp order: O(n) check first. */
function sortNames(names) {
  for (let i = 1; i < names.length; i++) {
    if (compareNames(names[i - 1], names[i]) > 0) return names.sort(compareNames);
  }
  return names;
}

/** Names create-filelist never lists, at any depth: rsync --delay-updates dirs and NFS silly-rename files. */
function alwaysSkipped(name) {
  return name === '.~tmp~' || name.startsWith('.nfs');
}

/** CPython's st_*time float from a total-nanoseconds value: double(sec) + double(nsec) * 1e-9. */
function pyTime(totalNs) {
  let sec = totalNs / 1_000_000_000n;
  let nsec = totalNs % 1_000_000_000n;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    sec -= 1n;
  }
  return Number(sec) + Number(nsec) * 1e-9;
}

/**
 * The listed time: create-filelist's `int(max(st_mtime, st_ctime))` of the lstat result.
 * CPython builds each float as `sec + nsec * 1e-9` (so nsec > ~999,999,880 rounds up to sec+1) and int()
 * truncates. Node's number stats only keep `sec*1e3 + nsec/1e6` in milliseconds; that floors to the same
 * second unless nsec >= 999,990,000 (computed fraction >= 999.99 ms or rounded to the next second), where
 * we redo the lstat with bigint fields and repeat CPython's double arithmetic exactly. One exception is
 * indistinguishable without that second lstat: a fraction that rounded to exactly the next whole second
 * (true nsec within ~120 ns of 1e9) -- CPython also rounds up there except in a ~3 ns window, so this may
 * differ from CPython once per ~3e8 entries; accepted to keep one lstat per entry on second-granularity
 * filesystems, where every time is a whole second. `timeField: 'mtime'` (a test seam: tests cannot set
 * ctime) lists int(mtime) instead.
 */
function listTime(st, p, timeField) {
  if (timeField === 'mtime') return Math.floor(st.mtimeMs / 1000);
  const ms = st.mtimeMs > st.ctimeMs ? st.mtimeMs : st.ctimeMs;
  const sec = Math.floor(ms / 1000);
  const frac = ms - sec * 1000;
  if (frac >= 0 && frac < 999.99 && ms >= 0) return sec;
  const b = fs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
  return b ? Math.trunc(Math.max(pyTime(b.mtimeNs), pyTime(b.ctimeNs))) : Math.trunc(ms / 1000);
}

function lstatOrUndefined(p, follow, dir) {
  try {
    return follow ? fs.statSync(p, { throwIfNoEntry: false }) : fs.lstatSync(p, { throwIfNoEntry: false });
  } catch (err) {
    // Dangling or looping symlinks, a path component replaced by a file.
    if (err.code === 'ELOOP' || err.code === 'ENOTDIR' || err.code === 'ENOENT') return undefined;
    throw new WalkError(`cannot stat ${dir !== undefined && !p.startsWith('/') ? `${dir}/${p}` : p}: ${err.message}`);
  }
}

function checkName(dir, name, st) {
  const shown = JSON.stringify(`${dir}/${name}`);
  if (name.includes('\t') || name.includes('\n')) throw new WalkError(`${shown}: file name contains a TAB or newline; the file lists cannot represent it`);
  // U+FFFD is what an undecodable byte becomes; if lstat cannot find the decoded name, it was not UTF-8.
  if (st === undefined) throw new WalkError(`${shown}: file name is not valid UTF-8; the file lists cannot represent it`);
}

/**
 * Buffered, synchronous appender that knows its byte offset. Lines are encoded straight into a preallocated
 * buffer: building a long string with += and converting it was measured ~2x slower.
 */
class OutFile {
  constructor(path) {
    this.path = path;
    this.fd = fs.openSync(path, 'w', 0o644);
    this.buf = Buffer.allocUnsafe(1 << 18);
    this.pos = 0;
    this.flushed = 0;
  }
  write(s) {
    this.last = s;
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    if (this.pos + s.length * 3 > this.buf.length) {
      this.flush();
      if (s.length * 3 > this.buf.length) return this.writeBytes(Buffer.from(s, 'utf8'));
    }
    this.pos += this.buf.write(s, this.pos);
  }
  writeBytes(bytes) {
    this.flush();
    for (let off = 0; off < bytes.length; ) off += fs.writeSync(this.fd, bytes, off, bytes.length - off);
    this.flushed += bytes.length;
  }
  offset() {
    return this.flushed + this.pos;
  }
  flush() {
    const pending = this.buf.subarray(0, this.pos);
    this.pos = 0;
    if (pending.length > 0) this.writeBytes(pending);
  }
  /** Flushes (unless abandoning after an error) and closes. */
  close(abandon = false) {
    if (this.fd < 0) return;
    try {
      if (!abandon) this.flush();
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
  }
}

/**
 * The hard-linked files a walk meets, as `dev:ino<TAB>path` lines in a staged file: kept out of the JS heap, where
 * tens of thousands of long-lived strings made the garbage collector cost more than the walk in an executor.
 */
class LinkedOut {
  constructor(path) {
    this.path = path;
    this.out = undefined;
    this.add = (p, key) => {
      this.out ??= new OutFile(this.path);
      this.out.write(`${key}\t${p}\n`);
    };
  }
  /** The file, if anything was written. */
  file() {
    return this.out === undefined ? undefined : this.path;
  }
  close(abandon = false) {
    this.out?.close(abandon);
  }
}

/** One root's output: staged lists, counters, and what is spliced in later (task output, deferred lines). */
class Sink {
  constructor(root, staging, name) {
    this.root = root;
    this.timelist = new OutFile(`${staging}/${name}.timelist`);
    this.fullfilelist = new OutFile(`${staging}/${name}.fullfilelist`);
    this.entries = 0;
    this.fullLines = 0;
    this.checksums = [];
    /** Every symlink listed, with its target: filelist.ts holds each to the link policy. */
    this.links = [];
    /** Kept in recording order: offsets ascend; at equal offsets, recording order is list order. */
    this.tlInserts = [];
    this.flInserts = [];
    this.visited = false;
  }
  start() {
    this.visited = true;
    this.timelist.write(TIMELIST_HEADER);
    this.fullfilelist.write('.\n');
    this.fullLines++;
  }
  close(abandon = false) {
    this.timelist.close(abandon);
    this.fullfilelist.close(abandon);
  }
}

/**
 * Walks directories into sinks. A frame is one root's view of the directory being walked: its sink, the path
 * relative to that root (with a trailing '/', '' at the root), whether entries can appear in the timelist
 * (every ancestor was listed there) and whether some ancestor below the root is not world-readable.
 * `rel`: lstat names relative to the directory after process.chdir() into it, as fts/find do (the kernel
 * resolves one path component instead of the whole path); only in the main thread, which restores the cwd.
 */
class Walker {
  constructor(sinksByDir, warn, timeField, split, unlisted, onLinked) {
    this.sinksByDir = sinksByDir;
    this.warn = warn;
    this.timeField = timeField;
    /** Absolute paths left out of every list with their subtrees (production/pending-deletions.ts); or undefined. */
    this.unlisted = unlisted !== undefined && unlisted.size > 0 ? unlisted : undefined;
    /** { level, rootDirs, tasks }: directories `level` below the innermost root become tasks. */
    this.split = split;
    /** Called with (absPath, 'dev:ino') for every listed regular file with more than one link; or undefined. */
    this.onLinked = onLinked;
  }

  walkRoot(sink, rel) {
    sink.start();
    this.walkDir(sink.root.dir, [{ sink, prefix: '', timelist: true, restricted: false }], rel, 0);
  }

  readNames(abs, frames, rel) {
    try {
      if (rel) process.chdir(abs);
      return fs.readdirSync(rel ? '.' : abs);
    } catch (err) {
      // A directory only the find-style fullfilelist descends into (not listed in any timelist): like find,
      // report and go on. Anything the timelist needs is fatal, as in create-filelist.
      if (!frames.some((f) => f.timelist) && (err.code === 'EACCES' || err.code === 'EPERM')) {
        this.warn(`cannot read directory ${abs}: ${err.code}`);
        return undefined;
      }
      throw new WalkError(`cannot read directory ${abs}: ${err.message}`);
    }
  }

  /** `level`: depth of `abs` below the innermost root being walked (0 = the root; -1: never split). */
  walkDir(abs, frames, rel, level) {
    let names = this.readNames(abs, frames, rel);
    if (names === undefined) return;
    // A directory that is a root: its published names are skipped by that root and are "virtual" entries for
    // the enclosing roots (they will exist after publication even if they do not yet); our temp files are
    // skipped by everyone; its skip names only by itself.
    const here = this.sinksByDir.get(abs);
    if (here !== undefined) names = names.concat([...here.root.ownNames].filter((n) => !names.includes(n)));
    sortNames(names);
    for (let i = 0; i < names.length; i++) this.walkEntry(abs, names[i], frames, rel, level, true);
  }

  /**
   * Lists one entry of the directory `abs` (whose frames are given) in every frame's sink: its fullfilelist line,
   * its subtree when it is a directory and `descend` is true, then its timelist line.
   */
  walkEntry(abs, name, frames, rel, level, descend) {
    this.lastIsDir = false;
    const here = this.sinksByDir.get(abs);
    let inFrames = frames;
    if (here !== undefined) {
      if (here.root.isTempName(name)) return;
      if (here.root.ownNames.has(name)) {
        this.virtualEntry(frames, here, abs, name);
        return;
      }
      if (here.root.skip.has(name)) {
        inFrames = frames.filter((f) => f.sink !== here);
        if (inFrames.length === 0) return;
      }
    }
    if (this.unlisted !== undefined && this.unlisted.has(`${abs}/${name}`)) return;
    const p = rel ? name : `${abs}/${name}`;
    const st = lstatOrUndefined(p, false, abs);
    if (BAD_NAME.test(name)) checkName(abs, name, st);
    if (st === undefined) {
      // Vanished between readdir and lstat (create-filelist: "Could not stat"; find: reports and goes on).
      this.warn(`Could not stat ${abs}/${name}.  Dangling symlink?`);
      return;
    }
    const isLink = st.isSymbolicLink();
    const isDir = !isLink && st.isDirectory();
    this.lastIsDir = isDir;
    const worldReadable = (st.mode & S_IROTH) !== 0;
    // create-filelist: skipped names, dangling symlinks and (followed) non-group-readable entries are not
    // listed, and a skipped directory's whole subtree is not listed either.
    const target = isLink ? lstatOrUndefined(p, true, abs) : st;
    const skipped = alwaysSkipped(name);
    const tlOk = target !== undefined && (target.mode & S_IRGRP) !== 0 && !skipped;
    if (target === undefined && !skipped && inFrames.some((f) => f.timelist)) this.warn(`Could not stat ${abs}/${name}.  Dangling symlink?`);
    // A hard-linked file's listed time moves when another of its names is linked or unlinked (ctime): the
    // incremental update (filelist-update.ts) keeps every such name by inode.
    if (this.onLinked !== undefined && st.nlink > 1 && st.isFile()) this.onLinked(`${abs}/${name}`, `${st.dev}:${st.ino}`);

    const linkTarget = isLink ? fs.readlinkSync(p) : undefined;
    for (const f of inFrames) {
      f.sink.fullfilelist.write(`./${f.prefix}${name}\n`);
      f.sink.fullLines++;
      if (isLink) f.sink.links.push({ abs: `${abs}/${name}`, target: linkTarget });
    }

    let inner;
    if (isDir && descend) {
      const childAbs = `${abs}/${name}`;
      const child = inFrames.map((f) => ({ sink: f.sink, prefix: `${f.prefix}${name}/`, timelist: f.timelist && tlOk, restricted: f.restricted || !worldReadable }));
      inner = this.sinksByDir.get(childAbs);
      if (inner !== undefined && !inner.visited) {
        inner.start();
        child.push({ sink: inner, prefix: '', timelist: true, restricted: false });
      }
      const childLevel = inner !== undefined ? 0 : level < 0 ? -1 : level + 1;
      const split = this.split;
      if (split !== undefined && childLevel === split.level && !split.rootDirs.some((r) => r === childAbs || r.startsWith(`${childAbs}/`))) {
        // Walked later as a task; its lines go here (contents before the directory's own timelist line).
        const id = split.tasks.length;
        split.tasks.push({ id, abs: childAbs, frames: child.map((f) => ({ sink: f.sink.root.index, prefix: f.prefix, timelist: f.timelist, restricted: f.restricted })) });
        for (const f of child) {
          f.sink.tlInserts.push({ offset: f.sink.timelist.offset(), task: id });
          f.sink.flInserts.push({ offset: f.sink.fullfilelist.offset(), task: id });
        }
      } else {
        this.walkDir(childAbs, child, rel, childLevel);
        if (rel) process.chdir(abs);
      }
    }

    if (!tlOk) return;
    let line;
    for (const f of inFrames) {
      if (!f.timelist) continue;
      const relPath = f.prefix + name;
      if (inner !== undefined) {
        // The inner root's directory changes (mtime) when its lists are renamed into it.
        f.sink.tlInserts.push({ offset: f.sink.timelist.offset(), deferred: { rel: relPath, abs: `${abs}/${name}`, restricted: f.restricted } });
        continue;
      }
      line ??= [`${listTime(st, p, this.timeField)}\t${isLink ? 'l' : isDir ? 'd' : 'f'}`, `\t${st.size}\t`];
      f.sink.timelist.write(`${line[0]}${!worldReadable ? '-' : f.restricted ? '*' : ''}${line[1]}${relPath}\n`);
      f.sink.entries++;
      if (f.sink.root.checksumNames.has(name)) f.sink.checksums.push({ rel: relPath, abs: `${abs}/${name}` });
    }
  }

  /** A name the root at this directory publishes: not listed by that root; deferred for enclosing roots. */
  virtualEntry(frames, here, abs, name) {
    for (const f of frames) {
      if (f.sink === here) continue;
      f.sink.fullfilelist.write(`./${f.prefix}${name}\n`);
      f.sink.fullLines++;
      if (f.timelist) f.sink.tlInserts.push({ offset: f.sink.timelist.offset(), deferred: { rel: f.prefix + name, abs: `${abs}/${name}`, restricted: f.restricted } });
    }
  }
}

/** The timelist line of a deferred entry, from a fresh lstat (undefined: not listed). */
function deferredLine(d, timeField) {
  const st = lstatOrUndefined(d.abs, false);
  if (st === undefined) throw new WalkError(`${d.abs} disappeared while the file lists were being published`);
  const target = st.isSymbolicLink() ? lstatOrUndefined(d.abs, true) : st;
  if (target === undefined || (target.mode & S_IRGRP) === 0) return undefined;
  const type = st.isSymbolicLink() ? 'l' : st.isDirectory() ? 'd' : 'f';
  const mark = (st.mode & S_IROTH) === 0 ? '-' : d.restricted ? '*' : '';
  return `${listTime(st, d.abs, timeField)}\t${type}${mark}\t${st.size}\t${d.rel}\n`;
}

/** Runs fn(rel): rel (chdir-relative lstat) when asked for and possible, the cwd restored afterwards. */
function inDirs(chdir, fn) {
  let cwd;
  if (chdir && isMainThread) {
    try {
      cwd = process.cwd();
    } catch {
      cwd = undefined; // cwd deleted: walk by absolute paths
    }
  }
  try {
    return fn(cwd !== undefined);
  } finally {
    if (cwd !== undefined) process.chdir(cwd);
  }
}

/**
 * Takes tasks from the shared counter (ctl[0]) until none are left or another thread failed (ctl[1]), appending
 * their lines to this thread's chunk files (one per root and list). Returns where each task's lines are.
 */
function takeTasks(cfg, ctl, thread, rel, warn) {
  const sinks = new Map();
  const sinkFor = (index) => {
    let s = sinks.get(index);
    if (s === undefined) sinks.set(index, (s = new Sink({ index, checksumNames: new Set(cfg.checksumNames[index]) }, cfg.staging, `chunk-${thread}.${index}`)));
    return s;
  };
  const linked = new LinkedOut(`${cfg.staging}/linked-${thread}`);
  const walker = new Walker(new Map(), warn, cfg.timeField, undefined, new Set(cfg.unlisted), linked.add);
  const parts = [];
  try {
    while (Atomics.load(ctl, 1) === 0) {
      const task = cfg.tasks[Atomics.add(ctl, 0, 1)];
      if (task === undefined) break;
      const frames = task.frames.map((f) => ({ ...f, sink: sinkFor(f.sink) }));
      const starts = frames.map((f) => [f.sink.timelist.offset(), f.sink.fullfilelist.offset()]);
      walker.walkDir(task.abs, frames, rel, -1);
      frames.forEach((f, k) => {
        const tl = { path: f.sink.timelist.path, start: starts[k][0], end: f.sink.timelist.offset() };
        const fl = { path: f.sink.fullfilelist.path, start: starts[k][1], end: f.sink.fullfilelist.offset() };
        parts.push({ task: task.id, sink: f.sink.root.index, tl, fl });
      });
    }
    for (const s of sinks.values()) s.close();
    linked.close();
  } catch (err) {
    Atomics.store(ctl, 1, 1);
    for (const s of sinks.values()) s.close(true);
    linked.close(true);
    throw err;
  }
  return { parts, linked: linked.file(), sinks: [...sinks.values()].map((s) => ({ index: s.root.index, entries: s.entries, fullLines: s.fullLines, checksums: s.checksums, links: s.links })) };
}

/** Resolves with the worker's answer, or undefined (after a warning) if it died without one. */
function startWorker(cfg, ctl, thread, warn) {
  return new Promise((resolve, reject) => {
    // execArgv: [] -- a preload such as `-r @swc-node/register` is not needed here and would cost its boot time.
    const w = new Worker(__filename, { execArgv: [], workerData: { filelistWalk: { cfg, sab: ctl.buffer, thread } } });
    let answered = false;
    w.once('message', (msg) => {
      answered = true;
      for (const m of msg.warnings) warn(m);
      if (msg.error === undefined) resolve(msg);
      else reject(msg.walkError ? new WalkError(msg.error) : new Error(msg.error));
    });
    const gone = (why) => {
      if (answered) return;
      answered = true;
      warn(`file list worker ${thread} ${why}; the main thread walks what it left`);
      resolve(undefined);
    };
    w.once('error', (err) => gone(`failed: ${err.message}`));
    w.once('exit', (code) => gone(`exited with code ${code} without an answer`));
  });
}

/**
 * Walks the tasks in this thread and `workers` worker threads (started at once: ~20 ms each). A worker that
 * died without an answer (e.g. could not start) is only a warning: the tasks it left undone are walked here.
 */
async function runTasks(cfg, o) {
  const ctl = new Int32Array(new SharedArrayBuffer(8));
  const pool = [];
  for (let t = 1; t <= o.workers && t <= cfg.tasks.length; t++) pool.push(startWorker(cfg, ctl, t, o.warn));
  const outs = [];
  let failure;
  try {
    if (o.mainTakesTasks) outs.push(inDirs(o.chdir, (rel) => takeTasks(cfg, ctl, 0, rel, o.warn)));
  } catch (err) {
    failure = err;
  }
  for (const s of await Promise.allSettled(pool)) {
    if (s.status === 'rejected') failure ??= s.reason;
    else if (s.value !== undefined) outs.push(s.value);
  }
  if (failure !== undefined) throw failure;
  const done = new Set(outs.flatMap((out) => out.parts.map((p) => p.task)));
  const left = cfg.tasks.filter((t) => !done.has(t.id));
  if (left.length > 0) outs.push(inDirs(o.chdir, (rel) => takeTasks({ ...cfg, tasks: left }, new Int32Array(2), o.workers + 1, rel, o.warn)));
  return outs;
}

/**
 * Walks every root (outermost first: inner roots are fed by the enclosing walk when it reaches them) into staged
 * files under opts.staging, the split-off subtrees in parallel. Returns one StagedLists per root, in order.
 */
async function walkRoots(roots, opts) {
  const sinks = roots.map((root, index) => new Sink({ ...root, index }, opts.staging, String(index)));
  const tasks = [];
  const split = opts.workers > 0 ? { level: opts.splitLevel, rootDirs: roots.map((r) => r.dir), tasks } : undefined;
  const linked = new LinkedOut(`${opts.staging}/linked-main`);
  const linkedFiles = [];
  const walker = new Walker(new Map(sinks.map((s) => [s.root.dir, s])), opts.warn, opts.timeField, split, opts.unlisted, linked.add);
  try {
    inDirs(opts.chdir, (rel) => {
      for (const s of [...sinks].sort((a, b) => a.root.depth - b.root.depth)) if (!s.visited) walker.walkRoot(s, rel);
    });
    const checksumNames = sinks.map((s) => [...s.root.checksumNames]);
    const outs = tasks.length > 0 ? await runTasks({ staging: opts.staging, tasks, checksumNames, timeField: opts.timeField, unlisted: [...(opts.unlisted ?? [])] }, opts) : [];
    const parts = new Map();
    for (const out of outs) {
      if (out.linked !== undefined) linkedFiles.push(out.linked);
      for (const t of out.sinks) {
        const s = sinks[t.index];
        s.entries += t.entries;
        s.fullLines += t.fullLines;
        s.checksums.push(...t.checksums);
        s.links.push(...t.links);
      }
      for (const p of out.parts) parts.set(`${p.task}.${p.sink}`, p);
    }
    for (const s of sinks) {
      for (const [inserts, kind] of [[s.tlInserts, 'tl'], [s.flInserts, 'fl']]) {
        for (const ins of inserts) if (ins.task !== undefined) ins.chunk = parts.get(`${ins.task}.${s.root.index}`)[kind];
      }
      s.close();
    }
    linked.close();
    if (linked.file() !== undefined) linkedFiles.unshift(linked.file());
  } catch (err) {
    for (const s of sinks) s.close(true);
    linked.close(true);
    throw err;
  }
  return { lists: sinks.map((s) => new StagedLists(s, opts.timeField)), linkedFiles };
}

/** One root's staged lists; content() gives a final list with the task output and deferred lines spliced in. */
class StagedLists {
  constructor(sink, timeField) {
    this.timelist = sink.timelist.path;
    this.fullfilelist = sink.fullfilelist.path;
    this.entries = sink.entries;
    this.fullLines = sink.fullLines;
    this.checksums = sink.checksums;
    this.links = sink.links;
    this.inserts = { timelist: sink.tlInserts, fullfilelist: sink.flInserts };
    this.timeField = timeField;
  }

  /**
   * The final content of a list as pieces (byte ranges of staged files, deferred lines), read on demand: it
   * is compared with the published file and only written out when it differs. Deferred lines take a fresh
   * lstat now, so ask for an enclosing root's timelist only after the inner roots have published.
   */
  content(kind) {
    const src = this[kind];
    const pieces = [];
    let pos = 0;
    for (const ins of this.inserts[kind]) {
      pieces.push({ path: src, start: pos, end: ins.offset });
      pos = ins.offset;
      if (ins.chunk !== undefined) pieces.push(ins.chunk);
      else {
        const line = deferredLine(ins.deferred, this.timeField);
        if (line !== undefined) {
          pieces.push({ bytes: Buffer.from(line) });
          this.entries++;
        }
      }
    }
    pieces.push({ path: src, start: pos, end: fs.statSync(src).size });
    return new ListContent(pieces);
  }
}

class ListContent {
  constructor(pieces) {
    this.pieces = pieces;
    this.size = pieces.reduce((n, p) => n + (p.bytes !== undefined ? p.bytes.length : p.end - p.start), 0);
  }

  /** Calls each(bytes) on consecutive blocks of the content until it returns false. The buffer is reused. */
  forEach(each) {
    const fds = new Map();
    const buf = Buffer.allocUnsafe(1 << 20);
    try {
      for (const p of this.pieces) {
        if (p.bytes !== undefined) {
          if (each(p.bytes) === false) return;
          continue;
        }
        let fd = fds.get(p.path);
        if (fd === undefined) fds.set(p.path, (fd = fs.openSync(p.path, 'r')));
        for (let pos = p.start; pos < p.end; ) {
          const n = fs.readSync(fd, buf, 0, Math.min(buf.length, p.end - pos), pos);
          if (n === 0) throw new WalkError(`${p.path} is shorter than expected`);
          if (each(buf.subarray(0, n)) === false) return;
          pos += n;
        }
      }
    } finally {
      for (const fd of fds.values()) fs.closeSync(fd);
    }
  }
}

/**
 * Lists single entries for the incremental update (filelist-update.ts) exactly as the full walk would: each call
 * writes one entry's lines (and its subtree's, when asked) to per-root fragment files and says where they went.
 * Absolute paths only (no chdir); roots as walkRoots takes them.
 */
class FragmentWalker {
  constructor(roots, opts) {
    this.roots = roots;
    this.sinks = roots.map((root, index) => {
      const s = new Sink({ ...root, index }, opts.staging, `fragment-${index}`);
      s.visited = true; // fragments carry no header, and never start a nested root's lists
      return s;
    });
    this.linked = [];
    this.walker = new Walker(new Map(this.sinks.map((s) => [s.root.dir, s])), opts.warn, opts.timeField, undefined, opts.unlisted, (p, key) => this.linked.push(p, key));
    this.unlisted = this.walker.unlisted;
    this.timeField = opts.timeField;
    this.dirs = new Map();
  }

  /**
   * The frames the full walk passes to the directory `dir`: one per root that lists its entries (prefix, whether
   * they can be in the timelist, whether an ancestor is restricted). [] when no root lists them; null when `dir`
   * is not a directory the walk enters now (gone, a file, a link).
   */
  framesFor(dir) {
    let known = this.dirs.get(dir);
    if (known !== undefined) return known;
    const outer = this.sinks.filter((s) => dir === s.root.dir || dir.startsWith(`${s.root.dir}/`)).sort((a, b) => a.root.depth - b.root.depth)[0];
    if (outer === undefined) return [];
    if (dir === outer.root.dir) known = [{ sink: outer, prefix: '', timelist: true, restricted: false }];
    else {
      const slash = dir.lastIndexOf('/');
      const parent = dir.slice(0, slash);
      const name = dir.slice(slash + 1);
      let frames = this.framesFor(parent);
      if (frames === null || frames.length === 0) known = frames;
      else {
        const here = this.walker.sinksByDir.get(parent);
        if (here !== undefined && (here.root.isTempName(name) || here.root.ownNames.has(name))) known = [];
        else if (this.unlisted !== undefined && this.unlisted.has(dir)) known = [];
        else {
          if (here !== undefined && here.root.skip.has(name)) frames = frames.filter((f) => f.sink !== here);
          const st = lstatOrUndefined(dir, false);
          if (st === undefined || st.isSymbolicLink() || !st.isDirectory()) known = null;
          else {
            const tlOk = (st.mode & S_IRGRP) !== 0 && !alwaysSkipped(name);
            const worldReadable = (st.mode & S_IROTH) !== 0;
            known = frames.map((f) => ({ sink: f.sink, prefix: `${f.prefix}${name}/`, timelist: f.timelist && tlOk, restricted: f.restricted || !worldReadable }));
            const inner = this.walker.sinksByDir.get(dir);
            if (inner !== undefined) known.push({ sink: inner, prefix: '', timelist: true, restricted: false });
          }
        }
      }
    }
    this.dirs.set(dir, known);
    return known;
  }

  /**
   * Lists `name` of the directory `dir` (frames from framesFor) with its subtree when `descend`. Returns, per root
   * index listing it, where its lines went ({ fl, tl }: [start, end) in the fragment files), the checksummed
   * files and links among them, and the hard-linked files met ([path, 'dev:ino', ...]).
   */
  entry(dir, name, frames, descend) {
    const before = frames.map((f) => ({ s: f.sink, fl: f.sink.fullfilelist.offset(), tl: f.sink.timelist.offset(), c: f.sink.checksums.length, l: f.sink.links.length, d: f.sink.tlInserts.length }));
    const linkedFrom = this.linked.length;
    this.walker.walkEntry(dir, name, frames, false, -1, descend);
    const out = new Map();
    for (const b of before) {
      // A nested root's own names or directory met here would need lines deferred until it publishes.
      if (b.s.tlInserts.length !== b.d) throw new WalkError(`${dir}/${name} holds or is a file-list root's own entry`);
      out.set(b.s.root.index, {
        fl: [b.fl, b.s.fullfilelist.offset()],
        tl: [b.tl, b.s.timelist.offset()],
        checksums: b.s.checksums.slice(b.c),
        links: b.s.links.slice(b.l),
      });
    }
    return { byRoot: out, linked: this.linked.slice(linkedFrom), isDir: this.walker.lastIsDir };
  }

  /** The type field (e.g. `d`, `d-`) of the last timelist line written for a root ('' if `range` is empty). */
  timelistType(index, range) {
    if (range[1] <= range[0]) return '';
    return this.sinks[index].timelist.last.split('\t')[1] ?? '';
  }

  /** The fragment files of one root (readable once close() was called). */
  files(index) {
    const s = this.sinks[index];
    return { fullfilelist: s.fullfilelist.path, timelist: s.timelist.path };
  }

  close(abandon = false) {
    for (const s of this.sinks) s.close(abandon);
  }
}

/** The timelist line of a nested root's directory or published name, from a fresh lstat ('' when not listed). */
function ownEntryLine(rel, abs, restricted, timeField) {
  return deferredLine({ rel, abs, restricted }, timeField) ?? '';
}

/** A list's content from pieces: { bytes } or { path, start, end } ranges of files. */
function listContent(pieces) {
  return new ListContent(pieces);
}

// Worker thread entry (started by startWorker with this file): absolute paths, since threads cannot chdir.
if (!isMainThread && workerData?.filelistWalk !== undefined) {
  const { cfg, sab, thread } = workerData.filelistWalk;
  const warnings = [];
  let reply;
  try {
    reply = { ...takeTasks(cfg, new Int32Array(sab), thread, false, (m) => warnings.push(m)), warnings };
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err), walkError: err instanceof WalkError, warnings };
  }
  parentPort.postMessage(reply);
}

module.exports = { WalkError, compareNames, sortNames, pyTime, walkRoots, FragmentWalker, ownEntryLine, listContent };
