import { createHash } from 'node:crypto';
import { testLogger, uniqueName, waitFor } from '@mp3converter/shared/testing';
import type mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MysqlAttemptCounter } from '../src/adapters/mysql.attempt-counter.js';
import { type AuthStore, openAuthStore } from '../src/store.js';
import { testConfig } from './helpers.js';

let store: AuthStore;
let counter: MysqlAttemptCounter;

beforeAll(async () => {
  store = openAuthStore(testConfig(), testLogger());
  await store.prepare();
  counter = new MysqlAttemptCounter(store.pool, 5_000);
});
afterAll(() => store.close());

const hashOf = (key: string) => createHash('sha256').update(key).digest();
const hasRow = async (key: string) => {
  const [rows] = await store.pool.query<mysql.RowDataPacket[]>('SELECT 1 FROM login_failures WHERE key_hash = ?', [hashOf(key)]);
  return rows.length > 0;
};

describe('attempt counts in MySQL', () => {
  it('when many counts of one key run at once, then each sees its own count', async () => {
    const key = uniqueName('burst');
    const counts = await Promise.all(Array.from({ length: 30 }, () => counter.count([key, uniqueName('other')], 60_000)));
    expect(counts.map((c) => c.get(key)?.attempts).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('when a window runs out, then the next count starts a new one', async () => {
    const key = uniqueName('window');
    const first = (await counter.count([key], 300)).get(key)!;
    expect(first.attempts).toBe(1);
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(first.remainingMs).toBeLessThanOrEqual(300);
    await counter.count([key], 300);
    const next = await waitFor(async () => {
      const c = (await counter.count([key], 300)).get(key)!;
      return c.windowId !== first.windowId ? c : undefined;
    });
    expect(next.attempts).toBe(1);
  });

  it('when an attempt is taken back, then only from the window it was counted in', async () => {
    const key = uniqueName('takeback');
    const first = (await counter.count([key], 60_000)).get(key)!;
    await counter.count([key], 60_000);
    await counter.takeBack([{ key, windowId: first.windowId }]);
    expect((await counter.count([key], 60_000)).get(key)?.attempts).toBe(2);
    // Counted with a short window, the first one has run out and a new one begins.
    const fresh = await waitFor(async () => {
      const c = (await counter.count([key], 100)).get(key)!;
      return c.windowId !== first.windowId ? c : undefined;
    });
    await counter.takeBack([{ key, windowId: first.windowId }]);
    expect((await counter.count([key], 60_000)).get(key)?.attempts).toBe(fresh.attempts + 1);
  });

  it('when counts are pruned, then those whose window ran out go and the current ones stay', async () => {
    const old = uniqueName('old');
    const current = uniqueName('current');
    await counter.count([old, current], 60_000);
    await store.pool.query('UPDATE login_failures SET window_start = UTC_TIMESTAMP(3) - INTERVAL 2 MINUTE WHERE key_hash = ?', [hashOf(old)]);
    expect(await counter.prune(60_000)).toBeGreaterThanOrEqual(1);
    expect(await hasRow(old)).toBe(false);
    expect((await counter.count([current], 60_000)).get(current)?.attempts).toBe(2);
  });
});
