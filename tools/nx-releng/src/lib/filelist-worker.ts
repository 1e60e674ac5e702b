/** Worker-thread entry of the parallel file-list walk (started by filelist-parallel.ts). */
import { parentPort, workerData } from 'node:worker_threads';
import { RelengError } from './errors';
import { CTL_BOOTED, CTL_READY, runTaskLoop, type TaskRunConfig, type WorkerReply } from './filelist-parallel';

const { cfg, sab, thread } = workerData as { cfg: TaskRunConfig; sab: SharedArrayBuffer; thread: number };
const ctl = new Int32Array(sab);
// Every module is loaded: from now on this thread never depends on the cwd.
Atomics.store(ctl, CTL_BOOTED + thread - 1, 1);
Atomics.add(ctl, CTL_READY, 1);
const warnings: string[] = [];
let reply: WorkerReply;
try {
  // Worker threads cannot chdir: absolute paths.
  reply = { results: runTaskLoop(cfg, ctl, thread, () => false, (m) => warnings.push(m)), warnings };
} catch (err) {
  reply = { error: err instanceof Error ? err.message : String(err), releng: err instanceof RelengError, warnings };
}
parentPort?.postMessage(reply);
