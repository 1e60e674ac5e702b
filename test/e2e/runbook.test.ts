import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { after, before, test } from 'node:test';
import { stageSandbox } from '../../tools/sandbox/sandbox';
import { taskOutcomes } from '../helpers/nx-workspace';
import { openPipelineWorkspace, type PipelineWorkspace } from '../helpers/pipeline';
import { REPO_ROOT, readJsonFile, writeJsonFile } from '../helpers/workspace';

/**
 * docs/runbook.md cannot rot:
 * - every ```sh runnable block runs, in order, in a sandbox workspace (real nx, rsync, createrepo_c, gpg, dnf; the
 *   local compose backend), with the ```sh runnable prelude blocks run before it; `runnable fails` must fail;
 * - the ```text prints block after a runnable block lists lines its output must contain (… matches anything), and
 *   a WARNING the output has must be one of them: the runbook documents every warning a good run prints;
 * - every `npx nx` command of every ```sh block, runnable or not, and every `nx run …` quoted in the prose of
 *   the runbook, docs/reference.md and README.md, names targets, configurations, options and
 *   generators that exist in the project graph and the plugin's schemas.
 * The workspace holds one compose of every project (releng-hello 1.0) and releng-hello 1.1 staged for the next,
 * as on a compose host the morning a new build landed.
 */

const RUNBOOK = 'docs/runbook.md';
const BIN = join(REPO_ROOT, 'test/fixtures/bin');

interface Block {
  file: string;
  line: number;
  lang: string;
  flags: string[];
  code: string;
  /** The lines of the ```text prints block that follows, if any. */
  prints: string[];
  heading: string;
}

