/**
 * The release status page: for every repository compose and major, where each compose stands (latest link,
 * staging, verify, production), what the last compose changed, and the state of the mirror file lists.
 *
 * `gatherStatus` reads the records the pipeline leaves (it takes no lock and changes nothing; the verify
 * digest is recomputed exactly as sync-prod does, so 'verified' means sync-prod would accept staging now).
 * `renderStatusPage` is a pure function of the model: one self-contained HTML page, inline CSS, no scripts,
 * no network assets, every value HTML-escaped.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel } from '../../config/schema';
import { channelRelease, composePaths, productionPaths, projectChannels, resolveRoots, stagingPaths, stepOutputDir, fileListDir } from '../../layout/paths';
import type { ChangeKind, ChangeReport } from '../compose/compose-diff';
import { inspectLatestLink, statusWord } from '../compose/compose-ref';
import { errorMessage } from '../../errors';
import { readRecord, readSyncRecord, vettedPaths } from '../staging/sync-record';
import { treeDigest } from '../core/tree-digest';
import { readVerifyRecord } from '../vetting/staging-steps';

// ---------------------------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------------------------

export type VerifyState = 'verified' | 'stale' | 'not-verified';

export interface LatestState {
  link: string;
  composeId?: string;
  /** The compose's STATUS file: FINISHED, FINISHED_INCOMPLETE, DOOMED, ... */
  status?: string;
  /** When the compose's STATUS was last written (ISO). */
  finishedAt?: string;
  /** Missing or dangling link. */
  problem?: string;
}

export interface StagingState {
  dir: string;
  composeId?: string;
  syncedAt?: string;
}

export interface VerifyStatus {
  state: VerifyState;
  composeId?: string;
  verifiedAt?: string;
  /** Why it is stale or not verified. */
  detail?: string;
}

export interface ProductionState {
  dir: string;
  composeId?: string;
  syncedAt?: string;
}

export interface DowngradeLine {
  name: string;
  from?: string;
  to?: string;
  /** "BaseOS x86_64, BaseOS aarch64" */
  where: string;
}

export interface ChangesSummary {
  composeId: string;
  previousId: string | null;
  previousProblem?: string;
  counts: Record<ChangeKind, number>;
  packages: number;
  downgrades: DowngradeLine[];
}

export interface StatusRow {
  project: string;
  major: string;
  channel: Channel;
  /** 8.10-RC2 */
  stagingRevision: string;
  latest: LatestState;
  staging: StagingState;
  verify: VerifyStatus;
  /** Only the stable channel reaches production. */
  production?: ProductionState;
  /** The project's last compose report, on the row whose compose it describes. */
  changes?: ChangesSummary;
}

export interface FileListCopy {
  name: string;
  exists: boolean;
}

export interface FileListState {
  /** As configured: "mirror/pub/rocky", "." */
  root: string;
  dir: string;
  timelist: string;
  exists: boolean;
  mtime?: string;
  /** Entries of the timelist as the last filelist run counted them (its manifest), if known. */
  entries?: number;
  copies: FileListCopy[];
}

export interface StatusModel {
  generatedAt: string;
  rows: StatusRow[];
  fileLists: FileListState[];
  /** Where the file-list entry counts come from, when the filelist manifest exists. */
  fileListManifest?: { path: string; mtime: string };
}

export const VERIFY_LABELS: Record<VerifyState, string> = {
  verified: 'verified',
  stale: 'stale: staging changed since verify',
  'not-verified': 'not verified',
};

// ---------------------------------------------------------------------------------------------------------
// Gathering
// ---------------------------------------------------------------------------------------------------------

export interface GatherRequest {
  models: readonly ComposeModel[];
  relengRoot?: string;
  /** Where dist/releng/<project>/compose/changes.json and dist/releng/mirror/filelist/manifest.json are. */
  workspaceRoot: string;
  /** The production-wide project's name (its filelist manifest). Default 'mirror'. */
  mirrorProject?: string;
  now?: Date;
}

/** What sync-prod records (lib/sync-prod.ts); only the fields shown here. */
interface ProdRecordView {
  version: 1;
  composeId: string;
  syncedAt: string;
}

