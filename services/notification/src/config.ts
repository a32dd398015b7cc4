import { checkSecretStrength, env, loadConfig as load, z } from '@mp3converter/shared/config';
import { DEFAULT_QUEUES } from '@mp3converter/shared/contracts';

const schema = z
  .object({
    NODE_ENV: env.nodeEnv(),
    LOG_LEVEL: env.logLevel(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.otlpTracesEndpoint(),
    HOST: env.host(),
    HEALTH_PORT: env.port(8082),
    MONGODB_URI: env.mongoUri(),
    RABBITMQ_URL: env.amqpUrl(),
    AMQP_HEARTBEAT_SECONDS: env.int(30, 1),
    MP3_QUEUE: z.string().min(1).default(DEFAULT_QUEUES.mp3),
    FAILED_QUEUE: z.string().min(1).default(DEFAULT_QUEUES.failed),
    /** Kept from the original's ConfigMap, where it was unused; it is unused here too. */
    VIDEO_QUEUE: z.string().optional(),
    CONCURRENCY: env.int(4, 1),
    SMTP_HOST: z.string().optional(),
    SMTP_PORT: env.port(587),
    /** true: TLS from the first byte (port 465); false: plain, upgraded with STARTTLS when offered. */
    SMTP_SECURE: env.bool(false),
    /** Refuse to send unless the server offers STARTTLS (always on for Gmail). */
    SMTP_REQUIRE_TLS: env.bool(false),
    SMTP_USER: z.string().optional(),
    SMTP_PASSWORD: z.string().optional(),
    SMTP_TIMEOUT_MS: env.int(20_000, 100),
    MAIL_FROM: z.string().optional(),
    /** The original's names: a Gmail address and app password, a shortcut for smtp.gmail.com:587. */
    GMAIL_ADDRESS: z.email().optional(),
    GMAIL_PASSWORD: z.string().optional(),
    PUBLIC_GATEWAY_URL: z.url().default('http://mp3converter.com'),
    /** Signs the download links in the emails; the gateway, which checks them, has the same one. */
    DOWNLOAD_LINK_SECRET: z.string(),
    /** How long an email's link works, seconds; never past the MP3's own expiry. Default 7 days. */
    DOWNLOAD_LINK_TTL_SECONDS: env.int(7 * 86_400, 60),
    /** Entries of the sent-log older than this are removed, days. Default 30. */
    SENT_LOG_RETENTION_DAYS: env.int(30, 1),
    RETRY_DELAYS_MS: env.intList('5000,30000,120000,600000'),
    /** Claims of one notification before it is given up on (dead-lettered). Default: one per retry delay, plus one. */
    MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).optional(),
    DEAD_LETTER_MAX_LENGTH: env.int(10_000, 1),
    DEAD_LETTER_MAX_AGE_MS: env.int(14 * 24 * 3600_000, 1_000),
    SHUTDOWN_TIMEOUT_MS: env.int(20_000, 1_000),
  })
  .superRefine((c, ctx) => {
    checkSecretStrength(ctx, 'DOWNLOAD_LINK_SECRET', c.DOWNLOAD_LINK_SECRET, c.NODE_ENV);
    if (!c.SMTP_HOST && !c.GMAIL_ADDRESS) {
      ctx.addIssue({ code: 'custom', path: ['SMTP_HOST'], message: 'set SMTP_HOST (or GMAIL_ADDRESS and GMAIL_PASSWORD)' });
    }
    if (c.GMAIL_ADDRESS && !c.GMAIL_PASSWORD && !c.SMTP_HOST) {
      ctx.addIssue({ code: 'custom', path: ['GMAIL_PASSWORD'], message: 'GMAIL_ADDRESS needs GMAIL_PASSWORD (a Google app password)' });
    }
    if (!c.MAIL_FROM && !c.GMAIL_ADDRESS && !c.SMTP_USER?.includes('@')) {
      ctx.addIssue({ code: 'custom', path: ['MAIL_FROM'], message: 'set MAIL_FROM, the sender address' });
    }
  })
  .transform((c) => {
    const gmail = !c.SMTP_HOST && c.GMAIL_ADDRESS !== undefined;
    return {
      ...c,
      MAX_ATTEMPTS: c.MAX_ATTEMPTS ?? c.RETRY_DELAYS_MS.length + 1,
      smtp: gmail
        ? { host: 'smtp.gmail.com', port: 587, secure: false, requireTls: true, user: c.GMAIL_ADDRESS, password: c.GMAIL_PASSWORD }
        : { host: c.SMTP_HOST!, port: c.SMTP_PORT, secure: c.SMTP_SECURE, requireTls: c.SMTP_REQUIRE_TLS, user: c.SMTP_USER, password: c.SMTP_PASSWORD },
      mailFrom: c.MAIL_FROM ?? c.GMAIL_ADDRESS ?? c.SMTP_USER!,
    };
  });

export const notificationConfigSchema = schema;
export type NotificationConfig = z.output<typeof schema>;

export const loadConfig = (source: NodeJS.ProcessEnv = process.env): NotificationConfig => load(schema, source);
