import { PermanentFailure, TransientFailure } from '../errors/index.js';

/** What a handler decided about a message; `settle` acts on it. */
export type Outcome =
  | { kind: 'done' }
  /** Worth trying again later (a dependency was away): sent to a retry queue, chosen by the attempt number. */
  | { kind: 'retry'; reason: string; attempt: number }
  /** The system could not handle it (an invalid message, retries used up): to the dead-letter queue. */
  | { kind: 'dead'; reason: string }
  /**
   * Someone else is on it: look again later without counting an attempt, after the shortest retry delay of
   * at least `afterMs` (the longest one when none is that long).
   */
  | { kind: 'defer'; reason: string; afterMs: number }
  /** Leave it to another delivery without counting an attempt (shutting down mid-job). */
  | { kind: 'requeue' };

/** The reason a failure is reported with: ours are meant for people, anything else is not shown. */
export const reasonOf = (err: unknown): string => (err instanceof PermanentFailure || err instanceof TransientFailure ? err.reason : 'temporary failure');

export const gaveUpReason = (attempts: number, reason: string): string => `gave up after ${attempts} attempts: ${reason}`;

/**
 * The one retry policy of every worker: an error and the number of the attempt that met it (1 for the
 * first) → what becomes of the message. A permanent failure is never retried; a transient one is retried
 * until `maxAttempts` attempts were made, then given up on. Attempts are counted by the caller where a
 * redelivery cannot lose them (a store document updated when work is claimed), not by the retries it
 * scheduled itself, so a message that kills its worker every time is still given up on.
 */
export function outcomeOf(err: unknown, attempt: number, maxAttempts: number): Outcome {
  const reason = reasonOf(err);
  if (err instanceof PermanentFailure) return { kind: 'dead', reason };
  if (attempt < maxAttempts) return { kind: 'retry', reason, attempt };
  return { kind: 'dead', reason: gaveUpReason(attempt, reason) };
}

/** The delay before the retry that follows attempt `attempt` (1-based): the list's last one once it runs out. */
export const retryDelayFor = (attempt: number, retryDelaysMs: readonly number[]): number =>
  retryDelaysMs[Math.min(Math.max(attempt, 1), retryDelaysMs.length) - 1] ?? 1_000;
