import type mysql from 'mysql2/promise';
import type { UserRecord, UserRepository } from '../domain/auth.service.js';
import type { Pool } from './mysql.js';

export class MysqlUserRepository implements UserRepository {
  constructor(
    private readonly pool: Pool,
    private readonly timeoutMs: number,
  ) {}

  async findByEmail(email: string): Promise<UserRecord | undefined> {
    // The column's collation is case-insensitive, so rows the original stored in mixed case still match.
    const [rows] = await this.pool.query<mysql.RowDataPacket[]>({
      sql: 'SELECT id, email, password, admin FROM user WHERE email = ? LIMIT 1',
      values: [email],
      timeout: this.timeoutMs,
    });
    const row = rows[0];
    if (!row) return undefined;
    return { id: Number(row.id), email: String(row.email), passwordHash: String(row.password), admin: Boolean(row.admin) };
  }

  async create({ email, passwordHash, admin }: { email: string; passwordHash: string; admin: boolean }): Promise<boolean> {
    const [result] = await this.pool.query<mysql.ResultSetHeader>({
      sql: 'INSERT IGNORE INTO user (email, password, admin) VALUES (?, ?, ?)',
      values: [email, passwordHash, admin],
      timeout: this.timeoutMs,
    });
    return result.affectedRows === 1;
  }

  async updatePasswordHash(id: number, passwordHash: string): Promise<void> {
    await this.pool.query({ sql: 'UPDATE user SET password = ? WHERE id = ?', values: [passwordHash, id], timeout: this.timeoutMs });
  }
}
