import { ConfigError, checkSecretStrength, env, loadConfig as load, z } from '@mp3converter/shared/config';
import { DEFAULT_QUEUES } from '@mp3converter/shared/contracts';
import { destinationRulesOf, webhookDestinationEnv } from '@mp3converter/shared/webhooks';

export const gatewayConfigSchema = z
  .object({
    NODE_ENV: env.nodeEnv(),
    LOG_LEVEL: env.logLevel(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.otlpTracesEndpoint(),
    HOST: env.host(),
    PORT: env.port(8080),
    HEALTH_PORT: env.port(8083),
    AUTH_SVC_ADDRESS: z
      .string()
      .regex(/^[A-Za-z0-9.\-_]+(:\d+)?$/, 'host:port, e.g. auth:5000')
      .default('auth:5000'),
    AUTH_TIMEOUT_MS: env.int(5_000, 100),
    MONGODB_URI: env.mongoUri(),
    MONGODB_TIMEOUT_MS: env.int(5_000, 100),
    MONGODB_WRITE_TIMEOUT_MS: env.int(30_000, 100),
    /**
     * GridFS chunk writes this gateway runs at once, all uploads together; more wait their turn (their bodies
     * held back). Below the MongoDB connection pool (20), so that other operations always find a connection.
     */
    STORAGE_WRITE_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(8),
    RABBITMQ_URL: env.amqpUrl(),
    AMQP_HEARTBEAT_SECONDS: env.int(30, 1),
    VIDEO_QUEUE: z.string().min(1).default(DEFAULT_QUEUES.video),
    MAX_UPLOAD_BYTES: env.int(2 * 1024 ** 3, 1),
    UPLOAD_IDLE_TIMEOUT_MS: env.int(120_000, 1_000),
    UPLOAD_LEASE_MS: env.int(300_000, 1_000),
    ORPHAN_SWEEP_INTERVAL_MS: env.int(300_000, 100),
    TRUST_PROXY: z.string().default('loopback, linklocal, uniquelocal'),
    /** Event streams (GET /events) one user may hold open at once; one more is refused with 429. */
    MAX_EVENT_STREAMS_PER_USER: env.int(5, 1),
    /** A keep-alive comment goes down each quiet event stream this often, ms. */
    EVENTS_KEEPALIVE_MS: env.int(15_000, 100),
    /** An event stream opened with an API key checks the key again this often, and ends once it is revoked, ms. */
    EVENTS_KEY_RECHECK_MS: env.int(5_000, 100),
    /** What listings (GET /jobs) read, kept while the user's list is unchanged, MB of JSON at most; 0 keeps nothing (see JobListCache). */
    JOB_LIST_CACHE_MB: env.int(16, 0),
    /** How often queue positions are refreshed for users with an open event stream, ms. */
    QUEUE_POSITION_INTERVAL_MS: env.int(3_000, 100),
    /** Signs the download links of emails and POST /jobs/{id}/link (the notification service has the same one). */
    DOWNLOAD_LINK_SECRET: z.string(),
    /** How long a signed link works, seconds; never past the MP3's own expiry. */
    DOWNLOAD_LINK_TTL_SECONDS: env.int(7 * 86_400, 60),
    /** Where people reach this gateway: the base of the links it hands out. */
    PUBLIC_GATEWAY_URL: z.url().default('https://mp3converter.com'),
    /** What one user may store at once (MP3s of finished jobs, videos of pending ones), bytes. Default 5 GiB. */
    USER_STORAGE_QUOTA_BYTES: env.int(5 * 1024 ** 3, 1),
    /** Jobs one user may have queued or converting at once; more uploads are refused with 429. */
    MAX_JOBS_IN_FLIGHT: env.int(20, 1),
    /** Jobs one user may have on the broker's queue and converting at once; more wait, held, and go as earlier ones end. */
    USER_JOB_SLOTS: env.int(2, 1),
    /** How often held jobs and interrupted publishes are looked at, besides every job's end, ms. */
    DISPATCH_SWEEP_INTERVAL_MS: env.int(5_000, 100),
    /** A publish left `pending` this long (a crash, a broker away) is made again by the sweep, ms. */
    DISPATCH_STALE_MS: env.int(30_000, 100),
    /** How long an unfinished resumable upload (tus) is kept before the sweep removes it, seconds. */
    RESUMABLE_UPLOAD_EXPIRY_SECONDS: env.int(86_400, 1),
    /** How long a resumable upload's lock lasts unless its holder renews it (a dead gateway lets go), ms. */
    RESUMABLE_UPLOAD_LOCK_MS: env.int(15_000, 300),
    /** How often expired jobs' files are removed, ms. */
    RETENTION_SWEEP_INTERVAL_MS: env.int(300_000, 100),
    /** How long past its expiry a download in progress keeps an MP3 from the sweep; then it goes, download or not, ms. */
    RETENTION_DOWNLOAD_GRACE_MS: env.int(600_000, 0),
    SHUTDOWN_TIMEOUT_MS: env.int(60_000, 1_000),
    ...webhookDestinationEnv,
    /** Webhook endpoints one user may register; one more is refused with 409. */
    WEBHOOKS_PER_USER: env.int(10, 1),
    /** How long a rotated webhook secret still signs beside the new one, seconds. Default a day. */
    WEBHOOK_SECRET_OVERLAP_SECONDS: env.int(86_400, 0),
    /** How long an upload's notify_url endpoint and its deliveries are kept, seconds. Default 7 days. */
    WEBHOOK_NOTIFY_URL_TTL_SECONDS: env.int(7 * 86_400, 60),
  })
  .superRefine((c, ctx) => checkSecretStrength(ctx, 'DOWNLOAD_LINK_SECRET', c.DOWNLOAD_LINK_SECRET, c.NODE_ENV))
  .transform((c) => ({ ...c, webhookDestinations: destinationRulesOf(c) }));

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

export function loadConfig(source: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const config = load(gatewayConfigSchema, source);
  // A stalled write must be noticed while the client still waits: past the idle timeout its socket is gone.
  if (config.MONGODB_WRITE_TIMEOUT_MS >= config.UPLOAD_IDLE_TIMEOUT_MS) {
    throw new ConfigError(['MONGODB_WRITE_TIMEOUT_MS: must be below UPLOAD_IDLE_TIMEOUT_MS']);
  }
  return config;
}
