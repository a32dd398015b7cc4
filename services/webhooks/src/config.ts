import { env, loadConfig as load, z } from '@mp3converter/shared/config';
import { WEBHOOK_EVENTS_QUEUE, destinationRulesOf, webhookDestinationEnv } from '@mp3converter/shared/webhooks';

const schema = z
  .object({
    NODE_ENV: env.nodeEnv(),
    LOG_LEVEL: env.logLevel(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.otlpTracesEndpoint(),
    HOST: env.host(),
    HEALTH_PORT: env.port(8085),
    MONGODB_URI: env.mongoUri(),
    RABBITMQ_URL: env.amqpUrl(),
    AMQP_HEARTBEAT_SECONDS: env.int(30, 1),
    /** This worker's queue of job events (bound to `job.events` for job.done, job.failed, job.cancelled). */
    EVENTS_QUEUE: z.string().min(1).default(WEBHOOK_EVENTS_QUEUE),
    /** Delays before each retry of a job event the store could not take, ms; then it is dead-lettered. */
    RETRY_DELAYS_MS: env.intList('5000,30000,120000'),
    /** Claims of one job event before it is given up on (dead-lettered). Default: one per retry delay, plus one. */
    MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).optional(),
    DEAD_LETTER_MAX_LENGTH: env.int(10_000, 1),
    DEAD_LETTER_MAX_AGE_MS: env.int(14 * 24 * 3600_000, 1_000),
    /** Where people reach the gateway: the base of the links in each webhook. */
    PUBLIC_GATEWAY_URL: z.url().default('https://mp3converter.com'),
    ...webhookDestinationEnv,
    /** Deliveries attempted at once. */
    CONCURRENCY: env.int(8, 1),
    /** One attempt, from the name's lookup to the answer's excerpt, ms. Default 10000. */
    WEBHOOK_TIMEOUT_MS: env.int(10_000, 100),
    /** Of each answer, this much is read and kept to show, bytes; the rest is never read. Default 1024. */
    WEBHOOK_RESPONSE_EXCERPT_BYTES: z.coerce.number().int().min(0).max(65_536).default(1024),
    /** Delays before each retry of a delivery, ms: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h. */
    WEBHOOK_RETRY_DELAYS_MS: env.intList('5000,300000,1800000,7200000,18000000,36000000'),
    /** No retry is made later than this after a run of attempts began (its event, or a redelivery asked for), ms. Default a day. */
    WEBHOOK_MAX_AGE_MS: env.int(86_400_000, 1_000),
    /** How often due deliveries are looked for, besides each new event, ms. */
    POLL_INTERVAL_MS: env.int(1_000, 10),
    /** Finished deliveries and their attempts are kept this long, days. Default 7. */
    DELIVERY_RETENTION_DAYS: env.int(7, 1),
    SHUTDOWN_TIMEOUT_MS: env.int(20_000, 1_000),
  })
  .superRefine((c, ctx) => {
    // Attempts in flight must finish inside the drain: its deadline is SHUTDOWN_TIMEOUT_MS less 5 s.
    if (c.WEBHOOK_TIMEOUT_MS > c.SHUTDOWN_TIMEOUT_MS - 5_000) {
      ctx.addIssue({ code: 'custom', path: ['WEBHOOK_TIMEOUT_MS'], message: 'must be at most SHUTDOWN_TIMEOUT_MS - 5000' });
    }
  })
  .transform((c) => ({ ...c, MAX_ATTEMPTS: c.MAX_ATTEMPTS ?? c.RETRY_DELAYS_MS.length + 1, destinations: destinationRulesOf(c) }));

export const webhooksConfigSchema = schema;
export type WebhooksConfig = z.output<typeof schema>;

export const loadConfig = (source: NodeJS.ProcessEnv = process.env): WebhooksConfig => load(schema, source);
