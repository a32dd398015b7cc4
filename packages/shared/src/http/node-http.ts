import type * as Http from 'node:http';
import { createRequire } from 'node:module';

/**
 * `node:http`, required rather than imported. Node's ESM view of a builtin reads every one of its exports
 * once, and among node:http's are lazy getters (`WebSocket`, `CloseEvent`, `MessageEvent`) that load Node's
 * whole fetch implementation (undici) on first read: an `import` of node:http costs every service some
 * 7 MiB it never uses (a bare process: 57.1 against 50.0 MiB). Types come from `import type` as usual.
 */
export const nodeHttp: typeof Http = createRequire(import.meta.url)('node:http');
