import { createRequire } from 'node:module';

/**
 * mp3c's version, from its package.json: next to `dist/` wherever the package is (the workspace, a global
 * npm install, npx's cache), and to `src/` in the workspace.
 */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
