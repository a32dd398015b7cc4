import { createHash } from 'node:crypto';
import type mysql from 'mysql2/promise';
import type { AttemptCounter, WindowCount } from '../domain/login-throttle.js';
import { type Pool, inTransaction } from './mysql.js';

/** Keys hold addresses and emails: only their hashes are stored. */
const hashOf = (key: string): Buffer => createHash('sha256').update(key).digest();

const DEADLOCK = 1213;
const COUNT_TRIES = 3;
const PRUNE_BATCH = 10_000;

/** A window ran out when it began `windowMs` or longer ago. Times are UTC (DATETIME), MySQL's own clock. */
const EXPIRED = 'window_start <= UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND';
/** When the window began, in µs since the epoch: exact, whatever the session's time zone. */
const WINDOW_ID = "TIMESTAMPDIFF(MICROSECOND, '1970-01-01', window_start)";

/**
 * Attempt counts in table `login_failures` (column `failures`: failures, and attempts still being checked),
 * one row per key, shared by every replica. Each count is an INSERT … ON DUPLICATE KEY UPDATE whose row
 * locks are held until the new values are read back, so callers counting at once each see their own count.
 */
export class MysqlAttemptCounter implements AttemptCounter {
  constructor(
    private readonly pool: Pool,
    private readonly timeoutMs: number,
  ) {}

  async count(keys: readonly string[], windowMs: number): Promise<Map<string, WindowCount>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.countOnce(keys, windowMs);
      } catch (err) {
        // Two counts locking the same rows may deadlock; MySQL rolls one back, and that one simply goes again.
        if ((err as { errno?: number }).errno !== DEADLOCK || attempt >= COUNT_TRIES) throw err;
      }
    }
  }

  private async countOnce(keys: readonly string[], windowMs: number): Promise<Map<string, WindowCount>> {
    // Rows locked in one order by everyone, so two counts cannot wait on each other.
    const hashes = keys.map((key) => ({ key, hash: hashOf(key) })).sort((a, b) => Buffer.compare(a.hash, b.hash));
    const windowUs = windowMs * 1000;
    const timeout = this.timeoutMs;
    // READ COMMITTED: no gap locks, only the rows counted are locked. Every statement has a deadline, the
    // transaction's own included: a MySQL that stops answering gives a 503, never a hung login.
    const rows = await inTransaction(this.pool, timeout, async (conn) => {
      await conn.query({
        sql: `INSERT INTO login_failures (key_hash, failures, window_start)
              VALUES ${hashes.map(() => '(?, 1, UTC_TIMESTAMP(3))').join(', ')}
              ON DUPLICATE KEY UPDATE failures = IF(${EXPIRED}, 1, failures + 1),
                                      window_start = IF(${EXPIRED}, UTC_TIMESTAMP(3), window_start)`,
        values: [...hashes.map((h) => h.hash), windowUs, windowUs],
        timeout,
      });
      const [read] = await conn.query<mysql.RowDataPacket[]>({
        sql: `SELECT key_hash, failures, ${WINDOW_ID} AS window_id,
                     TIMESTAMPDIFF(MICROSECOND, window_start, UTC_TIMESTAMP(3)) DIV 1000 AS age_ms
              FROM login_failures WHERE key_hash IN (?)`,
        values: [hashes.map((h) => h.hash)],
        timeout,
      });
      return read;
    });
    const byHash = new Map(rows.map((r) => [(r.key_hash as Buffer).toString('hex'), r]));
    const counts = new Map<string, WindowCount>();
    for (const { key, hash } of hashes) {
      const row = byHash.get(hash.toString('hex'));
      if (!row) throw new Error('a counted attempt was not read back');
      const age = Math.min(Math.max(Number(row.age_ms), 0), windowMs);
      counts.set(key, { attempts: Number(row.failures), remainingMs: windowMs - age, windowId: Number(row.window_id) });
    }
    return counts;
  }

  async takeBack(counted: ReadonlyArray<{ key: string; windowId: number }>): Promise<void> {
    if (counted.length === 0) return;
    await this.pool.query({
      sql: `UPDATE login_failures SET failures = failures - 1
            WHERE failures > 0 AND (${counted.map(() => `(key_hash = ? AND ${WINDOW_ID} = ?)`).join(' OR ')})`,
      values: counted.flatMap((c) => [hashOf(c.key), c.windowId]),
      timeout: this.timeoutMs,
    });
  }

  async clear(key: string): Promise<void> {
    await this.pool.query({ sql: 'DELETE FROM login_failures WHERE key_hash = ?', values: [hashOf(key)], timeout: this.timeoutMs });
  }

  /**
   * Removes counts whose window ran out; the table stays as small as the recent attempts. In batches, so a
   * table grown by an attack is emptied without one long lock. Returns how many rows went.
   */
  async prune(windowMs: number): Promise<number> {
    let removed = 0;
    for (;;) {
      const [result] = await this.pool.query<mysql.ResultSetHeader>({
        sql: `DELETE FROM login_failures WHERE ${EXPIRED} LIMIT ${PRUNE_BATCH}`,
        values: [windowMs * 1000],
        timeout: this.timeoutMs,
      });
      removed += result.affectedRows;
      if (result.affectedRows < PRUNE_BATCH) return removed;
    }
  }
}
