import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver does with a request: its status, body and headers, or `hang` (never answers). */
export type Reply = { status: number; body?: string | Buffer; headers?: Record<string, string> } | 'hang';

/**
 * A webhook receiver on 127.0.0.1, port 0: it records every request and answers as `reply` says (which the
 * test can change between requests). Every connection it accepted is counted, so a test can tell that
 * nothing even connected.
 */
export async function startReceiver(reply: (r: Received, n: number) => Reply = () => ({ status: 204 })) {
  const received: Received[] = [];
  let connections = 0;
  let answer = reply;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(r);
      const out = answer(r, received.length);
      if (out === 'hang') return;
      res.writeHead(out.status, out.headers ?? {});
      res.end(out.body ?? '');
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: (path = '/hook') => `http://127.0.0.1:${port}${path}`,
    received,
    get connections() {
      return connections;
    },
    answer(next: (r: Received, n: number) => Reply) {
      answer = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** A resolver that gives each answer in turn for every name, the last one from then on: a name rebinding. */
export function rebindingResolver(...answers: string[][]) {
  const asked: string[] = [];
  let call = 0;
  const resolve = async (host: string) => {
    asked.push(host);
    const addresses = answers[Math.min(call++, answers.length - 1)] ?? [];
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return { resolve, asked };
}
