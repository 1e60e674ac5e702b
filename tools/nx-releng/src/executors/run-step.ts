import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecutorContext } from '@nx/devkit';
import { loadAllComposeModels, loadComposeModel, type ComposeModel } from '../config/load';
import type { MirrorRequest } from '../lib/mirror/mirror';
import { resolveRoots, type Roots, stepOutputDir } from '../layout/paths';
import { assertBuildCurrent } from '../build-stamp';
import { errorMessage } from '../errors';
import { consoleLog, type Log } from '../lib/core/log';

/**
 * What every releng executor shares: load the project's model, resolve the roots (RELENG_ROOT), run the step,
 * write its manifest as the target's declared output, and turn errors into one clear failure line.
 */
export interface StepContext {
  model: ComposeModel;
  roots: Roots;
  log: Log;
  workspaceRoot: string;
  /** RELENG_ROOT, for the configured paths outside the roots (signing keys, errata dir). */
  relengRoot?: string;
  /** RELENG_ERRATA_URL: points the http errata source at another server. */
  errataUrl?: string;
}

export function runStep<R extends object>(
  step: string,
  context: ExecutorContext,
  body: (ctx: StepContext) => Promise<{ manifest: R; summary: string }>,
): Promise<{ success: boolean }> {
  return runProjectStep(step, context, (project) => {
    const projectRoot = context.projectsConfigurations.projects[project]?.root;
    if (!projectRoot) throw new Error(`project ${project} is not in the workspace`);
    const model = loadComposeModel(context.root, projectRoot);
    const roots = resolveRoots(model.common, model.release, process.env.RELENG_ROOT);
    return body({
      model,
      roots,
      log: consoleLog,
      workspaceRoot: context.root,
      relengRoot: process.env.RELENG_ROOT,
      errataUrl: process.env.RELENG_ERRATA_URL,
    });
  });
}

/** The production-wide steps: every compose model of the workspace instead of one. */
export function runMirrorStep<R extends object>(
  step: string,
  context: ExecutorContext,
  body: (req: MirrorRequest) => Promise<{ manifest: R; summary: string }>,
): Promise<{ success: boolean }> {
  // The production-wide project's root is the release model's dir (the plugin's releasesDir option).
  return runProjectStep(step, context, (project) =>
    body({
      models: loadAllComposeModels(context.root, context.projectsConfigurations.projects[project]?.root),
      relengRoot: process.env.RELENG_ROOT,
      log: consoleLog,
    }),
  );
}

/** Runs a step, writes its manifest as the target's declared output, and turns errors into one failure line. */
async function runProjectStep<R extends object>(
  step: string,
  context: ExecutorContext,
  body: (project: string) => Promise<{ manifest: R; summary: string }>,
): Promise<{ success: boolean }> {
  const project = context.projectName ?? '(unknown project)';
  try {
    assertBuildCurrent();
    const { manifest, summary } = await body(project);
    const dir = stepOutputDir(context.root, project, step);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    console.log(`${project}:${step} ${summary}`);
    return { success: true };
  } catch (err) {
    console.error(`${project}:${step} FAILED: ${errorMessage(err)}`);
    return { success: false };
  }
}
