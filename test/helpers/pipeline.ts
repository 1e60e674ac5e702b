import assert from 'node:assert/strict';
import { join } from 'node:path';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import {
  setupSandboxSigning,
  startErrataServer,
  stopSandboxAgent,
  writeSandboxErrata,
  type ErrataServer,
} from '../../tools/sandbox/signing';
import { createNxWorkspace, type NxWorkspace } from './nx-workspace';

/**
 * A temporary workspace ready for the whole pipeline: sandbox compose inputs, the sandbox signer and an errata
 * server on 127.0.0.1. `prepare` may edit the workspace's release model before the composes are made.
 */
export interface PipelineWorkspace {
  ws: NxWorkspace;
  errata: ErrataServer;
  /** nx with the errata server configured, without blocking this process (it serves the errata). */
  nx(args: string[]): Promise<{ status: number; output: string }>;
  /** The same, failing the test with nx's output when nx fails. */
  runOk(args: string[]): Promise<string>;
  close(): Promise<void>;
}

export async function openPipelineWorkspace(
  prefix: string,
  prepare: (ws: NxWorkspace) => Promise<void> = async () => undefined,
): Promise<PipelineWorkspace> {
  const ws = createNxWorkspace(prefix);
  await prepare(ws);
  await stageSandbox(ws.relengRoot);
  await setupSandboxSigning(ws.relengRoot);
  await writeSandboxErrata(join(ws.relengRoot, 'errata'));
  const errata = await startErrataServer(join(ws.relengRoot, 'errata'));
  const nx = (args: string[]) => ws.nxAsync([...args, '--output-style=static'], { RELENG_ERRATA_URL: errata.url });
  const runOk = async (args: string[]) => {
    const r = await nx(args);
    assert.equal(r.status, 0, `nx ${args.join(' ')} failed:\n${r.output}`);
    return r.output;
  };
  await runOk(['run-many', '-t', 'compose', '--backend=local']);
  return {
    ws,
    errata,
    nx,
    runOk,
    async close() {
      await errata.close();
      await stopSandboxAgent(ws.relengRoot);
      ws.dispose();
    },
  };
}
