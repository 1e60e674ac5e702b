/** Where the release model's layers are (workspace-relative). Apart from the loader, which loads the schemas. */
export const COMMON_FILE = 'releases/common.json';
export const COMPOSE_GLOB = 'releases/*/*/compose.json';
