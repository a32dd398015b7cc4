import { describe, expect, it } from 'vitest';
import { type AttemptCounter, type LoginAttempt, LoginThrottle, type WindowCount, accountKey, addressKey } from './login-throttle.js';

/** Fixed windows in memory, on a clock the test moves. */
class FakeCounter implements AttemptCounter {
  now = 0;
  readonly windows = new Map<string, { attempts: number; start: number }>();

  async count(keys: readonly string[], windowMs: number) {
    const counts = new Map<string, WindowCount>();
    for (const key of keys) {
      let w = this.windows.get(key);
      if (!w || this.now - w.start >= windowMs) {
        w = { attempts: 0, start: this.now };
        this.windows.set(key, w);
      }
      w.attempts += 1;
      counts.set(key, { attempts: w.attempts, remainingMs: windowMs - (this.now - w.start), windowId: w.start });
    }
    return counts;
  }

  async takeBack(counted: ReadonlyArray<{ key: string; windowId: number }>) {
    for (const { key, windowId } of counted) {
      const w = this.windows.get(key);
      if (w && w.start === windowId && w.attempts > 0) w.attempts -= 1;
    }
  }

  async clear(key: string) {
    this.windows.delete(key);
  }

  attemptsOf(key: string): number {
    return this.windows.get(key)?.attempts ?? 0;
  }
}

const limits = { perAccount: 3, perAddress: 5, windowMs: 60_000 };
const setup = () => {
  const counter = new FakeCounter();
  return { counter, throttle: new LoginThrottle(counter, limits) };
};

/** Tries to log in with a wrong password: the attempt is left counted. */
async function fail(throttle: LoginThrottle, address: string, email: string): Promise<LoginAttempt> {
  return throttle.begin(address, email);
}

describe('LoginThrottle', () => {
  it('when an address fails on one email up to the limit, then the next try is refused until the window ends', async () => {
    const { counter, throttle } = setup();
    for (let i = 0; i < 3; i++) expect((await fail(throttle, '203.0.113.1', 'a@x.io')).allowed).toBe(true);
    counter.now = 20_000;
    expect(await throttle.begin('203.0.113.1', 'a@x.io')).toEqual({ allowed: false, retryAfterMs: 40_000 });
    counter.now = 60_000;
    expect((await throttle.begin('203.0.113.1', 'a@x.io')).allowed).toBe(true);
  });

  it('when a stranger fails on a user’s email, then the user’s own address is not refused', async () => {
    const { throttle } = setup();
    for (let i = 0; i < 10; i++) await fail(throttle, '203.0.113.66', 'user@x.io');
    expect((await throttle.begin('203.0.113.66', 'user@x.io')).allowed).toBe(false);
    expect((await throttle.begin('192.0.2.10', 'user@x.io')).allowed).toBe(true);
  });

  it('when one address sprays many emails, then it is refused after the per-address limit', async () => {
    const { throttle } = setup();
    const allowed = [];
    for (let i = 0; i < 8; i++) allowed.push((await fail(throttle, '203.0.113.2', `user${i}@x.io`)).allowed);
    expect(allowed).toEqual([true, true, true, true, true, false, false, false]);
  });

  it('when both limits refuse, then the wait is the longer one', async () => {
    const { counter, throttle } = setup();
    await fail(throttle, '203.0.113.3', 'other0@x.io');
    counter.now = 30_000;
    for (let i = 0; i < 3; i++) await fail(throttle, '203.0.113.3', 'a@x.io');
    counter.now = 40_000;
    await fail(throttle, '203.0.113.3', 'other1@x.io');
    // The address's window (from 0 s) lets a try through in 20 s, the account's (from 30 s) in 50 s.
    expect(await throttle.begin('203.0.113.3', 'a@x.io')).toEqual({ allowed: false, retryAfterMs: 50_000 });
  });

  it('when a try is refused, then it is not counted, so retrying does not lengthen the wait', async () => {
    const { counter, throttle } = setup();
    for (let i = 0; i < 5; i++) await fail(throttle, '203.0.113.4', `sprayed${i}@x.io`);
    // A user behind the same address retries while it is refused.
    for (let i = 0; i < 10; i++) expect((await throttle.begin('203.0.113.4', 'user@x.io')).allowed).toBe(false);
    expect(counter.attemptsOf(accountKey('203.0.113.4', 'user@x.io'))).toBe(0);
    expect(counter.attemptsOf(addressKey('203.0.113.4'))).toBe(5);
  });

  it('when the password is right, then the address-and-email count starts again and the address count is not raised', async () => {
    const { counter, throttle } = setup();
    await fail(throttle, '192.0.2.11', 'user@x.io');
    await fail(throttle, '192.0.2.11', 'user@x.io');
    const attempt = await throttle.begin('192.0.2.11', 'user@x.io');
    if (!attempt.allowed) throw new Error('refused');
    await attempt.succeeded();
    expect(counter.attemptsOf(accountKey('192.0.2.11', 'user@x.io'))).toBe(0);
    expect(counter.attemptsOf(addressKey('192.0.2.11'))).toBe(2);
  });

  it('when a login succeeds between guesses, then the address count still stops the guesses', async () => {
    const { throttle } = setup();
    const allowed = [];
    for (let i = 0; i < 8; i++) {
      const own = await throttle.begin('203.0.113.5', 'attacker@x.io');
      if (own.allowed) await own.succeeded();
      allowed.push((await fail(throttle, '203.0.113.5', `victim${i}@x.io`)).allowed);
    }
    expect(allowed.filter(Boolean)).toHaveLength(5);
  });

  it('when the password could not be checked, then the attempt is taken back', async () => {
    const { counter, throttle } = setup();
    const attempt = await throttle.begin('192.0.2.12', 'user@x.io');
    if (!attempt.allowed) throw new Error('refused');
    await attempt.abandoned();
    expect(counter.attemptsOf(accountKey('192.0.2.12', 'user@x.io'))).toBe(0);
    expect(counter.attemptsOf(addressKey('192.0.2.12'))).toBe(0);
  });

  it('when an attempt is taken back after its window ended, then the new window keeps its count', async () => {
    const { counter, throttle } = setup();
    const old = await throttle.begin('192.0.2.13', 'user@x.io');
    counter.now = 60_000;
    await fail(throttle, '192.0.2.13', 'user@x.io');
    if (!old.allowed) throw new Error('refused');
    await old.abandoned();
    expect(counter.attemptsOf(addressKey('192.0.2.13'))).toBe(1);
  });
});
