import { KNOWN_DEFAULT_PASSWORDS, checkSecretStrength, env, loadConfig as load, z } from '@mp3converter/shared/config';

export const authConfigSchema = z
  .object({
    NODE_ENV: env.nodeEnv(),
    LOG_LEVEL: env.logLevel(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.otlpTracesEndpoint(),
    HOST: env.host(),
    PORT: env.port(5000),
    HEALTH_PORT: env.port(8084),
    MYSQL_HOST: z.string().default('localhost'),
    MYSQL_PORT: env.port(3306),
    MYSQL_USER: z.string().default('auth_user'),
    MYSQL_PASSWORD: z.string().default(''),
    MYSQL_DB: z
      .string()
      .regex(/^[A-Za-z0-9_]+$/, 'letters, digits and _ only')
      .default('auth'),
    MYSQL_CONNECTION_LIMIT: env.int(10, 1),
    MYSQL_TIMEOUT_MS: env.int(5_000, 100),
    JWT_SECRET: z.string(),
    JWT_TTL_SECONDS: env.int(86_400, 60),
    SEED_USER_EMAIL: z.email().optional(),
    SEED_USER_PASSWORD: z.string().min(1).optional(),
    SEED_USER_ADMIN: env.bool(true),
    /** Failed logins per window from one address for one email. */
    LOGIN_RATE_LIMIT: env.int(10, 1),
    /** Failed logins per window from one address, whatever the emails: stops spraying one password over many. */
    LOGIN_ADDRESS_RATE_LIMIT: env.int(50, 1),
    LOGIN_RATE_WINDOW_SECONDS: env.int(60, 1),
    /** API keys one user may hold (expired ones count until revoked). */
    MAX_API_KEYS_PER_USER: env.int(20, 1),
    /** Requests one API key may make per window, on each auth replica; one more gets 429 with Retry-After. */
    API_KEY_RATE_LIMIT: env.int(600, 1),
    API_KEY_RATE_WINDOW_SECONDS: env.int(60, 1),
    /** A key's last use is written to MySQL at most this often, seconds. */
    API_KEY_LAST_USED_INTERVAL_SECONDS: env.int(60, 1),
    TRUST_PROXY: z.string().default('loopback, linklocal, uniquelocal'),
    SHUTDOWN_TIMEOUT_MS: env.int(20_000, 1_000),
  })
  .superRefine((c, ctx) => {
    checkSecretStrength(ctx, 'JWT_SECRET', c.JWT_SECRET, c.NODE_ENV);
    if (c.NODE_ENV !== 'development' && c.SEED_USER_PASSWORD !== undefined && KNOWN_DEFAULT_PASSWORDS.has(c.SEED_USER_PASSWORD)) {
      ctx.addIssue({
        code: 'custom',
        path: ['SEED_USER_PASSWORD'],
        message: 'is a published development default, accepted in NODE_ENV=development only',
      });
    }
    if ((c.SEED_USER_EMAIL === undefined) !== (c.SEED_USER_PASSWORD === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['SEED_USER_PASSWORD'],
        message: 'SEED_USER_EMAIL and SEED_USER_PASSWORD go together',
      });
    }
  });

export type AuthConfig = z.output<typeof authConfigSchema>;

export const loadConfig = (source: NodeJS.ProcessEnv = process.env): AuthConfig => load(authConfigSchema, source);
