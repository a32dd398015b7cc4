import { AmqpConnection } from '@mp3converter/shared/amqp';
import { GRIDFS_DATABASES } from '@mp3converter/shared/contracts';
import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '@mp3converter/shared/http';
import type { Logger } from '@mp3converter/shared/logger';
import { JobStore, createMongoClient, pingMongo, mp3sBucket, videosBucket } from '@mp3converter/shared/storage';
import { HttpAuthClient } from './adapters/auth.client.js';
import { GridFsUploadStorage } from './adapters/gridfs-upload.storage.js';
import { GridFsMp3Files } from './adapters/mp3-files.js';
import { GridFsVideoFiles } from './adapters/video-files.js';
import { AmqpVideoQueue } from './adapters/video.queue.js';
import { createApp } from './app.js';
import type { GatewayConfig } from './config.js';
import { userOf } from './routes/authenticate.js';
import { UploadService } from './domain/upload.service.js';

export interface GatewayServer {
  http: HttpServerHandle;
  /** /healthz and /readyz, on their own port: never reachable through the Ingress. */
  health: HttpServerHandle;
  readiness: Readiness;
  amqp: AmqpConnection;
  /** Stops intake, lets in-flight uploads finish (until `drainMs`), then closes the broker and Mongo. */
  stop(drainMs?: number): Promise<void>;
}

/** Wires the gateway from its config; used by main.ts and by the tests, which pass port 0. */
export async function startGatewayServer(config: GatewayConfig, logger: Logger): Promise<GatewayServer> {
  const mongo = createMongoClient(config.MONGODB_URI, 'gateway');
  const amqp = new AmqpConnection({
    url: config.RABBITMQ_URL,
    logger,
    connectionName: 'gateway',
    heartbeatSeconds: config.AMQP_HEARTBEAT_SECONDS,
    topology: async (channel) => {
      await channel.assertQueue(config.VIDEO_QUEUE, { durable: true });
    },
  });
  void amqp.start();
  const auth = new HttpAuthClient(config.AUTH_SVC_ADDRESS, config.AUTH_TIMEOUT_MS);
  const jobs = new JobStore(mongo);
  const videosDb = mongo.db(GRIDFS_DATABASES.videos);

  const readiness = new Readiness()
    .add('mongodb', () => pingMongo(mongo))
    .add('rabbitmq', amqp.readinessCheck)
    .add('auth', () => auth.ping());

  const app = createApp({
    auth,
    uploads: new UploadService(jobs, new GridFsVideoFiles(videosDb), new AmqpVideoQueue(amqp, config.VIDEO_QUEUE), logger),
    uploadStorage: new GridFsUploadStorage(videosBucket(mongo), videosDb, (req) => userOf(req.res!).username),
    mp3s: new GridFsMp3Files(mp3sBucket(mongo), mongo.db(GRIDFS_DATABASES.mp3s)),
    jobs,
    logger,
    maxUploadBytes: config.MAX_UPLOAD_BYTES,
    trustProxy: config.TRUST_PROXY,
  });
  const http = await startHttpServer(app, config.PORT, { host: config.HOST, idleTimeoutMs: config.UPLOAD_IDLE_TIMEOUT_MS });
  const health = await startHttpServer(probeApp(readiness), config.HEALTH_PORT, { host: config.HOST });
  logger.info({ port: http.port, healthPort: health.port }, 'gateway listening');

  return {
    http,
    health,
    readiness,
    amqp,
    async stop(drainMs = config.SHUTDOWN_TIMEOUT_MS - 5_000) {
      readiness.markShuttingDown();
      const timer = setTimeout(() => http.forceClose(), Math.max(0, drainMs));
      await http.close();
      clearTimeout(timer);
      await amqp.close();
      auth.close();
      await mongo.close();
      await health.close();
    },
  };
}
