import { errorMiddleware, notFoundHandler, unavailable } from '@mp3converter/shared/errors';
import { requestLogger } from '@mp3converter/shared/http';
import type { Logger } from '@mp3converter/shared/logger';
import { type Registry, httpMetrics } from '@mp3converter/shared/metrics';
import { isMongoUnavailable } from '@mp3converter/shared/storage';
import express, { type ErrorRequestHandler, type Express } from 'express';
import type { StorageEngine } from 'multer';
import type { GridFsMp3Files, GridFsStoredMp3 } from './adapters/mp3-files.js';
import type { EventHub } from './domain/event-hub.js';
import type { JobsService, LinkSigner } from './domain/jobs.service.js';
import type { UploadAdmission } from './domain/upload-admission.js';
import type { AuthClient, JobViews, UploadMetrics } from './domain/ports.js';
import type { UploadService } from './domain/upload.service.js';
import type { ZipDownloads, ZipLinkSigner } from './domain/zip-download.js';
import type { WebhooksService } from './domain/webhooks.service.js';
import { docsRouter } from './routes/docs.route.js';
import { downloadRouter } from './routes/download.route.js';
import { eventsRouter } from './routes/events.route.js';
import { jobsRouter } from './routes/jobs.route.js';
import { keysRouter } from './routes/keys.route.js';
import { loginRouter } from './routes/login.route.js';
import { pageRouter } from './routes/page.route.js';
import { statusRouter } from './routes/status.route.js';
import { uploadRouter } from './routes/upload.route.js';
import { type ResumableUploadDeps, uploadsRouter } from './routes/uploads.route.js';
import { zipDownloadRouter } from './routes/zip-download.route.js';
import { webhooksRouter } from './routes/webhooks.route.js';

export interface GatewayDeps {
  auth: AuthClient;
  uploads: UploadService;
  uploadStorage: StorageEngine;
  mp3s: GridFsMp3Files;
  jobs: JobViews;
  jobsService: JobsService;
  webhooks: WebhooksService;
  hub: EventHub;
  eventsKeepAliveMs: number;
  /** EVENTS_KEY_RECHECK_MS. */
  eventsKeyRecheckMs: number;
  logger: Logger;
  admission: UploadAdmission;
  /** How long a multipart upload's reservation holds unless renewed, ms (UPLOAD_LEASE_MS). */
  uploadHoldMs: number;
  links: LinkSigner;
  linkSecret: string;
  /** Several done jobs as one ZIP, and signed links to such ZIPs. */
  zips: ZipDownloads<GridFsStoredMp3>;
  zipLinks: ZipLinkSigner;
  trustProxy: string;
  /** tus at /uploads/: its store, lock and completion. */
  resumable: Pick<ResumableUploadDeps, 'store' | 'locker' | 'completion' | 'maxUploadBytes' | 'expiryMs'>;
  /** The app's registry: HTTP metrics go there; served by the probe server. */
  registry: Registry;
  uploadMetrics: UploadMetrics;
  /** The built web page served at `/`; none when it was not built. */
  pageDirectory?: string | undefined;
}

const storeUnavailable: ErrorRequestHandler = (err, _req, _res, next) => {
  next(isMongoUnavailable(err) ? unavailable('storage unavailable, try again later', 'storage_unavailable', err) : err);
};

export function createApp(deps: GatewayDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', deps.trustProxy);
  app.use(httpMetrics(deps.registry));
  app.use(requestLogger(deps.logger, { tracer: 'gateway', continueTrace: false }));
  // Before anything that could read a body: tus reads its PATCH bodies itself.
  app.use(
    uploadsRouter({
      ...deps.resumable,
      auth: deps.auth,
      admission: deps.admission,
      logger: deps.logger,
      metrics: deps.uploadMetrics,
      webhooks: deps.webhooks,
    }),
  );
  app.use(loginRouter(deps.auth));
  app.use(
    uploadRouter({
      auth: deps.auth,
      uploads: deps.uploads,
      admission: deps.admission,
      holdMs: deps.uploadHoldMs,
      storage: deps.uploadStorage,
      metrics: deps.uploadMetrics,
      webhooks: deps.webhooks,
    }),
  );
  app.use(downloadRouter({ auth: deps.auth, mp3s: deps.mp3s, jobs: deps.jobs, linkSecret: deps.linkSecret, logger: deps.logger }));
  app.use(zipDownloadRouter({ auth: deps.auth, zips: deps.zips, signer: deps.zipLinks, logger: deps.logger }));
  app.use(statusRouter(deps.auth, deps.jobsService));
  app.use(jobsRouter(deps.auth, deps.jobsService, deps.links));
  app.use(keysRouter(deps.auth));
  app.use(webhooksRouter(deps.auth, deps.webhooks));
  app.use(
    eventsRouter({
      auth: deps.auth,
      hub: deps.hub,
      jobs: deps.jobs,
      logger: deps.logger,
      keepAliveMs: deps.eventsKeepAliveMs,
      keyRecheckMs: deps.eventsKeyRecheckMs,
    }),
  );
  app.use(docsRouter());
  if (deps.pageDirectory) app.use(pageRouter(deps.pageDirectory));
  app.use(notFoundHandler);
  app.use(storeUnavailable);
  app.use(errorMiddleware(deps.logger));
  return app;
}
