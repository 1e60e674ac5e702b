/** The nx-releng plugin surface: project inference for the release model. */
export { createNodes } from './plugin/create-nodes';
