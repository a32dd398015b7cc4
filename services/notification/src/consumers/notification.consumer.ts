import { type AmqpConnection, type Channel, type ConsumeMessage, replayedAtOf, retryCountOf, settle } from '@mp3converter/shared/amqp';
import { type Outcome, outcomeOf } from '@mp3converter/shared/retry';
import { failureMessageSchema, mp3MessageSchema, parseMessage } from '@mp3converter/shared/contracts';
import type { Logger } from '@mp3converter/shared/logger';
import { signedDownloadPath, signedZipPath } from '@mp3converter/shared/links';
import { type Email, type Mp3File, conversionFailedEmail, mp3ReadyEmail } from '../domain/emails.js';
import type { NotifierService } from '../domain/notifier.service.js';
import { type KnownJob, recipientOf } from '../domain/recipient.js';
import type { EmailMetrics } from '../metrics.js';

export interface NotificationConsumerDeps {
  amqp: AmqpConnection;
  notifier: NotifierService;
  retryDelaysMs: readonly number[];
  /** Claims of one notification before it is given up on; redeliveries count too. */
  maxAttempts: number;
  logger: Logger;
  metrics: EmailMetrics;
  settleMetrics: { settled(queue: string, outcome: string): void };
}

/** A send claimed this long ago by a worker that never finished is taken over. */
export const CLAIM_TTL_MS = 120_000;

type Reader = (body: Buffer) => Promise<{ ok: true; key: string; email: Email } | { ok: false; reason: string }>;

/** What the job store knows of a video's job; undefined for a video it does not know. */
export type JobFinder = (videoFid: string) => Promise<KnownJob | undefined>;

export interface ReadyEmailSources {
  gatewayUrl: string;
  /** What the store knows of the MP3; undefined for one that is not ours. */
  findMp3(mp3Fid: string): Promise<Mp3File | undefined>;
  findJob: JobFinder;
  linkSecret: string;
  linkTtlMs: number;
}

/**
 * `mp3`: the file is ready (or, with `mp3_fids`, the parts of a split). The email goes to the owner the store
 * records (see recipientOf), and carries a signed link (to the ZIP of all the parts of a split), which expires
 * with the MP3 at the latest.
 */
export const readMp3Message =
  ({ gatewayUrl, findMp3, findJob, linkSecret, linkTtlMs }: ReadyEmailSources): Reader =>
  async (body) => {
    const parsed = parseMessage(mp3MessageSchema, body);
    if (!parsed.ok) return parsed;
    const mp3Fid = parsed.value.mp3_fid.toLowerCase();
    const [file, job] = await Promise.all([findMp3(mp3Fid), findJob(parsed.value.video_fid)]);
    const recipient = recipientOf({ named: parsed.value.username, videoFid: parsed.value.video_fid, mp3Fid, job, file });
    if (!recipient.ok) return recipient;
    const message = { ...parsed.value, username: recipient.to };
    const expires = Math.floor(Math.min(Date.now() + linkTtlMs, file?.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY) / 1000);
    // A job split into several MP3s: the link is to the ZIP of all of them, by the video's id.
    const path =
      (parsed.value.mp3_fids?.length ?? 0) > 1
        ? signedZipPath({ videoFids: [parsed.value.video_fid.toLowerCase()], owner: recipient.to, expires }, linkSecret)
        : signedDownloadPath({ mp3Fid, owner: recipient.to, expires }, linkSecret);
    const url = `${gatewayUrl.replace(/\/+$/, '')}${path}`;
    return { ok: true, key: `mp3:${mp3Fid}`, email: mp3ReadyEmail(message, { gatewayUrl, link: { url, expiresAt: new Date(expires * 1000) }, file }) };
  };

/** `conversion.failed`: the converter gave up. The email goes to the owner the store records (see recipientOf). */
export const readFailureMessage =
  (findJob: JobFinder): Reader =>
  async (body) => {
    const parsed = parseMessage(failureMessageSchema, body);
    if (!parsed.ok) return parsed;
    const job = await findJob(parsed.value.video_fid);
    const recipient = recipientOf({ named: parsed.value.username, videoFid: parsed.value.video_fid, mp3Fid: null, job });
    if (!recipient.ok) return recipient;
    return { ok: true, key: `failed:${parsed.value.video_fid.toLowerCase()}`, email: conversionFailedEmail({ ...parsed.value, username: recipient.to }) };
  };

/** The door from one queue to the notifier; every outcome becomes one settled message, nothing crashes. */
export function notificationHandler(queue: string, read: Reader, deps: NotificationConsumerDeps) {
  const { amqp, notifier, retryDelaysMs, maxAttempts, logger, metrics, settleMetrics } = deps;
  /** The outcome, and whether this delivery sent the email (`done` alone does not tell: it was sent before). */
  const handle = async (message: ConsumeMessage): Promise<{ outcome: Outcome; sent?: boolean }> => {
    const parsed = await read(message.content);
    if (!parsed.ok) {
      logger.warn({ queue, reason: parsed.reason }, 'message refused');
      return { outcome: { kind: 'dead', reason: parsed.reason } };
    }
    const log = logger.child({ queue, key: parsed.key, to: parsed.email.to });
    const result = await notifier.notify(parsed.key, parsed.email, { maxAttempts, revive: replayedAtOf(message) !== undefined });
    switch (result.status) {
      case 'in-progress':
        return { outcome: { kind: 'defer', reason: 'another worker is sending it', afterMs: CLAIM_TTL_MS / 2 } };
      case 'sent':
      case 'already-sent':
        log.info({ result: result.status }, result.status === 'sent' ? 'email sent' : 'email was already sent');
        return { outcome: { kind: 'done' }, sent: result.status === 'sent' };
      case 'failed': {
        const outcome = outcomeOf(result.error, result.attempt, maxAttempts);
        log.warn(
          { err: result.error, attempt: result.attempt, outcome: outcome.kind },
          outcome.kind === 'retry' ? 'email not sent; will retry' : 'email cannot be sent',
        );
        return { outcome };
      }
    }
  };
  return async (message: ConsumeMessage, channel: Channel): Promise<void> => {
    let handled: { outcome: Outcome; sent?: boolean };
    try {
      handled = await handle(message);
    } catch (err) {
      // The sent-log could not be reached, so no attempt was counted there: the retries scheduled so far count.
      handled = { outcome: outcomeOf(err, retryCountOf(message) + 1, maxAttempts) };
    }
    const { outcome, sent } = handled;
    if (sent) metrics.email(queue, 'sent');
    else if (outcome.kind === 'retry') metrics.email(queue, 'retried');
    else if (outcome.kind === 'dead') metrics.email(queue, 'failed');
    await settle(message, outcome, { amqp, channel, queue, retryDelaysMs, logger, metrics: settleMetrics });
  };
}
