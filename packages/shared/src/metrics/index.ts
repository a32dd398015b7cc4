import type { EventEmitter } from 'node:events';
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { UNMATCHED_ROUTE, routeTemplate } from '../http/index.js';

export { UNMATCHED_ROUTE };

export { Counter, Gauge, Histogram, Registry };

/**
 * One registry per app, never prom-client's global one: two services started in one test process (or two
 * replicas of one) must not share or collide on their metrics. Carries Node's process metrics.
 */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Seconds buckets for requests: from a cached answer to an upload of a few minutes. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * `http_requests_total` and `http_request_duration_seconds` by method, route template and status, recorded
 * when the response is done or the client went away (status 499 then, as nginx logs it). Mounted first, so
 * everything the app answers is counted; the probes live on another server and are not.
 */
export function httpMetrics(registry: Registry): RequestHandler {
  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from a request arriving to its response being sent, in seconds',
    labelNames,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    const template = routeTemplate(req);
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const labels = { method: req.method, route: template(), status: String(res.writableFinished ? res.statusCode : 499) };
      requests.inc(labels);
      duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}

/** The broker connection as metrics see it; `AmqpConnection` is one. */
export interface BrokerLike extends EventEmitter {
  readonly connected: boolean;
  inspectQueues(queues: readonly string[]): Promise<{ queue: string; messageCount: number; consumerCount: number }[]>;
}

/** How long one answer of the broker about queue depths is reused, ms: a scrape asks for it twice. */
const DEPTH_MAX_AGE_MS = 250;

/**
 * `broker_reconnects_total` (connections after the first), `broker_connected`, and the depth of `queues`,
 * asked of the broker at scrape time (`queue_messages`: ready, not yet delivered; `queue_consumers`). A queue
 * the broker does not know is left out rather than reported empty.
 */
export function instrumentBroker(registry: Registry, broker: BrokerLike, queues: readonly string[]): void {
  const reconnects = new Counter({ name: 'broker_reconnects_total', help: 'Connections to the message broker made after the first', registers: [registry] });
  let connections = 0;
  broker.on('connected', () => {
    if (connections++ > 0) reconnects.inc();
  });
  new Gauge({
    name: 'broker_connected',
    help: '1 while the connection to the message broker is up',
    registers: [registry],
    collect() {
      this.set(broker.connected ? 1 : 0);
    },
  });
  const depths = new Map<string, { messageCount: number; consumerCount: number }>();
  let asked: { at: number; done: Promise<void> } | undefined;
  // Both gauges are collected in one scrape: one answer of the broker, kept for a moment, serves the two.
  const refresh = () => {
    if (!asked || performance.now() - asked.at > DEPTH_MAX_AGE_MS) {
      asked = {
        at: performance.now(),
        done: (async () => {
          const found = broker.connected ? await broker.inspectQueues(queues).catch(() => []) : [];
          depths.clear();
          for (const d of found) depths.set(d.queue, d);
        })(),
      };
    }
    return asked.done;
  };
  new Gauge({
    name: 'queue_messages',
    help: 'Messages ready in the queue, as the broker reports them at scrape time',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      await refresh();
      this.reset();
      for (const [queue, d] of depths) this.set({ queue }, d.messageCount);
    },
  });
  new Gauge({
    name: 'queue_consumers',
    help: 'Consumers of the queue, as the broker reports them at scrape time',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      await refresh();
      this.reset();
      for (const [queue, d] of depths) this.set({ queue }, d.consumerCount);
    },
  });
}

/** How queue messages were settled; `settle` in the amqp module reports every one here. */
export interface SettleMetrics {
  settled(queue: string, outcome: string): void;
}

/** `queue_messages_settled_total{queue, outcome}`: done, retry (to a retry queue), dead (dead-lettered), defer, requeue. */
export function settleMetrics(registry: Registry): SettleMetrics {
  const settled = new Counter({
    name: 'queue_messages_settled_total',
    help: 'Messages taken from a work queue, by how they were settled (done, retry, dead, defer, requeue)',
    labelNames: ['queue', 'outcome'],
    registers: [registry],
  });
  return { settled: (queue, outcome) => settled.inc({ queue, outcome }) };
}

/** `store_reconnects_total{store}`: shared by each store's instrumentation below and the services' own. */
export function storeReconnects(registry: Registry, store: string): () => void {
  const existing = registry.getSingleMetric('store_reconnects_total') as Counter<'store'> | undefined;
  const counter =
    existing ??
    new Counter({ name: 'store_reconnects_total', help: 'Connections to a store made again after losing it', labelNames: ['store'], registers: [registry] });
  counter.inc({ store }, 0);
  return () => counter.inc({ store });
}

/**
 * A MongoDB reconnect: the first connection made ready after the driver lost one to a network error or
 * cleared the server's pool (when its monitor lost the server). One per outage and server, however many
 * connections the pool then opens again.
 */
export function instrumentMongo(registry: Registry, client: EventEmitter): void {
  const reconnected = storeReconnects(registry, 'mongodb');
  const lost = new Set<string>();
  client.on('connectionPoolCleared', (event: { address: string }) => lost.add(event.address));
  client.on('connectionClosed', (event: { address: string; reason?: string }) => {
    if (event.reason === 'error') lost.add(event.address);
  });
  client.on('connectionReady', (event: { address: string }) => {
    if (lost.delete(event.address)) reconnected();
  });
}

/** Seconds buckets for work that takes from a moment to an hour (queue waits, uploads, conversions). */
export const LONG_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
