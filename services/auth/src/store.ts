import type { Logger } from '@mp3converter/shared/logger';
import { Argon2Hasher } from './adapters/argon2.hasher.js';
import { JwtTokens } from './adapters/jwt.tokens.js';
import { ensureDatabase, migrate } from './adapters/migrations.js';
import { type Pool, createPool } from './adapters/mysql.js';
import { MysqlApiKeyRepository } from './adapters/api-key.repository.js';
import { MysqlUserRepository } from './adapters/user.repository.js';
import type { AuthConfig } from './config.js';
import { ApiKeyService } from './domain/api-keys.js';
import { AuthService } from './domain/auth.service.js';
import { KeyUsage } from './domain/key-usage.js';

export interface AuthStore {
  pool: Pool;
  auth: AuthService;
  keys: ApiKeyService;
  /** Creates the database when allowed and applies pending migrations. */
  prepare(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The service over MySQL, as the server, the CLI and the tests all need it. Two pools: one with no database
 * selected, to create the database, and one in it.
 */
export function openAuthStore(config: AuthConfig, logger: Logger): AuthStore {
  const serverPool = createPool(config, { selectDatabase: false });
  const pool = createPool(config);
  const auth = new AuthService(
    new MysqlUserRepository(pool, config.MYSQL_TIMEOUT_MS),
    new Argon2Hasher(),
    new JwtTokens(config.JWT_SECRET, config.JWT_TTL_SECONDS),
  );
  const recordEveryMs = config.API_KEY_LAST_USED_INTERVAL_SECONDS * 1000;
  const keys = new ApiKeyService(
    new MysqlApiKeyRepository(pool, config.MYSQL_TIMEOUT_MS),
    new KeyUsage({ limit: config.API_KEY_RATE_LIMIT, windowMs: config.API_KEY_RATE_WINDOW_SECONDS * 1000, recordEveryMs }),
    { maxPerUser: config.MAX_API_KEYS_PER_USER, recordEveryMs },
    { onRecordFailure: (err) => logger.warn({ err }, "an API key's last use was not recorded") },
  );
  return {
    pool,
    auth,
    keys,
    async prepare() {
      await ensureDatabase(serverPool, config.MYSQL_DB, logger);
      await migrate(pool, logger);
    },
    async close() {
      await Promise.allSettled([pool.end(), serverPool.end()]);
    },
  };
}
