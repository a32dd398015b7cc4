import { type AmqpConnection, type Channel, type ConsumeMessage, type Outcome, retryCountOf, settle } from '@mp3converter/shared/amqp';
import { failureMessageSchema, mp3MessageSchema, parseMessage } from '@mp3converter/shared/contracts';
import type { Logger } from '@mp3converter/shared/logger';
import { type Email, conversionFailedEmail, mp3ReadyEmail } from '../domain/emails.js';
import type { NotifierService } from '../domain/notifier.service.js';
import { PermanentFailure, TransientFailure } from '../domain/ports.js';

export interface NotificationConsumerDeps {
  amqp: AmqpConnection;
  notifier: NotifierService;
  gatewayUrl: string;
  retryDelaysMs: readonly number[];
  logger: Logger;
}

/** A send claimed this long ago by a worker that never finished is taken over. */
export const CLAIM_TTL_MS = 120_000;

type Reader = (body: Buffer) => { ok: true; key: string; email: Email } | { ok: false; reason: string };

/** `mp3`: the file is ready. */
export const readMp3Message =
  (gatewayUrl: string): Reader =>
  (body) => {
    const parsed = parseMessage(mp3MessageSchema, body);
    return parsed.ok ? { ok: true, key: `mp3:${parsed.value.mp3_fid.toLowerCase()}`, email: mp3ReadyEmail(parsed.value, gatewayUrl) } : parsed;
  };

/** `conversion.failed`: the converter gave up. */
export const readFailureMessage: Reader = (body) => {
  const parsed = parseMessage(failureMessageSchema, body);
  return parsed.ok ? { ok: true, key: `failed:${parsed.value.video_fid.toLowerCase()}`, email: conversionFailedEmail(parsed.value) } : parsed;
};

/** The door from one queue to the notifier; every outcome becomes one settled message, nothing crashes. */
export function notificationHandler(queue: string, read: Reader, deps: NotificationConsumerDeps) {
  const { amqp, notifier, retryDelaysMs, logger } = deps;
  const handle = async (message: ConsumeMessage): Promise<Outcome> => {
    const parsed = read(message.content);
    if (!parsed.ok) {
      logger.warn({ queue, reason: parsed.reason }, 'invalid message');
      return { kind: 'dead', reason: parsed.reason };
    }
    const log = logger.child({ queue, key: parsed.key, to: parsed.email.to, attempt: retryCountOf(message) + 1 });
    try {
      const result = await notifier.notify(parsed.key, parsed.email);
      if (result === 'in-progress') return { kind: 'defer', reason: 'another worker is sending it', afterMs: CLAIM_TTL_MS / 2 };
      log.info({ result }, result === 'sent' ? 'email sent' : 'email was already sent');
      return { kind: 'done' };
    } catch (err) {
      if (err instanceof PermanentFailure) {
        log.warn({ reason: err.reason }, 'email cannot be sent');
        return { kind: 'dead', reason: err.reason };
      }
      const reason = err instanceof TransientFailure ? err.reason : 'temporary failure';
      log.warn({ err, reason }, 'email not sent; will retry');
      return { kind: 'retry', reason };
    }
  };
  return async (message: ConsumeMessage, channel: Channel): Promise<void> => {
    await settle(message, await handle(message), { amqp, channel, queue, retryDelaysMs, logger });
  };
}
