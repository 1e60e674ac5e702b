import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { runChromium } from '../helpers/chromium';
import { createNxWorkspace, type NxWorkspace } from '../helpers/nx-workspace';
import { REPO_ROOT, writeJsonFile } from '../helpers/workspace';

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

// ---------------------------------------------------------------------------------------------------------------
// The graph as drawn: the page's cytoscape instance, read back from the rendered page.

/** The composes of this workspace (the five of releases/8, the kernel SIG's two among them, and a SIG added in the test) and their expected edges. */
const SIG = { kind: 'sig', description: 'The Cloud SIG (a SIG of the graph test)', variants: ['plus'], backend: 'local' };
const COMPOSES = ['Extras-8', 'Rocky-8', 'Rocky-devel-8', 'SIG-cloud-8', 'SIG-kernel-8', 'SIG-kmod-8'];
const RELEASE_EDGES = [
  'Extras-8 -> Rocky-8',
  'Rocky-devel-8 -> Rocky-8',
  ...COMPOSES.map((p) => `mirror -> ${p}`),
].sort();

/**
 * Script put into a copy of graph.html (same dir, so static/ resolves): before the app loads, it keeps every
 * cytoscape registry (cytoscape sets `container._cyreg = { cy }` and nulls it when the renderer is remounted),
 * and after it, every 250 ms (virtual time) it writes the graph drawn in #cytoscape-graph, the page's own project
 * graph data and the page's URL into <pre id="releng-probe">, which --dump-dom prints.
 */
const PROBE_HEAD = `<script>
window.__relengCy = [];
Object.defineProperty(HTMLElement.prototype, '_cyreg', {
  configurable: true,
  get() { return undefined; },
  set(v) { if (v) window.__relengCy.push(v); Object.defineProperty(this, '_cyreg', { value: v, writable: true, configurable: true }); },
});
</script>`;
const PROBE_BODY = `<script>
(function probe() {
  const flat = (d) => Object.fromEntries(Object.entries(d).filter(([, v]) => v === null || typeof v !== 'object'));
  const cy = window.__relengCy.map((r) => r.cy).find((c) => c && !c.destroyed() && c.container() && c.container().id === 'cytoscape-graph');
  let pre = document.getElementById('releng-probe');
  if (!pre) { pre = document.createElement('pre'); pre.id = 'releng-probe'; document.body.appendChild(pre); }
  pre.textContent = JSON.stringify({
    url: location.href,
    data: window.projectGraphResponse && window.projectGraphResponse.dependencies,
    nodes: cy ? cy.nodes().map((n) => flat(n.data())) : [],
    edges: cy ? cy.edges().map((e) => flat(e.data())) : [],
  });
  setTimeout(probe, 250);
})();
</script>`;

interface Drawn {
  url: string;
  data: Record<string, { source: string; target: string; type: string }[]>;
  nodes: { id: string; type: string; name: string; rendered: boolean }[];
  edges: { source: string; target: string; type: string; rendered: boolean }[];
}

/** What the page draws at `hash` (a route of the app), read back through the probe. */
function drawn(probePage: string, hash: string): Drawn {
  const dom = runInChromium(['--virtual-time-budget=10000', '--dump-dom', `file://${probePage}${hash}`]);
  const m = /<pre id="releng-probe">([^<]*)<\/pre>/.exec(dom);
  assert.ok(m, `the probe wrote nothing: the page did not run\n${dom.slice(0, 2000)}`);
  const text = (m[1] as string).replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return JSON.parse(text) as Drawn;
}

/** The app's view state (the `graph` parameter it writes into its URL) with the project mode switched. */
function withMode(url: string, mode: string): string {
  const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
  const encoded = query.get('graph');
  assert.ok(encoded, `the app wrote no view state into its URL: ${url}`);
  const state = JSON.parse(decodeURIComponent(Buffer.from(encoded, 'base64').toString('utf8')));
  assert.ok(state?.c?.mode, `the view state has no project mode: ${JSON.stringify(state)}`);
  state.c.mode = mode;
  return `#/projects?graph=${encodeURIComponent(Buffer.from(encodeURIComponent(JSON.stringify(state))).toString('base64'))}`;
}

/** Writes probe.html next to the graph.html (or index.html) nx wrote, so static/ resolves as for the page itself. */
function probeCopy(page: string): string {
  const html = readFileSync(page, 'utf8');
  assert.ok(html.includes('<script id="environment"') && html.includes('</body>'), `${page} has changed shape`);
  const probe = join(dirname(page), 'probe.html');
  writeFileSync(probe, html.replace('<script id="environment"', `${PROBE_HEAD}\n<script id="environment"`).replace('</body>', `${PROBE_BODY}</body>`));
  return probe;
}

const projectOf = (id: string) => id.replace(/^(project|task)-/, '');
const renderedEdges = (d: Drawn) =>
  d.edges.filter((e) => e.rendered).map((e) => `${projectOf(e.source)} -> ${projectOf(e.target)}`).sort();

