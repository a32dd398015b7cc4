import { z } from 'zod';

/** Thrown when the environment does not satisfy a service's schema; lists every bad key at once. */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses `env` with `schema`. Empty strings count as unset, so `FOO=` in an env file falls back to the
 * default instead of failing a number or URL check.
 */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
}

/** Field builders shared by every service schema. */
export const env = {
  port: (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback),
  /**
   * The address the service's ports are bound to. Loopback unless told otherwise: a process started by hand
   * is not reachable from the network. The images set 0.0.0.0 (a pod or container is reached on its own
   * address), and so do the ConfigMaps.
   */
  host: () => z.string().min(1).default('127.0.0.1'),
  int: (fallback: number, min = 0) => z.coerce.number().int().min(min).default(fallback),
  bool: (fallback: boolean) => z.stringbool().default(fallback),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  nodeEnv: () => z.enum(['development', 'production', 'test']).default('production'),
  /** A MongoDB connection string; the default is the in-cluster Service. */
  mongoUri: () =>
    z
      .string()
      .regex(/^mongodb(\+srv)?:\/\//, 'a mongodb:// URI')
      .default('mongodb://mongodb:27017'),
  /** A RabbitMQ URL; the default is the original's host `rabbitmq` with its guest login. */
  amqpUrl: () =>
    z
      .string()
      .regex(/^amqps?:\/\//, 'an amqp:// URL')
      .default('amqp://guest:guest@rabbitmq:5672'),
  /** Where spans are sent (OTLP over HTTP, e.g. `http://otel-collector:4318/v1/traces`); unset, none leave the process. */
  otlpTracesEndpoint: () => z.preprocess((v) => (v === '' ? undefined : v), z.url({ protocol: /^https?$/ }).optional()),
  /** Comma-separated list of positive integers, e.g. `1000,5000,30000`. */
  intList: (fallback: string) =>
    z
      .string()
      .default(fallback)
      .transform((s, ctx) => {
        const parts = s.split(',').map((p) => Number(p.trim()));
        if (parts.length === 0 || parts.some((n) => !Number.isInteger(n) || n <= 0)) {
          ctx.addIssue({ code: 'custom', message: 'expected a comma-separated list of positive integers' });
          return z.NEVER;
        }
        return parts;
      }),
} as const;

/** Bytes a signing secret needs outside development (generate one with: openssl rand -base64 48). */
export const MIN_SECRET_BYTES = 32;

/**
 * Signing secrets that anyone can read: the original's, and the development defaults committed in this
 * repository (docker-compose.yml). Whoever knows one can sign tokens or download links, so none is taken
 * outside development. A default committed anywhere in the repository belongs here.
 */
export const KNOWN_DEFAULT_SECRETS: ReadonlySet<string> = new Set([
  // the original's JWT_SECRET (its auth-secret manifest)
  'sarcasm',
  // docker-compose.yml's JWT_SECRET and DOWNLOAD_LINK_SECRET when no .env sets them
  'development-only-secret-change-me-0123456789',
  'development-only-link-secret-change-me-0123',
]);

/** Passwords anyone can read: the original's seed user's, which start.sh and docker-compose.yml still seed. */
export const KNOWN_DEFAULT_PASSWORDS: ReadonlySet<string> = new Set(['Admin123']);

/**
 * For a schema's superRefine: outside development, a signing secret of fewer than MIN_SECRET_BYTES, or one
 * of KNOWN_DEFAULT_SECRETS, is refused.
 */
export function checkSecretStrength(ctx: z.RefinementCtx, key: string, value: string, nodeEnv: string): void {
  if (nodeEnv === 'development') return;
  if (KNOWN_DEFAULT_SECRETS.has(value)) {
    ctx.addIssue({
      code: 'custom',
      path: [key],
      message: 'is a published development default, accepted in NODE_ENV=development only (generate one with: openssl rand -base64 48)',
    });
  }
  if (Buffer.byteLength(value) < MIN_SECRET_BYTES) {
    ctx.addIssue({
      code: 'custom',
      path: [key],
      message: `must be at least ${MIN_SECRET_BYTES} bytes outside development (generate one with: openssl rand -base64 48)`,
    });
  }
}

export { z };
