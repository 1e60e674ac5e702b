import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadAllComposeModels } from '../../../tools/nx-releng/src/config/load';
import { mirrorStatePaths, resolveRoots } from '../../../tools/nx-releng/src/layout/paths';
import type { Log } from '../../../tools/nx-releng/src/lib/core/log';
import { readFileListStateSummary } from '../../../tools/nx-releng/src/lib/mirror/filelist-state';
import { publishFileLists } from '../../../tools/nx-releng/src/lib/mirror/mirror';
import { buildReport } from '../../../tools/nx-releng/src/lib/compose/compose-diff';
import type { RpmsMap } from '../../../tools/nx-releng/src/lib/formats/productmd';
import { escapeHtml, html, renderStatusPage } from '../../../tools/nx-releng/src/lib/mirror/status-page';
import { gatherStatus, summarizeChanges, type StatusModel, type StatusRow } from '../../../tools/nx-releng/src/lib/mirror/status-state';
import { copyReleases } from '../../helpers/workspace';

const NOW = '2024-11-15T12:00:00.000Z';

function row(over: Partial<StatusRow> & Pick<StatusRow, 'project'>): StatusRow {
  return {
    major: '8',
    channel: 'stable',
    stagingRevision: '8.10-RC2',
    latest: { link: '/mnt/compose/8/latest-x', composeId: `${over.project}-8.10-20241115.0`, status: 'FINISHED', finishedAt: '2024-11-15T09:00:00.000Z' },
    staging: { dir: '/s/8.10-RC2', composeId: `${over.project}-8.10-20241115.0`, syncedAt: '2024-11-15T10:00:00.000Z' },
    verify: { state: 'verified', composeId: `${over.project}-8.10-20241115.0`, verifiedAt: '2024-11-15T10:30:00.000Z' },
    production: { dir: '/p/8.10', composeId: `${over.project}-8.10-20241115.0`, syncedAt: '2024-11-15T11:00:00.000Z' },
    ...over,
  };
}

function model(rows: StatusRow[]): StatusModel {
  return {
    generatedAt: NOW,
    rows,
    fileLists: [
      {
        root: 'mirror/pub/rocky',
        dir: '/p/mirror/pub/rocky',
        timelist: 'fullfiletimelist-rocky',
        exists: true,
        mtime: '2024-11-15T11:05:00.000Z',
        entries: 1234,
        copies: [
          { name: 'fullfiletimelist', exists: true },
          { name: 'fullfiletimelist-rocky-linux', exists: false },
        ],
      },
      { root: '.', dir: '/p', timelist: 'fullfiletimelist-rocky', exists: false, copies: [] },
    ],
  };
}

/** The <tr> of one project and channel. */
function rowOf(page: string, project: string, channel = 'stable'): string {
  const m = new RegExp(`<tr class="row[^"]*" data-project="${project}" data-channel="${channel}">([\\s\\S]*?)</tr>`).exec(page);
  assert.ok(m, `no row for ${project} ${channel}`);
  return m[1] as string;
}

test('escapeHtml and html: every interpolated value is escaped, markup built by html is not escaped twice', () => {
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  const inner = html`<b>${'<i>'}</b>`;
  assert.equal(html`<p>${inner}${['<', html`<br>`]}${undefined}${3}</p>`.text, '<p><b>&lt;i&gt;</b>&lt;<br>3</p>');
});

