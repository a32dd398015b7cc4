import type mysql from 'mysql2/promise';
import { isApiKeyScope } from '@mp3converter/shared/contracts/api-keys';
import type { ApiKeyRepository, KeyCreation, StoredApiKey } from '../domain/api-keys.js';
import { type Pool, inTransaction } from './mysql.js';

const DUPLICATE_KEY = 1062;

/** A DATETIME as epoch milliseconds, whatever the session's time zone (times are stored in UTC). */
const msOf = (column: string) => `TIMESTAMPDIFF(MICROSECOND, '1970-01-01', ${column}) DIV 1000`;
/** A Date as a UTC DATETIME(3) literal value. */
const utc = (date: Date) => date.toISOString().replace('T', ' ').replace('Z', '');

const COLUMNS = `k.id, k.name, k.scopes, ${msOf('k.created_at')} AS created_ms, ${msOf('k.expires_at')} AS expires_ms,
                 ${msOf('k.last_used_at')} AS last_used_ms`;

const dateOrNull = (ms: unknown) => (ms === null || ms === undefined ? null : new Date(Number(ms)));

function keyOf(row: mysql.RowDataPacket): StoredApiKey {
  return {
    id: String(row.id),
    name: String(row.name),
    // A scope this version does not know (a newer replica's) grants nothing here.
    scopes: String(row.scopes).split(',').filter(isApiKeyScope),
    createdAt: new Date(Number(row.created_ms)),
    expiresAt: dateOrNull(row.expires_ms),
    lastUsedAt: dateOrNull(row.last_used_ms),
  };
}

/** API keys in table `api_keys` (see migrations.ts), joined to `user` by the owner's email. */
export class MysqlApiKeyRepository implements ApiKeyRepository {
  constructor(
    private readonly pool: Pool,
    private readonly timeoutMs: number,
  ) {}

  create(owner: string, key: StoredApiKey & { secretHash: Buffer }, maxPerUser: number): Promise<KeyCreation> {
    const timeout = this.timeoutMs;
    return inTransaction(this.pool, timeout, async (conn) => {
      // The owner's row, locked: creates of one user take turns, so a burst cannot pass the limit together.
      const [users] = await conn.query<mysql.RowDataPacket[]>({ sql: 'SELECT id FROM user WHERE email = ? FOR UPDATE', values: [owner], timeout });
      const userId = users[0]?.id as number | undefined;
      if (userId === undefined) return 'no_user';
      const [counts] = await conn.query<mysql.RowDataPacket[]>({ sql: 'SELECT COUNT(*) AS n FROM api_keys WHERE user_id = ?', values: [userId], timeout });
      if (Number(counts[0]?.n) >= maxPerUser) return 'limit_reached';
      try {
        await conn.query({
          sql: `INSERT INTO api_keys (id, user_id, name, secret_hash, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          values: [key.id, userId, key.name, key.secretHash, key.scopes.join(','), utc(key.createdAt), key.expiresAt ? utc(key.expiresAt) : null],
          timeout,
        });
      } catch (err) {
        if ((err as { errno?: number }).errno === DUPLICATE_KEY) return 'id_taken';
        throw err;
      }
      return 'created';
    });
  }

  async list(owner: string): Promise<StoredApiKey[]> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>({
      sql: `SELECT ${COLUMNS} FROM api_keys k JOIN user u ON u.id = k.user_id WHERE u.email = ? ORDER BY k.created_at DESC, k.id LIMIT 1000`,
      values: [owner],
      timeout: this.timeoutMs,
    });
    return rows.map(keyOf);
  }

  async remove(owner: string, id: string): Promise<boolean> {
    const [result] = await this.pool.query<mysql.ResultSetHeader>({
      sql: 'DELETE k FROM api_keys k JOIN user u ON u.id = k.user_id WHERE k.id = ? AND u.email = ?',
      values: [id, owner],
      timeout: this.timeoutMs,
    });
    return result.affectedRows > 0;
  }

  async find(id: string): Promise<{ key: StoredApiKey; secretHash: Buffer; owner: string } | undefined> {
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>({
      sql: `SELECT ${COLUMNS}, k.secret_hash, u.email FROM api_keys k JOIN user u ON u.id = k.user_id WHERE k.id = ?`,
      values: [id],
      timeout: this.timeoutMs,
    });
    const row = rows[0];
    return row ? { key: keyOf(row), secretHash: row.secret_hash as Buffer, owner: String(row.email) } : undefined;
  }

  async recordUse(id: string, notWithinMs: number): Promise<void> {
    await this.pool.query({
      sql: `UPDATE api_keys SET last_used_at = UTC_TIMESTAMP(3)
            WHERE id = ? AND (last_used_at IS NULL OR last_used_at < UTC_TIMESTAMP(3) - INTERVAL ? MICROSECOND)`,
      values: [id, notWithinMs * 1000],
      timeout: this.timeoutMs,
    });
  }
}
