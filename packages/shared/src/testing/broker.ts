import amqp from 'amqplib';

export interface QueuedMessage {
  body: Record<string, unknown>;
  raw: Buffer;
  persistent: boolean;
  headers: Record<string, unknown>;
}

async function withChannel<T>(url: string, work: (channel: amqp.ConfirmChannel) => Promise<T>): Promise<T> {
  const conn = await amqp.connect(url);
  try {
    return await work(await conn.createConfirmChannel());
  } finally {
    await conn.close();
  }
}

const parse = (raw: Buffer): Record<string, unknown> => {
  try {
    return JSON.parse(raw.toString()) as Record<string, unknown>;
  } catch {
    return {};
  }
};

/** Takes every message now on `queue` (acking them); none when it does not exist. */
export function drainQueue(url: string, queue: string): Promise<QueuedMessage[]> {
  return withChannel(url, async (ch) => {
    // Checked, not declared: the queue's arguments (a dead-letter queue's bounds) are its owner's business.
    ch.on('error', () => undefined);
    try {
      await ch.checkQueue(queue);
    } catch {
      return [];
    }
    const out: QueuedMessage[] = [];
    for (;;) {
      const msg = await ch.get(queue, { noAck: true });
      if (!msg) return out;
      out.push({ body: parse(msg.content), raw: msg.content, persistent: msg.properties.deliveryMode === 2, headers: msg.properties.headers ?? {} });
    }
  });
}

/** How many messages wait on `queue` (0 when it does not exist). */
export function queueDepth(url: string, queue: string): Promise<number> {
  return withChannel(url, async (ch) => {
    try {
      return (await ch.checkQueue(queue)).messageCount;
    } catch {
      return 0;
    }
  });
}

/** Publishes raw bytes to `queue`, persistent, as the original's services did. */
export function publishRaw(url: string, queue: string, body: Buffer | string): Promise<void> {
  return withChannel(url, async (ch) => {
    await ch.assertQueue(queue, { durable: true });
    ch.sendToQueue(queue, Buffer.from(body), { persistent: true });
    // Closing right after a publish can drop it; the broker's confirm says it has it.
    await ch.waitForConfirms();
  });
}

/** Deletes queues a test made (missing ones are fine). */
export async function deleteQueues(url: string, ...queues: string[]): Promise<void> {
  for (const queue of queues) {
    await withChannel(url, (ch) => ch.deleteQueue(queue)).catch(() => undefined);
  }
}

/** Publishes `body` to `queue` (not declared) and says whether the broker took it (true) or refused it with a nack (false). */
export function publishConfirmed(url: string, queue: string, body: Buffer | string): Promise<boolean> {
  return withChannel(url, (ch) => new Promise<boolean>((resolve) => ch.sendToQueue(queue, Buffer.from(body), { persistent: true }, (err) => resolve(!err))));
}
