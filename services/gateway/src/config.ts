import { env, loadConfig as load, z } from '@mp3converter/shared/config';
import { DEFAULT_QUEUES } from '@mp3converter/shared/contracts';

export const gatewayConfigSchema = z.object({
  NODE_ENV: env.nodeEnv(),
  LOG_LEVEL: env.logLevel(),
  HOST: z.string().default('0.0.0.0'),
  PORT: env.port(8080),
  HEALTH_PORT: env.port(8083),
  AUTH_SVC_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-_]+(:\d+)?$/, 'host:port, e.g. auth:5000')
    .default('auth:5000'),
  AUTH_TIMEOUT_MS: env.int(5_000, 100),
  MONGODB_URI: env.mongoUri(),
  RABBITMQ_URL: env.amqpUrl(),
  AMQP_HEARTBEAT_SECONDS: env.int(30, 1),
  VIDEO_QUEUE: z.string().min(1).default(DEFAULT_QUEUES.video),
  MAX_UPLOAD_BYTES: env.int(2 * 1024 ** 3, 1),
  UPLOAD_IDLE_TIMEOUT_MS: env.int(120_000, 1_000),
  TRUST_PROXY: z.string().default('loopback, linklocal, uniquelocal'),
  SHUTDOWN_TIMEOUT_MS: env.int(60_000, 1_000),
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

export const loadConfig = (source: NodeJS.ProcessEnv = process.env): GatewayConfig => load(gatewayConfigSchema, source);
