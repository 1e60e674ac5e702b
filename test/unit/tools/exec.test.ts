import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run, TAIL_BYTES } from '../../../tools/nx-releng/src/lib/tools/exec';
import { runInChild as inChild } from '../../helpers/in-child';
import { removeDir, tempDir } from '../../helpers/workspace';

/** run() in a child process, so a streamed tool's echo does not flood the test report. */
function runInChild(cmd: string, args: string[], opts: object): { result?: { stdout: string; stderr: string; exitCode: number }; error?: string } {
  const { report, stderr } = inChild(`
    const { run } = load('tools/nx-releng/src/lib/tools/exec.ts');
    report(await run(${JSON.stringify(cmd)}, ${JSON.stringify(args)}, ${JSON.stringify(opts)}).then((result) => ({ result }), (err) => ({ error: err.message })));`);
  assert.ok(report, `child reported nothing: ${stderr.slice(-2000)}`);
  return report;
}

let dir: string;
before(() => (dir = tempDir('exec')));
after(() => removeDir(dir));

describe('run: a capture larger than its limit is an error, never a cut output reported as success', () => {
  test('the default limit (100 MB): exit code 0 and a cut stdout used to be returned', () => {
    const { result, error } = runInChild('sh', ['-c', 'yes 0123456789abcdef | head -c 100000100'], {});
    assert.equal(result, undefined, 'a truncated capture was returned as success');
    assert.match(error ?? '', /^sh -c .* wrote more than 100000000 bytes to stdout; refusing to use a truncated capture/);
  });

  test('a given limit, even with allowFailure', async () => {
    await assert.rejects(run('sh', ['-c', 'yes | head -c 5000'], { maxBytes: 1000, allowFailure: true }), /wrote more than 1000 bytes/);
    assert.equal((await run('sh', ['-c', 'yes | head -c 1000'], { maxBytes: 1000 })).stdout.length, 1000);
  });
});

describe('run: timeout', () => {
  test('a tool that runs past its timeout is killed and named with the timeout, even with allowFailure', async () => {
    await assert.rejects(
      run('sleep', ['20'], { timeoutSeconds: 1, allowFailure: true }),
      /sleep 20 was killed after running longer than its timeout of 1s/,
    );
  });

  test('a tool that ends in time is not affected', async () => {
    assert.equal((await run('echo', ['ok'], { timeoutSeconds: 60 })).stdout, 'ok\n');
  });
});

describe('run: streamed output goes to a log file, not memory', () => {
  // 400 KB of numbered lines on stdout, one line on stderr.
  const script = 'i=0; while [ $i -lt 40000 ]; do echo "line $i ........."; i=$((i+1)); done; echo err-line >&2';

  test('the log holds everything, the result only a tail', () => {
    const log = join(dir, 'logs/ok.log');
    const { result, error } = runInChild('sh', ['-c', script], { stream: { log } });
    assert.equal(error, undefined);
    const text = readFileSync(log, 'utf8');
    assert.match(text, /^line 0 \.+\n/);
    assert.match(text, /line 39999 \.+\n/);
    assert.match(text, /err-line\n/);
    assert.ok(statSync(log).size > 400_000);
    assert.ok(result && result.stdout.length <= TAIL_BYTES, `stdout kept in memory: ${result?.stdout.length} bytes`);
    assert.match(result.stdout, /line 39999 \.+\n$/);
    assert.equal(result.stderr, 'err-line\n');
  });

  test('a failure names the log and shows the tail', () => {
    const log = join(dir, 'logs/failed.log');
    const { error } = runInChild('sh', ['-c', `${script}; exit 3`], { stream: { log } });
    assert.match(error ?? '', new RegExp(`failed with exit code 3 \\(full output in ${log}\\):\\nerr-line$`));
  });
});

describe('loading', () => {
  test('execa is loaded by the first tool run, not by importing the runtime inputs (one process per task, every nx run)', () => {
    const { report, stderr } = inChild(`
      const loaded = () => Object.keys(require.cache).some((f) => f.includes('/node_modules/execa/'));
      load('tools/nx-releng/src/lib/cache/runtime-inputs.ts');
      const before = loaded();
      const { run } = load('tools/nx-releng/src/lib/tools/exec.ts');
      const r = await run('true', []);
      report({ before, after: loaded(), exitCode: r.exitCode });`);
    assert.deepEqual(report, { before: false, after: true, exitCode: 0 }, stderr.slice(-2000));
  });
});
