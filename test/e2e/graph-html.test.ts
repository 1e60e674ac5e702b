import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runChromium } from '../helpers/chromium';
import { createNxWorkspace, type NxWorkspace } from '../helpers/nx-workspace';

/**
 * The release graph as a person sees it: `nx graph --file=<dir>/graph.html` in a temporary workspace, opened
 * in headless Chromium (Debian's chromium; EPEL's chromium-browser), and the rendered page read back.
 *
 * The graph itself is drawn on canvases (cytoscape), so its nodes are not in the DOM. What is, once the app has
 * run, is the project list of the sidebar ("Show Extras-8" / "Hide mirror" toggles): the app builds it from the project graph
 * in static/environment.js. graph.html itself names no project, so a name in the rendered DOM is the app's work.
 */

const RELEASE_PROJECTS = ['Extras-8', 'Rocky-8', 'Rocky-devel-8', 'mirror'];

let ws: NxWorkspace;
let out: string;

before(() => {
  ws = createNxWorkspace('graph-html');
  out = join(ws.dir, 'dist/graph-html');
});
after(() => ws?.dispose());

/** Chromium run in this workspace (a fresh profile each time). */
const runInChromium = (args: string[]) => runChromium(ws.dir, args);

test('nx graph --file=<dir>/graph.html renders in headless Chromium with every project in its project list', () => {
  const g = ws.nx(['graph', `--file=${out}/graph.html`]);
  assert.equal(g.status, 0, g.output);
  const html = readFileSync(join(out, 'graph.html'), 'utf8');
  for (const f of ['main.js', 'environment.js', 'runtime.js', 'styles.css']) {
    assert.ok(existsSync(join(out, 'static', f)), `static/${f} was not written`);
  }
  for (const p of RELEASE_PROJECTS) assert.ok(!html.includes(p), `graph.html names ${p} before rendering`);

  const shown = ws.nx(['show', 'projects', '--json']);
  assert.equal(shown.status, 0, shown.output);
  const projects = (JSON.parse(shown.output.slice(shown.output.indexOf('['), shown.output.lastIndexOf(']') + 1)) as string[]).sort();
  for (const p of RELEASE_PROJECTS) assert.ok(projects.includes(p), `nx show projects lacks ${p}: ${projects}`);

  const dom = runInChromium(['--virtual-time-budget=10000', '--dump-dom', `file://${out}/graph.html`]);
  // The sidebar: per project of the graph, no more, no fewer, a visibility toggle ("Show <project>" or "Hide
  // <project>", as the initial view draws it or not).
  const toggles = [...dom.matchAll(/<button title="(?:Show|Hide) ([^"]+)" type="button" aria-pressed=/g)].map((m) => m[1]);
  const excerpt = dom.slice(dom.indexOf('<body'), dom.indexOf('<body') + 2000);
  assert.deepEqual(toggles.sort(), projects, `the rendered project list is not nx's project list:\n${excerpt}`);
  for (const p of RELEASE_PROJECTS) {
    assert.match(dom, new RegExp(`<span [^>]*>${p}</span>`), `${p} is not shown as text in the rendered page`);
  }
  // The graph view itself is there: cytoscape's node layer.
  assert.match(dom, /<canvas data-id="layer2-node"/, 'the graph canvas was not rendered');
});
