import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runChromium } from '../helpers/chromium';
import { dropShippedSigs, type NxWorkspace } from '../helpers/nx-workspace';
import { openPipelineWorkspace, type PipelineWorkspace } from '../helpers/pipeline';

/**
 * The release status page end to end: the whole pipeline (compose, verify, sync-prod and the file lists) with
 * the real nx CLI, then `nx run mirror:status`, and the page opened from disk in headless Chromium (a
 * screenshot, and the rendered DOM read back). A package touched in staging behind the tool's back turns its
 * row stale on the next page. STATUS_PAGE_SCREENSHOT=<file.png> keeps the screenshot.
 */

const PROJECTS = ['Extras-8', 'Rocky-8', 'Rocky-devel-8'];
const LIST_ROOTS = ['mirror/pub/rocky', 'mirror/pub/sig', '.'];

let pipeline: PipelineWorkspace;
let ws: NxWorkspace;
let page: string;

before(async () => {
  pipeline = await openPipelineWorkspace('e2e-status', async (w) => dropShippedSigs(w));
  ws = pipeline.ws;
  page = join(ws.dir, 'dist/releng/mirror/status/index.html');
});

after(() => pipeline?.close());

/** Chromium run in this workspace (a fresh profile each time). */
const runInChromium = (args: string[]) => runChromium(ws.dir, args, 60_000);

const renderedDom = () => runInChromium(['--dump-dom', `file://${page}`]);

/** The rendered <tr> of a project's stable row, by cell class. */
function cells(dom: string, project: string): Record<string, string> {
  const tr = new RegExp(`<tr [^>]*data-project="${project}" data-channel="stable">([\\s\\S]*?)</tr>`).exec(dom);
  assert.ok(tr, `the rendered page has no stable row for ${project}`);
  const out: Record<string, string> = {};
  for (const m of (tr[1] as string).matchAll(/<td class="cell-(\w+)[^"]*">([\s\S]*?)<\/td>/g)) out[m[1] as string] = m[2] as string;
  return out;
}

function composeIdOf(project: string): string {
  const manifest = JSON.parse(readFileSync(join(ws.dir, 'dist/releng', project, 'compose/manifest.json'), 'utf8')) as { composeId: string };
  return manifest.composeId;
}

async function status(): Promise<void> {
  const out = await pipeline.runOk(['run', 'mirror:status']);
  // The one-line summary names the page.
  assert.match(out, new RegExp(`mirror:status ${page.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(`), out);
  assert.ok(existsSync(join(ws.dir, 'dist/releng/mirror/status/manifest.json')), 'no manifest beside the page');
}

function firstRpm(dir: string): string | undefined {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const found = firstRpm(p);
      if (found) return found;
    } else if (e.name.endsWith('.rpm')) return p;
  }
  return undefined;
}

test('the status page shows every compose in all three stages, verified, and the file lists', async () => {
  await pipeline.runOk(['run-many', '-t', 'verify']);
  await pipeline.runOk(['run-many', '-t', 'sync-prod', 'filelist']);
  await status();

  const html = readFileSync(page, 'utf8');
  assert.doesNotMatch(html, /<script|<link|src=|url\(|https?:\/\//i, 'the page loads something from elsewhere');

  const shot = join(ws.dir, 'status.png');
  runInChromium(['--window-size=1600,1000', '--hide-scrollbars', `--screenshot=${shot}`, `file://${page}`]);
  const png = readFileSync(shot);
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  assert.ok(statSync(shot).size > 20_000, `the screenshot is suspiciously small (${statSync(shot).size} bytes)`);
  if (process.env.STATUS_PAGE_SCREENSHOT) copyFileSync(shot, process.env.STATUS_PAGE_SCREENSHOT);

  const dom = renderedDom();
  for (const project of PROJECTS) {
    const id = composeIdOf(project);
    const c = cells(dom, project);
    for (const stage of ['latest', 'staging', 'production']) {
      assert.match(c[stage] ?? '', new RegExp(`<code class="cid">${id.replace(/\./g, '\\.')}</code>`), `${project}: ${stage} does not show ${id}`);
    }
    assert.match(c.latest ?? '', />FINISHED</, `${project}: latest compose STATUS`);
    assert.match(c.verify ?? '', /<span class="badge ok">verified<\/span>/, `${project}: ${c.verify}`);
    assert.match(c.changes ?? '', /first compose, \d+ packages/, `${project}: ${c.changes}`);
    assert.doesNotMatch(c.staging ?? '', /behind/);
    assert.doesNotMatch(c.production ?? '', /behind/);
  }
  for (const root of LIST_ROOTS) {
    const tr = new RegExp(`<tr class="filelist" data-root="${root.replace(/\./g, '\\.')}">([\\s\\S]*?)</tr>`).exec(dom);
    assert.ok(tr, `file-list root ${root} is not shown as present`);
    assert.match(tr[1] as string, /<span class="badge ok">present<\/span>/);
    // No SIG compose in this workspace: the sig root lists nothing, the others list the synced trees.
    const entries = root === 'mirror/pub/sig' ? /<td class="num">0<\/td>/ : /<td class="num">[1-9]\d*<\/td>/;
    assert.match(tr[1] as string, entries, `${root}: entry count`);
  }
  assert.match(dom, /3 rows: 3 verified, 0 stale, 0 not verified/);
});

test('a package touched in staging behind the tool\'s back turns its row stale; the others stay verified', async () => {
  const staging = join(ws.relengRoot, 'mnt/repos-staging/mirror/pub/rocky/8.10-RC2');
  const rpm = firstRpm(join(staging, 'extras'));
  assert.ok(rpm, 'no package in staging extras');
  const st = statSync(rpm);
  utimesSync(rpm, st.atime, new Date(st.mtimeMs - 3_600_000));
  await status();

  const dom = renderedDom();
  const extras = cells(dom, 'Extras-8');
  assert.match(extras.verify ?? '', /<span class="badge bad">stale: staging changed since verify<\/span>/, extras.verify);
  for (const project of ['Rocky-8', 'Rocky-devel-8']) {
    assert.match(cells(dom, project).verify ?? '', /<span class="badge ok">verified<\/span>/, project);
  }
  assert.match(dom, /3 rows: 2 verified, 1 stale, 0 not verified/);
});
