import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import express, { type Express, type Router } from 'express';
import { errorBody } from '../errors/index.js';
import type { Logger } from '../logger/index.js';
import { SpanStatusCode, bindToContext, startServerSpan, withContext } from '../tracing/index.js';
import { nodeHttp } from './node-http.js';

export { nodeHttp };

export interface HttpServerHandle {
  readonly server: http.Server;
  readonly port: number;
  readonly url: string;
  /** Stops accepting connections and resolves once in-flight requests are done. Idle keep-alive sockets are closed. */
  close(): Promise<void>;
  /** Ends every remaining connection at once; for when a drain deadline has passed. */
  forceClose(): void;
}

export interface HttpServerOptions {
  host?: string;
  /** Idle time a request may take before the socket is dropped, in ms; 0 disables (large uploads). */
  requestTimeoutMs?: number;
  /** Idle keep-alive time in ms; kept above typical load balancer idle timeouts. */
  keepAliveTimeoutMs?: number;
  /** A socket with no traffic for this long is dropped (a stalled upload), in ms; 0 disables. */
  idleTimeoutMs?: number;
}

export async function startHttpServer(
  app: Express | http.RequestListener,
  port: number,
  { host = '127.0.0.1', requestTimeoutMs = 0, keepAliveTimeoutMs = 65_000, idleTimeoutMs = 120_000 }: HttpServerOptions = {},
): Promise<HttpServerHandle> {
  const listener = app as http.RequestListener;
  const server = nodeHttp.createServer({ requestTimeout: requestTimeoutMs, keepAliveTimeout: keepAliveTimeoutMs }, (req, res) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    listener(req, res);
  });
  server.headersTimeout = 60_000;
  server.setTimeout(idleTimeoutMs);
  server.on('clientError', answerClientError);
  server.listen(port, host);
  await once(server, 'listening');
  const actual = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        // Keep-alive connections that finish their last request during the drain go as soon as they are idle.
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        server.close((err) => {
          clearInterval(sweep);
          if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return closing;
    },
    forceClose() {
      server.closeAllConnections();
    },
  };
}

/**
 * Headers every response of every service carries, errors and 404s included, set here where every server
 * starts so no app can forget them: browsers must not guess a type other than the one sent (a user's upload
 * served back, a JSON error read as HTML).
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = { 'X-Content-Type-Options': 'nosniff' };

const CLIENT_ERRORS: Record<string, [status: number, code: string, message: string]> = {
  HPE_HEADER_OVERFLOW: [431, 'headers_too_large', 'request headers too large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'request timeout'],
};

/**
 * A request Node's HTTP parser cannot read (broken chunk framing, a body that ends before its declared
 * length, oversized headers) gets our JSON error body instead of Node's empty 400, when nothing of a
 * response has gone out on the connection yet; the connection is closed either way, as Node does.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // Node keeps the response in flight on the socket; past its headers, another status would corrupt it.
  const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (err.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
    const [status, code, message] = CLIENT_ERRORS[err.code ?? ''] ?? [400, 'bad_request', 'malformed HTTP request'];
    const body = JSON.stringify(errorBody(code, message));
    socket.write(
      `HTTP/1.1 ${status} ${nodeHttp.STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        Object.entries(SECURITY_HEADERS)
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('') +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(err);
}

export type ReadinessCheck = () => Promise<void>;

/**
 * What `/readyz` reports: each named dependency check must pass within its timeout, and the process must
 * not be shutting down. `/healthz` only says the event loop answers.
 */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private draining = false;
  private liveness: () => string | undefined = () => undefined;

  constructor(private readonly timeoutMs = 2_000) {}

  add(name: string, check: ReadinessCheck): this {
    this.checks.set(name, check);
    return this;
  }

  /**
   * What `/healthz` asks besides "the event loop answers": a process that is stuck without being dead (a
   * job making no progress) names its problem here, and the probe fails so that it is restarted.
   */
  setLiveness(problem: () => string | undefined): this {
    this.liveness = problem;
    return this;
  }

  get livenessProblem(): string | undefined {
    return this.liveness();
  }

  markShuttingDown(): void {
    this.draining = true;
  }

  async report(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    if (this.draining) return { ready: false, checks: { shutdown: 'shutting down' } };
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          await withTimeout(check(), this.timeoutMs, `${name} check timed out`);
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = err instanceof Error ? err.message : String(err);
        }
      }),
    );
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  }
}

