import amqp, { type GetMessage } from 'amqplib';
import { DEAD_REASON_HEADER, ORIGINAL_QUEUE_HEADER, REPLAYED_AT_HEADER, RETRY_COUNT_HEADER } from './work-queue.js';

/** One message in a dead-letter queue, as an operator needs to see it. */
export interface DeadLetter {
  reason: string | null;
  deadAt: string | null;
  originalQueue: string | null;
  messageId: string | null;
  body: string;
}

const BODY_SHOWN = 2_000;

const header = (message: GetMessage, name: string): string | null => {
  const value = message.properties.headers?.[name] as unknown;
  return typeof value === 'string' ? value : null;
};

const describe = (message: GetMessage): DeadLetter => ({
  reason: header(message, DEAD_REASON_HEADER),
  deadAt: header(message, 'x-dead-at'),
  originalQueue: header(message, ORIGINAL_QUEUE_HEADER),
  messageId: typeof message.properties.messageId === 'string' ? message.properties.messageId : null,
  body: message.content.toString('utf8').slice(0, BODY_SHOWN),
});

async function withConnection<T>(url: string, work: (connection: amqp.ChannelModel) => Promise<T>): Promise<T> {
  const connection = await amqp.connect(url, { clientProperties: { connection_name: 'dead-letters' } });
  try {
    return await work(connection);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * The first `limit` messages of a dead-letter queue, left in it: they are taken unacknowledged and go back
 * when the channel closes, in their order.
 */
export function listDeadLetters(url: string, queue: string, limit: number): Promise<DeadLetter[]> {
  return withConnection(url, async (connection) => {
    const channel = await connection.createChannel();
    await channel.checkQueue(queue);
    const seen: DeadLetter[] = [];
    while (seen.length < limit) {
      const message = await channel.get(queue, { noAck: false });
      if (!message) break;
      seen.push(describe(message));
    }
    await channel.close();
    return seen;
  });
}

/**
 * Sends up to `limit` dead letters back to the queue they were given up on (or `to`), one at a time: each is
 * published with a confirm before it is acked here, so a failure in between duplicates a message rather than
 * losing it. The retry count starts again and the message says it was replayed, so the worker gives the
 * work a fresh set of attempts.
 */
export function replayDeadLetters(url: string, queue: string, { limit, to }: { limit: number; to?: string }): Promise<DeadLetter[]> {
  return withConnection(url, async (connection) => {
    const channel = await connection.createConfirmChannel();
    await channel.checkQueue(queue);
    const replayed: DeadLetter[] = [];
    while (replayed.length < limit) {
      const message = await channel.get(queue, { noAck: false });
      if (!message) break;
      const dead = describe(message);
      const target = to ?? dead.originalQueue ?? queue.replace(/\.dead$/, '');
      if (target === queue) throw new Error(`cannot tell where ${queue}'s messages came from: pass the target queue`);
      const headers: Record<string, unknown> = { ...(message.properties.headers ?? {}) };
      for (const name of [DEAD_REASON_HEADER, 'x-dead-at', ORIGINAL_QUEUE_HEADER, RETRY_COUNT_HEADER, 'x-last-error']) delete headers[name];
      headers[REPLAYED_AT_HEADER] = new Date().toISOString();
      channel.sendToQueue(target, message.content, {
        persistent: true,
        contentType: message.properties.contentType as string | undefined,
        messageId: message.properties.messageId as string | undefined,
        headers,
      });
      await channel.waitForConfirms();
      channel.ack(message);
      replayed.push({ ...dead, originalQueue: target });
    }
    await channel.close();
    return replayed;
  });
}

const USAGE = `usage: dead-letters list <queue.dead> [--limit N]
       dead-letters replay <queue.dead> [--limit N] [--to <queue>]

Lists dead letters (left in place) or sends them back to the queue they were given up on. The broker is
RABBITMQ_URL. Exit codes: 0 done, 2 usage, 1 any other failure.`;

/** The operator's command, shared by the workers' images; `write` prints one line. */
export async function deadLetterCommand(args: readonly string[], url: string, write: (line: string) => void): Promise<number> {
  const [command, queue, ...rest] = args;
  const options = new Map<string, string>();
  for (let i = 0; i < rest.length; i += 2) options.set(rest[i] ?? '', rest[i + 1] ?? '');
  const limit = Number(options.get('--limit') ?? '100');
  const unknown = [...options.keys()].filter((k) => k !== '--limit' && k !== '--to');
  if (!queue || !['list', 'replay'].includes(command ?? '') || !Number.isInteger(limit) || limit < 1 || unknown.length > 0) {
    write(USAGE);
    return 2;
  }
  const to = options.get('--to');
  const letters = command === 'list' ? await listDeadLetters(url, queue, limit) : await replayDeadLetters(url, queue, { limit, ...(to ? { to } : {}) });
  for (const letter of letters) write(JSON.stringify(letter));
  write(`${command === 'list' ? 'listed' : 'replayed'} ${letters.length} message(s) of ${queue}`);
  return 0;
}

/**
 * The whole `dead-letters` program of a worker (`node dist/dead-letters.js list|replay <queue>.dead [--limit N]
 * [--to <queue>]`, also inside the pod): RABBITMQ_URL from the environment, lines on stdout, the exit code.
 */
export function runDeadLetterProgram(argv: readonly string[], rabbitmqUrl: string): void {
  deadLetterCommand(argv, rabbitmqUrl, (line) => process.stdout.write(`${line}\n`)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
