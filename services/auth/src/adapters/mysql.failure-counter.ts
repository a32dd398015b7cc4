import { createHash } from 'node:crypto';
import type mysql from 'mysql2/promise';
import type { FailureCounter } from '../domain/login-throttle.js';
import type { Pool } from './mysql.js';

/** Keys hold addresses and emails: only their hashes are stored. */
const hashOf = (key: string): Buffer => createHash('sha256').update(key).digest();

/**
 * Failure counts in table `login_failures`, one row per key, updated in one statement each (INSERT … ON
 * DUPLICATE KEY UPDATE), so replicas counting at once never lose a failure. Time is MySQL's, the same for
 * every replica.
 */
export class MysqlFailureCounter implements FailureCounter {
  constructor(
    private readonly pool: Pool,
    private readonly timeoutMs: number,
  ) {}

  async read(keys: readonly string[], windowMs: number) {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>({
      sql: 'SELECT key_hash, failures, TIMESTAMPDIFF(MICROSECOND, window_start, NOW(3)) DIV 1000 AS age_ms FROM login_failures WHERE key_hash IN (?)',
      values: [keys.map(hashOf)],
      timeout: this.timeoutMs,
    });
    const byHash = new Map(rows.map((r) => [(r.key_hash as Buffer).toString('hex'), r]));
    const counts = new Map<string, { failures: number; remainingMs: number }>();
    for (const key of keys) {
      const row = byHash.get(hashOf(key).toString('hex'));
      const age = Number(row?.age_ms ?? Number.POSITIVE_INFINITY);
      if (row && age < windowMs) counts.set(key, { failures: Number(row.failures), remainingMs: windowMs - age });
    }
    return counts;
  }

  async increment(keys: readonly string[], windowMs: number): Promise<void> {
    const expired = 'TIMESTAMPDIFF(MICROSECOND, window_start, NOW(3)) >= ? * 1000';
    for (const key of keys) {
      await this.pool.query({
        sql: `INSERT INTO login_failures (key_hash, failures, window_start) VALUES (?, 1, NOW(3))
              ON DUPLICATE KEY UPDATE failures = IF(${expired}, 1, failures + 1), window_start = IF(${expired}, NOW(3), window_start)`,
        values: [hashOf(key), windowMs, windowMs],
        timeout: this.timeoutMs,
      });
    }
  }

  async reset(key: string): Promise<void> {
    await this.pool.query({ sql: 'DELETE FROM login_failures WHERE key_hash = ?', values: [hashOf(key)], timeout: this.timeoutMs });
  }

  /** Removes counts whose window ran out long ago; the table stays as small as the recent failures. */
  async prune(windowMs: number): Promise<void> {
    await this.pool.query({
      sql: 'DELETE FROM login_failures WHERE window_start < NOW(3) - INTERVAL ? MICROSECOND',
      values: [windowMs * 1000],
      timeout: this.timeoutMs,
    });
  }
}
