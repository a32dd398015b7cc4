import { Validator } from '@seriousme/openapi-schema-validator';
import { createLogger } from '@mp3converter/shared/logger';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '@mp3converter/shared/metrics';
import { type GatewayDeps, createApp } from '../app.js';
import { gatewayDocument } from './openapi.js';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

interface Layer {
  name?: string;
  handle: { stack?: Layer[]; allowed?: readonly string[] };
  route?: { path: string | string[]; methods: Record<string, boolean>; stack: Layer[] };
}

/** `/jobs/:fid`, `/uploads/{*rest}`, `/jobs/{video_fid}` all become `/jobs/{}`: the names differ, not the shapes. */
const shape = (path: string) => path.replace(/\{\*\w+\}|:\w+|\{\w+\}/g, '{}').replace(/(.)\/$/, '$1');

/**
 * What the app serves, from its router stack: each path with the methods its routes name, or `all` for a
 * route that takes every method — the 405 answer after a path's methods (its handler lists them in
 * `allowed`), or a protocol server that sorts methods itself (tus).
 */
function mounted(): Map<string, { methods: Set<string>; allowed?: readonly string[]; anyMethod: boolean }> {
  // Routers only register their routes here; nothing of the dependencies is used until a request comes.
  const logger = createLogger({ service: 'test', level: 'silent' });
  const app = createApp({
    logger,
    resumable: { store: {} },
    trustProxy: 'loopback',
    pageDirectory: '/nowhere',
    registry: createRegistry(),
  } as unknown as GatewayDeps);
  const routes = new Map<string, { methods: Set<string>; allowed?: readonly string[]; anyMethod: boolean }>();
  const walk = (stack: Layer[]) => {
    for (const layer of stack) {
      if (layer.handle.stack && !layer.route) walk(layer.handle.stack);
      if (!layer.route) continue;
      for (const path of [layer.route.path].flat()) {
        const entry = routes.get(shape(path)) ?? { methods: new Set<string>(), anyMethod: false };
        routes.set(shape(path), entry);
        for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') entry.methods.add(method);
        if (layer.route.methods._all) {
          const allowed = layer.route.stack.at(-1)?.handle.allowed;
          if (allowed) entry.allowed = allowed;
          else entry.anyMethod = true;
        }
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return routes;
}

const documented = () => {
  const paths = gatewayDocument().paths ?? {};
  return new Map(Object.entries(paths).map(([path, item]) => [shape(path), new Set(METHODS.filter((m) => item?.[m]))]));
};

describe('the OpenAPI document', () => {
  it('when validated against the OpenAPI 3.1 schema, then it has no errors', async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(gatewayDocument())));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('when every route the app mounts is listed, then each path and method is in the document, and the document has nothing more', () => {
    const served = mounted();
    const doc = documented();
    expect([...doc.keys()].sort()).toEqual([...served.keys()].sort());
    for (const [path, route] of served) {
      const methods = doc.get(path)!;
      if (route.anyMethod) {
        // A protocol server behind `all` (tus): the document lists what it serves; all of it reaches the server.
        expect(methods.size, path).toBeGreaterThan(0);
        for (const method of route.methods) expect(methods, `${path} ${method}`).toContain(method);
      } else {
        expect([...methods].sort(), path).toEqual([...route.methods].sort());
      }
      // A path's 405 names exactly the methods the document gives it.
      if (route.allowed) expect([...methods].sort(), `${path} Allow`).toEqual(route.allowed.map((m) => m.toLowerCase()).sort());
    }
  });

  it('when a route needs a token, then its operation asks for the bearer scheme and documents 401 and 403', () => {
    const paths = gatewayDocument().paths ?? {};
    for (const [path, item] of Object.entries(paths)) {
      for (const method of METHODS) {
        const op = item?.[method];
        if (!op || op.security?.length === 0 || path === '/login' || method === 'options') continue;
        expect(op.security, `${method} ${path}`).toContainEqual({ bearer: [] });
        expect(Object.keys(op.responses ?? {}), `${method} ${path}`).toEqual(expect.arrayContaining(['401', '403']));
      }
    }
  });
});
