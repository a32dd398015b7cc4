import { z } from '@mp3converter/shared/config';
import type { Email } from './emails.js';
import { type Mailer, PermanentFailure, type SentLog } from './ports.js';

export type NotifyResult = 'sent' | 'already-sent' | 'in-progress';

const emailAddress = z.email();

/** Sends each notification once: claim it in the log, send, mark it sent; a failed send gives the claim back. */
export class NotifierService {
  constructor(
    private readonly mailer: Mailer,
    private readonly sent: SentLog,
  ) {}

  async notify(key: string, email: Email): Promise<NotifyResult> {
    if (!emailAddress.safeParse(email.to).success) {
      throw new PermanentFailure(`username ${JSON.stringify(email.to)} is not an email address`);
    }
    const claim = await this.sent.claim(key);
    if (claim === 'sent') return 'already-sent';
    if (claim === 'in-progress') return 'in-progress';
    try {
      await this.mailer.send(email);
    } catch (err) {
      await this.sent.release(key).catch(() => undefined);
      throw err;
    }
    await this.sent.markSent(key);
    return 'sent';
  }
}
