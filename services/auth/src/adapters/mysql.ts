import mysql from 'mysql2/promise';
import type { AuthConfig } from '../config.js';

export type Pool = mysql.Pool;

/**
 * A pool that connects lazily: MySQL may be down when the service starts or go away later, and the pool
 * opens fresh connections once it is back, with no restart.
 */
export function createPool(config: AuthConfig, { selectDatabase = true }: { selectDatabase?: boolean } = {}): Pool {
  return mysql.createPool({
    host: config.MYSQL_HOST,
    port: config.MYSQL_PORT,
    user: config.MYSQL_USER,
    password: config.MYSQL_PASSWORD,
    ...(selectDatabase ? { database: config.MYSQL_DB } : {}),
    connectionLimit: config.MYSQL_CONNECTION_LIMIT,
    connectTimeout: config.MYSQL_TIMEOUT_MS,
    enableKeepAlive: true,
    idleTimeout: 60_000,
    maxIdle: 2,
    charset: 'utf8mb4',
  });
}

export async function ping(pool: Pool, timeoutMs: number): Promise<void> {
  await pool.query({ sql: 'SELECT 1', timeout: timeoutMs });
}

/**
 * Calls `reconnected` for each connection the pool opens after one was lost to an error (MySQL restarted,
 * the network dropped): the pool's own reconnects, which it makes without telling.
 */
export function onReconnect(pool: Pool, reconnected: () => void): void {
  let lost = 0;
  pool.on('connection', (connection) => {
    if (lost > 0) {
      lost--;
      reconnected();
    }
    (connection as unknown as NodeJS.EventEmitter).on('error', (err: { fatal?: boolean }) => {
      if (err.fatal) lost++;
    });
  });
}

/**
 * Runs `work` in a READ COMMITTED transaction on one connection, every statement bounded by `timeoutMs`
 * (`work` passes it on). Commits when `work` resolves; a connection left inside a failed transaction is
 * closed, which rolls it back, rather than given back to the pool.
 */
export async function inTransaction<T>(pool: Pool, timeoutMs: number, work: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
  const conn = await pool.getConnection();
  let settled = false;
  try {
    await conn.query({ sql: 'SET TRANSACTION ISOLATION LEVEL READ COMMITTED', timeout: timeoutMs });
    await conn.query({ sql: 'START TRANSACTION', timeout: timeoutMs });
    const result = await work(conn);
    await conn.query({ sql: 'COMMIT', timeout: timeoutMs });
    settled = true;
    return result;
  } finally {
    if (settled) conn.release();
    else conn.destroy();
  }
}
