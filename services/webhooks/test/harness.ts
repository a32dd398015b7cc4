import { randomBytes } from 'node:crypto';
import { deadLetterQueueOf, retryQueueOf } from '@mp3converter/shared/amqp';
import { JOB_EVENTS_EXCHANGE, type JobEvent, routingKeyOf } from '@mp3converter/shared/jobs';
import { createMongoClient } from '@mp3converter/shared/storage';
import { deleteQueues, metricValue, scrape, testLogger, uniqueName } from '@mp3converter/shared/testing';
import amqp from 'amqplib';
import { inject } from 'vitest';
import { type Stack, signIn, startStack } from '../../gateway/test/harness.js';
import type { ResolveHost } from '../../gateway/src/domain/webhooks.service.js';
import type { Resolve } from '../src/adapters/guarded-http.sender.js';
import { loadConfig } from '../src/config.js';
import { type WebhooksWorker, startWebhooksWorker } from '../src/worker.js';

export const RETRY_DELAYS_MS = [300, 600];

export interface System {
  stack: Stack;
  worker: WebhooksWorker;
  queue: string;
  database: string;
  /** A new user with a token: `authorization` for the gateway. */
  user(): Promise<{ email: string; authorization: string }>;
  /** `fetch` on the gateway with the user's token and a JSON body. */
  api(authorization: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }>;
  /** Job events of this test's users are settled by the worker: done or dead-lettered, from its own metrics. */
  settled(): Promise<number>;
  /** Deliveries waiting for an attempt, from the worker's own metrics. */
  pending(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A gateway (real auth behind it) and a webhooks worker sharing a database of their own and a queue of the
 * worker's own on the real `job.events` exchange, with the same destination rules. `resolve` stands in for
 * DNS on both sides: the gateway's check at registration asks first, the worker's socket after.
 */
export async function startSystem(env: Record<string, string> = {}, resolve?: Resolve): Promise<System> {
  const servers = inject('servers');
  const database = uniqueName('webhooks');
  const queue = uniqueName('webhooks.job-events');
  const shared = { WEBHOOK_DATABASE: database, ...env };
  const resolveHost: ResolveHost | undefined = resolve ? async (host) => (await resolve(host)).map((a) => a.address) : undefined;
  const stack = await startStack(shared, undefined, testLogger('gateway'), resolveHost ? { resolveHost } : {});
  const worker = await startWebhooksWorker(
    loadConfig({
      HEALTH_PORT: '0',
      MONGODB_URI: servers.mongoUrl,
      RABBITMQ_URL: servers.rabbitUrl,
      EVENTS_QUEUE: queue,
      PUBLIC_GATEWAY_URL: 'https://mp3converter.test',
      WEBHOOK_RETRY_DELAYS_MS: RETRY_DELAYS_MS.join(','),
      WEBHOOK_TIMEOUT_MS: '2000',
      POLL_INTERVAL_MS: '50',
      RETRY_DELAYS_MS: '300',
      ...shared,
    }),
    testLogger('webhooks'),
    resolve ? { resolve } : {},
  );
  await worker.amqp.start();
  const api: System['api'] = async (authorization, method, path, body) => {
    const res = await fetch(`${stack.url}${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: kept as text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
  const samples = () => scrape(worker.http.url);
  return {
    stack,
    worker,
    queue,
    database,
    user: () => signIn(stack),
    api,
    async settled() {
      const s = await samples();
      return (
        metricValue(s, 'queue_messages_settled_total', { queue, outcome: 'done' }) + metricValue(s, 'queue_messages_settled_total', { queue, outcome: 'dead' })
      );
    },
    pending: async () => metricValue(await samples(), 'webhook_deliveries_pending'),
    async stop() {
      await worker.stop(1_000);
      await stack.stop();
      await deleteQueues(servers.rabbitUrl, queue, deadLetterQueueOf(queue), retryQueueOf(queue, 300));
      const mongo = createMongoClient(servers.mongoUrl, 'webhooks-test');
      await mongo.db(database).dropDatabase();
      await mongo.close();
    },
  };
}

/** A job event on the real exchange, as the converter or the gateway publishes one. */
export async function publishEvent(event: JobEvent | Buffer, routingKey = Buffer.isBuffer(event) ? 'job.done' : routingKeyOf(event)): Promise<void> {
  const conn = await amqp.connect(inject('servers').rabbitUrl);
  try {
    const ch = await conn.createConfirmChannel();
    ch.publish(JOB_EVENTS_EXCHANGE, routingKey, Buffer.isBuffer(event) ? event : Buffer.from(JSON.stringify(event)), { persistent: true });
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

export const fid = (): string => randomBytes(12).toString('hex');

/** The event that says a job of `owner` ended in `state`. */
export const jobEnded = (owner: string, state: 'done' | 'failed' | 'cancelled', videoFid = fid()): JobEvent => ({
  type: 'state',
  video_fid: videoFid,
  owner,
  state,
  at: new Date().toISOString(),
  mp3_fid: state === 'done' ? 'b'.repeat(24) : null,
  reason: state === 'failed' ? 'the file has no audio' : null,
});
