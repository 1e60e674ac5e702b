/** The nx-releng plugin surface: project inference for the release model. */
import { assertBuildCurrent } from './build-stamp';

assertBuildCurrent();

export { createNodes } from './plugin/create-nodes';
