import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorMiddleware, notFoundHandler } from '../src/errors/index.js';
import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '../src/http/index.js';
import { testLogger } from '../src/testing/index.js';

let app: HttpServerHandle;
let probes: HttpServerHandle;
let plain: HttpServerHandle;

beforeAll(async () => {
  const api = express();
  api.get('/ok', (_req, res) => {
    res.json({ ok: true });
  });
  api.get('/boom', () => {
    throw new Error('boom');
  });
  api.use(notFoundHandler);
  api.use(errorMiddleware(testLogger()));
  app = await startHttpServer(api, 0, { host: '127.0.0.1' });
  probes = await startHttpServer(probeApp(new Readiness()), 0, { host: '127.0.0.1' });
  plain = await startHttpServer((_req: IncomingMessage, res: ServerResponse) => res.end('plain'), 0, { host: '127.0.0.1' });
});
afterAll(async () => {
  await Promise.all([app.close(), probes.close(), plain.close()]);
});

/** Sends bytes Node's HTTP parser cannot read and returns the raw answer. */
async function rawExchange(url: string, request: string): Promise<string> {
  const { port } = new URL(url);
  const socket = net.connect(Number(port), '127.0.0.1');
  socket.write(request);
  let answer = '';
  for await (const chunk of socket) answer += String(chunk);
  return answer;
}

describe('headers every server sends', () => {
  it('when anything is answered, errors, 404s, probes and unparseable requests included, then X-Content-Type-Options: nosniff', async () => {
    const responses = await Promise.all([
      fetch(`${app.url}/ok`),
      fetch(`${app.url}/boom`),
      fetch(`${app.url}/nowhere`),
      fetch(`${probes.url}/healthz`),
      fetch(`${probes.url}/readyz`),
      fetch(`${probes.url}/nowhere`),
      fetch(`${plain.url}/anything`),
    ]);
    expect(responses.map((r) => r.status)).toEqual([200, 500, 404, 200, 200, 404, 200]);
    for (const res of responses) expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');

    const broken = await rawExchange(app.url, 'GET /ok HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n');
    expect(broken).toMatch(/^HTTP\/1\.1 400 /);
    expect(broken.toLowerCase()).toContain('x-content-type-options: nosniff');
  });
});
