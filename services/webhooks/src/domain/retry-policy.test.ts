import { describe, expect, it } from 'vitest';
import type { SendResult } from './ports.js';
import { afterAttempt } from './retry-policy.js';

const policy = { delaysMs: [5_000, 300_000, 1_800_000], maxAgeMs: 86_400_000 };
const started = new Date('2025-01-01T00:00:00Z');
const at = new Date('2025-01-01T00:00:10Z');
const first = { seriesAttempts: 0, seriesStartedAt: started };
const answer = (status: number, retryAfterMs: number | null = null): SendResult => ({
  kind: 'answered',
  status,
  durationMs: 12.4,
  excerpt: 'ok',
  retryAfterMs,
});

describe('after an attempt', () => {
  it.each([200, 201, 202, 204, 299])('when the receiver answers %i, then the delivery is delivered', (status) => {
    expect(afterAttempt(answer(status), first, policy, at)).toEqual({
      attempt: { at, outcome: 'delivered', status, duration_ms: 12, error: null, response_excerpt: 'ok' },
      next: { state: 'delivered' },
    });
  });

  it.each([
    ['a 500', answer(500)],
    ['a 503', answer(503)],
    ['a 429', answer(429)],
    ['a timeout', { kind: 'timeout', durationMs: 10_000, error: 'no answer within 10000 ms' } as SendResult],
    ['a network error', { kind: 'network_error', durationMs: 3, error: 'ECONNREFUSED' } as SendResult],
  ])('when %s comes, then the delivery is tried again after the delay of that retry', (_what, result) => {
    // Counted from the attempt's end.
    const ended = at.getTime() + Math.round(result.durationMs);
    expect(afterAttempt(result, first, policy, at).next).toEqual({ state: 'pending', nextAttemptAt: new Date(ended + 5_000) });
    expect(afterAttempt(result, { ...first, seriesAttempts: 2 }, policy, at).next).toEqual({
      state: 'pending',
      nextAttemptAt: new Date(ended + 1_800_000),
    });
  });

  it.each([301, 302, 307, 400, 401, 403, 404, 410, 413])(
    'when the receiver answers %i, then the delivery fails at once: redirects are not followed',
    (status) => {
      const { attempt, next } = afterAttempt(answer(status), first, policy, at);
      expect(attempt.outcome).toBe('http_error');
      expect(next).toEqual({ state: 'failed' });
    },
  );

  it('when the destination was refused, then the delivery fails at once, with the reason recorded', () => {
    const { attempt, next } = afterAttempt({ kind: 'refused_destination', durationMs: 1, error: 'x resolves to a loopback address' }, first, policy, at);
    expect(attempt).toMatchObject({ outcome: 'refused_destination', status: null, error: 'x resolves to a loopback address', response_excerpt: null });
    expect(next).toEqual({ state: 'failed' });
  });

  it('when every retry delay was used, then the delivery has failed', () => {
    expect(afterAttempt(answer(503), { ...first, seriesAttempts: 3 }, policy, at).next).toEqual({ state: 'failed' });
  });

  it('when the next retry would come more than a day after the run began, then the delivery has failed', () => {
    const late = new Date(started.getTime() + 86_400_000 - 1_000);
    expect(afterAttempt(answer(503), first, policy, late).next).toEqual({ state: 'failed' });
  });

  it('when the receiver asks to come back later (Retry-After), then the wait is the longer of that and the delay, within the day', () => {
    expect(afterAttempt(answer(429, 60_000), first, policy, at).next).toEqual({ state: 'pending', nextAttemptAt: new Date(at.getTime() + 12 + 60_000) });
    expect(afterAttempt(answer(503, 1_000), first, policy, at).next).toEqual({ state: 'pending', nextAttemptAt: new Date(at.getTime() + 12 + 5_000) });
    expect(afterAttempt(answer(503, 2 * 86_400_000), first, policy, at).next).toEqual({ state: 'failed' });
  });
});
