import { gaveUpReason, reasonOf } from '@mp3converter/shared/retry';
import { z } from '@mp3converter/shared/config';
import type { Email } from './emails.js';
import { type Mailer, PermanentFailure, type SentLog } from './ports.js';

export type NotifyResult =
  | { status: 'sent' | 'already-sent' | 'in-progress' }
  /** The send failed on attempt `attempt`; the retry policy decides what next. */
  | { status: 'failed'; error: unknown; attempt: number };

const emailAddress = z.email();

export interface NotifyOptions {
  maxAttempts: number;
  revive: boolean;
}

/** Sends each notification once: claim it in the log, send, mark it sent; a failed send gives the claim back. */
export class NotifierService {
  constructor(
    private readonly mailer: Mailer,
    private readonly sent: SentLog,
  ) {}

  async notify(key: string, email: Email, options: NotifyOptions): Promise<NotifyResult> {
    if (!emailAddress.safeParse(email.to).success) {
      return { status: 'failed', error: new PermanentFailure(`username ${JSON.stringify(email.to)} is not an email address`), attempt: 1 };
    }
    const claim = await this.sent.claim(key, options);
    switch (claim.status) {
      case 'sent':
        return { status: 'already-sent' };
      case 'in-progress':
        return { status: 'in-progress' };
      case 'exhausted':
        return {
          status: 'failed',
          error: new PermanentFailure(gaveUpReason(claim.attempts - 1, claim.lastError ?? 'the sending was interrupted every time')),
          attempt: claim.attempts,
        };
      case 'claimed':
        break;
    }
    try {
      await this.mailer.send(email);
    } catch (err) {
      await this.sent.release(key, reasonOf(err)).catch(() => undefined);
      return { status: 'failed', error: err, attempt: claim.attempt };
    }
    await this.sent.markSent(key);
    return { status: 'sent' };
  }
}
