import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { inSpan, setUpTracing } from './index.js';

// A collector on loopback: what the OTLP exporter sends, as it arrives.
const received: { path: string | undefined; type: string | undefined; body: string }[] = [];
const collector = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    received.push({ path: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
afterAll(() => new Promise<void>((resolve) => collector.close(() => resolve())));

describe('span export', () => {
  it('when an OTLP endpoint is configured, then the spans made reach it once the service stops', async () => {
    const { port } = collector.address() as AddressInfo;
    const tracing = await setUpTracing({ service: 'export-test', otlpEndpoint: `http://127.0.0.1:${port}/v1/traces` });
    await inSpan('test', 'exported', {}, async () => undefined);
    await tracing.shutdown();
    expect(received).toEqual([expect.objectContaining({ path: '/v1/traces', type: 'application/json' })]);
    const sent = JSON.parse(received[0]!.body) as { resourceSpans: { resource: unknown; scopeSpans: { spans: { name: string }[] }[] }[] };
    expect(sent.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.name)).toEqual(['exported']);
    expect(JSON.stringify(sent.resourceSpans[0]!.resource)).toContain('export-test');
  });
});
