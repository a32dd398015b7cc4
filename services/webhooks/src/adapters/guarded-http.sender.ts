import { promises as dns } from 'node:dns';
import https from 'node:https';
import type { LookupFunction, Socket } from 'node:net';
import { nodeHttp } from '@mp3converter/shared/http';
import type { DestinationPolicy } from '@mp3converter/shared/webhooks';
import type { OutgoingRequest, SendResult, Sender } from '../domain/ports.js';

/** A name's addresses, as the socket would be given them. Injected in tests: a name that changes its answer. */
export type Resolve = (host: string) => Promise<{ address: string; family: number }[]>;

/** The system's resolver, as Node's sockets use it by default (getaddrinfo: /etc/hosts, then DNS). */
export const systemResolve: Resolve = (host) => dns.lookup(host, { all: true, verbatim: true });

/** A connection refused by the destination policy: nothing was sent. */
export class DestinationRefusedError extends Error {
  readonly code = 'EDESTREFUSED';

  constructor(readonly reason: string) {
    super(reason);
    this.name = 'DestinationRefusedError';
  }
}

/**
 * The `lookup` the sender's sockets use: every address the name resolves to is checked, and the socket is
 * handed only addresses that passed, so the address checked is the address connected to. One address
 * inside refuses the whole name: a name that mixes outside and inside addresses is not one to trust.
 * The reason names the kind of address, not the address: the user must not learn the inside's layout.
 */
export function guardedLookup(policy: DestinationPolicy, resolve: Resolve): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
        for (const { address } of found) {
          const verdict = policy.checkAddress(address);
          if (!verdict.allowed) return callback(new DestinationRefusedError(`${hostname} resolves to ${verdict.kind}`), '', 0);
        }
        const [first] = wanted;
        if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
        if (options.all)
          return callback(
            null,
            wanted.map(({ address, family }) => ({ address, family })),
          );
        callback(null, first.address, first.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}

export interface SenderOptions {
  /** The whole attempt: lookup, connect, TLS, sending, the answer's head and its excerpt, ms. */
  timeoutMs: number;
  /** Of the answer's body, this much is read (and kept); the connection is closed after it. */
  excerptBytes: number;
  resolve?: Resolve;
}

/** `Retry-After` in ms: seconds, or an HTTP date; null for anything else. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const describeNetworkError = (err: NodeJS.ErrnoException): string => {
  const code = typeof err.code === 'string' ? err.code : undefined;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: 'the name does not resolve',
    EAI_AGAIN: 'the name could not be resolved now',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    EPIPE: 'connection closed while sending',
    HPE_INVALID_CONSTANT: 'the answer is not HTTP',
    HPE_HEADER_OVERFLOW: 'the answer headers are too large',
  };
  if (code && known[code]) return `${known[code]} (${code})`;
  // TLS failures say what was wrong with the certificate, which is what the receiver's owner needs.
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT') || code?.startsWith('UNABLE_TO') || code === 'DEPTH_ZERO_SELF_SIGNED_CERT') {
    return `TLS: ${err.message}`;
  }
  return code ? `network error (${code})` : 'network error';
};

/**
 * POSTs one webhook, and nothing more: no redirect is followed, no connection kept, no proxy taken from the
 * environment, and the answer is read only as far as its excerpt. The URL is checked again (the rules may
 * have changed since it was registered), each address the name resolves to is checked before the socket
 * connects, and the socket's peer is checked once connected (a literal address never goes through the
 * lookup).
 */
export class GuardedHttpSender implements Sender {
  private readonly lookup: LookupFunction;

  constructor(
    private readonly policy: DestinationPolicy,
    private readonly options: SenderOptions,
  ) {
    this.lookup = guardedLookup(policy, options.resolve ?? systemResolve);
  }

  send(request: OutgoingRequest): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    const verdict = this.policy.checkUrl(request.url);
    if (!verdict.ok) return Promise.resolve({ kind: 'refused_destination', durationMs: elapsed(), error: verdict.message });
    const { url, host, port } = verdict;
    const body = Buffer.from(request.body);
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(result);
      };
      const timer = setTimeout(
        () => finish({ kind: 'timeout', durationMs: elapsed(), error: `no answer within ${this.options.timeoutMs} ms` }),
        this.options.timeoutMs,
      );
      const req = (url.protocol === 'https:' ? https : nodeHttp).request({
        host,
        port,
        path: `${url.pathname}${url.search}`,
        method: 'POST',
        headers: { ...request.headers, host: url.host, 'content-length': String(body.length), connection: 'close' },
        lookup: this.lookup,
        agent: false,
        maxHeaderSize: 16 * 1024,
      });
      req.on('socket', (socket: Socket) => {
        socket.once('connect', () => {
          const peer = socket.remoteAddress;
          const check = peer ? this.policy.checkAddress(peer) : { allowed: false as const, kind: 'no address' };
          if (!check.allowed) req.destroy(new DestinationRefusedError(`${host} leads to ${check.kind}`));
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof DestinationRefusedError) finish({ kind: 'refused_destination', durationMs: elapsed(), error: err.reason });
        else finish({ kind: 'network_error', durationMs: elapsed(), error: describeNetworkError(err) });
      });
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const retryAfter = retryAfterMs(res.headers['retry-after']);
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          finish({
            kind: 'answered',
            status,
            durationMs: elapsed(),
            excerpt: Buffer.concat(chunks).subarray(0, this.options.excerptBytes).toString('utf8'),
            retryAfterMs: retryAfter,
          });
        if (this.options.excerptBytes === 0) return done();
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= this.options.excerptBytes) done();
        });
        res.on('end', done);
        res.on('error', done);
        res.on('close', done);
      });
      req.end(body);
    });
  }
}
