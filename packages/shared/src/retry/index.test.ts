import { describe, expect, it } from 'vitest';
import { PermanentFailure, TransientFailure } from '../errors/index.js';
import { outcomeOf, retryDelayFor } from './index.js';

describe('outcomeOf', () => {
  it('when the failure is permanent, then dead at once, whatever the attempt', () => {
    expect(outcomeOf(new PermanentFailure('bad address'), 1, 5)).toEqual({ kind: 'dead', reason: 'bad address' });
  });

  it('when a transient failure has attempts left, then retry, naming the attempt', () => {
    expect(outcomeOf(new TransientFailure('SMTP timed out'), 2, 3)).toEqual({ kind: 'retry', reason: 'SMTP timed out', attempt: 2 });
  });

  it('when the last attempt fails, then dead, saying how many attempts were made', () => {
    expect(outcomeOf(new TransientFailure('SMTP timed out'), 3, 3)).toEqual({ kind: 'dead', reason: 'gave up after 3 attempts: SMTP timed out' });
  });

  it('when the error is not ours, then its message is not shown', () => {
    expect(outcomeOf(new Error('ECONNRESET 10.0.0.3:27017'), 1, 2)).toEqual({ kind: 'retry', reason: 'temporary failure', attempt: 1 });
  });
});

describe('retryDelayFor', () => {
  it('when attempts go on, then each takes the next delay, and the last one once the list runs out', () => {
    expect([1, 2, 3, 4, 9].map((a) => retryDelayFor(a, [100, 200, 300]))).toEqual([100, 200, 300, 300, 300]);
  });
});
