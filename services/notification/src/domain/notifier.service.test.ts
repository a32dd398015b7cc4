import { describe, expect, it } from 'vitest';
import type { Email } from './emails.js';
import { NotifierService } from './notifier.service.js';
import { type ClaimResult, type Mailer, PermanentFailure, type SentLog, TransientFailure } from './ports.js';

class MemoryLog implements SentLog {
  readonly state = new Map<string, 'sending' | 'sent'>();
  async claim(key: string): Promise<ClaimResult> {
    const now = this.state.get(key);
    if (now === 'sent') return 'sent';
    if (now === 'sending') return 'in-progress';
    this.state.set(key, 'sending');
    return 'claimed';
  }
  async markSent(key: string) {
    this.state.set(key, 'sent');
  }
  async release(key: string) {
    this.state.delete(key);
  }
}

const email: Email = { to: 'someone@example.com', subject: 's', text: 't', html: 'h', messageId: '<m@x>' };

describe('NotifierService', () => {
  it('when the same notification comes twice, then one email', async () => {
    const sent: Email[] = [];
    const notifier = new NotifierService({ send: async (e) => void sent.push(e) }, new MemoryLog());
    expect(await notifier.notify('k', email)).toBe('sent');
    expect(await notifier.notify('k', email)).toBe('already-sent');
    expect(sent).toHaveLength(1);
  });

  it('when sending fails, then the claim is given back so a retry can send', async () => {
    const log = new MemoryLog();
    let fail = true;
    const mailer: Mailer = {
      send: async () => {
        if (fail) throw new TransientFailure('down');
      },
    };
    const notifier = new NotifierService(mailer, log);
    await expect(notifier.notify('k', email)).rejects.toBeInstanceOf(TransientFailure);
    expect(log.state.has('k')).toBe(false);
    fail = false;
    expect(await notifier.notify('k', email)).toBe('sent');
  });

  it('when the recipient is not an email address, then a permanent failure without a claim', async () => {
    const log = new MemoryLog();
    const notifier = new NotifierService({ send: async () => {} }, log);
    await expect(notifier.notify('k', { ...email, to: 'georgio' })).rejects.toBeInstanceOf(PermanentFailure);
    expect(log.state.size).toBe(0);
  });
});
