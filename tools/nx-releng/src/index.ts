/** The nx-releng plugin surface: project inference for the release model and the edges it implies. */
import { assertBuildCurrent } from './build-stamp';

assertBuildCurrent();

export { createNodes } from './plugin/create-nodes';
export { createDependencies } from './plugin/dependencies';