test('the drawn release graph: every compose, mirror on each, Extras-8 and Rocky-devel-8 on Rocky-8; a screenshot is kept', () => {
  // Added after the first test built (and cached) the graph: a new compose must get its edge at once.
  writeJsonFile(join(ws.dir, 'releases/8/SIG-cloud/compose.json'), SIG);
  const dir = join(ws.dir, 'dist/graph-drawn');
  const g = ws.nx(['graph', `--file=${dir}/graph.html`]);
  assert.equal(g.status, 0, g.output);
  const probePage = probeCopy(join(dir, 'graph.html'));

  // The default view (Nx's "Grouped" mode) folds releases/8 into one node; mirror's edges to its composes are
  // drawn as one edge to that folder, so the release is connected even folded.
  const grouped = drawn(probePage, '');
  const folder = grouped.nodes.find((n) => n.type === 'composite-project' && n.id.endsWith('releases/8'));
  assert.ok(folder?.rendered, `no releases/8 folder drawn: ${JSON.stringify(grouped.nodes)}`);
  assert.ok(
    grouped.edges.some((e) => e.rendered && e.source === 'project-mirror' && e.target === folder.id),
    `no edge from mirror to the releases/8 folder is drawn: ${JSON.stringify(grouped.edges)}`,
  );
  // The page's own data (static/environment.js, as the page loaded it) has the edges of the release model.
  const data = Object.values(grouped.data).flat().map((d) => `${d.source} -> ${d.target}`).sort();
  assert.deepEqual(data, RELEASE_EDGES);

  // The "Flat" mode, as a person picks it in the toolbar: every project drawn, and each edge between them.
  const flatHash = withMode(grouped.url, 'individual');
  const flat = drawn(probePage, flatHash);
  const shown = flat.nodes.filter((n) => n.type === 'project' && n.rendered).map((n) => n.name);
  for (const p of [...COMPOSES, 'mirror']) assert.ok(shown.includes(p), `${p} is not drawn: ${shown}`);
  assert.deepEqual(renderedEdges(flat), RELEASE_EDGES);
  assert.ok(flat.edges.every((e) => e.type === 'project'), 'an edge is drawn folded');

  // The screenshot of the flat view, kept for a person to look at (dist/ is gitignored).
  const shot = join(REPO_ROOT, 'dist/test-artifacts/graph-html/release-graph.png');
  mkdirSync(dirname(shot), { recursive: true });
  rmSync(shot, { force: true });
  runInChromium(['--window-size=1600,1000', '--virtual-time-budget=10000', `--screenshot=${shot}`, `file://${dir}/graph.html${flatHash}`]);
  const png = readFileSync(shot);
  assert.ok(png.length > 10_000 && png.subarray(1, 4).toString() === 'PNG', `${shot} is not a screenshot of the page`);
});

/** The drawn task graph of `targets` at a route of the app, as `<task> -> <task it waits for>` lines. */
function drawnTasks(args: string[], hash: string): string[] {
  // One dir per page: every page nx writes into a dir shares (and overwrites) that dir's static/environment.js.
  const dir = join(ws.dir, 'dist/graph-tasks', args.join('_').replace(/[^A-Za-z0-9_-]/g, ''));
  const g = ws.nx(['graph', '--view=tasks', ...args, `--file=${dir}/index.html`]);
  assert.equal(g.status, 0, g.output);
  const d = drawn(probeCopy(join(dir, 'index.html')), hash);
  assert.ok(d.nodes.some((n) => n.type === 'task' && n.rendered), `no task is drawn at ${hash}: ${JSON.stringify(d.nodes)}`);
  return renderedEdges(d);
}

test('the drawn task graphs of the README: the daily job for one compose waits for Rocky-8; the push', () => {
  // The daily job (`nx run-many -t verify`) focused on Extras-8: its chain, and Rocky-8's staging up to the
  // updateinfo that last rewrites the BaseOS and AppStream repodata its repoclosure reads.
  assert.deepEqual(drawnTasks(['--targets=verify'], '#/tasks?targets=verify&projects=Extras-8'), [
    'Extras-8:sign -> Extras-8:updateinfo',
    'Extras-8:updateinfo -> Extras-8:sync-staging',
    'Extras-8:verify -> Extras-8:sign',
    'Extras-8:verify -> Rocky-8:updateinfo',
    'Rocky-8:updateinfo -> Rocky-8:sync-staging',
  ]);
  // The push (`nx run-many -t sync-prod filelist`): the lists once, after every compose's production sync.
  assert.deepEqual(drawnTasks(['--targets=sync-prod,filelist'], '#/tasks/all?targets=sync-prod%20filelist'), [
    ...COMPOSES.map((p) => `mirror:hardlink -> ${p}:sync-prod`),
    'mirror:filelist -> mirror:hardlink',
  ].sort());
});
