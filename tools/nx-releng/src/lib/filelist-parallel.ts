/**
 * Parallel part of the file-list walk (see filelist.ts, "PARALLEL WALK"): subtrees split off by the main walk
 * are walked as tasks by the main thread and worker threads, which pull task numbers from a shared counter
 * and write each task's lines to chunk files; the chunks are then spliced into the staged lists in order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker, isMainThread } from 'node:worker_threads';
import { RelengError } from './errors';
import { OutFile, Sink, Walker, chunkPath, type Insert, type Task, type TaskResult, type WalkRoot } from './filelist-walk';

export interface TaskRunConfig {
  staging: string;
  tasks: Task[];
  /** Checksummed basenames, by root index. */
  checksumNames: Record<number, string[]>;
  timeField: 'max' | 'mtime';
}

/** What a worker posts back once it has no more tasks to take. */
export type WorkerReply = { results: TaskResult[]; warnings: string[] } | { error: string; releng: boolean; warnings: string[] };

const EMPTY: ReadonlySet<string> = new Set();

/** One thread's chunk files: an OutFile per root and list, shared by all tasks the thread runs. */
class ChunkFiles {
  private readonly files = new Map<string, OutFile>();
  constructor(
    private readonly staging: string,
    readonly thread: number,
  ) {}
  get(sink: number, kind: 'tl' | 'fl'): OutFile {
    const key = `${sink}.${kind}`;
    let f = this.files.get(key);
    if (f === undefined) {
      f = new OutFile(chunkPath(this.staging, this.thread, sink, kind));
      this.files.set(key, f);
    }
    return f;
  }
  close(): void {
    for (const f of this.files.values()) f.close();
  }
  abandon(): void {
    for (const f of this.files.values()) f.abandon();
  }
}

function runOneTask(cfg: TaskRunConfig, task: Task, chunks: ChunkFiles, rel: boolean, warn: (m: string) => void): TaskResult {
  // Fresh counters per task, output appended to the thread's chunk files.
  const sinks = new Map<number, Sink>();
  for (const f of task.frames) {
    const root: WalkRoot = {
      index: f.sink,
      dir: '',
      ownNames: EMPTY,
      skip: EMPTY,
      checksumNames: new Set(cfg.checksumNames[f.sink] ?? []),
      isTempName: () => false,
    };
    sinks.set(f.sink, new Sink(root, chunks.get(f.sink, 'tl'), chunks.get(f.sink, 'fl')));
  }
  return new Walker(new Map(), { chdir: rel, warn, timeField: cfg.timeField }).walkTask(task, sinks, rel, chunks.thread);
}

/** Shared control words: next task, failure flag, workers booted, then one "booted" flag per worker thread. */
export const CTL_NEXT = 0;
export const CTL_FAILED = 1;
export const CTL_READY = 2;
export const CTL_BOOTED = 3; // + thread - 1

/**
 * Takes tasks from the shared counter until none are left or another thread failed.
 * Runs in the main thread and in workers. `rel()` says, per task, whether to lstat chdir-relative: workers
 * never (they cannot chdir); the main thread only once every worker has booted, because a booting worker
 * resolves modules (and swc-node its tsconfig) against the process-wide cwd.
 */
export function runTaskLoop(
  cfg: TaskRunConfig,
  ctl: Int32Array,
  thread: number,
  rel: () => boolean,
  warn: (m: string) => void,
  beforeTask?: () => void,
): TaskResult[] {
  const results: TaskResult[] = [];
  const chunks = new ChunkFiles(cfg.staging, thread);
  try {
    for (;;) {
      beforeTask?.();
      if (Atomics.load(ctl, CTL_FAILED) !== 0) break;
      const i = Atomics.add(ctl, CTL_NEXT, 1);
      const task = cfg.tasks[i];
      if (task === undefined) break;
      results.push(runOneTask(cfg, task, chunks, rel(), warn));
    }
    chunks.close();
  } catch (err) {
    Atomics.store(ctl, CTL_FAILED, 1);
    chunks.abandon();
    throw err;
  }
  return results;
}

/** Code that boots a worker: plain require for compiled JS, through @swc-node/register when run from .ts. */
function workerSource(): string | undefined {
  const ext = path.extname(__filename);
  const file = path.join(__dirname, `filelist-worker${ext}`);
  if (!fs.existsSync(file)) return undefined;
  if (ext !== '.ts') return `require(${JSON.stringify(file)});`;
  try {
    return `require(${JSON.stringify(require.resolve('@swc-node/register'))});require(${JSON.stringify(file)});`;
  } catch {
    return undefined;
  }
}

/** Whether worker threads can be used here (workers cannot start workers' TS loader otherwise). */
export function workersAvailable(): boolean {
  return workerSource() !== undefined;
}

function startWorker(source: string, cfg: TaskRunConfig, sab: SharedArrayBuffer, thread: number, warn: (m: string) => void): Promise<TaskResult[]> {
  const ctl = new Int32Array(sab);
  return new Promise((resolve, reject) => {
    let replied = false;
    // A worker that dies before it has booted has taken no task: the other threads do its share, so that
    // is only a warning. Once booted, any failure fails the run.
    const failed = (why: string): void => {
      if (replied) return;
      replied = true;
      if (Atomics.load(ctl, CTL_BOOTED + thread - 1) === 0) {
        warn(`file list worker ${thread} did not start (${why}); continuing with fewer threads`);
        resolve([]);
        return;
      }
      Atomics.store(ctl, CTL_FAILED, 1);
      reject(new RelengError(`file list worker ${thread} failed: ${why}`));
    };
    // execArgv: [] -- inherited preloads (-r @swc-node/register) would be resolved against the cwd, which
    // the main thread changes; the source requires everything by absolute path.
    const w = new Worker(source, { eval: true, execArgv: [], workerData: { cfg, sab, thread }, stdout: false, stderr: false });
    w.on('message', (msg: WorkerReply) => {
      if (replied) return;
      replied = true;
      for (const m of msg.warnings) warn(m);
      if ('error' in msg) reject(msg.releng ? new RelengError(msg.error) : new Error(msg.error));
      else resolve(msg.results);
    });
    w.on('error', (err) => failed(err.message));
    w.on('exit', (code) => failed(`exited with code ${code} without a result`));
  });
}