/** `/healthz` and `/readyz`. Mounted before request logging so probes do not fill the logs. */
export function healthRouter(readiness: Readiness): Router {
  const router = express.Router();
  router.get('/healthz', (_req, res) => {
    const problem = readiness.livenessProblem;
    if (problem) res.status(503).json({ status: 'unhealthy', reason: problem });
    else res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const report = await readiness.report();
    res.status(report.ready ? 200 : 503).json({ status: report.ready ? 'ready' : 'not ready', checks: report.checks });
  });
  return router;
}

/** What `GET /metrics` needs of a metrics registry (prom-client's `Registry` is one). */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * The probe server's app: `/healthz`, `/readyz` and, given a registry, `GET /metrics` for Prometheus. It
 * listens on the probe port, which no Service's public port and no Ingress exposes.
 */
export function probeApp(readiness: Readiness, metrics?: MetricsSource): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(healthRouter(readiness));
  if (metrics) {
    app.get('/metrics', async (_req, res) => {
      res.type(metrics.contentType).send(await metrics.metrics());
    });
  }
  app.use((_req, res) => {
    res.status(404).json({ error: { code: 'route_not_found', message: 'not found' } });
  });
  return app;
}

/** The route of every request no route matched (404s, probes of unknown paths): one value, whatever the URL. */
export const UNMATCHED_ROUTE = 'unmatched';

const TEMPLATE = Symbol('route template');

/**
 * The route template a request is answered by (`/status`, `/uploads/{*rest}`), never its URL, for metric
 * labels and span names: ids and query strings would make a new series per request. Mount path and route
 * path are joined, remembered as Express enters the route: by the time the response is done, an error passed
 * on to the app's error handler has left the router, and Express has put `req.baseUrl` back to the app's.
 * Every middleware that asks shares one watch of the request.
 */
export function routeTemplate(req: express.Request): () => string {
  const holder = req as express.Request & { [TEMPLATE]?: () => string };
  const known = holder[TEMPLATE];
  if (known) return known;
  let route: unknown;
  let template = UNMATCHED_ROUTE;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      if (!value || value.path === undefined) template = UNMATCHED_ROUTE;
      else {
        const path = Array.isArray(value.path) ? value.path.map(String).join('|') : String(value.path);
        template = `${req.baseUrl ?? ''}${path}` || '/';
      }
    },
  });
  const read = () => template;
  holder[TEMPLATE] = read;
  return read;
}

/**
 * One log line and one span per request, with its duration; probes are skipped by mounting this after
 * `healthRouter`. `continueTrace`: whether a `traceparent` the caller sent is continued. A public edge (the gateway) starts a
 * trace of its own for each request, the caller's kept only as a link: a client must not choose the trace
 * its work is filed under, nor switch its sampling off. Services behind it (auth) continue their caller's.
 */
export function requestLogger(
  logger: Logger,
  { tracer = 'http', continueTrace = true }: { tracer?: string; continueTrace?: boolean } = {},
): express.RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const template = routeTemplate(req);
    // The request's span: it continues a trace the caller sent (`traceparent`), and everything the request
    // does (its log lines, the messages it publishes) happens inside it.
    const { span, active } = startServerSpan(tracer, req.method, req.headers, { 'http.request.method': req.method, 'url.path': req.path }, continueTrace);
    bindToContext(active, req, res);
    let ended = false;
    const end = (status: number, aborted: boolean) => {
      if (ended) return;
      ended = true;
      // The route template, never the raw path: a span name stays one of a few.
      const route = template();
      if (route !== UNMATCHED_ROUTE) span.updateName(`${req.method} ${route}`);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500 || aborted) span.setStatus({ code: SpanStatusCode.ERROR, message: aborted ? 'client went away' : `status ${status}` });
      span.end();
    };
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      withContext(active, () => logger.info({ method: req.method, path: req.path, status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request'));
      end(res.statusCode, false);
    });
    res.on('close', () => end(res.statusCode, !res.writableFinished));
    withContext(active, next);
  };
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