test('render: hostile values from records and configuration are escaped everywhere', () => {
  const evil = `<script>alert("x")</script>&'`;
  const page = renderStatusPage({
    ...model([
      row({
        project: 'Rocky-8',
        latest: { link: '/l', composeId: evil, status: evil, finishedAt: evil },
        staging: { dir: '/s', composeId: evil, syncedAt: evil },
        verify: { state: 'stale', composeId: evil, verifiedAt: evil, detail: evil },
        production: { dir: '/p', composeId: evil, syncedAt: evil },
        changes: {
          composeId: evil,
          previousId: evil,
          counts: { added: 0, removed: 0, upgraded: 0, downgraded: 1 },
          packages: 1,
          downgrades: [{ name: evil, from: evil, to: evil, where: evil }],
        },
      }),
    ]),
    fileLists: [{ root: evil, dir: evil, timelist: evil, exists: true, mtime: evil, entries: 1, copies: [{ name: evil, exists: true }] }],
  });
  assert.ok(!page.includes('<script'), 'a raw <script> reached the page');
  assert.ok(!page.includes(`"x"`), 'a raw quote reached the page');
  assert.ok(page.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;'));
  // No scripts, no network assets at all.
  assert.doesNotMatch(page, /<script|<link|src=|url\(|https?:\/\//i);
});

test('render: a row whose staging changed since verify shows stale, the others verified', () => {
  const page = renderStatusPage(
    model([row({ project: 'Extras-8' }), row({ project: 'Rocky-8', verify: { state: 'stale', composeId: 'Rocky-8.10-20241115.0', verifiedAt: '2024-11-15T10:30:00.000Z' } })]),
  );
  const rocky = rowOf(page, 'Rocky-8');
  assert.match(rocky, /<td class="cell-verify verify-stale"><span class="badge bad">stale: staging changed since verify<\/span>/);
  assert.match(rocky, /2024-11-15 10:30 UTC/);
  assert.match(rowOf(page, 'Extras-8'), /<span class="badge ok">verified<\/span>/);
  assert.doesNotMatch(rowOf(page, 'Extras-8'), /stale/);
  assert.match(page, /2 rows: 1 verified, 1 stale, 0 not verified/);
  // Every id in all three columns; the time each stage ran, with its age.
  for (const cell of ['latest', 'staging', 'production']) {
    assert.match(rocky, new RegExp(`<td class="cell-${cell}[^"]*"><code class="cid">Rocky-8-8\\.10-20241115\\.0</code>`));
  }
  assert.match(rocky, /2024-11-15 11:00 UTC <span class="age">\(1 h ago\)<\/span>/);
});

test('render: not verified, behind, a missing link, and beta without production', () => {
  const page = renderStatusPage(
    model([
      row({
        project: 'Rocky-8',
        latest: { link: '/l', problem: 'compose link /l does not exist' },
        staging: { dir: '/s' },
        verify: { state: 'not-verified', detail: 'no passing verify recorded' },
        production: { dir: '/p' },
      }),
      row({
        project: 'Rocky-8',
        channel: 'beta',
        stagingRevision: '8.10-BETA',
        latest: { link: '/l', composeId: 'B-2', status: 'FINISHED_INCOMPLETE' },
        staging: { dir: '/s', composeId: 'B-1', syncedAt: NOW },
        production: undefined,
      }),
    ]),
  );
  const stable = rowOf(page, 'Rocky-8');
  assert.match(stable, /not verified/);
  assert.match(stable, /compose link \/l does not exist/);
  assert.match(stable, /never synced/);
  const beta = rowOf(page, 'Rocky-8', 'beta');
  assert.match(beta, /<span class="badge warn" title="STATUS FINISHED_INCOMPLETE">INCOMPLETE<\/span>/);
  assert.match(beta, /behind latest/);
  assert.match(beta, /beta is never synced to production/);
});

function rpms(entries: Record<string, string[]>): RpmsMap {
  const map: RpmsMap = {};
  for (const [where, nevras] of Object.entries(entries)) {
    const [variant, arch] = where.split(' ') as [string, string];
    const byArch = (map[variant] ??= {});
    byArch[arch] = { 'src-0:1-1.src': Object.fromEntries(nevras.map((n) => [n, { path: `x/${n}.rpm`, sigkey: null, category: 'binary' }])) };
  }
  return map as RpmsMap;
}

test('render: a downgrade from the compose report is counted and highlighted with its versions', () => {
  const before = rpms({ 'BaseOS x86_64': ['hello-0:2.0-1.el8.x86_64', 'old-0:1-1.el8.noarch'], 'BaseOS aarch64': ['hello-0:2.0-1.el8.aarch64'] });
  const after = rpms({ 'BaseOS x86_64': ['hello-0:1.0-1.el8.x86_64', 'new-0:1-1.el8.noarch'], 'BaseOS aarch64': ['hello-0:1.0-1.el8.aarch64'] });
  const report = buildReport({ id: 'Rocky-8.10-20241115.1', dir: '/c1' }, after, { id: 'Rocky-8.10-20241115.0', dir: '/c0' }, before);
  const changes = summarizeChanges(report);
  assert.deepEqual(changes.counts, { added: 1, removed: 1, upgraded: 0, downgraded: 2 });
  assert.deepEqual(changes.downgrades, [{ name: 'hello', from: '2.0-1.el8', to: '1.0-1.el8', where: 'BaseOS aarch64, BaseOS x86_64' }]);

  const page = renderStatusPage(model([row({ project: 'Rocky-8', changes }), row({ project: 'Extras-8' })]));
  const rocky = rowOf(page, 'Rocky-8');
  assert.match(rocky, /<td class="cell-changes has-downgrade">/);
  assert.match(rocky, /Rocky-8\.10-20241115\.1 since Rocky-8\.10-20241115\.0/);
  assert.match(rocky, /<span class="count count-downgraded downgrade">2 downgraded<\/span>/);
  assert.match(rocky, /<span class="count count-added">1 added<\/span>/);
  assert.match(rocky, /<li class="downgrade">DOWNGRADED <code>hello<\/code> 2\.0-1\.el8 &rarr; 1\.0-1\.el8 <span class="where">\(BaseOS aarch64, BaseOS x86_64\)<\/span><\/li>/);
  // The highlight is styled, and only where there is a downgrade.
  assert.match(page, /td\.has-downgrade \{[^}]*background/);
  assert.doesNotMatch(rowOf(page, 'Extras-8'), /downgrade/);
  assert.match(rowOf(page, 'Extras-8'), /no compose report/);
});

test('render: the file lists with their state, and the page is a pure function of the model', () => {
  const m = model([row({ project: 'Rocky-8' })]);
  const page = renderStatusPage(m);
  assert.equal(renderStatusPage(m), page);
  const rocky = /<tr class="filelist" data-root="mirror\/pub\/rocky">([\s\S]*?)<\/tr>/.exec(page)?.[1] ?? '';
  assert.match(rocky, /fullfiletimelist-rocky <span class="badge ok">present<\/span>/);
  assert.match(rocky, /<td class="num">1234<\/td>/);
  assert.match(rocky, /fullfiletimelist-rocky-linux \(missing\)/);
  const top = /<tr class="filelist missing" data-root="\.">([\s\S]*?)<\/tr>/.exec(page)?.[1] ?? '';
  assert.match(top, /<span class="badge bad">missing<\/span>/);
  assert.match(top, /never written/);
  assert.match(page, /No filelist run recorded in this workspace/);
});

test('the file-list section shows the last full walk of the tree (time and reason) from the state the file lists leave, or that none is recorded', async () => {
  const ws = mkdtempSync(join(tmpdir(), 'releng-status-walk-'));
  after(() => rmSync(ws, { recursive: true, force: true }));
  copyReleases(ws);
  const relengRoot = join(ws, 'mnt-root');
  const models = loadAllComposeModels(ws);
  const first = models[0];
  assert.ok(first, 'the workspace has compose projects');
  const roots = resolveRoots(first.common, first.release, relengRoot);
  mkdirSync(join(roots.production, 'mirror/pub/rocky/8.10/BaseOS'), { recursive: true });
  writeFileSync(join(roots.production, 'mirror/pub/rocky/8.10/BaseOS/a.txt'), 'a\n');
  const stateDir = mirrorStatePaths(roots).fileListStateDir;
  const lines: string[] = [];
  const log: Log = { info: (l) => void lines.push(l), warn: (l) => void lines.push(l) };
  const page = async () => renderStatusPage(await gatherStatus({ models, relengRoot, workspaceRoot: ws }));
  const fullWalk = (p: string) => /<span class="full-walk"[^>]*>([^<]*)<\/span>/.exec(p)?.[1];
  const shown = (at: string, why: string) => `Last full walk of the tree: ${at.slice(0, 16).replace('T', ' ')} UTC (${why}); runs since then updated the lists from the change journal.`;
  const NONE = 'No full walk of the tree recorded: the next filelist run walks it.';

  // No file lists made yet: no state.
  assert.equal(fullWalk(await page()), NONE);

  // The first lists walk the tree (no state yet), and say why.
  await publishFileLists({ models, relengRoot, log });
  const firstWalk = readFileListStateSummary(stateDir)?.lastFullWalk;
  assert.ok(firstWalk, `no state in ${stateDir} after the file lists: ${lines.join('\n')}`);
  assert.equal(firstWalk.why, `no file-list state in ${stateDir} (first run, or it was removed)`);
  assert.equal(fullWalk(await page()), shown(firstWalk.at, firstWalk.why));
  assert.match(await page(), new RegExp(`<span class="full-walk" title="${firstWalk.at.replace(/\./g, '\\.')}">`));

  // An update from the (empty) change journal keeps the last full walk; --full records a new one with its reason.
  await publishFileLists({ models, relengRoot, log });
  assert.match(lines.join('\n'), /updated from the change journal \(0 paths looked at again\)/);
  assert.deepEqual(readFileListStateSummary(stateDir)?.lastFullWalk, firstWalk);
  assert.equal(fullWalk(await page()), shown(firstWalk.at, firstWalk.why));
  await publishFileLists({ models, relengRoot, log }, { full: true });
  const second = readFileListStateSummary(stateDir)?.lastFullWalk;
  assert.equal(second?.why, 'asked for (--full)');
  assert.equal(fullWalk(await page()), shown(second.at, 'asked for (--full)'));

  // A state that cannot be read is no record of a walk (and the next run walks).
  writeFileSync(join(stateDir, 'state.json'), '{"version": 1, "lastFull');
  assert.equal(fullWalk(await page()), NONE);
});
