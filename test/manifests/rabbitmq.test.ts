import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertWorkQueue } from '@mp3converter/shared/amqp';
import { createLogger } from '@mp3converter/shared/logger';
import amqp, { type Channel, type ChannelModel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { named, prepareManifests, render } from './render.js';

/*
 * The broker definitions the minikube overlay deploys, loaded at boot by a real RabbitMQ node (this machine's
 * installation, started privately on free ports with the overlay's own config file), then used by each
 * service's real topology under its own user.
 */
const server = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const manifests = prepareManifests();
const objects = render(manifests.dir, 'overlays/minikube');
const work = mkdtempSync(join(tmpdir(), 'rabbitmq-'));
let node: ChildProcess | undefined;
let port = 0;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
const secret = (name: string) =>
  Object.fromEntries(Object.entries(named(objects, 'Secret', name)!.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
/** A service's RABBITMQ_URL, pointed at the private node. */
const urlOf = (service: string) => {
  const url = new URL(secret(`${service}-secret`).RABBITMQ_URL!);
  url.host = `127.0.0.1:${port}`;
  return url.toString();
};

async function asUser<T>(url: string, work: (ch: Channel, conn: ChannelModel) => Promise<T>): Promise<T> {
  const conn = await amqp.connect(url);
  conn.on('error', () => {});
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  try {
    return await work(ch, conn);
  } finally {
    await conn.close().catch(() => {});
  }
}
const refused = (p: Promise<unknown>) => expect(p).rejects.toThrow(/ACCESS_REFUSED|403/);

/** Publishes one message as the service's user and waits for the broker's confirm; a refusal closes the channel. */
async function publishAs(url: string, exchange: string, routingKey: string): Promise<void> {
  const conn = await amqp.connect(url);
  conn.on('error', () => {});
  try {
    const ch = await conn.createConfirmChannel();
    let refusal: Error | undefined;
    ch.on('error', (err: Error) => {
      refusal = err;
    });
    const closed = new Promise((resolve) => ch.once('close', resolve));
    await new Promise<void>((resolve, reject) => ch.publish(exchange, routingKey, Buffer.from('{}'), {}, (err) => (err ? reject(err) : resolve()))).catch(
      async (err: unknown) => {
        await closed;
        throw refusal ?? err;
      },
    );
  } finally {
    await conn.close().catch(() => {});
  }
}

beforeAll(async () => {
  if (!existsSync(server)) return;
  port = await freePort();
  const distPort = await freePort();
  writeFileSync(join(work, 'definitions.json'), secret('rabbitmq-definitions')['definitions.json']!);
  const conf = named(objects, 'ConfigMap', 'rabbitmq-config')!.data!['20-mp3converter.conf']!;
  writeFileSync(
    join(work, 'rabbitmq.conf'),
    `${conf.replace(/^load_definitions = .*$/m, `load_definitions = ${join(work, 'definitions.json')}`)}\nlisteners.tcp.default = 127.0.0.1:${port}\n`,
  );
  writeFileSync(join(work, 'enabled_plugins'), '[].\n');
  node = spawn(server, [], {
    env: {
      ...process.env,
      HOME: work,
      RABBITMQ_NODENAME: `manifests${port}@localhost`,
      RABBITMQ_CONFIG_FILE: join(work, 'rabbitmq'),
      RABBITMQ_MNESIA_BASE: join(work, 'mnesia'),
      RABBITMQ_LOG_BASE: join(work, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(work, 'enabled_plugins'),
      RABBITMQ_DIST_PORT: String(distPort),
    },
    stdio: 'ignore',
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await asUser(urlOf('gateway'), async () => {});
      return;
    } catch (err) {
      if (Date.now() > deadline || node.exitCode !== null) throw new Error(`the private RabbitMQ node did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}, 90_000);

afterAll(async () => {
  if (node && node.exitCode === null) {
    node.kill('SIGTERM');
    await new Promise((r) => node!.once('exit', r));
  }
  rmSync(work, { recursive: true, force: true });
  manifests.cleanup();
});

describe.skipIf(!existsSync(server))('the deployed RabbitMQ definitions on a real broker', () => {
  const options = { retryDelaysMs: [5000, 30000, 120000], logger: createLogger({ service: 'test', level: 'silent' }) };

  it('when the converter sets up its topology as itself, then it may declare, consume video and publish its results, but not consume mp3', async () => {
    await asUser(urlOf('converter'), async (ch, conn) => {
      await assertWorkQueue(ch, conn, 'video', options);
      await ch.assertQueue('mp3', { durable: true });
      await ch.assertQueue('conversion.failed', { durable: true });
      await ch.consume('video', () => {});
      await ch.assertExchange('job.events', 'topic');
      const own = await ch.assertQueue('', { exclusive: true });
      await ch.assertExchange('job.control', 'topic');
      await ch.bindQueue(own.queue, 'job.control', '#');
    });
    // Its dead-letter command lists and replays `video.dead`.
    await asUser(urlOf('converter'), async (ch) => {
      await ch.get('video.dead');
    });
    await refused(asUser(urlOf('converter'), (ch) => ch.consume('mp3', () => {})));
    await refused(asUser(urlOf('converter'), (ch) => ch.assertQueue('users', { durable: true })));
  });

  it('when the gateway sets up as itself, then it may declare video and follow job.events, but not consume video', async () => {
    await asUser(urlOf('gateway'), async (ch) => {
      await ch.assertQueue('video', { durable: true });
      await ch.assertExchange('job.control', 'topic');
      const own = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(own.queue, 'job.events', '#');
      await ch.consume(own.queue, () => {});
    });
    await refused(asUser(urlOf('gateway'), (ch) => ch.consume('video', () => {})));
    await refused(asUser(urlOf('gateway'), (ch) => ch.assertQueue('mp3', { durable: true })));
  });

  it('when the notification service sets up as itself, then it may consume mp3 and conversion.failed, but not video or job.events', async () => {
    await asUser(urlOf('notification'), async (ch, conn) => {
      await assertWorkQueue(ch, conn, 'mp3', options);
      await assertWorkQueue(ch, conn, 'conversion.failed', options);
      await ch.consume('mp3', () => {});
      await ch.consume('conversion.failed', () => {});
    });
    await refused(asUser(urlOf('notification'), (ch) => ch.consume('video', () => {})));
    await refused(
      asUser(urlOf('notification'), async (ch) => {
        const own = await ch.assertQueue('', { exclusive: true });
        await ch.bindQueue(own.queue, 'job.events', '#');
      }),
    );
  });

  it('when the webhooks worker sets up as itself, then it may declare and consume its queue bound to the ends of jobs, and nothing more', async () => {
    await asUser(urlOf('gateway'), async (ch) => {
      await ch.assertExchange('job.events', 'topic', { durable: true });
    });
    await asUser(urlOf('webhooks'), async (ch, conn) => {
      await ch.checkExchange('job.events');
      await assertWorkQueue(ch, conn, 'webhooks.job-events', options);
      for (const key of ['job.done', 'job.failed', 'job.cancelled']) await ch.bindQueue('webhooks.job-events', 'job.events', key);
      await ch.consume('webhooks.job-events', () => {});
      await ch.get('webhooks.job-events.dead');
    });
    // Progress, and everything with a wildcard, stay out of its reach; so do the exchange itself and others' queues.
    await refused(asUser(urlOf('webhooks'), (ch) => ch.bindQueue('webhooks.job-events', 'job.events', 'job.#')));
    await refused(asUser(urlOf('webhooks'), (ch) => ch.bindQueue('webhooks.job-events', 'job.events', 'job.progress')));
    await refused(asUser(urlOf('webhooks'), (ch) => ch.assertExchange('job.events', 'topic', { durable: true })));
    await refused(asUser(urlOf('webhooks'), (ch) => ch.consume('video', () => {})));
    await refused(asUser(urlOf('webhooks'), (ch) => ch.consume('mp3', () => {})));
    await refused(
      asUser(urlOf('webhooks'), async (ch) => {
        const own = await ch.assertQueue('', { exclusive: true });
        await ch.bindQueue(own.queue, 'job.events', 'job.done');
      }),
    );
    await refused(publishAs(urlOf('webhooks'), 'job.events', 'job.done'));
    await refused(publishAs(urlOf('webhooks'), 'job.control', 'job.cancel'));
  });

  it('when each service publishes where it does, then the broker confirms it', async () => {
    await asUser(urlOf('gateway'), async (ch) => {
      await ch.assertExchange('job.events', 'topic', { durable: true });
      await ch.assertExchange('job.control', 'topic', { durable: true });
    });
    for (const [service, exchange, key] of [
      ['converter', '', 'mp3'],
      ['converter', '', 'conversion.failed'],
      ['converter', '', 'video.retry.5000ms'],
      ['converter', 'job.events', 'job.progress'],
      ['converter', 'job.events', 'job.done'],
      ['gateway', '', 'video'],
      ['gateway', 'job.control', 'job.cancel'],
      ['gateway', 'job.events', 'job.queued'],
      ['gateway', 'job.events', 'job.cancelled'],
      ['notification', '', 'mp3.retry.5000ms'],
      ['notification', '', 'conversion.failed.dead'],
      ['webhooks', '', 'webhooks.job-events.retry.5000ms'],
      ['webhooks', '', 'webhooks.job-events.dead'],
    ] as const) {
      await expect(publishAs(urlOf(service), exchange, key), `${service} → ${exchange || 'amq.default'} ${key}`).resolves.toBeUndefined();
    }
  });

  it.each([
    ['converter', 'job.control', 'job.cancel'],
    ['converter', 'job.events', 'job.cancel'],
    ['converter', 'job.events', 'video'],
    ['notification', 'job.events', 'job.done'],
    ['notification', 'job.control', 'job.cancel'],
    ['gateway', 'job.control', 'job.delete'],
    ['gateway', 'job.events', 'mp3'],
  ])('when %s publishes to %s with key %s, then the broker refuses it', async (service, exchange, key) => {
    await asUser(urlOf('gateway'), async (ch) => {
      await ch.assertExchange('job.events', 'topic', { durable: true });
      await ch.assertExchange('job.control', 'topic', { durable: true });
    });
    await refused(publishAs(urlOf(service), exchange, key));
  });

  it('when a worker publishes to a queue by name through the default exchange, then the broker lets it, video included: the job store decides whose a job is', async () => {
    // RabbitMQ cannot narrow write on `amq.default` to some queues, and every worker needs it for its own
    // retries and dead letters. This pins the gap the security notes describe; it closes only with a
    // dedicated exchange per work queue.
    for (const service of ['converter', 'notification']) {
      await expect(publishAs(urlOf(service), '', 'video')).resolves.toBeUndefined();
      await expect(publishAs(urlOf(service), '', 'mp3')).resolves.toBeUndefined();
    }
  });

  it('when KEDA logs in, then it can read the queue length and nothing more; guest does not exist', async () => {
    const url = new URL(secret('rabbitmq-keda').host!);
    url.host = `127.0.0.1:${port}`;
    expect((await asUser(url.toString(), (ch) => ch.checkQueue('video'))).queue).toBe('video');
    await refused(asUser(url.toString(), (ch) => ch.consume('video', () => {})));
    await refused(publishAs(url.toString(), '', 'video'));
    await expect(amqp.connect(`amqp://guest:guest@127.0.0.1:${port}`)).rejects.toThrow();
  });
});
