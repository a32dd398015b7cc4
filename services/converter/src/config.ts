import { availableParallelism } from 'node:os';
import { tmpdir } from 'node:os';
import { env, loadConfig as load, z } from '@mp3converter/shared/config';
import { DEFAULT_QUEUES } from '@mp3converter/shared/contracts';

export const converterConfigSchema = z.object({
  NODE_ENV: env.nodeEnv(),
  LOG_LEVEL: env.logLevel(),
  HEALTH_PORT: env.port(8081),
  MONGODB_URI: env.mongoUri(),
  RABBITMQ_URL: env.amqpUrl(),
  AMQP_HEARTBEAT_SECONDS: env.int(30, 1),
  VIDEO_QUEUE: z.string().min(1).default(DEFAULT_QUEUES.video),
  MP3_QUEUE: z.string().min(1).default(DEFAULT_QUEUES.mp3),
  FAILED_QUEUE: z.string().min(1).default(DEFAULT_QUEUES.failed),
  /** Conversions at once in this process (the queue prefetch). The MP3 encoder uses one core each. */
  CONCURRENCY: env.int(1, 1).refine((n) => n <= Math.max(1, availableParallelism()) * 4, 'more than 4 per core'),
  /** LAME VBR quality 0 (best) to 9: 2 is about 190 kbit/s. Ignored when MP3_BITRATE_KBPS is set. */
  MP3_VBR_QUALITY: z.coerce.number().int().min(0).max(9).default(2),
  /** Constant bitrate instead of VBR, e.g. 128 or 192. */
  MP3_BITRATE_KBPS: z.coerce.number().int().min(32).max(320).optional(),
  FFMPEG_PATH: z.string().default('ffmpeg'),
  FFPROBE_PATH: z.string().default('ffprobe'),
  FFMPEG_TIMEOUT_MS: env.int(30 * 60_000, 100),
  /** An ffprobe run longer than this is killed. */
  FFPROBE_TIMEOUT_MS: env.int(60_000, 100),
  /** Longer sources are refused. */
  MAX_DURATION_SECONDS: env.int(4 * 3600, 1),
  /** Cap on one MP3's size; by default what 320 kbit/s gives over MAX_DURATION_SECONDS, plus 1 MiB. */
  MAX_OUTPUT_BYTES: z.coerce.number().int().min(1024).optional(),
  TMP_DIR: z.string().default(tmpdir()),
  RETRY_DELAYS_MS: env.intList('5000,30000,120000'),
  JOB_LEASE_MS: env.int(60_000, 1_000),
  SHUTDOWN_TIMEOUT_MS: env.int(30_000, 1_000),
});

export type ConverterConfig = z.output<typeof converterConfigSchema>;

export const loadConfig = (source: NodeJS.ProcessEnv = process.env): ConverterConfig => load(converterConfigSchema, source);