export interface RunTasksOptions {
  /** Worker threads to add (0: main thread only). */
  workers: number;
  /** chdir-relative lstat in the main thread (see WalkOptions.chdir). */
  chdir: boolean;
  warn: (m: string) => void;
  /**
   * Start the workers only once the main thread has spent this long on tasks and at least 2 tasks per
   * worker remain: booting a worker (loading the modules, and swc when run from TypeScript) costs 0.2-0.4 s
   * of CPU, more than a small tree takes to walk.
   */
  spawnAfterMs: number;
  /** false (tests): leave all tasks to the workers. */
  mainTakesTasks: boolean;
}

/**
 * Runs all tasks: the main thread synchronously (chdir-relative when allowed, cwd restored), plus worker
 * threads started on the way (see spawnAfterMs); worker replies are collected afterwards.
 */
export async function runTasks(cfg: TaskRunConfig, o: RunTasksOptions): Promise<TaskResult[]> {
  const sab = new SharedArrayBuffer(4 * (CTL_BOOTED + Math.max(0, o.workers)));
  const ctl = new Int32Array(sab);
  const source = o.workers > 0 ? workerSource() : undefined;
  const pool: Promise<TaskResult[]>[] = [];
  let cwd: string | undefined;
  if (o.chdir && isMainThread) {
    try {
      cwd = process.cwd();
    } catch {
      cwd = undefined;
    }
  }
  const spawn = (): void => {
    if (source === undefined || pool.length > 0) return;
    // A booting worker resolves modules against the process-wide cwd: put it back first; rel() below keeps
    // the main thread on absolute paths until every worker reports it has booted.
    if (cwd !== undefined) process.chdir(cwd);
    for (let i = 0; i < o.workers; i++) pool.push(startWorker(source, cfg, sab, i + 1, o.warn));
  };
  const t0 = Date.now();
  const beforeTask = (): void => {
    if (pool.length > 0 || source === undefined) return;
    const remaining = cfg.tasks.length - Atomics.load(ctl, CTL_NEXT);
    if (Date.now() - t0 >= o.spawnAfterMs && remaining >= 2 * o.workers) spawn();
  };
  if (!o.mainTakesTasks) spawn();
  let mine: TaskResult[] = [];
  let failure: unknown;
  try {
    if (o.mainTakesTasks || pool.length === 0) {
      const canChdir = cwd !== undefined;
      mine = runTaskLoop(cfg, ctl, 0, () => canChdir && Atomics.load(ctl, CTL_READY) >= pool.length, o.warn, beforeTask);
    }
  } catch (err) {
    failure = err;
  } finally {
    if (cwd !== undefined) process.chdir(cwd);
  }
  const settled = await Promise.allSettled(pool);
  if (failure !== undefined) throw failure;
  const out = [...mine];
  for (const s of settled) {
    if (s.status === 'rejected') throw s.reason;
    out.push(...s.value);
  }
  // Only when the main thread took no tasks and every worker failed to boot: do them here.
  if (out.length < cfg.tasks.length) out.push(...runTaskLoop(cfg, ctl, o.workers + 1, () => false, o.warn));
  return out;
}

/**
 * Copies `src` to `dst`, handing each insert to `fill` at its offset (fill writes to `out` and returns true,
 * or returns false to keep the insert for later). Returns the kept inserts with offsets in `dst`.
 */
export function spliceFile(src: string, dst: string, inserts: readonly Insert[], fill: (ins: Insert, out: OutFile) => boolean): Insert[] {
  const out = new OutFile(dst);
  const kept: Insert[] = [];
  const fd = fs.openSync(src, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    const copyTo = (end: number): void => {
      while (pos < end) {
        const n = fs.readSync(fd, buf, 0, Math.min(buf.length, end - pos), pos);
        if (n === 0) throw new RelengError(`${src} is shorter than expected`);
        out.writeBytes(buf.subarray(0, n));
        pos += n;
      }
    };
    for (const ins of inserts) {
      copyTo(ins.offset);
      if (!fill(ins, out)) kept.push({ ...ins, offset: out.offset() });
    }
    copyTo(size);
    out.close();
  } catch (err) {
    out.abandon();
    throw err;
  } finally {
    fs.closeSync(fd);
  }
  return kept;
}

/** Reads byte ranges of chunk files into an OutFile (keeps the files open until close()). */
export class ChunkReader {
  private readonly fds = new Map<string, number>();
  private readonly buf = Buffer.allocUnsafe(1 << 20);
  copy(out: OutFile, file: string, start: number, end: number): void {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = fs.openSync(file, 'r');
      this.fds.set(file, fd);
    }
    let pos = start;
    while (pos < end) {
      const n = fs.readSync(fd, this.buf, 0, Math.min(this.buf.length, end - pos), pos);
      if (n === 0) throw new RelengError(`${file} is shorter than expected`);
      out.writeBytes(this.buf.subarray(0, n));
      pos += n;
    }
  }
  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}
