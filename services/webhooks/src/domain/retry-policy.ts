import type { Attempt, ClaimedDelivery, NextStep } from '@mp3converter/shared/webhooks';
import type { SendResult } from './ports.js';

export interface RetryPolicy {
  /** Before each retry of a run, ms; once they are used up, the delivery has failed. */
  delaysMs: readonly number[];
  /** No retry later than this after the run began, ms. */
  maxAgeMs: number;
}

/**
 * Worth another try: no answer in time, the network failing, the receiver failing (5xx) or asking to slow
 * down (429). Anything else the receiver said (3xx, other 4xx) will be said again: the delivery has failed,
 * and its owner can ask for it again once the receiver is fixed. Redirects are answers, never followed.
 */
const retryable = (result: SendResult): boolean =>
  result.kind === 'timeout' || result.kind === 'network_error' || (result.kind === 'answered' && (result.status === 429 || result.status >= 500));

/** One attempt's record, and where the delivery goes after it. */
export function afterAttempt(
  result: SendResult,
  claim: Pick<ClaimedDelivery, 'seriesAttempts' | 'seriesStartedAt'>,
  policy: RetryPolicy,
  at: Date,
): { attempt: Attempt; next: NextStep } {
  const answered = result.kind === 'answered';
  const delivered = answered && result.status >= 200 && result.status < 300;
  const attempt: Attempt = {
    at,
    outcome: delivered ? 'delivered' : answered ? 'http_error' : result.kind,
    status: answered ? result.status : null,
    duration_ms: Math.round(result.durationMs),
    error: answered ? null : result.error,
    response_excerpt: answered ? result.excerpt : null,
  };
  if (delivered) return { attempt, next: { state: 'delivered' } };
  const delay = policy.delaysMs[claim.seriesAttempts];
  if (!retryable(result) || delay === undefined) return { attempt, next: { state: 'failed' } };
  // A receiver that says when to come back (Retry-After) is heeded, within the run's day.
  const wait = Math.max(delay, answered ? (result.retryAfterMs ?? 0) : 0);
  // Counted from the attempt's end: a receiver that took the whole timeout still gets its full delay.
  const nextAttemptAt = new Date(at.getTime() + Math.round(result.durationMs) + wait);
  if (nextAttemptAt.getTime() > claim.seriesStartedAt.getTime() + policy.maxAgeMs) return { attempt, next: { state: 'failed' } };
  return { attempt, next: { state: 'pending', nextAttemptAt } };
}
