import type { Email } from './emails.js';

/** Will fail the same way again (a 5xx answer, a bad address): dead-letter, do not retry. */
export class PermanentFailure extends Error {
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'PermanentFailure';
  }
}

export class TransientFailure extends Error {
  constructor(readonly reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'TransientFailure';
  }
}

export interface Mailer {
  /** Throws PermanentFailure or TransientFailure. */
  send(email: Email): Promise<void>;
}

export type ClaimResult = 'claimed' | 'sent' | 'in-progress';

/** Remembers which notifications went out, so a redelivered message sends nothing. */
export interface SentLog {
  claim(key: string): Promise<ClaimResult>;
  markSent(key: string): Promise<void>;
  /** Gives up a claim after a failed send so a retry may send. */
  release(key: string): Promise<void>;
}
