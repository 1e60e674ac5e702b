/** The nx-releng plugin surface: project inference for the release model and the edges it implies. */
export { createNodes } from './plugin/create-nodes';
export { createDependencies } from './plugin/dependencies';