async function mtimeIso(path: string): Promise<string | undefined> {
  return stat(path).then(
    (s) => s.mtime.toISOString(),
    () => undefined,
  );
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function gatherLatest(link: string): Promise<LatestState> {
  const seen = await inspectLatestLink(link);
  if (seen.problem) return { link, problem: seen.problem };
  return {
    link,
    composeId: seen.composeId,
    status: seen.status,
    finishedAt: seen.composeDir ? await mtimeIso(join(seen.composeDir, 'STATUS')) : undefined,
  };
}

/** The verify record against staging as it is now: the digest recomputed as sync-prod recomputes it. */
async function gatherVerify(verifyRecord: string, revisionDir: string): Promise<VerifyStatus> {
  const rec = await readVerifyRecord(verifyRecord);
  if (!rec) return { state: 'not-verified', detail: 'no passing verify recorded' };
  const base = { composeId: rec.composeId, verifiedAt: rec.verifiedAt };
  if (rec.stagingDir !== revisionDir) {
    return { state: 'not-verified', ...base, detail: `the record is of ${rec.stagingDir}` };
  }
  let now: string;
  try {
    now = await treeDigest(revisionDir, vettedPaths(rec));
  } catch (err) {
    return { state: 'stale', ...base, detail: `staging cannot be read: ${errorMessage(err)}` };
  }
  return now === rec.digest ? { state: 'verified', ...base } : { state: 'stale', ...base };
}

export function summarizeChanges(report: ChangeReport): ChangesSummary {
  const groups = new Map<string, DowngradeLine & { places: string[] }>();
  for (const c of report.changes.filter((x) => x.kind === 'downgraded')) {
    const key = [c.name, c.from ?? '', c.to ?? ''].join('\0');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { name: c.name, from: c.from, to: c.to, where: '', places: [] }));
    const place = `${c.variant} ${c.arch}`;
    if (!g.places.includes(place)) g.places.push(place);
  }
  const downgrades = [...groups.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map(({ places, ...g }) => ({ ...g, where: places.sort().join(', ') }));
  return {
    composeId: report.compose.id,
    previousId: report.previous?.id ?? null,
    ...(report.previousProblem ? { previousProblem: report.previousProblem } : {}),
    counts: report.counts,
    packages: report.packages,
    downgrades,
  };
}

async function gatherRows(model: ComposeModel, req: GatherRequest): Promise<StatusRow[]> {
  const roots = resolveRoots(model.common, model.release, req.relengRoot);
  const rows: StatusRow[] = [];
  for (const channel of projectChannels(model)) {
    const ch = channelRelease(model.release, channel, model.files.release);
    const sp = stagingPaths(model, ch, roots);
    const synced = await readSyncRecord(sp.syncRecord);
    const verifyPresent = (await mtimeIso(sp.verifyRecord)) !== undefined;
    // Stable always has its row; the other channels only once something of theirs was recorded.
    if (channel !== 'stable' && !synced && !verifyPresent) continue;
    const row: StatusRow = {
      project: model.project,
      major: model.major,
      channel,
      stagingRevision: sp.revisionName,
      latest: await gatherLatest(composePaths(model, ch, roots).latestLink),
      staging: { dir: sp.revisionDir, composeId: synced?.composeId, syncedAt: synced?.syncedAt },
      verify: await gatherVerify(sp.verifyRecord, sp.revisionDir),
    };
    if (channel === 'stable') {
      const pp = productionPaths(model, ch, roots);
      const prod = await readRecord<ProdRecordView>(pp.syncRecord);
      row.production = { dir: pp.revisionDir, composeId: prod?.composeId, syncedAt: prod?.syncedAt };
    }
    rows.push(row);
  }
  // The compose report is per project (the last compose, whatever its channel): shown on the row whose latest
  // link points at that compose, else on the stable row.
  const report = await readJson<ChangeReport>(join(stepOutputDir(req.workspaceRoot, model.project, 'compose'), 'changes.json'));
  if (report?.compose?.id && report.counts) {
    const target = rows.find((r) => r.latest.composeId === report.compose.id) ?? rows.find((r) => r.channel === 'stable');
    if (target) target.changes = summarizeChanges(report);
  }
  return rows;
}

async function gatherFileLists(req: GatherRequest): Promise<Pick<StatusModel, 'fileLists' | 'fileListManifest'>> {
  const first = req.models[0];
  if (!first) return { fileLists: [] };
  const roots = resolveRoots(first.common, first.release, req.relengRoot);
  const manifestPath = join(stepOutputDir(req.workspaceRoot, req.mirrorProject ?? 'mirror', 'filelist'), 'manifest.json');
  const manifest = await readJson<Array<{ dir: string; entries: number }>>(manifestPath);
  const counted = new Map((Array.isArray(manifest) ? manifest : []).map((m) => [m.dir, m.entries] as const));
  const fileLists: FileListState[] = [];
  for (const list of first.common.fileLists) {
    const dir = fileListDir(roots, list.root);
    const mtime = await mtimeIso(join(dir, list.timelist));
    const copies: FileListCopy[] = [];
    for (const name of list.copies) copies.push({ name, exists: (await mtimeIso(join(dir, name))) !== undefined });
    fileLists.push({
      root: list.root,
      dir,
      timelist: list.timelist,
      exists: mtime !== undefined,
      ...(mtime ? { mtime } : {}),
      ...(counted.has(dir) ? { entries: counted.get(dir) } : {}),
      copies,
    });
  }
  const manifestMtime = manifest ? await mtimeIso(manifestPath) : undefined;
  return { fileLists, ...(manifestMtime ? { fileListManifest: { path: manifestPath, mtime: manifestMtime } } : {}) };
}

/** Reads every record the pipeline leaves; changes nothing, takes no lock. */
export async function gatherStatus(req: GatherRequest): Promise<StatusModel> {
  const models = [...req.models].sort(
    (a, b) => Number(a.major) - Number(b.major) || a.major.localeCompare(b.major) || a.project.localeCompare(b.project),
  );
  const rows: StatusRow[] = [];
  for (const model of models) rows.push(...(await gatherRows(model, req)));
  return { generatedAt: (req.now ?? new Date()).toISOString(), rows, ...(await gatherFileLists(req)) };
}

// ---------------------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------------------

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
  }</div>
</body>
</html>
`;
  return page.text;
}
