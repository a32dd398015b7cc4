import { PermanentFailure, TransientFailure } from '@mp3converter/shared/errors';
import type { Email } from './emails.js';

export { PermanentFailure, TransientFailure };

export interface Mailer {
  /** Throws PermanentFailure or TransientFailure. */
  send(email: Email): Promise<void>;
}

export type ClaimResult =
  /** This worker sends it now; `attempt` counts every claim of it, this one included. */
  | { status: 'claimed'; attempt: number }
  | { status: 'sent' }
  /** Another worker claimed it a moment ago. */
  | { status: 'in-progress' }
  /** Claimed more often than the limit allows: given up on. */
  | { status: 'exhausted'; attempts: number; lastError: string | null };

/**
 * Remembers which notifications went out, so a redelivered message sends nothing, and how often each was
 * tried, so that a message which kills its worker every time is still given up on.
 */
export interface SentLog {
  /** `revive`: replayed from the dead letters by an operator, so the attempts start again. */
  claim(key: string, options: { maxAttempts: number; revive: boolean }): Promise<ClaimResult>;
  markSent(key: string): Promise<void>;
  /** Gives up a claim after a failed send so a retry may send; the attempt stays counted. */
  release(key: string, lastError: string): Promise<void>;
}
