import { lstat, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  fileDigest,
  hashAlgorithm,
  parseRepomd,
  repomdFiles,
  resolveInRepo,
} from '../../tools/nx-releng/src/lib/formats/repomd';
import { primaryPackages, type PrimaryPackage } from '../../tools/nx-releng/src/lib/formats/primary';

/**
 * What a mirror would see of one published repo at this instant: every file its repomd.xml names exists with
 * the recorded size and checksum, and every package primary names exists with its size. A repomd.xml that
 * changed while it was being checked is not judged (the sample is retried by the caller's next round).
 */
export async function publishedRepoProblems(repoDir: string): Promise<string[]> {
  const path = join(repoDir, 'repodata', 'repomd.xml');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return []; // not published yet
  }
  const problems: string[] = [];
  const repomd = parseRepomd(text, path);
  for (const f of repomdFiles(repoDir, repomd)) {
    if (!f.path) continue;
    const st = await stat(f.path).catch(() => undefined);
    if (!st) problems.push(`${path} names missing ${f.href}`);
    else if (f.size !== undefined && st.size !== f.size) problems.push(`${path} names ${f.href} of size ${f.size}, found ${st.size}`);
    else if (f.checksum && hashAlgorithm(f.checksum.type)) {
      const got = await fileDigest(f.path, hashAlgorithm(f.checksum.type) as string).catch(() => 'unreadable');
      if (got !== f.checksum.value) problems.push(`${path} names ${f.href} with another checksum`);
    }
  }
  if (problems.length === 0) {
    const packages: PrimaryPackage[] = []; // a test repo's few packages
    try {
      for await (const p of primaryPackages(repoDir, repomd)) packages.push(p);
    } catch {
      packages.length = 0; // an unreadable primary is not judged
    }
    for (const p of packages) {
      const file = resolveInRepo(repoDir, p.href);
      const st = file ? await stat(file).catch(() => undefined) : undefined;
      if (!st) problems.push(`${path} lists package ${p.href}, which is missing`);
      else if (p.size !== undefined && st.size !== p.size) problems.push(`${path} lists ${p.href} of size ${p.size}, found ${st.size}`);
    }
  }
  // Only a repomd.xml that stayed the same for the whole check counts.
  const after = await readFile(path, 'utf8').catch(() => '');
  return after === text ? problems : [];
}

/**
 * What a mirror polling a file list would see at this instant: every path the list names (a timelist's [Files]
 * lines, or fullfilelist's `./` lines) exists. A list replaced while it was being checked is not judged: a
 * deletion may only follow the list that stopped naming the path.
 */
export async function publishedListProblems(list: string): Promise<string[]> {
  const before = await stat(list).catch(() => undefined);
  if (!before) return [];
  const text = await readFile(list, 'utf8').catch(() => '');
  const dir = join(list, '..');
  const timelist = /\n\[Files\]\n/.test(text);
  const paths = timelist
    ? [...((text.split('\n[Files]\n')[1] ?? '').split('\n\n')[0] ?? '').matchAll(/^\d+\t[fdl][-*]?\t\d+\t(.+)$/gm)].map((m) => m[1] as string)
    : text.split('\n').filter((l) => l.startsWith('./')).map((l) => l.slice(2));
  const problems: string[] = [];
  for (const p of paths) if (!(await lstat(join(dir, p)).catch(() => undefined))) problems.push(`${list} names missing ${p}`);
  const after = await stat(list).catch(() => undefined);
  return after?.ino === before.ino && after.mtimeMs === before.mtimeMs ? problems : [];
}

/** Samples the given repos (and file lists) until stop() is called; collects every problem seen. */
export function sampleRepos(repoDirs: () => string[], lists: readonly string[] = []): { stop(): Promise<{ rounds: number; problems: string[] }> } {
  let running = true;
  let rounds = 0;
  const problems = new Set<string>();
  const loop = (async () => {
    while (running) {
      for (const dir of repoDirs()) for (const p of await publishedRepoProblems(dir)) problems.add(p);
      for (const list of lists) for (const p of await publishedListProblems(list)) problems.add(p);
      rounds++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { rounds, problems: [...problems] };
    },
  };
}
