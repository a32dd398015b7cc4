import { describe, expect, it } from 'vitest';
import { KeyUsage } from './key-usage.js';

const clock = () => {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

describe('KeyUsage', () => {
  it('when a key makes its limit of requests at once, then the next is refused until a token has come back', () => {
    const time = clock();
    const usage = new KeyUsage({ limit: 3, windowMs: 3_000, recordEveryMs: 60_000 }, time.now);
    for (let i = 0; i < 3; i++) expect(usage.admit('k').allowed).toBe(true);
    expect(usage.admit('k')).toEqual({ allowed: false, retryAfterMs: 1_000 });
    time.advance(999);
    expect(usage.admit('k').allowed).toBe(false);
    time.advance(1);
    expect(usage.admit('k').allowed).toBe(true);
  });

  it('when one key is at its limit, then another key is not', () => {
    const usage = new KeyUsage({ limit: 1, windowMs: 60_000, recordEveryMs: 60_000 }, clock().now);
    expect(usage.admit('a').allowed).toBe(true);
    expect(usage.admit('a').allowed).toBe(false);
    expect(usage.admit('b').allowed).toBe(true);
  });

  it('when a key is used over and over, then its use is to be recorded once per interval', () => {
    const time = clock();
    const usage = new KeyUsage({ limit: 1_000, windowMs: 1_000, recordEveryMs: 60_000 }, time.now);
    const records = () => {
      const a = usage.admit('k');
      return a.allowed && a.record;
    };
    expect(records()).toBe(true);
    for (let i = 0; i < 50; i++) {
      time.advance(1_000);
      expect(records()).toBe(false);
    }
    time.advance(10_000);
    expect(records()).toBe(true);
  });

  it('when a refused request comes, then it neither records nor spends anything', () => {
    const time = clock();
    const usage = new KeyUsage({ limit: 1, windowMs: 10_000, recordEveryMs: 1 }, time.now);
    usage.admit('k');
    time.advance(5);
    expect(usage.admit('k')).toEqual({ allowed: false, retryAfterMs: 9_995 });
    time.advance(9_995);
    expect(usage.admit('k')).toEqual({ allowed: true, record: true });
  });

  it('when many keys have come and gone idle, then they are let go and memory stays bounded', () => {
    const time = clock();
    const usage = new KeyUsage({ limit: 10, windowMs: 1_000, recordEveryMs: 1_000 }, time.now);
    for (let i = 0; i < 10_000; i++) usage.admit(`k${i}`);
    time.advance(1_000);
    usage.admit('fresh');
    expect(usage.size).toBe(1);
  });

  it('when a key is forgotten (revoked), then its state goes', () => {
    const usage = new KeyUsage({ limit: 1, windowMs: 60_000, recordEveryMs: 60_000 }, clock().now);
    usage.admit('k');
    usage.forget('k');
    expect(usage.size).toBe(0);
  });
});
