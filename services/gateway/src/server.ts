import { AmqpConnection } from '@mp3converter/shared/amqp';
import { GRIDFS_DATABASES } from '@mp3converter/shared/contracts';
import { type HttpServerHandle, Readiness, probeApp, startHttpServer } from '@mp3converter/shared/http';
import { signedDownloadPath, signedZipPath } from '@mp3converter/shared/links';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, createRegistry, instrumentBroker, instrumentMongo } from '@mp3converter/shared/metrics';
import { JOB_CONTROL_EXCHANGE, JOB_EVENTS_EXCHANGE, isFinal } from '@mp3converter/shared/jobs';
import { AmqpJobEvents, subscribeJobEvents } from '@mp3converter/shared/jobs/amqp';
import { JobListCache } from '@mp3converter/shared/jobs/list-cache';
import { ensureJobIndexes, mongoJobStore } from '@mp3converter/shared/jobs/mongo';
import { WriteGate, createMongoClient, ensureGridFsIndexes, pingMongo } from '@mp3converter/shared/storage';
import { DestinationPolicy, WebhookStore } from '@mp3converter/shared/webhooks';
import { systemResolveHost } from './adapters/host.resolver.js';
import { HttpAuthClient } from './adapters/auth.client.js';
import { GridFsTusStore } from './adapters/gridfs-tus.store.js';
import { GridFsUploadStorage } from './adapters/gridfs-upload.storage.js';
import { MongoTusLocker } from './adapters/mongo-tus.locker.js';
import { ResumableUploadCompletion } from './adapters/resumable-upload.completion.js';
import { GridFsMp3Files } from './adapters/mp3-files.js';
import { MongoUploadLeases } from './adapters/upload-lease.store.js';
import { MongoUploadReservations } from './adapters/upload-reservation.store.js';
import { GridFsVideoFiles } from './adapters/video-files.js';
import { AmqpVideoQueue } from './adapters/video.queue.js';
import { pageDirectory } from '@mp3converter/web';
import { createApp } from './app.js';
import type { GatewayConfig } from './config.js';
import { userOf } from './routes/authenticate.js';
import { pageBuilt } from './routes/page.route.js';
import { MongoOwnerLocks } from './adapters/owner-locks.js';
import { Dispatcher } from './domain/dispatcher.js';
import { EventHub, PositionWatch } from './domain/event-hub.js';
import { JobsService } from './domain/jobs.service.js';
import { LeftoverCleaner } from './domain/leftover-cleaner.js';
import { RetentionSweep } from './domain/retention.js';
import { UploadAdmission } from './domain/upload-admission.js';
import { UploadService } from './domain/upload.service.js';
import { ZipDownloads } from './domain/zip-download.js';
import { type ResolveHost, WebhooksService } from './domain/webhooks.service.js';
import { uploadMetrics } from './metrics.js';

export interface GatewayServer {
  http: HttpServerHandle;
  /** /healthz, /readyz and /metrics, on their own port: never reachable through the Ingress. */
  health: HttpServerHandle;
  registry: Registry;
  readiness: Readiness;
  amqp: AmqpConnection;
  cleaner: LeftoverCleaner;
  hub: EventHub;
  retention: RetentionSweep;
  dispatcher: Dispatcher;
  /** Resumable uploads' end: the expiry sweep and missed recordings. */
  resumable: ResumableUploadCompletion;
  /** Stops intake, lets in-flight uploads finish (until `drainMs`), then closes the broker and Mongo. */
  stop(drainMs?: number): Promise<void>;
}

/** What tests replace: how webhook URLs' names are resolved at registration. */
export interface GatewayOverrides {
  resolveHost?: ResolveHost;
}

