import { availableParallelism } from 'node:os';
import { tmpdir } from 'node:os';
import { env, loadConfig as load, z } from '@mp3converter/shared/config';
import { DEFAULT_QUEUES } from '@mp3converter/shared/contracts';

export const converterConfigSchema = z
  .object({
    NODE_ENV: env.nodeEnv(),
    LOG_LEVEL: env.logLevel(),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: env.otlpTracesEndpoint(),
    HOST: env.host(),
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
    /** Claims of one job before it is given up on (failed, dead-lettered). Default: one per retry delay, plus one. */
    MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).optional(),
    /** Reading the video out of the store, or storing the MP3, longer than this is stopped (a transient failure). */
    TRANSFER_TIMEOUT_MS: env.int(10 * 60_000, 100),
    /** The broker's consumer_timeout: a delivery unacked for longer is taken back. Every job must fit inside it. */
    BROKER_CONSUMER_TIMEOUT_MS: env.int(3_600_000, 1_000),
    /** A job with no sign of life (bytes read, encoder progress) for this long makes /healthz fail. */
    STALL_TIMEOUT_MS: env.int(5 * 60_000, 1_000),
    /** Progress is written to the job (for /status and reconnecting clients) at most this often. */
    PROGRESS_SNAPSHOT_MS: env.int(5_000, 100),
    JOB_LEASE_MS: env.int(60_000, 1_000),
    /** A finished job and its MP3 are removed this long after it ends (the gateway's sweep does it). */
    MP3_RETENTION_SECONDS: env.int(7 * 86_400, 60),
    /** Keep the uploaded video once its job ended; by default it is removed then. */
    KEEP_VIDEOS: env.bool(false),
    /**
     * A job that seeks (a later start, a cover frame) reads only the byte ranges ffmpeg asks for, out of the
     * store as they are asked for, instead of copying the whole video first. Needs a store that finds a chunk
     * by its index (MongoDB); FerretDB 1.x reads every chunk of the collection for each range.
     */
    RANGE_READS: env.bool(true),
    DEAD_LETTER_MAX_LENGTH: env.int(10_000, 1),
    DEAD_LETTER_MAX_AGE_MS: env.int(14 * 24 * 3600_000, 1_000),
    SHUTDOWN_TIMEOUT_MS: env.int(30_000, 1_000),
  })
  .superRefine((c, ctx) => {
    const longestJob = longestJobMs(c);
    if (longestJob >= c.BROKER_CONSUMER_TIMEOUT_MS) {
      ctx.addIssue({
        code: 'custom',
        path: ['FFMPEG_TIMEOUT_MS'],
        message: `the longest job (FFMPEG_TIMEOUT_MS + 2 × FFPROBE_TIMEOUT_MS + 2 × TRANSFER_TIMEOUT_MS + ${SETTLE_ALLOWANCE_MS} ms to claim and settle = ${longestJob} ms) must fit inside the broker's consumer timeout (BROKER_CONSUMER_TIMEOUT_MS = ${c.BROKER_CONSUMER_TIMEOUT_MS} ms)`,
      });
    }
    if (c.STALL_TIMEOUT_MS <= c.FFPROBE_TIMEOUT_MS) {
      ctx.addIssue({ code: 'custom', path: ['STALL_TIMEOUT_MS'], message: 'must be longer than FFPROBE_TIMEOUT_MS (a probe shows no progress while it runs)' });
    }
  })
  .transform((c) => ({ ...c, MAX_ATTEMPTS: c.MAX_ATTEMPTS ?? c.RETRY_DELAYS_MS.length + 1 }));

/**
 * What a job spends holding its delivery besides its bounded phases: the claim, the lease and job writes, the
 * confirmed `mp3` publish and the ack. A minute keeps the longest job well inside the broker's timeout.
 */
export const SETTLE_ALLOWANCE_MS = 60_000;

/** The longest a job can hold its delivery: copy, probe, encode, probe, store, each at its limit, then settle. */
export const longestJobMs = (c: { FFMPEG_TIMEOUT_MS: number; FFPROBE_TIMEOUT_MS: number; TRANSFER_TIMEOUT_MS: number }): number =>
  c.FFMPEG_TIMEOUT_MS + 2 * c.FFPROBE_TIMEOUT_MS + 2 * c.TRANSFER_TIMEOUT_MS + SETTLE_ALLOWANCE_MS;

export type ConverterConfig = z.output<typeof converterConfigSchema>;

export const loadConfig = (source: NodeJS.ProcessEnv = process.env): ConverterConfig => load(converterConfigSchema, source);