/** The fenced blocks of a markdown file (fences may be indented, as inside a list item). */
function parseBlocks(file: string): Block[] {
  const lines = readFileSync(join(REPO_ROOT, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const h = /^#+\s+(.*)$/.exec(lines[i] as string);
    if (h) heading = h[1] as string;
    const open = /^(\s*)```(\S*)\s*(.*)$/.exec(lines[i] as string);
    if (!open) continue;
    const indent = (open[1] as string).length;
    const body: string[] = [];
    const start = i;
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i] as string); i++) body.push((lines[i] as string).slice(indent));
    assert.ok(i < lines.length, `${file}:${start + 1}: the code block is not closed`);
    const block = { file, line: start + 1, lang: open[2] as string, flags: (open[3] as string).split(/\s+/).filter(Boolean), code: body.join('\n'), prints: [], heading };
    const prev = blocks[blocks.length - 1];
    if (block.lang === 'text' && block.flags.includes('prints')) {
      assert.ok(prev?.flags.includes('runnable'), `${file}:${block.line}: a text prints block must follow a runnable block`);
      prev!.prints = body.map((l) => l.trim()).filter(Boolean);
    }
    blocks.push(block);
  }
  return blocks;
}

/** The pages whose nx commands are checked; only the runbook's blocks run. */
const DOCS = [RUNBOOK, 'docs/reference.md', 'README.md'];
const blocks = parseBlocks(RUNBOOK);
const runnable = blocks.filter((b) => b.lang === 'sh' && b.flags.includes('runnable'));
const prelude = runnable.filter((b) => b.flags.includes('prelude')).map((b) => b.code).join('\n');

/** Whether an output line matches a prints line: its pieces between … appear in order. */
function matches(pattern: string, line: string): boolean {
  let at = 0;
  for (const piece of pattern.split('…')) {
    const found = line.indexOf(piece, at);
    if (found < 0) return false;
    at = found + piece.length;
  }
  return true;
}

let p: PipelineWorkspace;

before(async () => {
  p = await openPipelineWorkspace('runbook');
  // The morning's new build: the daily compose of the runbook has something to show.
  await stageSandbox(p.ws.relengRoot, { version: '1.1', shorts: ['Rocky'] });
});
after(() => p?.close());

function bash(script: string, env: Record<string, string> = {}): Promise<{ status: number; output: string }> {
  return new Promise((resolve, reject) => {
    const { env: nxEnv } = p.ws.command([], { RELENG_ERRATA_URL: p.errata.url, ...env });
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: p.ws.dir, env: nxEnv });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? 1, output }));
  });
}

test(`${RUNBOOK} has runnable blocks, one prelude, and prints blocks`, () => {
  assert.ok(runnable.length >= 10, `only ${runnable.length} runnable blocks`);
  assert.ok(prelude.includes('STAGING='), 'the prelude block defines no STAGING');
  assert.ok(runnable.filter((b) => b.prints.length).length >= 5);
});

for (const block of runnable.filter((b) => !b.flags.includes('prelude'))) {
  const fails = block.flags.includes('fails');
  test(`${RUNBOOK}:${block.line} (${block.heading})${fails ? ' fails as documented' : ''}`, async () => {
    const r = await bash(`${prelude}\n${block.code}`);
    const where = `${RUNBOOK}:${block.line}\n${block.code}\n--- output:\n${r.output}`;
    if (fails) assert.notEqual(r.status, 0, `expected to fail: ${where}`);
    else assert.equal(r.status, 0, where);
    const lines = r.output.split('\n');
    for (const want of block.prints) assert.ok(lines.some((l) => matches(want, l)), `no line matches '${want}': ${where}`);
    for (const warning of lines.filter((l) => /WARNING/.test(l))) {
      assert.ok(block.prints.some((want) => matches(want, warning)), `undocumented warning '${warning}': ${where}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Every `npx nx` command of the runbook, runnable or not, against the graph and the plugin's schemas.

/** nx's own flags, which no executor schema lists. */
const NX_FLAGS = new Set(['skip-nx-cache', 'output-style', 'projects', 'p', 'base', 'head', 'parallel', 'exclude', 'verbose', 'graph', 'dry-run', 'file', 'excludeTaskDependencies', 'help']);

/** Words of a shell command line, with "..." kept together and comments dropped. */
function words(line: string): string[] {
  const code = line.replace(/\s+#.*$/, '');
  return [...code.matchAll(/(?:[^\s"]+|"[^"]*")+/g)].map((m) => m[0].replace(/"/g, ''));
}

function nxCommands(): { where: string; argv: string[] }[] {
  const out: { where: string; argv: string[] }[] = [];
  for (const b of DOCS.flatMap(parseBlocks).filter((x) => x.lang === 'sh')) {
    b.code.split('\n').forEach((l, i) => {
      const at = l.indexOf('npx nx ');
      if (at >= 0) out.push({ where: `${b.file}:${b.line + 1 + i}`, argv: words(l.slice(at + 'npx nx '.length)).filter((w) => !w.startsWith('$(')) });
    });
  }
  // And the commands quoted in the prose: `npx nx run …`, `nx run-many …`.
  for (const file of DOCS) {
    readFileSync(join(REPO_ROOT, file), 'utf8').split('\n').forEach((l, i) => {
      for (const m of l.matchAll(/`(?:npx )?nx ((?:run|run-many|affected|g) [^`]*)`/g)) out.push({ where: `${file}:${i + 1}`, argv: words(m[1] as string) });
    });
  }
  return out;
}

function optionNames(argv: string[]): string[] {
  return argv.filter((a) => a.startsWith('--')).map((a) => (a.slice(2).split('=')[0] as string));
}

function schemaProperties(file: string): string[] {
  return Object.keys(readJsonFile<{ properties?: object }>(join(REPO_ROOT, 'tools/nx-releng', file)).properties ?? {});
}

test(`every npx nx command in ${DOCS.join(', ')} names targets, configurations, options and generators that exist`, async () => {
  // The SIG the runbook adds with the repo generator, when this test runs on its own.
  const sig = join(p.ws.dir, 'releases/8/SIG-cloud/compose.json');
  if (!existsSync(sig)) writeJsonFile(sig, { kind: 'sig', variants: ['cloud-common'], backend: 'local' });
  const graphFile = join(p.ws.dir, 'dist/runbook-graph.json');
  const g = await p.nx(['graph', `--file=${graphFile}`]);
  assert.equal(g.status, 0, g.output);
  const nodes = readJsonFile<any>(graphFile).graph.nodes as Record<string, { data: { targets: Record<string, any> } }>;
  const executors = readJsonFile<any>(join(REPO_ROOT, 'tools/nx-releng/executors.json')).executors;
  const generators = readJsonFile<any>(join(REPO_ROOT, 'tools/nx-releng/generators.json')).generators;
  const commands = nxCommands();
  assert.ok(commands.length >= 40, `only ${commands.length} nx commands found`);
  for (const { where: at, argv } of commands) {
    const where = `${at}: npx nx ${argv.join(' ')}`;
    const [verb, ...rest] = argv;
    if (verb === 'g') {
      const m = /^@nx-releng\/plugin:(.+)$/.exec(rest[0] ?? '');
      assert.ok(m && generators[m[1] as string], `${where}: no such generator`);
      const known = schemaProperties(generators[m[1] as string].schema);
      for (const o of optionNames(rest)) assert.ok(known.includes(o) || NX_FLAGS.has(o), `${where}: the generator has no option --${o}`);
      continue;
    }
    if (verb !== 'run' && verb !== 'run-many' && verb !== 'affected') continue;
    // Which (project, target) pairs the command names, and the configuration.
    let configuration: string | undefined;
    const targets: string[] = [];
    let projects: string[] | undefined;
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i] as string;
      if (a === '-c') configuration = rest[++i];
      else if (a === '-t') while (rest[i + 1] && !rest[i + 1]!.startsWith('-')) targets.push(rest[++i] as string);
      else if (a === '-p') for (projects = []; rest[i + 1] && !rest[i + 1]!.startsWith('-'); ) projects.push(rest[++i] as string);
      else if (verb === 'run' && i === 0) {
        const [project, target, config] = a.split(':');
        // <project> in prose stands for any project.
        projects = project?.startsWith('<') ? undefined : [project as string];
        targets.push(target as string);
        configuration ??= config;
      }
    }
    assert.ok(targets.length, `${where}: no target`);
    const schemaOf = (t: { executor: string }) => schemaProperties(executors[t.executor.split(':')[1] as string].schema);
    const known = new Set<string>();
    const configured: string[] = [];
    for (const target of targets) {
      const having = Object.entries(nodes).filter(([name, n]) => n.data.targets[target] && (!projects || projects.includes(name)));
      assert.ok(having.length, `${where}: no project has a target ${target}`);
      for (const [name, node] of having) {
        if (configuration && node.data.targets[target].configurations?.[configuration]) configured.push(name);
        for (const o of schemaOf(node.data.targets[target])) known.add(o);
      }
    }
    // A channel only some projects have (SIGs are stable only) is still a channel the command means.
    if (configuration) assert.ok(configured.length, `${where}: no target named has a configuration ${configuration}`);
    // nx passes every option to every target it runs: each must be an option of one of them.
    for (const o of optionNames(rest).filter((x) => !NX_FLAGS.has(x))) assert.ok(known.has(o), `${where}: no target named has an option --${o}`);
  }
});

// (With the pungi backend the same koji failure is a WARNING: compose-cache.test.ts.)
test('a local compose on a host whose koji fails: no WARNING about koji, still not a cache hit, and quiet under --skip-nx-cache', async () => {
  const env = { PATH: `${BIN}${delimiter}${process.env.PATH}`, KOJI_STANDIN_FAIL: 'Error: Request error: https://koji.example/kojihub: Connection refused' };
  const compose = async (args: string[]) => {
    const r = await p.ws.nxAsync(['run', 'Rocky-devel-8:compose', '--backend=local', '--output-style=static', ...args], env);
    assert.equal(r.status, 0, r.output);
    assert.doesNotMatch(r.output, /WARNING/);
    return r;
  };
  for (let i = 0; i < 2; i++) {
    const r = await compose([]);
    assert.equal(taskOutcomes(r.output, 'compose')['Rocky-devel-8'], 'ran', `run ${i + 1}: a koji that fails must never let a compose be a hit`);
    assert.match(r.output, /not a cache hit: koji list-tagged --latest --quiet dist-rocky8-compose failed \(exit code 1: Error: Request error/);
  }
  const forced = await compose(['--skip-nx-cache']);
  assert.doesNotMatch(forced.output, /not a cache hit|koji list-tagged/);
});
