import { hostname } from 'node:os';
import { AmqpConnection, assertWorkQueue, deadLetterQueueOf } from '@mp3converter/shared/amqp';
import { GRIDFS_DATABASES } from '@mp3converter/shared/contracts';
import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '@mp3converter/shared/http';
import { JOB_CONTROL_EXCHANGE, JOB_EVENTS_EXCHANGE } from '@mp3converter/shared/jobs';
import { AmqpJobEvents, subscribeJobControl } from '@mp3converter/shared/jobs/amqp';
import { mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, createRegistry, instrumentBroker, instrumentMongo, settleMetrics } from '@mp3converter/shared/metrics';
import { createMongoClient, pingMongo, videosBucket } from '@mp3converter/shared/storage';
import { FfmpegPartCutter } from './adapters/ffmpeg.part-cutter.js';
import { FfmpegTranscoder } from './adapters/ffmpeg.transcoder.js';
import { GridFsMp3Store } from './adapters/gridfs-mp3.store.js';
import { GridFsVideoSource } from './adapters/gridfs-video.source.js';
import { AmqpResultPublisher } from './adapters/result.publisher.js';
import { TempWorkspace } from './adapters/temp.workspace.js';
import type { ConverterConfig } from './config.js';
import { cancelHandler, videoHandler } from './consumers/video.consumer.js';
import { JobRunner } from './domain/job-runner.js';
import { mediaLimits } from './domain/media-limits.js';
import { converterMetrics } from './metrics.js';

export interface ConverterWorker {
  http: HttpServerHandle;
  amqp: AmqpConnection;
  readiness: Readiness;
  runner: JobRunner;
  registry: Registry;
  /** Stops taking messages, lets conversions finish until `drainMs`, then kills the rest (they are redelivered). */
  stop(drainMs?: number): Promise<void>;
}

/** Wires the converter from its config; used by main.ts and by the tests. */
export async function startConverterWorker(config: ConverterConfig, logger: Logger): Promise<ConverterWorker> {
  const workerId = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
  const mongo = createMongoClient(config.MONGODB_URI, 'converter', logger);
  const workspace = new TempWorkspace(config.TMP_DIR);
  await workspace.sweep(logger);

  const amqp = new AmqpConnection({
    url: config.RABBITMQ_URL,
    logger,
    connectionName: `converter ${workerId}`,
    heartbeatSeconds: config.AMQP_HEARTBEAT_SECONDS,
    topology: async (channel, connection) => {
      await assertWorkQueue(channel, connection, config.VIDEO_QUEUE, {
        retryDelaysMs: config.RETRY_DELAYS_MS,
        deadLetters: { maxLength: config.DEAD_LETTER_MAX_LENGTH, maxAgeMs: config.DEAD_LETTER_MAX_AGE_MS },
        logger,
      });
      await channel.assertQueue(config.MP3_QUEUE, { durable: true });
      await channel.assertQueue(config.FAILED_QUEUE, { durable: true });
      await channel.assertExchange(JOB_EVENTS_EXCHANGE, 'topic', { durable: true });
      await channel.assertExchange(JOB_CONTROL_EXCHANGE, 'topic', { durable: true });
    },
  });
  const registry = createRegistry();
  instrumentMongo(registry, mongo);
  instrumentBroker(registry, amqp, [config.VIDEO_QUEUE, deadLetterQueueOf(config.VIDEO_QUEUE)]);
  const metrics = converterMetrics(registry);
  const limits = mediaLimits(config.MAX_DURATION_SECONDS, config.MAX_OUTPUT_BYTES);
  const ffmpeg = {
    ffmpegPath: config.FFMPEG_PATH,
    ffprobePath: config.FFPROBE_PATH,
    timeoutMs: config.FFMPEG_TIMEOUT_MS,
    probeTimeoutMs: config.FFPROBE_TIMEOUT_MS,
    limits,
  };
  const runner = new JobRunner({
    leases: mongoJobStore(mongo, { worker: { id: workerId, leaseMs: config.JOB_LEASE_MS }, logger }),
    videos: new GridFsVideoSource(videosBucket(mongo), mongo.db(GRIDFS_DATABASES.videos)),
    mp3s: new GridFsMp3Store(mongo.db(GRIDFS_DATABASES.mp3s)),
    transcoder: new FfmpegTranscoder(ffmpeg),
    cutter: new FfmpegPartCutter(ffmpeg),
    workspace,
    publisher: new AmqpResultPublisher(amqp, { mp3: config.MP3_QUEUE, failed: config.FAILED_QUEUE }),
    events: new AmqpJobEvents(amqp, logger),
    metrics,
    logger,
    limits,
    maxAttempts: config.MAX_ATTEMPTS,
    leaseRenewMs: Math.max(500, Math.floor(config.JOB_LEASE_MS / 3)),
    progressEventMs: 1_000,
    progressSnapshotMs: config.PROGRESS_SNAPSHOT_MS,
    deferMs: config.JOB_LEASE_MS / 2,
    transferTimeoutMs: config.TRANSFER_TIMEOUT_MS,
    encoding: { vbrQuality: config.MP3_VBR_QUALITY, bitrateKbps: config.MP3_BITRATE_KBPS },
    retentionMs: config.MP3_RETENTION_SECONDS * 1000,
    keepVideos: config.KEEP_VIDEOS,
    rangeReads: config.RANGE_READS,
  });

  const readiness = new Readiness()
    .add('mongodb', () => pingMongo(mongo))
    .add('rabbitmq', amqp.readinessCheck)
    .setLiveness(() => {
      const stalled = runner.stalled(config.STALL_TIMEOUT_MS);
      return stalled.length > 0 ? `no progress for ${config.STALL_TIMEOUT_MS} ms on job ${stalled.join(', ')}` : undefined;
    });
  const http = await startHttpServer(probeApp(readiness, registry), config.HEALTH_PORT, { host: config.HOST });

  // Consumes even when the store does not answer yet: each message's failure then retries with its backoff,
  // and the log says why.
  await pingMongo(mongo).catch((err: unknown) => logger.warn({ err }, 'MongoDB not reachable yet; consuming anyway, failures will retry'));
  await subscribeJobControl(amqp, cancelHandler(runner, logger));
  await amqp.consume({
    queue: config.VIDEO_QUEUE,
    prefetch: config.CONCURRENCY,
    onMessage: videoHandler({
      amqp,
      runner,
      queue: config.VIDEO_QUEUE,
      retryDelaysMs: config.RETRY_DELAYS_MS,
      logger,
      metrics,
      settleMetrics: settleMetrics(registry),
    }),
  });
  void amqp.start();
  logger.info({ queue: config.VIDEO_QUEUE, concurrency: config.CONCURRENCY, healthPort: http.port }, 'converter started');

  return {
    http,
    amqp,
    readiness,
    runner,
    registry,
    async stop(drainMs = config.SHUTDOWN_TIMEOUT_MS - 5_000) {
      readiness.markShuttingDown();
      await amqp.stopConsuming();
      if (!(await amqp.drain(drainMs))) {
        logger.warn('conversions still running at the deadline; stopping them');
        runner.abortAll();
        await amqp.drain(5_000);
      }
      await amqp.close();
      await mongo.close();
      await http.close();
    },
  };
}
