import type { Logger } from '@mp3converter/shared/logger';
import type mysql from 'mysql2/promise';
import type { Pool } from './mysql.js';

interface Migration {
  version: number;
  name: string;
  sql: string[];
}

/**
 * Append only. Version 1 is the original's table exactly, so a database created by the original's
 * init.sql is adopted as is; later versions add what the port needs.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create user table (the original schema)',
    sql: [
      `CREATE TABLE IF NOT EXISTS user (
         id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
         email VARCHAR(255) NOT NULL UNIQUE,
         password VARCHAR(255) NOT NULL
       ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci`,
    ],
  },
  {
    version: 2,
    name: 'add admin flag and timestamps',
    sql: [
      `ALTER TABLE user
         ADD COLUMN admin BOOLEAN NOT NULL DEFAULT FALSE,
         ADD COLUMN created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
         ADD COLUMN updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP`,
    ],
  },
  {
    version: 3,
    name: 'failed logins per address and per address and email, shared by every replica',
    sql: [
      `CREATE TABLE IF NOT EXISTS login_failures (
         key_hash BINARY(32) NOT NULL PRIMARY KEY,
         failures INT NOT NULL,
         window_start TIMESTAMP(3) NOT NULL,
         KEY window_start (window_start)
       )`,
    ],
  },
  {
    version: 4,
    name: 'login windows in UTC, whatever the server time zone',
    // A TIMESTAMP is read and written in the session's time zone, so a window could jump by an hour at a
    // daylight-saving change; a DATETIME written with UTC_TIMESTAMP cannot. The counts present (one window's
    // worth) start again rather than be carried over through that same conversion.
    sql: ['DELETE FROM login_failures', 'ALTER TABLE login_failures MODIFY window_start DATETIME(3) NOT NULL'],
  },
  {
    version: 5,
    name: 'API keys: the hash of each secret, never the secret',
    // No foreign key to user: a database adopted from the original's init.sql may hold `user` in any engine.
    // A key whose user is gone matches no join, so it works for nobody. Times in UTC, as login_failures.
    sql: [
      `CREATE TABLE IF NOT EXISTS api_keys (
         id CHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
         user_id INT NOT NULL,
         name VARCHAR(100) NOT NULL,
         secret_hash BINARY(32) NOT NULL,
         scopes VARCHAR(64) CHARACTER SET ascii NOT NULL,
         created_at DATETIME(3) NOT NULL,
         expires_at DATETIME(3) NULL,
         last_used_at DATETIME(3) NULL,
         KEY user_keys (user_id, created_at)
       ) DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci`,
    ],
  },
];

/**
 * Creates the database when the account may; an account limited to an existing database (the original's
 * `auth_user`) gets an access-denied error here, which is fine as long as the database exists.
 */
export async function ensureDatabase(pool: Pool, database: string, logger: Logger): Promise<void> {
  try {
    await pool.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno !== 1044 && errno !== 1045) throw err;
    logger.debug({ database }, 'no privilege to create the database; assuming it exists');
  }
}

const LOCK_NAME = 'mp3converter_auth_migrations';
const LOCK_TIMEOUT_S = 60;

/**
 * Applies pending migrations under a MySQL named lock, so replicas starting together take turns and each
 * version runs once. Safe to call on every start.
 */
export async function migrate(pool: Pool, logger: Logger): Promise<number[]> {
  const conn = await pool.getConnection();
  try {
    const [lockRows] = await conn.query<mysql.RowDataPacket[]>('SELECT GET_LOCK(?, ?) AS got', [LOCK_NAME, LOCK_TIMEOUT_S]);
    if (lockRows[0]?.got !== 1) throw new Error('timed out waiting for the migration lock');
    try {
      await conn.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version INT NOT NULL PRIMARY KEY,
           name VARCHAR(255) NOT NULL,
           applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
         )`,
      );
      const [rows] = await conn.query<mysql.RowDataPacket[]>('SELECT version FROM schema_migrations');
      const applied = new Set(rows.map((r) => Number(r.version)));
      const done: number[] = [];
      for (const migration of MIGRATIONS) {
        if (applied.has(migration.version)) continue;
        for (const statement of migration.sql) await conn.query(statement);
        await conn.query('INSERT INTO schema_migrations (version, name) VALUES (?, ?)', [migration.version, migration.name]);
        logger.info({ version: migration.version, name: migration.name }, 'migration applied');
        done.push(migration.version);
      }
      return done;
    } finally {
      await conn.query('SELECT RELEASE_LOCK(?)', [LOCK_NAME]);
    }
  } finally {
    conn.release();
  }
}
