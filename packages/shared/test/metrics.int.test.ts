import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorMiddleware, notFoundHandler } from '../src/errors/index.js';
import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '../src/http/index.js';
import { UNMATCHED_ROUTE, createRegistry, httpMetrics } from '../src/metrics/index.js';
import { scrape, testLogger, metricValue } from '../src/testing/index.js';

const registry = createRegistry();
let app: HttpServerHandle;
let probes: HttpServerHandle;

beforeAll(async () => {
  const api = express();
  api.use(httpMetrics(registry));
  const jobs = express.Router();
  jobs.get('/:fid', (req, res) => {
    res.json({ fid: req.params.fid });
  });
  jobs.delete('/:fid', () => {
    throw new Error('boom');
  });
  api.use('/jobs', jobs);
  api.get(['/status', '/state'], (_req, res) => {
    res.status(204).end();
  });
  api.use(notFoundHandler);
  api.use(errorMiddleware(testLogger()));
  app = await startHttpServer(api, 0, { host: '127.0.0.1' });
  probes = await startHttpServer(probeApp(new Readiness(), registry), 0, { host: '127.0.0.1' });
});
afterAll(async () => {
  await Promise.all([app.close(), probes.close()]);
});

describe('HTTP metrics', () => {
  it('when requests hit a route with a parameter, then they are counted under the route template, mount path included, never the URL', async () => {
    for (const fid of ['a1', 'b2', 'c3']) expect((await fetch(`${app.url}/jobs/${fid}?x=${fid}`)).status).toBe(200);
    const samples = await scrape(probes.url);
    expect(metricValue(samples, 'http_requests_total', { method: 'GET', route: '/jobs/:fid', status: '200' })).toBe(3);
    expect(metricValue(samples, 'http_request_duration_seconds_count', { method: 'GET', route: '/jobs/:fid', status: '200' })).toBe(3);
    expect(samples.some((s) => s.labels.route?.includes('a1'))).toBe(false);
  });

  it('when a handler fails, a path matches no route, or a route has several paths, then the status and a bounded label are recorded', async () => {
    await fetch(`${app.url}/jobs/x`, { method: 'DELETE' });
    await fetch(`${app.url}/nowhere/${Math.random()}`);
    await fetch(`${app.url}/state`);
    const samples = await scrape(probes.url);
    expect(metricValue(samples, 'http_requests_total', { method: 'DELETE', route: '/jobs/:fid', status: '500' })).toBe(1);
    expect(metricValue(samples, 'http_requests_total', { method: 'GET', route: UNMATCHED_ROUTE, status: '404' })).toBe(1);
    expect(metricValue(samples, 'http_requests_total', { method: 'GET', route: '/status|/state', status: '204' })).toBe(1);
  });

  it('when the probe server is scraped, then it answers in the Prometheus text format with process metrics, and probes are not counted', async () => {
    await fetch(`${probes.url}/healthz`);
    const res = await fetch(`${probes.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).not.toMatch(/route="\/healthz"/);
  });
});