/** Wires the gateway from its config; used by main.ts and by the tests, which pass port 0. */
export async function startGatewayServer(config: GatewayConfig, logger: Logger, overrides: GatewayOverrides = {}): Promise<GatewayServer> {
  const mongo = createMongoClient(config.MONGODB_URI, 'gateway', logger);
  const amqp = new AmqpConnection({
    url: config.RABBITMQ_URL,
    logger,
    connectionName: 'gateway',
    heartbeatSeconds: config.AMQP_HEARTBEAT_SECONDS,
    topology: async (channel) => {
      await channel.assertQueue(config.VIDEO_QUEUE, { durable: true });
      await channel.assertExchange(JOB_EVENTS_EXCHANGE, 'topic', { durable: true });
      await channel.assertExchange(JOB_CONTROL_EXCHANGE, 'topic', { durable: true });
    },
  });
  const registry = createRegistry();
  instrumentMongo(registry, mongo);
  instrumentBroker(registry, amqp, [config.VIDEO_QUEUE]);
  const hub = new EventHub(config.MAX_EVENT_STREAMS_PER_USER);
  // Set once the store is wired below; events can only arrive after amqp.start().
  let onJobEnd: (owner: string) => void = () => undefined;
  await subscribeJobEvents(amqp, (event) => {
    hub.dispatch(event);
    if (event.type === 'state' && isFinal(event.state)) onJobEnd(event.owner);
  });
  void amqp.start();
  const auth = new HttpAuthClient(config.AUTH_SVC_ADDRESS, config.AUTH_TIMEOUT_MS);
  // Every call to the store has a deadline: a hanging MongoDB gives 503, never a hung request.
  const jobs = mongoJobStore(mongo, {
    timeoutMs: config.MONGODB_TIMEOUT_MS,
    ...(config.JOB_LIST_CACHE_MB > 0 ? { listCache: new JobListCache(config.JOB_LIST_CACHE_MB * 1024 ** 2) } : {}),
    logger,
  });
  ensureJobIndexes(mongo).catch((err: unknown) => logger.warn({ err }, 'job indexes not created yet'));
  const videosDb = mongo.db(GRIDFS_DATABASES.videos);
  const notices = new AmqpJobEvents(amqp, logger);
  const videoQueue = new AmqpVideoQueue(amqp, config.VIDEO_QUEUE);
  const locks = new MongoOwnerLocks(videosDb, { timeoutMs: config.MONGODB_TIMEOUT_MS });
  const dispatcher = new Dispatcher(
    jobs,
    videoQueue,
    locks,
    { queue: config.VIDEO_QUEUE, slotsPerUser: config.USER_JOB_SLOTS, staleMs: config.DISPATCH_STALE_MS },
    logger,
  );
  dispatcher.start(config.DISPATCH_SWEEP_INTERVAL_MS);
  onJobEnd = (owner) => void dispatcher.dispatch(owner).catch((err: unknown) => logger.debug({ err }, 'held jobs left to the sweep'));
  const positions = new PositionWatch(hub, jobs, logger);
  positions.start(config.QUEUE_POSITION_INTERVAL_MS);
  const leases = new MongoUploadLeases(videosDb, config.MONGODB_TIMEOUT_MS);
  const videoFiles = new GridFsVideoFiles(videosDb);
  const cleaner = new LeftoverCleaner(videoFiles, jobs, leases, logger, { waitMs: config.MONGODB_TIMEOUT_MS });
  cleaner.start(config.ORPHAN_SWEEP_INTERVAL_MS);

  const readiness = new Readiness()
    .add('mongodb', () => pingMongo(mongo))
    .add('rabbitmq', amqp.readinessCheck)
    .add('auth', () => auth.ping());

  const mp3s = new GridFsMp3Files(mongo.db(GRIDFS_DATABASES.mp3s), config.MONGODB_TIMEOUT_MS);
  // The MP3s' bucket (its chunks found by file and number) from the start, as the videos' is: not only once a
  // first MP3 is stored.
  ensureGridFsIndexes(mongo.db(GRIDFS_DATABASES.mp3s)).catch((err: unknown) => logger.warn({ err }, 'MP3 bucket indexes not created yet'));
  const retention = new RetentionSweep(jobs, mp3s, videoFiles, logger, config.RETENTION_DOWNLOAD_GRACE_MS);
  retention.start(config.RETENTION_SWEEP_INTERVAL_MS);
  // A write that waits its turn is failed only when no write at all finished for as long as one may take.
  const writeGate = new WriteGate(config.STORAGE_WRITE_CONCURRENCY, config.MONGODB_WRITE_TIMEOUT_MS);
  const uploads = new UploadService(jobs, videoQueue, dispatcher, locks, leases, cleaner, notices, logger);
  const reservations = new MongoUploadReservations(videosDb, config.MONGODB_TIMEOUT_MS);
  reservations.ensureIndexes().catch((err: unknown) => logger.warn({ err }, 'upload reservation indexes not created yet'));
  const admission = new UploadAdmission(
    jobs,
    {
      maxUploadBytes: config.MAX_UPLOAD_BYTES,
      storageQuotaBytes: config.USER_STORAGE_QUOTA_BYTES,
      maxJobsInFlight: config.MAX_JOBS_IN_FLIGHT,
    },
    reservations,
    locks,
    logger,
  );
  const resumableStore = new GridFsTusStore(videosDb, reservations, {
    expiryMs: config.RESUMABLE_UPLOAD_EXPIRY_SECONDS * 1000,
    writeTimeoutMs: config.MONGODB_WRITE_TIMEOUT_MS,
    gate: writeGate,
  });
  resumableStore.ensureIndexes().catch((err: unknown) => logger.warn({ err }, 'resumable upload indexes not created yet'));
  const completion = new ResumableUploadCompletion(resumableStore, uploads, logger);
  const webhookStore = new WebhookStore(mongo, config.WEBHOOK_DATABASE);
  webhookStore.ensureIndexes().catch((err: unknown) => logger.warn({ err }, 'webhook indexes not created yet'));
  const webhooks = new WebhooksService(
    webhookStore,
    new DestinationPolicy(config.webhookDestinations),
    overrides.resolveHost ?? systemResolveHost,
    {
      maxPerUser: config.WEBHOOKS_PER_USER,
      secretOverlapMs: config.WEBHOOK_SECRET_OVERLAP_SECONDS * 1000,
      notifyUrlTtlMs: config.WEBHOOK_NOTIFY_URL_TTL_SECONDS * 1000,
      resolveTimeoutMs: config.MONGODB_TIMEOUT_MS,
    },
    logger.child({ component: 'webhooks' }),
  );
  completion.start(config.ORPHAN_SWEEP_INTERVAL_MS);
  const publicBase = config.PUBLIC_GATEWAY_URL.replace(/\/+$/, '');
  const linkTtlMs = config.DOWNLOAD_LINK_TTL_SECONDS * 1000;
  const app = createApp({
    auth,
    uploads,
    resumable: {
      store: resumableStore,
      locker: new MongoTusLocker(videosDb, {
        leaseMs: config.RESUMABLE_UPLOAD_LOCK_MS,
        // a live holder lets go within a renewal and the drain; a dead one's lease runs out
        acquireTimeoutMs: config.RESUMABLE_UPLOAD_LOCK_MS + 5_000,
      }),
      completion,
      maxUploadBytes: config.MAX_UPLOAD_BYTES,
      expiryMs: config.RESUMABLE_UPLOAD_EXPIRY_SECONDS * 1000,
    },
    uploadStorage: new GridFsUploadStorage(
      videosDb,
      leases,
      cleaner,
      (req) => userOf(req.res!).username,
      { writeTimeoutMs: config.MONGODB_WRITE_TIMEOUT_MS, leaseMs: config.UPLOAD_LEASE_MS, gate: writeGate },
      logger,
    ),
    mp3s,
    jobs,
    jobsService: new JobsService(jobs, videoFiles, mp3s, notices, locks, logger),
    webhooks,
    hub,
    eventsKeepAliveMs: config.EVENTS_KEEPALIVE_MS,
    eventsKeyRecheckMs: config.EVENTS_KEY_RECHECK_MS,
    logger,
    admission,
    uploadHoldMs: config.UPLOAD_LEASE_MS,
    links: {
      ttlMs: linkTtlMs,
      url: (link) => `${publicBase}${signedDownloadPath(link, config.DOWNLOAD_LINK_SECRET)}`,
      zipUrl: (link) => `${publicBase}${signedZipPath(link, config.DOWNLOAD_LINK_SECRET)}`,
    },
    linkSecret: config.DOWNLOAD_LINK_SECRET,
    zips: new ZipDownloads(jobs, mp3s, config.DOWNLOAD_LINK_SECRET, logger),
    zipLinks: { ttlMs: linkTtlMs, url: (link) => `${publicBase}${signedZipPath(link, config.DOWNLOAD_LINK_SECRET)}` },
    trustProxy: config.TRUST_PROXY,
    registry,
    uploadMetrics: uploadMetrics(registry),
    pageDirectory: pageBuilt(pageDirectory) ? pageDirectory : undefined,
  });
  if (!pageBuilt(pageDirectory)) logger.warn({ pageDirectory }, 'the web page is not built (pnpm build): / answers 404');
  const http = await startHttpServer(app, config.PORT, { host: config.HOST, idleTimeoutMs: config.UPLOAD_IDLE_TIMEOUT_MS });
  const health = await startHttpServer(probeApp(readiness, registry), config.HEALTH_PORT, { host: config.HOST });
  logger.info({ port: http.port, healthPort: health.port }, 'gateway listening');

  return {
    http,
    health,
    registry,
    readiness,
    amqp,
    cleaner,
    hub,
    retention,
    dispatcher,
    resumable: completion,
    async stop(drainMs = config.SHUTDOWN_TIMEOUT_MS - 5_000) {
      readiness.markShuttingDown();
      positions.stop();
      dispatcher.stop();
      retention.stop();
      completion.stop();
      // Event streams never end by themselves: they close first, clients reconnect to another replica.
      hub.closeAll();
      const timer = setTimeout(() => http.forceClose(), Math.max(0, drainMs));
      await http.close();
      clearTimeout(timer);
      cleaner.stop();
      await amqp.close();
      auth.close();
      await mongo.close();
      await health.close();
    },
  };
}
