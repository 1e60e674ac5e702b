/**
 * The state the release status page shows, gathered from the records the pipeline leaves: for every repository
 * compose and major, where each compose stands (latest link, staging, verify, production), what the last compose
 * changed, and the mirror file lists. It takes no lock and changes nothing; the verify digest is recomputed exactly
 * as sync-prod does, so 'verified' means sync-prod would accept staging now.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ComposeModel } from '../../config/load';
import type { Channel } from '../../config/schema';
import { channelRelease, composePaths, productionPaths, projectChannels, resolveRoots, stagingPaths, stepOutputDir, fileListDir, mirrorStatePaths } from '../../layout/paths';
import { readFileListStateSummary } from './filelist-state';
import type { ChangeKind, ChangeReport } from '../compose/compose-diff';
import { inspectLatestLink } from '../compose/compose-ref';
import { errorMessage } from '../../errors';
import { readProdRecord, readSyncRecord } from '../staging/record-schemas';
import { vettedPaths, vouchedDigest } from '../vetting/vouched-paths';
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
  /** When the lists were last made by walking the whole tree (the others were updated from the change journal). */
  lastFullWalk?: { at: string; why: string };
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
async function gatherVerify(model: ComposeModel, verifyRecord: string, revisionDir: string): Promise<VerifyStatus> {
  const rec = await readVerifyRecord(verifyRecord, model).catch(() => null);
  if (!rec) return { state: 'not-verified', detail: rec === null ? 'the verify record is refused (invalid)' : 'no passing verify recorded' };
  const base = { composeId: rec.composeId, verifiedAt: rec.verifiedAt };
  if (rec.stagingDir !== revisionDir) {
    return { state: 'not-verified', ...base, detail: `the record is of ${rec.stagingDir}` };
  }
  let now: string;
  try {
    now = vouchedDigest(revisionDir, vettedPaths(rec)).digest;
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
    const synced = await readSyncRecord(sp.syncRecord, model).catch(() => undefined);
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
      verify: await gatherVerify(model, sp.verifyRecord, sp.revisionDir),
    };
    if (channel === 'stable') {
      const pp = productionPaths(model, ch, roots);
      const prod = await readProdRecord(pp.syncRecord, model).catch(() => undefined);
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

async function gatherFileLists(req: GatherRequest): Promise<Pick<StatusModel, 'fileLists' | 'fileListManifest' | 'lastFullWalk'>> {
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
  const lastFullWalk = readFileListStateSummary(mirrorStatePaths(roots).fileListStateDir)?.lastFullWalk;
  return { fileLists, ...(manifestMtime ? { fileListManifest: { path: manifestPath, mtime: manifestMtime } } : {}), ...(lastFullWalk ? { lastFullWalk } : {}) };
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
