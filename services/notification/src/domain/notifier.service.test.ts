import { describe, expect, it } from 'vitest';
import type { Email } from './emails.js';
import { NotifierService } from './notifier.service.js';
import { type ClaimResult, type Mailer, PermanentFailure, type SentLog, TransientFailure } from './ports.js';

/** The sent-log's rules in memory: one claim at a time, attempts counted at claim, kept across releases. */
class MemoryLog implements SentLog {
  readonly state = new Map<string, { status: 'sending' | 'pending' | 'sent'; attempts: number; lastError: string | null }>();
  async claim(key: string, { maxAttempts, revive }: { maxAttempts: number; revive: boolean }): Promise<ClaimResult> {
    const now = this.state.get(key) ?? { status: 'pending' as const, attempts: 0, lastError: null };
    if (now.status === 'sent') return { status: 'sent' };
    if (now.status === 'sending') return { status: 'in-progress' };
    const attempts = revive ? 1 : now.attempts + 1;
    if (attempts > maxAttempts) {
      this.state.set(key, { ...now, status: 'pending', attempts });
      return { status: 'exhausted', attempts, lastError: now.lastError };
    }
    this.state.set(key, { ...now, status: 'sending', attempts });
    return { status: 'claimed', attempt: attempts };
  }
  async markSent(key: string) {
    this.state.set(key, { ...this.state.get(key)!, status: 'sent' });
  }
  async release(key: string, lastError: string) {
    this.state.set(key, { ...this.state.get(key)!, status: 'pending', lastError });
  }
}

const email: Email = { to: 'someone@example.com', subject: 's', text: 't', html: 'h', messageId: '<m@x>' };
const options = { maxAttempts: 3, revive: false };

describe('NotifierService', () => {
  it('when the same notification comes twice, then one email', async () => {
    const sent: Email[] = [];
    const notifier = new NotifierService({ send: async (e) => void sent.push(e) }, new MemoryLog());
    expect(await notifier.notify('k', email, options)).toEqual({ status: 'sent' });
    expect(await notifier.notify('k', email, options)).toEqual({ status: 'already-sent' });
    expect(sent).toHaveLength(1);
  });

  it('when sending fails, then the claim is given back with its attempt counted, so a retry can send', async () => {
    const log = new MemoryLog();
    let fail = true;
    const mailer: Mailer = {
      send: async () => {
        if (fail) throw new TransientFailure('down');
      },
    };
    const notifier = new NotifierService(mailer, log);
    const first = await notifier.notify('k', email, options);
    expect(first).toMatchObject({ status: 'failed', attempt: 1 });
    expect((first as { error: unknown }).error).toBeInstanceOf(TransientFailure);
    expect(log.state.get('k')).toMatchObject({ status: 'pending', attempts: 1 });
    fail = false;
    expect(await notifier.notify('k', email, options)).toEqual({ status: 'sent' });
  });

  it('when every attempt is used up, then it is given up on with the last error, without sending', async () => {
    const log = new MemoryLog();
    const sent: Email[] = [];
    let fail = true;
    const notifier = new NotifierService(
      {
        send: async (e) => {
          if (fail) throw new TransientFailure('mail server down');
          sent.push(e);
        },
      },
      log,
    );
    for (let i = 0; i < 3; i++) await notifier.notify('k', email, options);
    fail = false;
    const result = await notifier.notify('k', email, options);
    expect(result).toMatchObject({ status: 'failed', attempt: 4 });
    const error = (result as { error: unknown }).error;
    expect(error).toBeInstanceOf(PermanentFailure);
    expect((error as PermanentFailure).reason).toBe('gave up after 3 attempts: mail server down');
    expect(sent).toHaveLength(0);
  });

  it('when an operator replays a given-up notification, then it is sent', async () => {
    const log = new MemoryLog();
    log.state.set('k', { status: 'pending', attempts: 9, lastError: 'x' });
    const sent: Email[] = [];
    const notifier = new NotifierService({ send: async (e) => void sent.push(e) }, log);
    expect(await notifier.notify('k', email, { maxAttempts: 3, revive: true })).toEqual({ status: 'sent' });
    expect(sent).toHaveLength(1);
  });

  it('when the recipient is not an email address, then a permanent failure without a claim', async () => {
    const log = new MemoryLog();
    const notifier = new NotifierService({ send: async () => {} }, log);
    const result = await notifier.notify('k', { ...email, to: 'georgio' }, options);
    expect((result as { error: unknown }).error).toBeInstanceOf(PermanentFailure);
    expect(log.state.size).toBe(0);
  });
});
