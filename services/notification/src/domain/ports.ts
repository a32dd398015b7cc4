import { PermanentFailure, TransientFailure } from '@mp3converter/shared/errors';
import type { Email } from './emails.js';

export { PermanentFailure, TransientFailure };

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
