/**
 * The release status page (the state comes from status-state.ts): `renderStatusPage` is a pure function of the
 * model, one self-contained HTML page, inline CSS, no scripts, no network assets, every value HTML-escaped.
 */
import type { ChangeKind } from '../compose/compose-diff';
import { statusWord } from '../compose/compose-ref';
import { VERIFY_LABELS, type FileListState, type StatusModel, type StatusRow } from './status-state';

/** Markup built by `html`; anything else interpolated into `html` is escaped. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

type Part = Html | string | number | undefined | null | readonly Part[];

function part(value: Part): string {
  if (value === undefined || value === null) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(part).join('');
  return escapeHtml(value);
}

/** A template whose interpolations are escaped unless they are Html themselves. */
export function html(strings: TemplateStringsArray, ...values: Part[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += part(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** "2024-11-15 10:22 UTC" */
function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "3 h ago", relative to when the page was made. */
function formatAge(iso: string | undefined, nowIso: string): string {
  if (!iso) return '';
  const ms = new Date(nowIso).getTime() - new Date(iso).getTime();
  if (Number.isNaN(ms)) return '';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

function when(iso: string | undefined, nowIso: string): Html {
  if (!iso) return html``;
  return html`<div class="when" title="${iso}">${formatTime(iso)} <span class="age">(${formatAge(iso, nowIso)})</span></div>`;
}

const id = (composeId: string | undefined) => (composeId ? html`<code class="cid">${composeId}</code>` : html`<span class="none">none</span>`);

function latestCell(row: StatusRow, nowIso: string): Html {
  const l = row.latest;
  if (l.problem) return html`<td class="cell-latest bad"><span class="none">no compose</span><div class="detail">${l.problem}</div></td>`;
  const finished = l.status === 'FINISHED';
  return html`<td class="cell-latest">${id(l.composeId)} <span class="badge ${finished ? 'ok' : 'warn'}" title="STATUS ${l.status ?? '(none)'}">${statusWord(l.status)}</span>${when(l.finishedAt, nowIso)}</td>`;
}

function stagingCell(row: StatusRow, nowIso: string): Html {
  const s = row.staging;
  const behind = s.composeId && row.latest.composeId && s.composeId !== row.latest.composeId;
  return html`<td class="cell-staging${behind ? ' behind' : ''}">${id(s.composeId)}${
    behind ? html` <span class="badge warn">behind latest</span>` : ''
  }${s.composeId ? when(s.syncedAt, nowIso) : html`<div class="detail">never synced</div>`}<div class="path">${row.stagingRevision}</div></td>`;
}

function verifyCell(row: StatusRow, nowIso: string): Html {
  const v = row.verify;
  const cls = v.state === 'verified' ? 'ok' : v.state === 'stale' ? 'bad' : 'warn';
  const other = v.composeId && v.composeId !== row.staging.composeId ? html`<div class="detail">of ${id(v.composeId)}</div>` : '';
  return html`<td class="cell-verify verify-${v.state}"><span class="badge ${cls}">${VERIFY_LABELS[v.state]}</span>${other}${
    v.verifiedAt ? when(v.verifiedAt, nowIso) : ''
  }${v.detail ? html`<div class="detail">${v.detail}</div>` : ''}</td>`;
}

function productionCell(row: StatusRow, nowIso: string): Html {
  const p = row.production;
  if (!p) return html`<td class="cell-production na"><span class="none">${row.channel} is never synced to production</span></td>`;
  const behind = p.composeId && row.staging.composeId && p.composeId !== row.staging.composeId;
  return html`<td class="cell-production${behind ? ' behind' : ''}">${id(p.composeId)}${
    behind ? html` <span class="badge warn">behind staging</span>` : ''
  }${p.composeId ? when(p.syncedAt, nowIso) : html`<div class="detail">never synced</div>`}</td>`;
}

const KINDS: readonly ChangeKind[] = ['added', 'removed', 'upgraded', 'downgraded'];

function changesCell(row: StatusRow): Html {
  const c = row.changes;
  if (!c) return html`<td class="cell-changes"><span class="none">no compose report</span></td>`;
  const head = c.previousId
    ? html`<div class="detail">${c.composeId} since ${c.previousId}</div>`
    : html`<div class="detail">${c.composeId}: first compose, ${c.packages} packages</div>`;
  if (c.previousProblem) {
    return html`<td class="cell-changes">${head}<div class="detail bad">not compared: ${c.previousProblem}</div></td>`;
  }
  const counts = KINDS.map(
    (k) => html`<span class="count count-${k}${k === 'downgraded' && c.counts[k] > 0 ? ' downgrade' : ''}">${c.counts[k]} ${k}</span>`,
  );
  const downgrades = c.downgrades.length
    ? html`<ul class="downgrades">${c.downgrades.map(
        (d) => html`<li class="downgrade">DOWNGRADED <code>${d.name}</code> ${d.from ?? ''} &rarr; ${d.to ?? ''} <span class="where">(${d.where})</span></li>`,
      )}</ul>`
    : '';
  return html`<td class="cell-changes${c.counts.downgraded > 0 ? ' has-downgrade' : ''}">${head}<div class="counts">${counts}</div>${downgrades}</td>`;
}

function rowHtml(row: StatusRow, nowIso: string): Html {
  return html`<tr class="row channel-${row.channel} verify-${row.verify.state}" data-project="${row.project}" data-channel="${row.channel}">
<th scope="row"><div class="project">${row.project}</div><div class="detail">major ${row.major}, ${row.channel}</div></th>
${latestCell(row, nowIso)}
${stagingCell(row, nowIso)}
${verifyCell(row, nowIso)}
${productionCell(row, nowIso)}
${changesCell(row)}
</tr>
`;
}

function fileListRow(l: FileListState, nowIso: string): Html {
  return html`<tr class="filelist${l.exists ? '' : ' missing'}" data-root="${l.root}">
<th scope="row"><code>${l.root}</code><div class="path">${l.dir}</div></th>
<td>${l.timelist} <span class="badge ${l.exists ? 'ok' : 'bad'}">${l.exists ? 'present' : 'missing'}</span></td>
<td>${l.mtime ? when(l.mtime, nowIso) : html`<span class="none">never written</span>`}</td>
<td class="num">${l.entries ?? html`<span class="none">unknown</span>`}</td>
<td>${l.copies.map((c) => html`<span class="copy ${c.exists ? 'ok' : 'bad'}">${c.name}${c.exists ? '' : ' (missing)'}</span> `)}</td>
</tr>
`;
}

const STYLE = `
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 1.5em; color: #1d2330; background: #fafbfc; }
h1 { font-size: 1.5em; margin: 0 0 .2em; } h2 { font-size: 1.15em; margin: 1.6em 0 .5em; }
.meta { color: #5a6272; margin-bottom: 1em; }
table { border-collapse: collapse; width: 100%; background: #fff; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
th, td { border: 1px solid #d8dde6; padding: .45em .6em; vertical-align: top; text-align: left; }
thead th { background: #2f3d55; color: #fff; font-weight: 600; position: sticky; top: 0; }
tbody th { background: #f3f5f8; white-space: nowrap; }
.project { font-weight: 600; }
code, .cid { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .92em; }
.cid { font-weight: 600; }
.when, .detail, .path { color: #5a6272; font-size: .86em; }
.path { font-family: "DejaVu Sans Mono", monospace; word-break: break-all; }
.age { color: #8a93a3; }
.none { color: #8a93a3; font-style: italic; }
.badge { display: inline-block; border-radius: 3px; padding: 0 .4em; font-size: .85em; font-weight: 600; }
.badge.ok { background: #dff3e4; color: #1a6b34; }
.badge.warn { background: #fff1cc; color: #7a5800; }
.badge.bad { background: #fde0e0; color: #a11a1a; }
td.behind { background: #fffaf0; }
td.verify-stale { background: #fff0f0; }
td.bad { background: #fff0f0; }
.counts { margin-top: .2em; }
.count { display: inline-block; margin-right: .6em; white-space: nowrap; }
.count.downgrade, li.downgrade { color: #a11a1a; font-weight: 700; }
td.has-downgrade { background: #fff0f0; border-left: 4px solid #c62828; }
ul.downgrades { margin: .3em 0 0; padding-left: 1.2em; }
.copy { display: inline-block; margin-right: .5em; font-family: "DejaVu Sans Mono", monospace; font-size: .9em; }
.copy.bad { color: #a11a1a; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.missing th { background: #fff0f0; }
`;

/** The whole page: pure, the same model always gives the same bytes. */
export function renderStatusPage(model: StatusModel): string {
  const now = model.generatedAt;
  const verified = model.rows.filter((r) => r.verify.state === 'verified').length;
  const stale = model.rows.filter((r) => r.verify.state === 'stale').length;
  const page = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Release status</title>
<style>${new Html(STYLE)}</style>
</head>
<body>
<h1>Release status</h1>
<div class="meta">Generated ${formatTime(now)} (<span title="${now}">${now}</span>). ${model.rows.length} rows: ${verified} verified, ${stale} stale, ${
    model.rows.length - verified - stale
  } not verified.</div>
<h2>Repositories</h2>
<table class="status">
<thead><tr><th scope="col">Repository</th><th scope="col">Latest compose (link)</th><th scope="col">Staging</th><th scope="col">Verify</th><th scope="col">Production</th><th scope="col">Last compose changes</th></tr></thead>
<tbody>
${model.rows.length ? model.rows.map((r) => rowHtml(r, now)) : html`<tr><td colspan="6"><span class="none">no repository composes</span></td></tr>`}
</tbody>
</table>
<h2>Mirror file lists</h2>
<table class="filelists">
<thead><tr><th scope="col">List root</th><th scope="col">Timelist</th><th scope="col">Modified</th><th scope="col">Entries</th><th scope="col">Copies</th></tr></thead>
<tbody>
${model.fileLists.map((l) => fileListRow(l, now))}
</tbody>
</table>
<div class="meta">${
    model.fileListManifest
      ? html`Entry counts from the last filelist run (${formatTime(model.fileListManifest.mtime)}).`
      : 'No filelist run recorded in this workspace: entry counts unknown.'
  } ${
    model.lastFullWalk
      ? html`<span class="full-walk" title="${model.lastFullWalk.at}">Last full walk of the tree: ${formatTime(model.lastFullWalk.at)} (${model.lastFullWalk.why}); runs since then updated the lists from the change journal.</span>`
      : html`<span class="full-walk">No full walk of the tree recorded: the next filelist run walks it.</span>`
  }</div>
</body>
</html>
`;
  return page.text;
}
